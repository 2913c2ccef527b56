#include "contracts/state.h"

#include <algorithm>

#include "common/checked.h"
#include "common/limits.h"

namespace v2g {

std::string AccountKey(const Address& a) {
  std::string k(kAccountPrefix);
  k += AddressBytes(a);
  return k;
}
std::string DenomKey(std::string_view name) { return std::string(kDenomPrefix) + std::string(name); }
std::string SupplyKey(std::string_view name) { return std::string(kSupplyPrefix) + std::string(name); }

std::string RoleKey(std::string_view role, const Address& a) {
  std::string k(kRolePrefix);
  k += role;
  k += '/';
  k += AddressBytes(a);
  return k;
}
bool HasRole(const KvReader& kv, std::string_view role, const Address& a) {
  return kv.Get(RoleKey(role, a)).has_value();
}

std::string EvidenceKey(const pb::Vote& v) { return std::string(kEvidencePrefix) + EquivocationId(v); }

uint64_t NextSequence(Overlay& kv, std::string_view key) {
  uint64_t next = 1;
  if (auto v = kv.Get(key)) next = ReadBigEndian64(*v);
  std::string out;
  AppendBigEndian64(out, next + 1);
  kv.Put(key, out);
  return next;
}

Address StoredAddress(const std::string& raw) {
  auto a = AddressFromBytes(raw);
  V2G_ASSERT(a.ok());
  return *a;
}

pb::AccountRecord LoadAccount(const KvReader& kv, const Address& a) {
  auto v = kv.Get(AccountKey(a));
  if (!v) return {};
  return DecodeRecord<pb::AccountRecord>(*v);
}

void StoreAccount(Overlay& kv, const Address& a, const pb::AccountRecord& rec) {
  for (int i = 0; i < rec.balances_size(); ++i) {
    V2G_ASSERT(rec.balances(i).amount() > 0);
    V2G_ASSERT(i == 0 || rec.balances(i - 1).denom() < rec.balances(i).denom());
  }
  kv.Put(AccountKey(a), Encode(rec));
}

std::optional<pb::DenomRecord> LoadDenom(const KvReader& kv, std::string_view name) {
  auto v = kv.Get(DenomKey(name));
  if (!v) return std::nullopt;
  return DecodeRecord<pb::DenomRecord>(*v);
}

pb::SupplyRecord LoadSupply(const KvReader& kv, std::string_view name) {
  auto v = kv.Get(SupplyKey(name));
  if (!v) return {};
  return DecodeRecord<pb::SupplyRecord>(*v);
}

pb::ParamsRecord LoadParams(const KvReader& kv) {
  auto v = kv.Get(kParamsKey);
  V2G_ASSERT(v.has_value());
  return DecodeRecord<pb::ParamsRecord>(*v);
}

pb::ValidatorSet LoadValidators(const KvReader& kv) {
  auto v = kv.Get(kValidatorsKey);
  V2G_ASSERT(v.has_value());
  return DecodeRecord<pb::ValidatorSet>(*v);
}

bool ValidRecordName(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::string ValidatorSetKey(int64_t from_height) {
  std::string k(kValidatorSetPrefix);
  AppendBigEndian64(k, static_cast<uint64_t>(from_height));
  return k;
}

pb::ValidatorSet ValidatorsAt(const KvReader& kv, int64_t height) {
  std::optional<pb::ValidatorSet> found;
  kv.ScanFrom(kValidatorSetPrefix, ValidatorSetKey(height + 1), /*reverse=*/true,
              [&](std::string_view, std::string_view v) {
                found = DecodeRecord<pb::ValidatorSet>(std::string(v));
                return false;
              });
  return found ? *found : LoadValidators(kv);
}

void ShiftValidators(Overlay& kv, int64_t height) {
  if (auto next = kv.Get(ValidatorSetKey(height + 1))) kv.Put(kValidatorsKey, *next);
}

int64_t BalanceOf(const pb::AccountRecord& rec, std::string_view denom) {
  for (const auto& c : rec.balances()) {
    if (c.denom() == denom) return c.amount();
  }
  return 0;
}

void SetBalance(pb::AccountRecord& rec, std::string_view denom, int64_t amount) {
  V2G_ASSERT(amount >= 0);
  auto* balances = rec.mutable_balances();
  auto it = std::find_if(balances->begin(), balances->end(),
                         [&](const pb::Coin& c) { return c.denom() >= denom; });
  if (it != balances->end() && it->denom() == denom) {
    if (amount == 0) {
      balances->erase(it);
    } else {
      it->set_amount(amount);
    }
    return;
  }
  if (amount == 0) return;
  pb::Coin c;
  c.set_denom(std::string(denom));
  c.set_amount(amount);
  // RepeatedPtrField has no insert: append, then rotate into place.
  int pos = static_cast<int>(it - balances->begin());
  *balances->Add() = std::move(c);
  for (int i = balances->size() - 1; i > pos; --i) balances->SwapElements(i, i - 1);
}

Status DebitRecord(pb::AccountRecord& rec, const Address& who, std::string_view denom, int64_t amount,
                   std::string_view purpose) {
  int64_t have = BalanceOf(rec, denom);
  if (have < amount) {
    std::string what = EncodeAddress(who) + " needs {need}";
    if (!purpose.empty()) what += " " + std::string(purpose);
    return Error(Code::kInsufficientFunds,
                 Text(what + " and has {have}").Amount("need", denom, amount).Amount("have", denom, have));
  }
  SetBalance(rec, denom, have - amount);
  return Status::Ok();
}

Status CreditAccount(Overlay& state, const Address& to, std::string_view denom, int64_t amount) {
  pb::AccountRecord rec = LoadAccount(state, to);
  auto sum = CheckedAdd(BalanceOf(rec, denom), amount);
  if (!sum) return Error(Code::kOverflow, "balance of " + EncodeAddress(to) + " would overflow");
  if (BalanceOf(rec, denom) == 0 && rec.balances_size() >= static_cast<int>(limits::kAccountDenomsMax)) {
    return Error(Code::kInvalidArgument, "account holds the maximum number of denominations");
  }
  SetBalance(rec, denom, *sum);
  StoreAccount(state, to, rec);
  return Status::Ok();
}

void CreditRecordReturn(pb::AccountRecord& rec, std::string_view denom, int64_t amount) {
  auto sum = CheckedAdd(BalanceOf(rec, denom), amount);
  V2G_ASSERT(sum.has_value());  // every balance is part of a supply that fits in int64
  SetBalance(rec, denom, *sum);
}

bool KnownRole(std::string_view role) {
  return std::find(std::begin(kRoleNames), std::end(kRoleNames), role) != std::end(kRoleNames);
}

std::string RoleNamesText() {
  std::string out;
  for (std::string_view r : kRoleNames) out += (out.empty() ? "" : ", ") + std::string(r);
  return out;
}

std::string ZoneKey(std::string_view zone) { return std::string(kZonePrefix) + std::string(zone); }

std::optional<pb::ZoneRecord> LoadZone(const KvReader& kv, std::string_view zone) {
  return LoadRecord<pb::ZoneRecord>(kv, ZoneKey(zone));
}

Result<pb::ZoneRecord> RequireZone(const KvReader& kv, std::string_view zone, std::string_view what) {
  auto z = LoadZone(kv, zone);
  if (!z) {
    return Error(Code::kNotFound, std::string(what) + ": zone '" + std::string(zone) +
                                      "' is not a zone of this chain (GET /v1/zones lists them)");
  }
  return *z;
}

namespace {

template <typename Fields>
void StoreFields(const Text& text, std::string* tmpl, Fields* out) {
  if (text.fields().empty()) return;
  *tmpl = text.tmpl();
  for (const TextField& f : text.fields()) {
    pb::TextField* p = out->Add();
    p->set_name(f.name);
    p->set_kind(static_cast<uint32_t>(f.kind));
    p->set_value(f.value);
    p->set_denom(f.denom);
  }
}

}  // namespace

void SetLog(pb::TxResult* result, const Text& text) {
  result->set_log(text.plain());
  result->clear_log_template();
  result->clear_log_fields();
  StoreFields(text, result->mutable_log_template(), result->mutable_log_fields());
}

void SetRefusal(pb::RejectedReading* rejected, const Status& st) {
  rejected->set_code(static_cast<uint32_t>(st.code()));
  rejected->set_message(st.message());
  StoreFields(st.text(), rejected->mutable_message_template(), rejected->mutable_message_fields());
}

}  // namespace v2g
