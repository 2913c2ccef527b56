// The application the node drives: stateless tx checks, tx execution over an overlay, block
// execution and the app hash. Deterministic: no I/O, clock, threads or floating point. Every tx
// either applies whole or changes nothing (it runs in its own child overlay).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/status.h"
#include "contracts/genesis_state.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g {

// A tx that passed the stateless checks: decoded, canonical, right chain, well-formed body and,
// when asked, a valid signature.
struct CheckedTx {
  std::string bytes;  // the encoded Tx as received
  Hash256 hash{};     // BLAKE2b-256(bytes)
  pb::Tx tx;
  pb::TxBody body;
  PublicKey signer_pubkey{};
  Address signer{};
};

inline std::string TxHashHex(const Hash256& h) { return HexEncode(ByteView(h.data(), h.size())); }

// Decodes and checks `bytes` without reading state beyond `params`: size, canonical encoding,
// chain id, field ranges, and the signature unless verify_signature is false (the caller has
// verified this exact tx hash before).
Result<CheckedTx> CheckTxStateless(std::string_view bytes, std::string_view chain_id,
                                   const pb::ParamsRecord& params, bool verify_signature);

// The fee units of a tx: one, plus one per reading or OCMF record it carries (each costs the
// chain a signature verification and, accepted, lasting state), or per KiB of a governance
// proposal's text. A tx must pay at least
// params.fee_min x units in params.market_denom (docs/DESIGN.md "The cost of state").
int64_t TxFeeUnits(const pb::TxBody& body);
// The fee units of an encoded tx, decoded as CheckTxStateless decodes it (canonical encoding only):
// 1 when it does not decode (it fails in its block). What block_units_max counts (node/chain.h).
int64_t TxBytesFeeUnits(std::string_view tx_bytes);
// fee_min x TxFeeUnits(body): at most kFeeMinMax x (1 + kReadingsPerTxMax), far inside int64.
int64_t RequiredFee(const pb::ParamsRecord& params, const pb::TxBody& body);

struct BlockContext {
  std::string chain_id;
  int64_t height = 0;
  int64_t time_ms = 0;
  // The block's proposer. The rules pay it nothing: fees are burned (docs/DESIGN.md "The cost of
  // state"), so no state depends on it.
  Address proposer{};
  // A mempool's check (admission or re-check), not a block: a readings or OCMF batch that has
  // nothing accepted yet stops at its first item refused after a signature check, so a batch
  // refused at admission costs at most one unpaid verification (docs/DESIGN.md "The cost of
  // state"). Never set in a block: what a block accepts does not depend on it.
  bool admission = false;
};

// Applies a checked tx to `state`: nonce, fee (burned), then the operation. On error `state` is
// untouched.
// `result`, when not null, receives what a successful tx reports beyond its code (the log and,
// for SubmitReadings, the rejected readings); the caller sets the code. `params` are the params
// record in force for the block (decoded once per block by the caller, not once per tx).
Status ApplyTx(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state,
               pb::TxResult* result = nullptr);
// The same for one tx on its own (tests, tools): reads the params record from `state` first.
Status ApplyTx(const CheckedTx& tx, const BlockContext& ctx, Overlay& state, pb::TxResult* result = nullptr);

struct BlockOutcome {
  std::vector<pb::TxResult> results;  // one per tx, in block order
  std::vector<Hash256> tx_hashes;
};

// Runs a block against `state` (an overlay over the committed state): first the timers due at its
// height and time (governance executes and closes proposals, contracts/gov.h; the market clears
// and settles; grid services settle), then every tx in order. A tx that fails
// is recorded with its code; it changes nothing, except that one whose signature, nonce and fee
// were good (the operation itself failed) still pays its fee and uses its nonce, so a failing tx
// is never free block space and cannot be put in a block again. `already_verified(hash)` lets the
// caller skip signature checks it has already done for that exact tx.
BlockOutcome ExecuteBlock(const BlockContext& ctx, const std::vector<std::string>& txs,
                          const std::function<bool(const Hash256&)>& already_verified,
                          Overlay& state);

// Writes the genesis state into `state` and returns the genesis app hash: the root of the state
// tree (contracts/state_tree.h) over it, at version 0. After a block the app hash is the tree's
// root at the block's height (node/chain.h ExecuteFullBlock).
Result<Hash256> InitChain(const GenesisState& genesis, Overlay& state);

// Checks, per denomination, that the sum of all balances equals minted - burned. Scans the
// whole account table: for tests, verify-chain and audits, not for every block.
Status CheckConservation(const KvReader& state);

}  // namespace v2g
