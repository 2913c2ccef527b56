#include "contracts/gov.h"

#include <algorithm>
#include <map>

#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "common/version.h"
#include "contracts/escrow.h"
#include "contracts/meters.h"
#include "contracts/params.h"
#include "contracts/state.h"

namespace v2g {
namespace {

constexpr std::string_view kOpenPrefix = "s/gov/open/";
constexpr std::string_view kExecPrefix = "s/gov/exec/";
constexpr std::string_view kSeqKey = "s/gov/seq";

std::string Be64(uint64_t v) {
  std::string out;
  AppendBigEndian64(out, v);
  return out;
}

std::string OpenKey(int64_t end_ms, uint64_t id) {
  return std::string(kOpenPrefix) + Be64(static_cast<uint64_t>(end_ms)) + Be64(id);
}
std::string ExecKey(int64_t height, uint64_t id) {
  return std::string(kExecPrefix) + Be64(static_cast<uint64_t>(height)) + Be64(id);
}
std::string VoteKey(uint64_t id, const Address& voter) {
  return ProposalVotesPrefix(id) + AddressBytes(voter);
}

void StoreProposal(Overlay& st, const pb::ProposalRecord& p) {
  st.Put(ProposalKey(p.id()), Encode(p));
}

std::string Num(int64_t v) { return std::to_string(v); }

// A 20-byte address field of an action; `what` names it in the error.
Result<Address> ActionAddress(std::string_view what, const std::string& raw) {
  auto a = AddressFromBytes(raw);
  if (!a.ok())
    return Error(Code::kInvalidArgument, std::string(what) + ": " + a.status().message());
  if (IsModuleAddress(*a)) {
    return Error(Code::kInvalidArgument,
                 std::string(what) + " is a module account (market escrow or grid budgets)");
  }
  return *a;
}

// Text people read in explorers and wallets before they vote: valid UTF-8 without control
// characters (a newline is allowed where `multiline`), C1 controls, or the bidirectional
// overrides and isolates that make text read otherwise than it is stored (U+202A-U+202E,
// U+2066-U+2069).
Status CheckText(std::string_view what, std::string_view text, bool multiline) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    uint32_t cp = 0;
    size_t n = 0;
    if (c < 0x80) {
      cp = c, n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F, n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F, n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07, n = 4;
    } else {
      return Error(Code::kInvalidArgument, std::string(what) + " is not valid UTF-8");
    }
    if (i + n > text.size())
      return Error(Code::kInvalidArgument, std::string(what) + " is not valid UTF-8");
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<uint8_t>(text[i + k]);
      if ((cc & 0xC0) != 0x80)
        return Error(Code::kInvalidArgument, std::string(what) + " is not valid UTF-8");
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong =
        (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Error(Code::kInvalidArgument, std::string(what) + " is not valid UTF-8");
    }
    const bool control = (cp < 0x20 && !(multiline && cp == '\n')) || (cp >= 0x7F && cp <= 0x9F);
    const bool bidi = (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
    if (control || bidi) {
      return Error(Code::kInvalidArgument,
                   std::string(what) + " holds a control or text-direction character at byte " +
                       std::to_string(i) + (multiline ? " (only newlines may break it)" : ""));
    }
    i += n;
  }
  return Status::Ok();
}

Status CheckAction(const pb::GovAction& a) {
  switch (a.action_case()) {
    case pb::GovAction::kRole:
      if (!KnownRole(a.role().role())) {
        return Error(Code::kInvalidArgument, "proposal role '" + a.role().role() +
                                                 "' is not a role (known: " + RoleNamesText() +
                                                 ")");
      }
      return ActionAddress("proposal role address", a.role().address()).status();
    case pb::GovAction::kIssuer:
      if (a.issuer().denom().empty() || a.issuer().denom().size() > limits::kDenomNameMax) {
        return Error(Code::kInvalidArgument,
                     "proposal issuer: denomination name must be 1-16 characters");
      }
      if (a.issuer().issuer().empty()) return Status::Ok();  // nobody may mint or burn it
      return ActionAddress("proposal issuer", a.issuer().issuer()).status();
    case pb::GovAction::kZone:
      if (!ValidZone(a.zone().zone())) {
        return Error(Code::kInvalidArgument,
                     "proposal zone name must be 1-32 of A-Z a-z 0-9 . _ -");
      }
      return ActionAddress("proposal zone grid company", a.zone().grid_company()).status();
    case pb::GovAction::kParam:
      if (!FindGovParam(a.param().name())) {
        return Error(Code::kInvalidArgument, "proposal param '" + a.param().name() +
                                                 "' is not one governance may change (those are: " +
                                                 GovParamNamesText() + ")");
      }
      return Status::Ok();
    case pb::GovAction::kMarket:
      if (!ValidZone(a.market().zone())) {
        return Error(Code::kInvalidArgument,
                     "proposal market zone must be 1-32 of A-Z a-z 0-9 . _ -");
      }
      return Status::Ok();
    case pb::GovAction::kValidator: {
      const auto& v = a.validator();
      V2G_RETURN_IF_ERROR(ActionAddress("proposal validator address", v.address()).status());
      if (v.power() < 0 || v.power() > limits::kValidatorPowerMax) {
        return Error(Code::kInvalidArgument, "proposal validator power must be 0 (remove) to " +
                                                 Num(limits::kValidatorPowerMax));
      }
      if (!v.name().empty() && !ValidRecordName(v.name(), limits::kValidatorNameMax)) {
        return Error(Code::kInvalidArgument,
                     "proposal validator name must be 1-64 of a-z A-Z 0-9 - _ .");
      }
      for (const auto* key : {&v.consensus_pubkey(), &v.node_pubkey()}) {
        if (!key->empty() && key->size() != 32) {
          return Error(Code::kInvalidArgument,
                       "proposal validator keys must be 32-byte Ed25519 public keys");
        }
      }
      return Status::Ok();
    }
    case pb::GovAction::kUpgrade: {
      const auto& u = a.upgrade();
      if (!ValidRecordName(u.name(), limits::kUpgradeNameMax)) {
        return Error(Code::kInvalidArgument,
                     "proposal upgrade name must be 1-64 of a-z A-Z 0-9 - _ .");
      }
      if (u.cancel()) {
        if (u.height() != 0 || !u.version().empty()) {
          return Error(
              Code::kInvalidArgument,
              "proposal upgrade: a cancellation names the plan only (no height or version)");
        }
        return Status::Ok();
      }
      if (u.version().size() > limits::kVersionMax || !ParseVersion(u.version())) {
        return Error(Code::kInvalidArgument,
                     "proposal upgrade version must be MAJOR.MINOR.PATCH (three numbers of 1-9 "
                     "digits, e.g. 0.2.0)");
      }
      if (u.height() <= 0) {
        return Error(Code::kInvalidArgument, "proposal upgrade height must be positive");
      }
      return Status::Ok();
    }
    case pb::GovAction::ACTION_NOT_SET:
      return Status::Ok();  // a text proposal
  }
  return Error(Code::kInvalidArgument, "proposal action is not one this version knows");
}

// The validator whose current consensus key is `signer`'s, by its address (which never changes).
// A validator's governance txs are signed with its consensus key of the block's height: at first
// the key of its address; after a rotation, the new key (the old one, retired, perhaps because it
// was stolen, has no say any more).
std::optional<std::string> ValidatorFor(const pb::ValidatorSet& vals, const Address& signer) {
  for (const auto& v : vals.validators()) {
    PublicKey k{};
    if (v.consensus_pubkey().size() != k.size()) continue;
    std::copy(v.consensus_pubkey().begin(), v.consensus_pubkey().end(), k.begin());
    if (AddressFromPublicKey(k) == signer) return v.address();
  }
  return std::nullopt;
}

// The set of height `at` may differ from the set before it by at most a third of the earlier set's
// power: every validator's change of power (added, removed, re-weighted) and the power of every
// validator whose consensus key changed (to a light client that trusts the old keys, a rotated
// validator is a new one) count.
Status CheckSetChange(const pb::ValidatorSet& before, const pb::ValidatorSet& next, int64_t at) {
  std::map<std::string, std::pair<int64_t, std::string>> old;  // address -> power, consensus key
  int64_t total = 0;
  for (const auto& r : before.validators()) {
    old[r.address()] = {r.power(), r.consensus_pubkey()};
    total += r.power();
  }
  Int128 changed = 0;
  for (const auto& r : next.validators()) {
    auto it = old.find(r.address());
    if (it == old.end()) {
      changed += r.power();
      continue;
    }
    const auto& [power, key] = it->second;
    changed += key != r.consensus_pubkey()
                   ? std::max(power, r.power())
                   : (power > r.power() ? power - r.power() : r.power() - power);
    old.erase(it);
  }
  for (const auto& [addr, left] : old) changed += left.first;  // removed
  if (changed * 3 > static_cast<Int128>(total)) {
    return Error(
        Code::kInvalidArgument,
        "this would change " + Num(static_cast<int64_t>(changed)) + " of " + Num(total) +
            " voting power at height " + Num(at) +
            ": at most a third may change at once (light clients rely on it); change it in steps");
  }
  return Status::Ok();
}

// A node key a validator retired is never taken again (by a new validator or a rotation):
// s/gov/nodekey/ names the validator that held it, and nodes that still dial by it follow that
// validator to its current key.
Status CheckNodeKeyNotRetired(const KvReader& st, const std::string& node_key) {
  if (st.Get(std::string(kRetiredNodeKeyPrefix) + node_key)) {
    return Error(Code::kAlreadyExists, "node key " + HexEncode(node_key) +
                                           " was retired by a validator: a retired key is never "
                                           "used again");
  }
  return Status::Ok();
}

std::string UpgradeDoneKey(std::string_view name) {
  return std::string(kUpgradeDonePrefix) + std::string(name);
}

// Plans a software upgrade, replacing a pending plan, or cancels the pending one.
Result<Text> ApplyUpgrade(const pb::SoftwareUpgrade& u, const BlockContext& ctx, Overlay& st) {
  const std::optional<pb::SoftwareUpgrade> pending = LoadUpgradePlan(st);
  if (u.cancel()) {
    if (!pending || pending->name() != u.name()) {
      return Error(Code::kNotFound,
                   "no upgrade named " + u.name() + " is pending" +
                       (pending ? " (the pending one is " + pending->name() + ")" : ""));
    }
    st.Delete(kUpgradePlanKey);
    return Text("the upgrade " + u.name() + " to version " + pending->version() + " at height " +
                Num(pending->height()) + " is cancelled");
  }
  if (auto done = st.Get(UpgradeDoneKey(u.name()))) {
    pb::SoftwareUpgrade d;
    if (d.ParseFromString(*done)) {
      return Error(Code::kAlreadyExists, "the upgrade " + u.name() + " was done at height " +
                                             Num(d.height()) + ": name a new one");
    }
  }
  if (u.height() <= ctx.height) {
    return Error(Code::kInvalidArgument, "upgrade height " + Num(u.height()) +
                                             " is not after the height it would execute at (" +
                                             Num(ctx.height) + ")");
  }
  if (u.height() > ctx.height + limits::kUpgradeHeightsAheadMax) {
    return Error(Code::kInvalidArgument, "upgrade height " + Num(u.height()) + " is more than " +
                                             Num(limits::kUpgradeHeightsAheadMax) +
                                             " heights after height " + Num(ctx.height));
  }
  pb::SoftwareUpgrade plan;
  plan.set_name(u.name());
  plan.set_height(u.height());
  plan.set_version(u.version());
  st.Put(kUpgradePlanKey, Encode(plan));
  return Text("from height " + Num(u.height()) + " nodes run version " + u.version() +
              " or later (upgrade " + u.name() + ")" +
              (pending ? "; replaces the plan " + pending->name() : ""));
}

// The set of ctx.height + 2 with `c` applied (docs/DESIGN.md "Validator set changes"): the base is
// that height's set as far as it is known (the set of ctx.height + 1, or what an earlier action
// of this block made it), and the result may differ from the set of ctx.height + 1 by at most a
// third of that set's power, counting every validator's change (added, removed, re-weighted).
Result<Text> ApplyValidatorChange(const pb::ValidatorChange& c, const BlockContext& ctx,
                                  Overlay& st) {
  const int64_t at = ctx.height + 2;
  const pb::ValidatorSet before = ValidatorsAt(st, at - 1);  // signs ctx.height + 1
  pb::ValidatorSet next = ValidatorsAt(st, at);
  auto who_or = AddressFromBytes(c.address());
  if (!who_or.ok()) return who_or.status();
  const std::string who = EncodeAddress(*who_or);
  auto* vals = next.mutable_validators();
  auto it = std::find_if(vals->begin(), vals->end(),
                         [&](const pb::ValidatorRecord& r) { return r.address() == c.address(); });
  std::string what;
  if (c.power() == 0) {
    if (it == vals->end()) return Error(Code::kNotFound, who + " is not a validator");
    if (static_cast<size_t>(vals->size()) <= limits::kValidatorsMin) {
      return Error(Code::kInvalidArgument, "the validator set has " + Num(vals->size()) +
                                               " validators: governance never takes it below " +
                                               Num(limits::kValidatorsMin) + " (add one first)");
    }
    what = "validator " + it->name() + " (" + who + ") removed";
    vals->erase(it);
  } else if (it != vals->end()) {
    if ((!c.name().empty() && c.name() != it->name()) ||
        (!c.consensus_pubkey().empty() && c.consensus_pubkey() != it->consensus_pubkey()) ||
        (!c.node_pubkey().empty() && c.node_pubkey() != it->node_pubkey())) {
      return Error(Code::kInvalidArgument,
                   who + " is validator " + it->name() +
                       " already: a change of its power names only its address and power");
    }
    if (it->power() == c.power()) {
      return Error(Code::kAlreadyExists,
                   "validator " + it->name() + " has power " + Num(c.power()) + " already");
    }
    what = "validator " + it->name() + " re-weighted from " + Num(it->power()) + " to " +
           Num(c.power());
    it->set_power(c.power());
  } else {
    if (c.name().empty() || c.consensus_pubkey().size() != 32 || c.node_pubkey().size() != 32) {
      return Error(
          Code::kInvalidArgument,
          who + " is not a validator: adding one needs its name, consensus key and node key");
    }
    PublicKey ck{};
    std::copy(c.consensus_pubkey().begin(), c.consensus_pubkey().end(), ck.begin());
    if (AddressFromPublicKey(ck) != *who_or) {
      return Error(Code::kInvalidArgument, "a validator's address must be its consensus key's (" +
                                               EncodeAddress(AddressFromPublicKey(ck)) + "), not " +
                                               who);
    }
    if (static_cast<size_t>(vals->size()) >= limits::kValidatorsMax) {
      return Error(Code::kTooLarge, "the validator set has " + Num(vals->size()) +
                                        " validators, the most it may have");
    }
    for (const auto& r : *vals) {
      if (r.name() == c.name())
        return Error(Code::kAlreadyExists, "a validator is named " + c.name() + " already");
      if (r.consensus_pubkey() == c.consensus_pubkey() || r.node_pubkey() == c.node_pubkey()) {
        return Error(Code::kAlreadyExists, "validator " + r.name() + " has that key already");
      }
    }
    V2G_RETURN_IF_ERROR(CheckNodeKeyNotRetired(st, c.node_pubkey()));
    pb::ValidatorRecord* r = next.add_validators();
    r->set_name(c.name());
    r->set_address(c.address());
    r->set_consensus_pubkey(c.consensus_pubkey());
    r->set_node_pubkey(c.node_pubkey());
    r->set_power(c.power());
    what = "validator " + c.name() + " (" + who + ") added with power " + Num(c.power());
  }
  V2G_RETURN_IF_ERROR(CheckSetChange(before, next, at));
  st.Put(ValidatorSetKey(at), Encode(next));
  return Text(what + ", from height " + Num(at));
}

// A validator's own key rotation, from ctx.height + 2 on: its record in the newest known set
// (that of ctx.height + 2) takes the new keys. The tx is signed by the validator's current
// consensus key (ValidatorFor); the current key, the new one and a new node key each sign
// ValidatorKeySignBytes. A new key may be neither another validator's key nor the key of another
// validator's address (a retired key coming back under another validator would make the nodes
// still holding it sign as that one).
Status ApplyRotateKey(const CheckedTx& tx, const BlockContext& ctx, Overlay& st,
                      pb::TxResult* result) {
  const auto& r = tx.body.rotate_validator_key();
  const int64_t at = ctx.height + 2;
  pb::ValidatorSet next = ValidatorsAt(st, at);
  const std::optional<std::string> validator = ValidatorFor(next, tx.signer);
  if (!validator) {
    return Error(Code::kUnauthorized,
                 EncodeAddress(tx.signer) +
                     " is not a validator's current consensus key: only a validator rotates "
                     "its keys, signing with the key it retires");
  }
  auto* vals = next.mutable_validators();
  auto it = std::find_if(vals->begin(), vals->end(),
                         [&](const pb::ValidatorRecord& v) { return v.address() == *validator; });
  const std::string rotated_key = std::string(kValidatorRotationPrefix) + *validator;
  if (auto last = st.Get(rotated_key); last && last->size() == 8) {
    const int64_t last_height = static_cast<int64_t>(ReadBigEndian64(*last));
    if (ctx.height < last_height + limits::kValidatorKeyRotationHeightsMin) {
      return Error(Code::kInvalidArgument,
                   "validator " + it->name() + " rotated its keys at height " + Num(last_height) +
                       ": the next rotation may come from height " +
                       Num(last_height + limits::kValidatorKeyRotationHeightsMin));
    }
  }
  const bool new_consensus = !r.new_consensus_pubkey().empty();
  const bool new_node = !r.new_node_pubkey().empty();
  if (new_consensus && r.new_consensus_pubkey() == it->consensus_pubkey()) {
    return Error(Code::kAlreadyExists,
                 "validator " + it->name() + " has that consensus key already");
  }
  if (new_node && r.new_node_pubkey() == it->node_pubkey()) {
    return Error(Code::kAlreadyExists, "validator " + it->name() + " has that node key already");
  }
  std::string new_key_address;
  if (new_consensus) {
    PublicKey new_key{};
    std::copy(r.new_consensus_pubkey().begin(), r.new_consensus_pubkey().end(), new_key.begin());
    new_key_address = AddressBytes(AddressFromPublicKey(new_key));
  }
  for (const auto& v : *vals) {
    if (v.address() == it->address()) continue;
    if ((new_consensus &&
         (v.consensus_pubkey() == r.new_consensus_pubkey() || v.address() == new_key_address)) ||
        (new_node && v.node_pubkey() == r.new_node_pubkey())) {
      return Error(Code::kAlreadyExists, "validator " + v.name() + " has that key already");
    }
  }
  if (new_node) V2G_RETURN_IF_ERROR(CheckNodeKeyNotRetired(st, r.new_node_pubkey()));
  const std::string msg = ValidatorKeySignBytes(ctx.chain_id, it->consensus_pubkey(),
                                                r.new_consensus_pubkey(), r.new_node_pubkey());
  if (!VerifyRaw(it->consensus_pubkey(), msg, r.old_consensus_signature())) {
    return Error(Code::kBadSignature, "rotate validator key: the signature of " + it->name() +
                                          "'s current consensus key does not verify");
  }
  if (new_consensus && !VerifyRaw(r.new_consensus_pubkey(), msg, r.new_consensus_signature())) {
    return Error(Code::kBadSignature,
                 "rotate validator key: the new consensus key's signature does not verify");
  }
  if (new_node && !VerifyRaw(r.new_node_pubkey(), msg, r.new_node_signature())) {
    return Error(Code::kBadSignature,
                 "rotate validator key: the new node key's signature does not verify");
  }
  const std::string retired_node_key = it->node_pubkey();
  if (new_consensus) it->set_consensus_pubkey(r.new_consensus_pubkey());
  if (new_node) it->set_node_pubkey(r.new_node_pubkey());
  const std::string name = it->name();
  V2G_RETURN_IF_ERROR(CheckSetChange(ValidatorsAt(st, at - 1), next, at));
  st.Put(ValidatorSetKey(at), Encode(next));
  std::string height_bytes;
  AppendBigEndian64(height_bytes, static_cast<uint64_t>(ctx.height));
  st.Put(rotated_key, height_bytes);
  if (new_node) st.Put(std::string(kRetiredNodeKeyPrefix) + retired_node_key, *validator);
  if (result) {  // none at mempool admission
    SetLog(result,
           Text("validator " + name + " uses " +
                (new_consensus ? "consensus key " + HexEncode(r.new_consensus_pubkey()) : "") +
                (new_consensus && new_node ? " and " : "") +
                (new_node ? "node key " + HexEncode(r.new_node_pubkey()) : "") + " from height " +
                Num(at)));
  }
  return Status::Ok();
}

// Applies `a` to `st` at block `ctx`, or says why it cannot apply now (then `st` is untouched:
// the caller runs it in a child overlay). Checked at submission too, so a proposal that could not
// apply is refused at once instead of being voted on.
Result<Text> ApplyAction(const pb::GovAction& a, const BlockContext& ctx, Overlay& st) {
  switch (a.action_case()) {
    case pb::GovAction::kRole: {
      const auto& r = a.role();
      auto who_or = AddressFromBytes(r.address());
      if (!who_or.ok()) return who_or.status();
      const Address who = *who_or;
      const std::string name = EncodeAddress(who);
      const bool holds = HasRole(st, r.role(), who);
      if (!r.revoke()) {
        if (holds)
          return Error(Code::kAlreadyExists, name + " already holds the " + r.role() + " role");
        st.Put(RoleKey(r.role(), who), "");
        return Text(r.role() + " role granted to " + name);
      }
      if (!holds) return Error(Code::kNotFound, name + " does not hold the " + r.role() + " role");
      if (r.role() == "grid_company") {
        // A zone's owner always holds the role: its zones move first (a zone proposal).
        std::string owned;
        st.Scan(kZonePrefix, [&](std::string_view, std::string_view v) {
          const auto z = DecodeRecord<pb::ZoneRecord>(std::string(v));
          if (z.grid_company() == AddressBytes(who))
            owned += (owned.empty() ? "" : ", ") + z.name();
          return true;
        });
        if (!owned.empty()) {
          return Error(Code::kInvalidArgument,
                       name + " still owns zones " + owned +
                           ": move them to another grid company first (a zone proposal)");
        }
      }
      st.Delete(RoleKey(r.role(), who));
      return Text(r.role() + " role revoked from " + name);
    }
    case pb::GovAction::kIssuer: {
      const auto& i = a.issuer();
      auto d = LoadDenom(st, i.denom());
      if (!d) return Error(Code::kUnknownDenom, "unknown denomination '" + i.denom() + "'");
      if (d->issuer() == i.issuer()) {
        return Error(Code::kAlreadyExists, i.issuer().empty()
                                               ? i.denom() + " has no issuer already"
                                               : EncodeAddress(StoredAddress(i.issuer())) +
                                                     " is the issuer of " + i.denom() + " already");
      }
      d->set_issuer(i.issuer());
      st.Put(DenomKey(i.denom()), Encode(*d));
      return Text(i.issuer().empty() ? i.denom() + " has no issuer now: nobody may mint or burn it"
                                     : EncodeAddress(StoredAddress(i.issuer())) +
                                           " is the issuer of " + i.denom());
    }
    case pb::GovAction::kZone: {
      const auto& z = a.zone();
      auto owner_or = AddressFromBytes(z.grid_company());
      if (!owner_or.ok()) return owner_or.status();
      const Address owner = *owner_or;
      if (!HasRole(st, "grid_company", owner)) {
        return Error(Code::kInvalidArgument,
                     "zone " + z.zone() + ": " + EncodeAddress(owner) +
                         " does not hold the grid_company role (grant it first)");
      }
      auto rec = LoadZone(st, z.zone());
      if (rec) {
        if (rec->grid_company() == z.grid_company()) {
          return Error(Code::kAlreadyExists,
                       "zone " + z.zone() + " belongs to " + EncodeAddress(owner) + " already");
        }
        rec->set_grid_company(z.grid_company());
        st.Put(ZoneKey(z.zone()), Encode(*rec));
        return Text("zone " + z.zone() + " moved to grid company " + EncodeAddress(owner));
      }
      int64_t zones = 0;
      st.Scan(kZonePrefix,
              [&](std::string_view, std::string_view) { return ++zones < limits::kZonesMax; });
      if (zones >= limits::kZonesMax) {
        return Error(Code::kTooLarge,
                     "this chain has " + Num(limits::kZonesMax) + " zones, the most it may have");
      }
      pb::ZoneRecord nz;
      nz.set_name(z.zone());
      nz.set_grid_company(z.grid_company());
      st.Put(ZoneKey(z.zone()), Encode(nz));
      return Text("zone " + z.zone() + " added, owned by grid company " + EncodeAddress(owner));
    }
    case pb::GovAction::kParam: {
      const GovParam* spec = FindGovParam(a.param().name());
      if (!spec)
        return Error(Code::kInvalidArgument, "params." + a.param().name() + " may not be changed");
      pb::ParamsRecord p = LoadParams(st);
      if (p.gov_voting_period_s() == 0)
        p.set_gov_voting_period_s(GovVotingPeriodS(p));  // the default, as stored
      if (spec->get(p) == a.param().value()) {
        return Error(Code::kAlreadyExists,
                     "params." + a.param().name() + " is " + Num(a.param().value()) + " already");
      }
      const int64_t was = spec->get(p);
      spec->set(p, a.param().value());
      if (spec->get(p) != a.param().value()) {  // did not fit the field (an int32)
        return Error(Code::kInvalidArgument, "params." + a.param().name() + ": " +
                                                 Num(a.param().value()) + " is out of range");
      }
      V2G_RETURN_IF_ERROR(
          CheckParamsRecord(p, [&](std::string_view d) { return LoadDenom(st, d).has_value(); }));
      st.Put(kParamsKey, Encode(p));
      return Text("params." + a.param().name() + " changed from " + Num(was) + " to " +
                  Num(a.param().value()));
    }
    case pb::GovAction::kMarket: {
      const auto& m = a.market();
      auto z = RequireZone(st, m.zone(), "market suspension");
      if (!z.ok()) return z.status();
      if (z->market_suspended() == m.suspend()) {
        return Error(Code::kAlreadyExists,
                     "the market of zone " + m.zone() +
                         (m.suspend() ? " is suspended already" : " is not suspended"));
      }
      z->set_market_suspended(m.suspend());
      z->set_suspended_height(m.suspend() ? ctx.height : 0);
      st.Put(ZoneKey(m.zone()), Encode(*z));
      return Text("the market of zone " + m.zone() +
                  (m.suspend() ? " is suspended" : " is resumed"));
    }
    case pb::GovAction::kValidator:
      return ApplyValidatorChange(a.validator(), ctx, st);
    case pb::GovAction::kUpgrade:
      return ApplyUpgrade(a.upgrade(), ctx, st);
    case pb::GovAction::ACTION_NOT_SET:
      return Text("decision recorded");
  }
  return Error(Code::kInvalidArgument, "proposal action is not one this version knows");
}

// Closes open proposal `p` at block `ctx` by tally `t`: passed when it passes, else rejected
// (`why`).
void Close(pb::ProposalRecord& p, const GovTally& t, const BlockContext& ctx, Overlay& st,
           const std::string& why) {
  p.set_yes_power(t.yes);
  p.set_no_power(t.no);
  p.set_abstain_power(t.abstain);
  p.set_total_power(t.total);
  p.set_closed_height(ctx.height);
  st.Delete(OpenKey(p.voting_end_ms(), p.id()));
  if (t.Passes()) {
    p.set_status(pb::PROPOSAL_PASSED);
    p.set_execute_height(ctx.height + 1);
    st.Put(ExecKey(p.execute_height(), p.id()), "");
  } else {
    p.set_status(pb::PROPOSAL_REJECTED);
    p.set_result_log("rejected: " + why);
  }
  StoreProposal(st, p);
}

Status ApplySubmit(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                   Overlay& st, pb::TxResult* result) {
  const auto& s = tx.body.submit_proposal();
  const std::optional<std::string> validator = ValidatorFor(LoadValidators(st), tx.signer);
  if (!validator && !HasRole(st, "proposer", tx.signer)) {
    return Error(Code::kUnauthorized, EncodeAddress(tx.signer) +
                                          " may not submit proposals: only validators (with their "
                                          "current consensus key) and holders of the "
                                          "proposer role may");
  }
  // A validator proposes as its address, whichever of its keys signs now.
  const std::string proposer = validator.value_or(AddressBytes(tx.signer));
  // The open index holds each proposer: counting reads at most 64 small entries.
  int64_t open = 0, mine = 0;
  st.Scan(kOpenPrefix, [&](std::string_view, std::string_view proposer_of) {
    ++open;
    if (proposer_of == proposer) ++mine;
    return true;
  });
  if (open >= limits::kGovOpenProposalsMax) {
    return Error(Code::kProposalsFull,
                 Num(open) + " proposals are open, the most there may be; wait for one to close");
  }
  if (mine >= limits::kGovOpenProposalsPerProposerMax) {
    return Error(Code::kProposalsFull, EncodeAddress(StoredAddress(proposer)) + " has " +
                                           Num(mine) +
                                           " proposals open, the most one proposer may have");
  }
  {
    // Refused now if it could not apply now: nobody votes on a proposal that is bound to fail.
    Overlay trial(&st);
    auto applied = ApplyAction(s.action(), ctx, trial);
    if (!applied.ok())
      return Error(applied.status().code(), "proposal cannot apply: " + applied.status().message());
  }
  pb::ProposalRecord p;
  p.set_id(NextSequence(st, kSeqKey));
  p.set_proposer(proposer);
  p.set_title(s.title());
  p.set_description(s.description());
  *p.mutable_action() = s.action();
  p.set_submit_height(ctx.height);
  p.set_submit_time_ms(ctx.time_ms);
  p.set_voting_end_ms(ctx.time_ms + GovVotingPeriodS(params) * 1000);
  p.set_status(pb::PROPOSAL_VOTING);
  StoreProposal(st, p);
  st.Put(OpenKey(p.voting_end_ms(), p.id()), proposer);
  if (result) {
    result->set_created_id(p.id());
    SetLog(result,
           Text("proposal " + std::to_string(p.id()) + " (" +
                std::string(GovActionKind(p.action())) + ") submitted; voting ends at {end}")
               .TimeMs("end", p.voting_end_ms()));
  }
  return Status::Ok();
}

Status ApplyVote(const CheckedTx& tx, const BlockContext& ctx, Overlay& st, pb::TxResult* result) {
  const auto& v = tx.body.vote_proposal();
  const std::optional<std::string> validator = ValidatorFor(LoadValidators(st), tx.signer);
  if (!validator) {
    return Error(
        Code::kUnauthorized,
        EncodeAddress(tx.signer) +
            " is not a validator's current consensus key: only validators vote on proposals");
  }
  const Address voter = StoredAddress(*validator);
  auto p = LoadProposal(st, v.proposal_id());
  if (!p) return Error(Code::kNotFound, "no proposal " + std::to_string(v.proposal_id()));
  if (p->status() != pb::PROPOSAL_VOTING || ctx.time_ms >= p->voting_end_ms()) {
    return Error(Code::kProposalClosed, "proposal " + std::to_string(p->id()) + " is closed (" +
                                            std::string(ProposalStatusName(p->status())) + ")");
  }
  if (auto before = LoadRecord<pb::GovVoteRecord>(st, VoteKey(p->id(), voter));
      before && before->option() == v.option()) {
    return Error(Code::kAlreadyExists, EncodeAddress(voter) + " voted " +
                                           std::string(GovVoteOptionName(v.option())) +
                                           " on proposal " + std::to_string(p->id()) + " already");
  }
  pb::GovVoteRecord rec;
  rec.set_voter(AddressBytes(voter));
  rec.set_option(v.option());
  rec.set_height(ctx.height);
  st.Put(VoteKey(p->id(), voter), Encode(rec));
  // The record (with its description) is written again only when the vote closes it: the API
  // counts an open proposal's votes as it answers.
  const GovTally tally = CountVotes(st, p->id());
  if (tally.Passes()) {
    Close(*p, tally, ctx, st, "");
  } else if (tally.Vetoed()) {
    Close(*p, tally, ctx, st,
          Num(tally.no) + " of " + Num(tally.total) +
              " voting power voted no, more than 1/3: it can no longer pass");
  }
  if (result) {
    const std::string outcome = p->status() == pb::PROPOSAL_PASSED
                                    ? "; passed, executes at height " + Num(p->execute_height())
                                : p->status() == pb::PROPOSAL_REJECTED
                                    ? "; rejected (more than 1/3 voted no)"
                                    : "";
    SetLog(result, Text("voted " + std::string(GovVoteOptionName(v.option())) + " on proposal " +
                        std::to_string(p->id()) + ": yes " + Num(tally.yes) + ", no " +
                        Num(tally.no) + " of " + Num(tally.total) + " power" + outcome));
  }
  return Status::Ok();
}

}  // namespace

bool GovTally::Passes() const {
  return static_cast<Int128>(yes) * 3 > static_cast<Int128>(total) * 2;
}
bool GovTally::Vetoed() const { return static_cast<Int128>(no) * 3 > static_cast<Int128>(total); }

const std::vector<GovParam>& GovParams() {
#define V2G_GOV_PARAM(field)                                                 \
  GovParam {                                                                 \
#field, [](const pb::ParamsRecord& p) -> int64_t { return p.field(); },    \
        [](pb::ParamsRecord& p, int64_t v) {                                   \
          using T = decltype(p.field());                                       \
          p.set_##field(static_cast<T>(v));                                    \
        } \
  }
  static const std::vector<GovParam> kParams = {
      V2G_GOV_PARAM(tx_bytes_max),
      V2G_GOV_PARAM(block_txs_max),
      V2G_GOV_PARAM(block_bytes_max),
      V2G_GOV_PARAM(memo_bytes_max),
      V2G_GOV_PARAM(reading_future_skew_s),
      V2G_GOV_PARAM(reading_energy_tolerance_permille),
      V2G_GOV_PARAM(reading_energy_tolerance_wh),
      V2G_GOV_PARAM(fee_min),
      V2G_GOV_PARAM(block_units_max),
      V2G_GOV_PARAM(utc_offset_min),
      V2G_GOV_PARAM(gov_voting_period_s),
  };
#undef V2G_GOV_PARAM
  return kParams;
}

const GovParam* FindGovParam(std::string_view name) {
  for (const GovParam& p : GovParams()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string GovParamNamesText() {
  std::string out;
  for (const GovParam& p : GovParams()) out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

Status CheckGovOp(const pb::TxBody& body) {
  if (body.has_submit_proposal()) {
    const auto& s = body.submit_proposal();
    if (s.title().empty() || s.title().size() > limits::kGovTitleBytesMax) {
      return Error(Code::kInvalidArgument, "proposal title must be 1-" +
                                               Num(limits::kGovTitleBytesMax) + " bytes, got " +
                                               Num(static_cast<int64_t>(s.title().size())));
    }
    if (s.description().size() > limits::kGovDescriptionBytesMax) {
      return Error(Code::kTooLarge, "proposal description is " +
                                        Num(static_cast<int64_t>(s.description().size())) +
                                        " bytes, limit " + Num(limits::kGovDescriptionBytesMax));
    }
    V2G_RETURN_IF_ERROR(CheckText("proposal title", s.title(), false));
    V2G_RETURN_IF_ERROR(CheckText("proposal description", s.description(), true));
    return CheckAction(s.action());
  }
  if (body.has_rotate_validator_key()) {
    const auto& r = body.rotate_validator_key();
    if ((!r.new_consensus_pubkey().empty() && r.new_consensus_pubkey().size() != 32) ||
        (!r.new_node_pubkey().empty() && r.new_node_pubkey().size() != 32)) {
      return Error(Code::kInvalidArgument,
                   "rotate validator key: keys must be 32-byte Ed25519 public keys");
    }
    if (r.new_consensus_pubkey().empty() && r.new_node_pubkey().empty()) {
      return Error(
          Code::kInvalidArgument,
          "rotate validator key: names no new key (a new consensus key, node key or both)");
    }
    if (r.old_consensus_signature().size() != 64 ||
        r.new_consensus_signature().size() != (r.new_consensus_pubkey().empty() ? 0u : 64u) ||
        r.new_node_signature().size() != (r.new_node_pubkey().empty() ? 0u : 64u)) {
      return Error(Code::kInvalidArgument,
                   "rotate validator key: needs a 64-byte signature by the current consensus key, "
                   "and one by each new key exactly when there is one");
    }
    return Status::Ok();
  }
  const auto& v = body.vote_proposal();
  if (v.proposal_id() == 0)
    return Error(Code::kInvalidArgument, "vote: proposal id must be positive");
  if (v.option() != pb::GOV_VOTE_YES && v.option() != pb::GOV_VOTE_NO &&
      v.option() != pb::GOV_VOTE_ABSTAIN) {
    return Error(Code::kInvalidArgument, "vote: option must be yes, no or abstain");
  }
  return Status::Ok();
}

Status ApplyGovOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                  Overlay& state, pb::TxResult* result) {
  if (tx.body.has_submit_proposal()) return ApplySubmit(tx, ctx, params, state, result);
  if (tx.body.has_rotate_validator_key()) return ApplyRotateKey(tx, ctx, state, result);
  return ApplyVote(tx, ctx, state, result);
}

void RunGovTimers(const BlockContext& ctx, Overlay& st) {
  // An upgrade's height: the nodes executing this block run its version (the others stopped
  // before it, node/node.cc); the plan is done.
  if (auto plan = LoadUpgradePlan(st); plan && plan->height() <= ctx.height) {
    st.Delete(kUpgradePlanKey);
    st.Put(UpgradeDoneKey(plan->name()), Encode(*plan));
    // The latest version the chain requires from now on (a plan naming an earlier version than
    // one done before lowers nothing).
    const std::optional<pb::SoftwareUpgrade> last = LoadLastUpgrade(st);
    if (!last || VersionAtLeast(plan->version(), last->version())) {
      st.Put(kUpgradeLastKey, Encode(*plan));
    }
  }
  // Execute what passed: keys sort by height, so the scan stops at the first later one.
  std::vector<std::string> due;
  st.Scan(kExecPrefix, [&](std::string_view k, std::string_view) {
    if (static_cast<int64_t>(ReadBigEndian64(k.substr(kExecPrefix.size()))) > ctx.height) return false;
    due.emplace_back(k);
    return true;
  });
  for (const std::string& k : due) {
    st.Delete(k);
    auto p = LoadProposal(st, ReadBigEndian64(std::string_view(k).substr(kExecPrefix.size() + 8)));
    V2G_ASSERT(p && p->status() == pb::PROPOSAL_PASSED);
    Overlay child(&st);
    // Checked again as at submission: a version that no longer knows a role or a parameter
    // fails the proposal instead of halting the chain.
    Status checked = CheckAction(p->action());
    Result<Text> applied =
        checked.ok() ? ApplyAction(p->action(), ctx, child) : Result<Text>(checked);
    if (applied.ok()) {
      child.MergeInto(st);
      p->set_status(pb::PROPOSAL_EXECUTED);
      p->set_result_log(applied->plain());
    } else {
      p->set_status(pb::PROPOSAL_FAILED);
      p->set_result_log("failed at height " + Num(ctx.height) +
                        ", nothing changed: " + applied.status().message());
    }
    StoreProposal(st, *p);
  }
  // Close what ended: keys sort by end time.
  std::vector<uint64_t> ended;
  st.Scan(kOpenPrefix, [&](std::string_view k, std::string_view) {
    if (static_cast<int64_t>(ReadBigEndian64(k.substr(kOpenPrefix.size()))) > ctx.time_ms) return false;
    ended.push_back(ReadBigEndian64(k.substr(kOpenPrefix.size() + 8)));
    return true;
  });
  for (uint64_t id : ended) {
    auto p = LoadProposal(st, id);
    V2G_ASSERT(p && p->status() == pb::PROPOSAL_VOTING);
    const GovTally tally = CountVotes(st, id);
    Close(*p, tally, ctx, st,
          Num(tally.yes) + " of " + Num(tally.total) +
              " voting power voted yes by the end of its voting period; more than 2/3 is needed");
  }
}

std::string ProposalKey(uint64_t id) { return std::string(kProposalPrefix) + Be64(id); }
std::string ProposalVotesPrefix(uint64_t id) { return std::string(kGovVotePrefix) + Be64(id); }

std::optional<pb::ProposalRecord> LoadProposal(const KvReader& kv, uint64_t id) {
  return LoadRecord<pb::ProposalRecord>(kv, ProposalKey(id));
}

std::vector<pb::GovVoteRecord> LoadProposalVotes(const KvReader& kv, uint64_t id) {
  return LoadRecords<pb::GovVoteRecord>(kv, ProposalVotesPrefix(id));
}

GovTally CountVotes(const KvReader& kv, uint64_t id) {
  GovTally t;
  std::map<std::string, int64_t> power;
  const pb::ValidatorSet vals = LoadValidators(kv);
  for (const auto& v : vals.validators()) {
    power[v.address()] = v.power();
    t.total += v.power();
  }
  // Only current validators can have voted while it was open, but a vote of one removed since
  // counts nothing; at most kValidatorsMax records either way.
  kv.Scan(ProposalVotesPrefix(id), [&](std::string_view, std::string_view raw) {
    const auto v = DecodeRecord<pb::GovVoteRecord>(std::string(raw));
    auto it = power.find(v.voter());
    if (it == power.end()) return true;
    if (v.option() == pb::GOV_VOTE_YES) t.yes += it->second;
    if (v.option() == pb::GOV_VOTE_NO) t.no += it->second;
    if (v.option() == pb::GOV_VOTE_ABSTAIN) t.abstain += it->second;
    return true;
  });
  return t;
}

std::string_view ProposalStatusName(pb::ProposalStatus s) {
  switch (s) {
    case pb::PROPOSAL_VOTING:
      return "voting";
    case pb::PROPOSAL_PASSED:
      return "passed";
    case pb::PROPOSAL_REJECTED:
      return "rejected";
    case pb::PROPOSAL_EXECUTED:
      return "executed";
    case pb::PROPOSAL_FAILED:
      return "failed";
    default:
      return "unspecified";
  }
}

std::string_view GovVoteOptionName(pb::GovVoteOption o) {
  switch (o) {
    case pb::GOV_VOTE_YES:
      return "yes";
    case pb::GOV_VOTE_NO:
      return "no";
    case pb::GOV_VOTE_ABSTAIN:
      return "abstain";
    default:
      return "unspecified";
  }
}

std::optional<pb::GovVoteOption> ParseGovVoteOption(std::string_view name) {
  if (name == "yes") return pb::GOV_VOTE_YES;
  if (name == "no") return pb::GOV_VOTE_NO;
  if (name == "abstain") return pb::GOV_VOTE_ABSTAIN;
  return std::nullopt;
}

std::string_view GovActionKind(const pb::GovAction& a) {
  switch (a.action_case()) {
    case pb::GovAction::kRole:
      return "role";
    case pb::GovAction::kIssuer:
      return "issuer";
    case pb::GovAction::kZone:
      return "zone";
    case pb::GovAction::kParam:
      return "param";
    case pb::GovAction::kMarket:
      return "market";
    case pb::GovAction::kValidator:
      return "validator";
    case pb::GovAction::kUpgrade:
      return "upgrade";
    case pb::GovAction::ACTION_NOT_SET:
      return "text";
  }
  return "unknown";
}

namespace {
std::optional<pb::SoftwareUpgrade> LoadUpgradeAt(const KvReader& kv, std::string_view key) {
  auto raw = kv.Get(key);
  pb::SoftwareUpgrade u;
  if (!raw || !u.ParseFromString(*raw)) return std::nullopt;
  return u;
}
}  // namespace

std::optional<pb::SoftwareUpgrade> LoadUpgradePlan(const KvReader& kv) {
  return LoadUpgradeAt(kv, kUpgradePlanKey);
}

std::optional<pb::SoftwareUpgrade> LoadLastUpgrade(const KvReader& kv) {
  return LoadUpgradeAt(kv, kUpgradeLastKey);
}

std::vector<pb::SoftwareUpgrade> LoadDoneUpgrades(const KvReader& kv, size_t max) {
  std::vector<pb::SoftwareUpgrade> out;
  kv.Scan(kUpgradeDonePrefix, [&](std::string_view, std::string_view v) {
    if (out.size() >= max) return false;
    pb::SoftwareUpgrade d;
    if (d.ParseFromString(std::string(v))) out.push_back(std::move(d));
    return true;
  });
  std::sort(out.begin(), out.end(), [](const pb::SoftwareUpgrade& a, const pb::SoftwareUpgrade& b) {
    return a.height() < b.height();
  });
  return out;
}

std::optional<std::string> UpgradeHaltReason(const KvReader& state, int64_t height,
                                             std::string_view version) {
  // An upgrade done: its version or a later one runs every block after it (an old binary restarted
  // on an upgraded store would otherwise run them by rules it does not know).
  if (const auto last = LoadLastUpgrade(state); last && !VersionAtLeast(version, last->version())) {
    return "UPGRADE NEEDED: this chain ran the upgrade " + last->name() + " to version " +
           last->version() + " at height " + std::to_string(last->height()) + "; this node runs " +
           std::string(version) + ": stop it, install version " + last->version() +
           " or later and start it again";
  }
  const std::optional<pb::SoftwareUpgrade> plan = LoadUpgradePlan(state);
  if (!plan || height < plan->height() || VersionAtLeast(version, plan->version())) {
    return std::nullopt;
  }
  return "UPGRADE NEEDED: the upgrade " + plan->name() + " passed by governance needs version " +
         plan->version() + " or later from height " + std::to_string(plan->height()) +
         "; this node runs " + std::string(version) +
         ": stop it, install the new version and start it again";
}

}  // namespace v2g
