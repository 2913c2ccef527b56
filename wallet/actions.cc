#include "wallet/actions.h"

#include <algorithm>

#include "common/amount.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "wallet/market.h"
#include "wallet/tx_builder.h"

namespace v2g {

Result<AccountRef> ResolveAccount(const Keystore& keystore, std::string_view address_or_key) {
  AccountRef ref;
  if (address_or_key.starts_with("v2g1") || address_or_key.starts_with("V2G1")) {
    auto addr = DecodeAddress(address_or_key);
    if (!addr.ok()) return addr.status();
    ref.address = *addr;
    ref.address_text = EncodeAddress(*addr);
    return ref;
  }
  if (!ValidateKeyName(address_or_key).ok()) {
    return Error(Code::kInvalidArgument, "'" + std::string(address_or_key) +
                                             "' is neither a v2g1... address nor a key name");
  }
  auto info = keystore.Show(address_or_key);
  if (!info.ok()) {
    if (info.status().code() == Code::kNotFound) {
      return Error(Code::kNotFound,
                   "'" + std::string(address_or_key) +
                       "' is not an address and there is no key with that name in " +
                       keystore.dir());
    }
    return info.status();
  }
  auto addr = DecodeAddress(info->address);
  V2G_ASSERT(addr.ok());  // Show checked it
  ref.address = *addr;
  ref.address_text = info->address;
  ref.key_name = info->name;
  return ref;
}

Result<DenomInfo> FindDenom(const std::vector<DenomInfo>& denoms, std::string_view name) {
  std::string known;
  for (const auto& d : denoms) {
    if (d.name == name) return d;
    known += known.empty() ? d.name : ", " + d.name;
  }
  return Error(Code::kUnknownDenom, "unknown denomination '" + std::string(name) +
                                        "' (this chain has: " + (known.empty() ? "none" : known) +
                                        ")");
}

Result<int64_t> ParsePositiveAmount(std::string_view text, const DenomInfo& denom) {
  V2G_ASSERT(denom.decimals <= kDecimalsMax);
  auto units = ParseAmount(text, denom.decimals);
  if (!units.ok())
    return Error(units.status().code(), units.status().message() + " for " + denom.name);
  if (*units <= 0) return Error(Code::kInvalidArgument, "amount must be greater than zero");
  return *units;
}

std::string FormatCoin(int64_t units, const DenomInfo& denom) {
  return FormatAmount(units, denom.decimals) + " " + denom.name;
}

Result<pb::Coin> ParseFee(std::string_view text, const std::vector<DenomInfo>& denoms) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Error(Code::kInvalidArgument,
                 "fee '" + std::string(text) + "' must look like AMOUNT:DENOM, e.g. 0.01:CNY");
  }
  auto denom = FindDenom(denoms, text.substr(colon + 1));
  if (!denom.ok()) return denom.status();
  auto units = ParsePositiveAmount(text.substr(0, colon), *denom);
  if (!units.ok()) return Error(units.status().code(), "fee: " + units.status().message());
  pb::Coin coin;
  coin.set_denom(denom->name);
  coin.set_amount(*units);
  return coin;
}

Result<std::optional<pb::Coin>> RequiredFeeOf(ApiClient& client, const pb::TxBody& body, uint32_t* decimals,
                                              int64_t fee_min_max, int64_t suggested_per_unit) {
  auto params = client.GetJson("/v1/params");
  // A node that publishes no parameters predates fees: it requires none.
  if (!params.ok() && params.status().code() == Code::kNotFound) return std::optional<pb::Coin>();
  if (!params.ok()) return params.status();
  // A node from before fees answers without fee_min: it requires none.
  if (!params->is_object() || !params->contains("fee_min")) return std::optional<pb::Coin>();
  const auto& fm = (*params)["fee_min"];
  if (!fm.is_number_integer() || fm.get<int64_t>() < 0 || fm.get<int64_t>() > limits::kFeeMinMax) {
    return Error(Code::kMalformed, "GET /v1/params: fee_min is not an integer between 0 and " +
                                       std::to_string(limits::kFeeMinMax));
  }
  if (fm.get<int64_t>() == 0) return std::optional<pb::Coin>();
  auto market = MarketParamsFromJson(*params);
  if (!market.ok()) return market.status();
  if (market->denom.empty()) return Error(Code::kMalformed, "GET /v1/params: a fee_min without a market denomination");
  if (fm.get<int64_t>() > fee_min_max) {
    return Error(Code::kFeeTooLow, "the node says this chain requires a fee of " + FormatMoney(fm.get<int64_t>(), *market) +
                                       " per fee unit, more than the " + FormatMoney(fee_min_max, *market) +
                                       " the wallet pays on its own; check the chain's genesis and name the fee with --fee");
  }
  // A busy mempool admits, and the next block takes, txs that pay more per unit first
  // (node/mempool.h): pay what the node suggests, up to fee_min_max (a lying node cannot make the
  // wallet pay more than that on its own).
  pb::ParamsRecord p;
  p.set_fee_min(std::max(fm.get<int64_t>(), std::min(suggested_per_unit, fee_min_max)));
  pb::Coin fee;
  fee.set_denom(market->denom);
  fee.set_amount(RequiredFee(p, body));
  if (decimals) *decimals = market->decimals;
  return std::optional<pb::Coin>(fee);
}

Result<Submitted> SignAndSubmit(ApiClient& client, const KeyPair& key, pb::TxBody body,
                                const SubmitOptions& options) {
  V2G_ASSERT(body.op_case() != pb::TxBody::OP_NOT_SET);
  auto status = client.GetStatus();
  if (!status.ok()) return status.status();
  const std::string signer = EncodeAddress(AddressFromPublicKey(key.public_key()));
  auto account = client.GetAccount(signer);
  if (!account.ok()) return account.status();
  body.set_nonce(account->next_nonce);
  Submitted out;
  if (!body.has_fee()) {
    auto fee = RequiredFeeOf(client, body, &out.fee_decimals, options.auto_fee_min_max, status->mempool_fee_per_unit);
    if (!fee.ok()) return fee.status();
    if (*fee) *body.mutable_fee() = **fee;
  }
  out.fee = body.fee();
  out.nonce = account->next_nonce;
  out.chain_id = status->chain_id;
  const std::string tx = SignTx(key, status->chain_id, std::move(body));
  auto result = client.SubmitTx(tx, options.wait_commit, options.timeout_ms);
  if (!result.ok()) return result.status();
  out.result = std::move(result).value();
  return out;
}

}  // namespace v2g
