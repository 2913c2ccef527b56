// The steps the wallet CLI composes: resolving names to addresses, reading human amounts, and
// signing + submitting a tx with the chain id and nonce the node reports. Kept out of cli/ so
// tools and tests use the same code.
#pragma once

#include <optional>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/status.h"
#include "proto/v2g.pb.h"
#include "wallet/client.h"
#include "wallet/keystore.h"

namespace v2g {

// An account named on the command line.
struct AccountRef {
  Address address{};
  std::string address_text;  // v2g1...
  std::string key_name;      // set when it was given as a key name
};

// "v2g1..." is taken as an address; anything else must name a key in `keystore`. An argument
// that looks like an address but does not decode reports the address error.
Result<AccountRef> ResolveAccount(const Keystore& keystore, std::string_view address_or_key);

// The denomination called `name`; kUnknownDenom listing the chain's denominations otherwise.
Result<DenomInfo> FindDenom(const std::vector<DenomInfo>& denoms, std::string_view name);

// "12.5" in `denom`'s human units -> minimal units; must be > 0.
Result<int64_t> ParsePositiveAmount(std::string_view text, const DenomInfo& denom);

// "12.50 CNY".
std::string FormatCoin(int64_t units, const DenomInfo& denom);

// "AMOUNT:DENOM", e.g. "0.01:CNY" -> Coin in minimal units.
Result<pb::Coin> ParseFee(std::string_view text, const std::vector<DenomInfo>& denoms);

struct SubmitOptions {
  bool wait_commit = true;
  int64_t timeout_ms = limits::kWaitCommitMsDefault;
  // The most fee_min (per fee unit) the wallet pays without the user naming a fee.
  int64_t auto_fee_min_max = limits::kAutoFeeMinMax;
};

struct Submitted {
  SubmitResult result;
  uint64_t nonce = 0;
  std::string chain_id;
  pb::Coin fee;           // what the tx offered (empty denom: no fee)
  uint32_t fee_decimals = 0;  // of fee.denom, for display
};

// The fee to attach to `body`: per fee unit, the chain's fee_min (GET /v1/params), or more when the
// node's mempool is busy and it suggests more (`suggested_per_unit`, GET /v1/status
// mempool.fee_per_unit), but never more than `fee_min_max` on the suggestion's account; times the
// tx's fee units, in the market denomination. nullopt when the chain requires no fee.
// Refuses (kFeeTooLow) a fee_min above `fee_min_max`: the user must name such a fee.
Result<std::optional<pb::Coin>> RequiredFeeOf(ApiClient& client, const pb::TxBody& body, uint32_t* decimals,
                                              int64_t fee_min_max = limits::kAutoFeeMinMax,
                                              int64_t suggested_per_unit = 0);

// Asks the node for the chain id and the signer's next nonce, sets them on `body`, attaches the
// fee the chain requires when `body` carries none (RequiredFeeOf), signs and submits. Errors from the node (a rejected tx) come back verbatim (see wallet/client.h).
Result<Submitted> SignAndSubmit(ApiClient& client, const KeyPair& key, pb::TxBody body,
                                const SubmitOptions& options);

}  // namespace v2g
