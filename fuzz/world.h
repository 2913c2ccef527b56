// The small ledger the fuzz targets run against (fuzz/README in docs/DESIGN.md "Fuzzing"): one
// validator, CNY and PTS, an operator, a grid company, three owners, vehicle and charger meters,
// an OCMF charger, and setup txs that open a market, a tariff, an event, a program and a pool.
// Deterministic: fixed keys (the OCMF key too), fixed times. Shared by the targets and by
// fuzz_seeds, which writes the seed corpora from the same txs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "genesis/genesis.h"
#include "proto/v2g.pb.h"
#include "wallet/ocmf_signer.h"

namespace v2g::fuzz {

constexpr char kChainId[] = "v2g-fuzz";
constexpr int64_t kT0 = 1795658400;  // genesis, Unix s, a multiple of 900
constexpr int64_t kS = kT0 + 3600;   // the delivery interval the setup trades
constexpr int64_t kLen = 900;        // settlement interval
constexpr size_t kAccounts = 7;      // signer index space of the targets (see Account)

// Accounts a fuzz input can sign as: 0 validator, 1 operator (issues CNY and PTS), 2 grid company,
// 3 alice, 4 bob, 5 carol, 6 a key with no balance and no role.
const KeyPair& Account(size_t i);
// Device keys of the Ed25519 meters ("ev-a", "ch-ev-a", "ev-b", "ch-ev-b"); null for others.
const KeyPair* DeviceKey(const std::string& meter_id);
// The OCMF charger "oc-1": a fixed P-256 key.
const OcmfSigner& OcmfMeter();

GenesisState WorldGenesis();

// One setup tx: who signs it, and its body (nonce and chain id are set when it runs).
struct SetupTx {
  size_t signer;
  pb::TxBody body;
  int64_t time_s;  // block time (>= the previous one)
};
std::vector<SetupTx> SetupTxs();

// Signs `body` as Account(signer) with the next nonce in `state` and runs it as a one-tx block at
// ctx->time_ms (then advanced by 1 ms). Returns the result and, in `tx_out`, the signed bytes.
pb::TxResult RunTx(BlockContext* ctx, Overlay& state, size_t signer, pb::TxBody body,
                   std::string* tx_out = nullptr);

// Genesis plus every setup tx, in memory; `ctx` is left at the last block.
struct MemWorld {
  std::unique_ptr<MemKv> kv;
  BlockContext ctx;
  std::vector<std::string> txs;  // the setup txs as signed
};
MemWorld BuildMemWorld();

// A session record of meter oc-1 (import and export at start, +5 and +10 minutes), signed.
std::string OcmfSessionRecord(const std::string& pg, int64_t start_ms);

// Copies `kv` into a new MemKv with the writes of `o` applied.
void ApplyWrites(const Overlay& o, MemKv& kv);

}  // namespace v2g::fuzz
