// Funds that a contract module holds on the ledger's behalf (escrow, collateral, budgets) live in
// that module's account, whose address is a hash of a fixed label: nobody holds its key, so only
// the module's own rules move them, and the ledger-wide conservation check covers them.
//
// ModuleFunds moves amounts between accounts and a module account inside one tx or block. The tx
// signer's funds move through its in-memory record (ApplyTx stores that record after the op);
// everyone else's through the state.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

#include "common/bech32.h"
#include "common/status.h"
#include "contracts/kv.h"
#include "proto/v2g.pb.h"

namespace v2g {

// The modules that hold funds, by label. A new module that holds funds adds its label here, and
// IsModuleAddress (which transfers, mints and genesis balances are checked against) covers it
// without anyone having to remember the places that must refuse payments into it.
inline constexpr std::string_view kMarketModule = "market";
inline constexpr std::string_view kGridModule = "grid";
inline constexpr std::array<std::string_view, 2> kModuleLabels = {kMarketModule, kGridModule};

// The account of module `label`: BLAKE2b-256("v2gledger/module/" + label)[0..20).
Address ModuleAddress(std::string_view label);
// Whether `a` is the account of any module in kModuleLabels.
bool IsModuleAddress(const Address& a);

class ModuleFunds {
 public:
  // `signer` and `signer_rec` may be null (block-level work has no signer).
  ModuleFunds(Overlay& state, const Address& module, const Address* signer, pb::AccountRecord* signer_rec)
      : st_(state), module_(module), signer_(signer), signer_rec_(signer_rec) {}

  // from -> module; kInsufficientFunds naming `from` otherwise (nothing moved).
  // `purpose` says what the amount is for in the refusal (state.h DebitRecord).
  Status Lock(const Address& from, std::string_view denom, int64_t amount, std::string_view purpose = {});
  // module -> to. The module holds everything its records lock, so this cannot fail unless the
  // state is corrupt (asserts).
  void Release(const Address& to, std::string_view denom, int64_t amount);
  // Release() to many payees, reading and writing the module account once.
  void ReleaseEach(std::string_view denom, const std::map<Address, int64_t>& amounts);
  // from -> to directly, at most what `from` holds; returns the amount moved.
  int64_t PayUpTo(const Address& from, const Address& to, std::string_view denom, int64_t amount);
  int64_t BalanceOf(const Address& who, std::string_view denom) const;

 private:
  bool IsSigner(const Address& a) const { return signer_ != nullptr && a == *signer_; }
  void Add(const Address& to, std::string_view denom, int64_t amount);

  Overlay& st_;
  Address module_;
  const Address* signer_;
  pb::AccountRecord* signer_rec_;
};

}  // namespace v2g
