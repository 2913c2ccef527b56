// Typed access to state records. Key layout (all under "s/"):
//   s/acct/<20-byte address>  AccountRecord
//   s/denom/<name>            DenomRecord
//   s/supply/<name>           SupplyRecord
//   s/params                  ParamsRecord
//   s/validators              ValidatorSet: the set of the block being executed, after it the set
//                             that signs the next block
//   s/valset/<height 8B BE>   ValidatorSet in force from that height (genesis: height 1; a change
//                             executed in block H: H+2), never deleted: ValidatorsAt
//   s/role/<role>/<address>   "" (membership)
//   s/evidence/<address><height><round><type>  DuplicateVoteEvidence (a proven equivocation)
//   s/meter/<meter id>        MeterRecord (contracts/meters.h)
//   s/meter_e/<meter id>/<interval start s, 8 bytes BE>  MeterIntervalRecord (attested energy)
//   s/meter_b/<meter id>      BatteryRecord (vehicles)
//   s/meter_h/<meter id>      BatteryHistory (vehicles)
// Records are written with deterministic serialization; a record that fails to parse is
// corruption and aborts (it was written by us and checked before writing).
#pragma once

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/status.h"
#include "contracts/kv.h"
#include "proto/encode.h"
#include "proto/v2g.pb.h"

namespace v2g {

inline constexpr std::string_view kStatePrefix = "s/";
inline constexpr std::string_view kAccountPrefix = "s/acct/";
inline constexpr std::string_view kDenomPrefix = "s/denom/";
inline constexpr std::string_view kSupplyPrefix = "s/supply/";
inline constexpr std::string_view kParamsKey = "s/params";
inline constexpr std::string_view kValidatorsKey = "s/validators";
inline constexpr std::string_view kValidatorSetPrefix = "s/valset/";
inline constexpr std::string_view kRolePrefix = "s/role/";
inline constexpr std::string_view kEvidencePrefix = "s/evidence/";
inline constexpr std::string_view kZonePrefix = "s/zone/";

std::string AccountKey(const Address& a);
std::string DenomKey(std::string_view name);
std::string SupplyKey(std::string_view name);
// Every role the ledger has: `operator` registers meters and sponsors programs, `grid_company`
// owns zones (their tariffs and events), `aggregator` creates pools, `proposer` may submit
// governance proposals (validators may always). Granted at genesis and by governance.
inline constexpr std::string_view kRoleNames[] = {"operator", "grid_company", "aggregator",
                                                  "proposer"};
bool KnownRole(std::string_view role);
std::string RoleNamesText();  // "operator, grid_company, aggregator, proposer"
std::string RoleKey(std::string_view role, const Address& a);
bool HasRole(const KvReader& kv, std::string_view role, const Address& a);
// Key of the evidence record for the equivocation that `vote` is part of: kEvidencePrefix ||
// EquivocationId(vote) (proto/encode.h), one record per equivocation.
std::string EvidenceKey(const pb::Vote& vote);


// An address read back from a record we wrote (20 bytes, checked before it was stored).
Address StoredAddress(const std::string& raw);

// The record at `key`, or nullopt when there is none.
template <typename M>
std::optional<M> LoadRecord(const KvReader& kv, std::string_view key) {
  auto v = kv.Get(key);
  if (!v) return std::nullopt;
  return DecodeRecord<M>(*v);
}
// Every record under `prefix`, in key order.
template <typename M>
std::vector<M> LoadRecords(const KvReader& kv, std::string_view prefix) {
  std::vector<M> out;
  kv.Scan(prefix, [&](std::string_view, std::string_view v) {
    out.push_back(DecodeRecord<M>(std::string(v)));
    return true;
  });
  return out;
}
// Who takes part in a record's totals, from its rows (members, enrollments: each with an
// `owner`): how many distinct owners contributed more than 0, the largest sum one owner
// contributed and the sum of all, over the first `rows` rows in key order (`complete`: all of
// them). What the record's total holds beyond `sum` (rows not read, members who left, earlier
// owners) is someone's the rows do not name.
struct OwnerShares {
  int64_t owners = 0;
  int64_t largest = 0;
  int64_t sum = 0;  // of the rows read (saturating)
  int64_t rows = 0;
  bool complete = true;
};
// OwnerShares of the records of type M under `prefix`, reading at most `rows_max` of them;
// `contribution(row)` is what a row adds to the record's total (>= 0; sums saturate).
template <typename M, typename Contribution>
OwnerShares ScanOwnerShares(const KvReader& kv, std::string_view prefix, int64_t rows_max,
                            Contribution&& contribution) {
  OwnerShares out;
  std::map<std::string, int64_t> by_owner;  // at most rows_max entries
  auto add_to = [](int64_t& to, int64_t add) {
    to = to > std::numeric_limits<int64_t>::max() - add ? std::numeric_limits<int64_t>::max()
                                                        : to + add;
  };
  if (rows_max <= 0) {
    out.complete = false;
    return out;
  }
  kv.Scan(prefix, [&](std::string_view, std::string_view v) {
    if (out.rows == rows_max) {
      out.complete = false;
      return false;
    }
    ++out.rows;
    const M row = DecodeRecord<M>(std::string(v));
    const int64_t add = std::max<int64_t>(contribution(row), 0);
    if (add == 0) return true;
    int64_t& sum = by_owner[row.owner()];
    add_to(sum, add);
    add_to(out.sum, add);
    out.largest = std::max(out.largest, sum);
    return true;
  });
  out.owners = static_cast<int64_t>(by_owner.size());
  return out;
}
// A counter stored at `key` (8 bytes big-endian): returns the next id (1 first) and advances it.
uint64_t NextSequence(Overlay& kv, std::string_view key);

// Missing account = fresh account with nonce 0 and no balances.
pb::AccountRecord LoadAccount(const KvReader& kv, const Address& a);
void StoreAccount(Overlay& kv, const Address& a, const pb::AccountRecord& rec);
std::optional<pb::DenomRecord> LoadDenom(const KvReader& kv, std::string_view name);
std::string ZoneKey(std::string_view zone);
std::optional<pb::ZoneRecord> LoadZone(const KvReader& kv, std::string_view zone);
// The zone's record, or kNotFound saying that `what` names a zone this chain does not have.
Result<pb::ZoneRecord> RequireZone(const KvReader& kv, std::string_view zone, std::string_view what);
pb::SupplyRecord LoadSupply(const KvReader& kv, std::string_view name);
pb::ParamsRecord LoadParams(const KvReader& kv);  // must exist after genesis
// A name of validators and chains: 1-`max` characters of a-z A-Z 0-9 - _ .
bool ValidRecordName(std::string_view s, size_t max);
// The set that signs the block after the last one executed (s/validators).
pb::ValidatorSet LoadValidators(const KvReader& kv);
std::string ValidatorSetKey(int64_t from_height);
// The set in force at `height` (>= 1): the newest s/valset/ record from at most `height`; one
// seek. A chain with no such record (none before validator set changes) has one set: s/validators.
// Known up to two heights past the last block executed.
pb::ValidatorSet ValidatorsAt(const KvReader& kv, int64_t height);
// At the end of block `height`: the set of height+1 becomes s/validators when it changed.
void ShiftValidators(Overlay& kv, int64_t height);

// Balance helpers on a record (balances stay sorted by denom, zero entries removed).
int64_t BalanceOf(const pb::AccountRecord& rec, std::string_view denom);
void SetBalance(pb::AccountRecord& rec, std::string_view denom, int64_t amount);

// Debits `amount` of `denom` from `rec` (an account record not yet stored); kInsufficientFunds
// naming `who`, what it needs and what it has otherwise. `purpose` says what the amount is for
// ("of collateral for this sell"), or is empty.
Status DebitRecord(pb::AccountRecord& rec, const Address& who, std::string_view denom, int64_t amount,
                   std::string_view purpose = {});
// A tx result's log (TxResult.log): its plain text, and its template and values when it carries
// any, so the API shows them in display units and local time.
void SetLog(pb::TxResult* result, const Text& text);
// The same for a refused item of a batch (TxResult.rejected_readings).
void SetRefusal(pb::RejectedReading* rejected, const Status& st);
// Credits a stored account: kOverflow, or kInvalidArgument when it would hold a new denomination
// past limits::kAccountDenomsMax.
Status CreditAccount(Overlay& state, const Address& to, std::string_view denom, int64_t amount);
// Gives back funds the ledger held for `rec` (escrow, collateral, refunds): never refused, so a
// refund cannot fail because the owner has since collected other denominations.
void CreditRecordReturn(pb::AccountRecord& rec, std::string_view denom, int64_t amount);

}  // namespace v2g
