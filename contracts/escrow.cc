#include "contracts/escrow.h"

#include <algorithm>
#include <limits>

#include "common/checked.h"
#include "common/crypto.h"
#include "contracts/state.h"

namespace v2g {

Address ModuleAddress(std::string_view label) {
  std::string text = "v2gledger/module/";
  text += label;
  Hash256 h = Blake2b256(text);
  Address out{};
  std::copy(h.begin(), h.begin() + static_cast<long>(out.size()), out.begin());
  return out;
}

bool IsModuleAddress(const Address& a) {
  // Computed once: the labels are constants, and this runs for every transfer and mint.
  static const std::array<Address, kModuleLabels.size()> kAddresses = [] {
    std::array<Address, kModuleLabels.size()> out{};
    for (size_t i = 0; i < kModuleLabels.size(); ++i) out[i] = ModuleAddress(kModuleLabels[i]);
    return out;
  }();
  return std::find(kAddresses.begin(), kAddresses.end(), a) != kAddresses.end();
}

Status ModuleFunds::Lock(const Address& from, std::string_view denom, int64_t amount, std::string_view purpose) {
  V2G_ASSERT(amount >= 0);
  if (amount == 0) return Status::Ok();
  if (IsSigner(from)) {
    V2G_RETURN_IF_ERROR(DebitRecord(*signer_rec_, from, denom, amount, purpose));
  } else {
    pb::AccountRecord rec = LoadAccount(st_, from);
    V2G_RETURN_IF_ERROR(DebitRecord(rec, from, denom, amount, purpose));
    StoreAccount(st_, from, rec);
  }
  Add(module_, denom, amount);
  return Status::Ok();
}

void ModuleFunds::Release(const Address& to, std::string_view denom, int64_t amount) {
  V2G_ASSERT(amount >= 0);
  if (amount == 0) return;
  pb::AccountRecord mod = LoadAccount(st_, module_);
  V2G_ASSERT(DebitRecord(mod, module_, denom, amount).ok());
  StoreAccount(st_, module_, mod);
  Add(to, denom, amount);
}

void ModuleFunds::ReleaseEach(std::string_view denom, const std::map<Address, int64_t>& amounts) {
  Int128 total = 0;
  for (const auto& [to, amount] : amounts) {
    V2G_ASSERT(amount >= 0);
    total += amount;
  }
  if (total == 0) return;
  V2G_ASSERT(total <= std::numeric_limits<int64_t>::max());
  pb::AccountRecord mod = LoadAccount(st_, module_);
  V2G_ASSERT(DebitRecord(mod, module_, denom, static_cast<int64_t>(total)).ok());
  StoreAccount(st_, module_, mod);
  for (const auto& [to, amount] : amounts) {
    if (amount > 0) Add(to, denom, amount);
  }
}

int64_t ModuleFunds::PayUpTo(const Address& from, const Address& to, std::string_view denom, int64_t amount) {
  V2G_ASSERT(amount >= 0);
  const int64_t moved = std::min(amount, BalanceOf(from, denom));
  if (moved == 0 || from == to) return moved;
  if (IsSigner(from)) {
    V2G_ASSERT(DebitRecord(*signer_rec_, from, denom, moved).ok());
  } else {
    pb::AccountRecord rec = LoadAccount(st_, from);
    V2G_ASSERT(DebitRecord(rec, from, denom, moved).ok());
    StoreAccount(st_, from, rec);
  }
  Add(to, denom, moved);
  return moved;
}

int64_t ModuleFunds::BalanceOf(const Address& who, std::string_view denom) const {
  if (IsSigner(who)) return v2g::BalanceOf(*signer_rec_, denom);
  return v2g::BalanceOf(LoadAccount(st_, who), denom);
}

void ModuleFunds::Add(const Address& to, std::string_view denom, int64_t amount) {
  if (IsSigner(to)) {
    CreditRecordReturn(*signer_rec_, denom, amount);
    return;
  }
  pb::AccountRecord rec = LoadAccount(st_, to);
  CreditRecordReturn(rec, denom, amount);
  StoreAccount(st_, to, rec);
}

}  // namespace v2g
