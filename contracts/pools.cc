#include "contracts/pools.h"

#include <algorithm>

#include "common/bytes.h"
#include "common/checked.h"
#include "common/limits.h"
#include "contracts/grid.h"
#include "contracts/meters.h"
#include "contracts/state.h"

namespace v2g {
namespace {

constexpr std::string_view kMemberPrefix = "s/pool_m/";
constexpr std::string_view kMeterPoolPrefix = "s/meter_pool/";
constexpr std::string_view kLeavePrefix = "s/pool_leave/";
constexpr std::string_view kSeqKey = "s/pool_seq";
constexpr size_t kPoolNameMax = 64;

std::string Num(int64_t v) { return std::to_string(v); }
std::string UNum(uint64_t v) { return std::to_string(v); }

std::string PoolKey(uint64_t id) {
  std::string k(kPoolPrefix);
  AppendBigEndian64(k, id);
  return k;
}
std::string MemberKey(uint64_t id, std::string_view meter) {
  std::string k(kMemberPrefix);
  AppendBigEndian64(k, id);
  k += meter;
  return k;
}
std::string MeterPoolKey(std::string_view meter) { return std::string(kMeterPoolPrefix) + std::string(meter); }

void StorePool(Overlay& st, const pb::PoolRecord& p) { st.Put(PoolKey(p.id()), Encode(p)); }

bool Counts(const pb::PoolMember& m, int64_t interval_start_s) {
  return m.from_s() <= interval_start_s && (m.leave_after_s() == 0 || interval_start_s < m.leave_after_s());
}



}  // namespace

std::optional<pb::PoolRecord> LoadPool(const KvReader& kv, uint64_t id) {
  return LoadRecord<pb::PoolRecord>(kv, PoolKey(id));
}

std::vector<pb::PoolMember> LoadPoolMembers(const KvReader& kv, uint64_t id) {
  std::string prefix(kMemberPrefix);
  AppendBigEndian64(prefix, id);
  return LoadRecords<pb::PoolMember>(kv, prefix);
}

OwnerShares PoolOwnerShares(const KvReader& kv, uint64_t id, int64_t rows_max) {
  std::string prefix(kMemberPrefix);
  AppendBigEndian64(prefix, id);
  return ScanOwnerShares<pb::PoolMember>(kv, prefix, rows_max,
                                         [](const pb::PoolMember& m) { return m.earned(); });
}

std::optional<pb::PoolMember> LoadPoolMember(const KvReader& kv, uint64_t id,
                                             std::string_view meter_id) {
  return LoadRecord<pb::PoolMember>(kv, MemberKey(id, meter_id));
}

std::vector<pb::PoolMember> PoolMembersAt(const KvReader& kv, uint64_t id, int64_t interval_start_s) {
  std::vector<pb::PoolMember> out = LoadPoolMembers(kv, id);
  out.erase(std::remove_if(out.begin(), out.end(), [&](const pb::PoolMember& m) { return !Counts(m, interval_start_s); }),
            out.end());
  return out;
}

std::optional<uint64_t> PoolOfMeter(const KvReader& kv, std::string_view meter_id) {
  auto v = kv.Get(MeterPoolKey(meter_id));
  if (!v) return std::nullopt;
  return ReadBigEndian64(*v);
}

std::string PoolObligationKey(uint64_t pool_id) { return "#pool" + UNum(pool_id); }

std::vector<pb::PoolMember> PoolMembersIn(const KvReader& kv, uint64_t id, std::string_view zone, int64_t interval_start_s) {
  std::vector<pb::PoolMember> out = PoolMembersAt(kv, id, interval_start_s);
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const pb::PoolMember& m) {
                             auto meter = LoadMeter(kv, m.meter_id());
                             return !meter || meter->zone() != zone;
                           }),
            out.end());
  return out;
}

int64_t PoolCapacityWh(const KvReader& kv, uint64_t pool_id, std::string_view zone, int64_t interval_start_s,
                       int64_t interval_s) {
  Int128 watts = 0;
  for (const auto& m : PoolMembersIn(kv, pool_id, zone, interval_start_s)) {
    auto meter = LoadMeter(kv, m.meter_id());
    if (meter->active()) watts += meter->max_export_w();
  }
  const Int128 wh = watts * interval_s / 3600;
  return wh > limits::kOrderEnergyWhMax * 1000 ? limits::kOrderEnergyWhMax * 1000 : static_cast<int64_t>(wh);
}

Result<pb::PoolRecord> RequirePoolAggregator(const KvReader& kv, uint64_t pool_id, const Address& who) {
  auto p = LoadPool(kv, pool_id);
  if (!p) return Error(Code::kNotFound, "no pool " + UNum(pool_id));
  if (p->aggregator() != AddressBytes(who)) {
    return Error(Code::kUnauthorized, "pool " + UNum(pool_id) + " is run by " + EncodeAddress(StoredAddress(p->aggregator())) +
                                          ", not by " + EncodeAddress(who));
  }
  // Governance that revoked the aggregator role took its pools' selling and enrolling with it
  // (contracts/gov.h); members may still leave, and what the pool committed to settles.
  if (!HasRole(kv, "aggregator", who)) {
    return Error(Code::kUnauthorized, "pool " + UNum(pool_id) + ": the aggregator role of " +
                                          EncodeAddress(who) + " was revoked");
  }
  return *p;
}

void NotePoolObligation(Overlay& state, uint64_t pool_id, int64_t until_s) {
  auto p = LoadPool(state, pool_id);
  V2G_ASSERT(p.has_value());
  if (until_s <= p->obligations_until_s()) return;
  p->set_obligations_until_s(until_s);
  StorePool(state, *p);
}

Status RequireNotPooled(const KvReader& kv, std::string_view meter_id) {
  if (auto pool = PoolOfMeter(kv, meter_id)) {
    return Error(Code::kUnauthorized, "meter '" + std::string(meter_id) + "' is in pool " + UNum(*pool) +
                                          ": its aggregator sells and enrolls for it");
  }
  return Status::Ok();
}

std::vector<int64_t> SplitProRata(int64_t total, const std::vector<int64_t>& weights) {
  std::vector<int64_t> out(weights.size(), 0);
  Int128 sum = 0;
  for (int64_t w : weights) {
    V2G_ASSERT(w >= 0);
    sum += w;
  }
  if (sum == 0 || total == 0) return out;
  std::vector<std::pair<Int128, size_t>> rem;  // (remainder, index)
  int64_t given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const Int128 num = static_cast<Int128>(total) * weights[i];
    out[i] = static_cast<int64_t>(num / sum);
    given += out[i];
    rem.emplace_back(num % sum, i);
  }
  std::sort(rem.begin(), rem.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (size_t k = 0; given < total; ++k, ++given) ++out[rem[k % rem.size()].second];
  return out;
}

void PayPool(Overlay& state, uint64_t pool_id, const std::vector<pb::PoolMember>& members,
             const std::vector<int64_t>& delivered, int64_t amount,
             const std::function<void(const Address&, int64_t, bool)>& pay) {
  V2G_ASSERT(members.size() == delivered.size());
  pb::PoolRecord pool = *LoadPool(state, pool_id);
  int64_t fee = *MulDivFloor(amount, pool.fee_bps(), limits::kBpsMax);
  const bool none_delivered = std::all_of(delivered.begin(), delivered.end(), [](int64_t d) { return d == 0; });
  if (none_delivered) fee = amount;  // nobody to share with: it all stays with the aggregator
  const std::vector<int64_t> shares = SplitProRata(amount - fee, delivered);
  pay(StoredAddress(pool.aggregator()), fee, true);
  // Lifetime totals: saturated, never wrapped (many bounded payouts over the years).
  pool.set_fees_earned(SaturatingAdd(pool.fees_earned(), fee));
  for (size_t i = 0; i < members.size(); ++i) {
    if (shares[i] == 0 && delivered[i] == 0) continue;
    pay(StoredAddress(members[i].owner()), shares[i], false);
    pool.set_members_earned(SaturatingAdd(pool.members_earned(), shares[i]));
    // A member that has since left keeps its pay; only a current member's record is updated.
    if (auto v = state.Get(MemberKey(pool_id, members[i].meter_id()))) {
      auto m = DecodeRecord<pb::PoolMember>(*v);
      m.set_earned(SaturatingAdd(m.earned(), shares[i]));
      m.set_delivered_wh(SaturatingAdd(m.delivered_wh(), delivered[i]));
      state.Put(MemberKey(pool_id, m.meter_id()), Encode(m));
    }
  }
  StorePool(state, pool);
}

bool IsPoolOp(pb::TxBody::OpCase op) {
  return op == pb::TxBody::kCreatePool || op == pb::TxBody::kJoinPool || op == pb::TxBody::kLeavePool;
}

Status CheckPoolOp(const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kCreatePool: {
      const auto& c = body.create_pool();
      if (c.name().empty() || c.name().size() > kPoolNameMax ||
          !std::all_of(c.name().begin(), c.name().end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; })) {
        return Error(Code::kInvalidArgument, "create_pool name must be 1-64 printable ASCII characters");
      }
      if (c.fee_bps() < 0 || c.fee_bps() > limits::kBpsMax) {
        return Error(Code::kInvalidArgument, "create_pool fee_bps must be 0..10000 (0-100 %), got " + Num(c.fee_bps()));
      }
      return Status::Ok();
    }
    case pb::TxBody::kJoinPool:
    case pb::TxBody::kLeavePool: {
      const bool join = body.op_case() == pb::TxBody::kJoinPool;
      const uint64_t id = join ? body.join_pool().pool_id() : body.leave_pool().pool_id();
      const std::string& meter = join ? body.join_pool().meter_id() : body.leave_pool().meter_id();
      const char* what = join ? "join_pool" : "leave_pool";
      if (id == 0) return Error(Code::kInvalidArgument, std::string(what) + ": pool_id is required");
      if (!ValidMeterId(meter)) return Error(Code::kInvalidArgument, std::string(what) + ": meter id is not 1-64 of A-Z a-z 0-9 . _ : -");
      return Status::Ok();
    }
    default:
      break;
  }
  V2G_ASSERT(!IsPoolOp(body.op_case()));
  return Error(Code::kInvalidArgument, "not a pool operation");
}

Status ApplyPoolOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& st,
                   pb::TxResult* result) {
  if (params.settlement_interval_s() <= 0) return Error(Code::kMarketDisabled, "this chain has no settlement intervals");
  const int64_t len = params.settlement_interval_s();
  const int64_t next = SettlementIntervalStart(ctx.time_ms / 1000, len) + len;
  switch (tx.body.op_case()) {
    case pb::TxBody::kCreatePool: {
      if (!HasRole(st, "aggregator", tx.signer)) {
        return Error(Code::kUnauthorized, EncodeAddress(tx.signer) + " does not hold the aggregator role needed to create a pool");
      }
      pb::PoolRecord p;
      const uint64_t id = NextSequence(st, kSeqKey);
      p.set_id(id);
      p.set_aggregator(AddressBytes(tx.signer));
      p.set_name(tx.body.create_pool().name());
      p.set_fee_bps(tx.body.create_pool().fee_bps());
      p.set_created_height(ctx.height);
      StorePool(st, p);
      if (result) {
        result->set_created_id(id);
        result->set_log("pool " + UNum(id) + " '" + p.name() + "' created; fee " + Num(p.fee_bps()) + " bps");
      }
      return Status::Ok();
    }
    case pb::TxBody::kJoinPool: {
      const auto& j = tx.body.join_pool();
      auto pool = LoadPool(st, j.pool_id());
      if (!pool) return Error(Code::kNotFound, "no pool " + UNum(j.pool_id()));
      auto m = RequireOwnedMeter(st, j.meter_id(), tx.signer);
      if (!m.ok()) return m.status();
      if (auto in = PoolOfMeter(st, j.meter_id())) {
        return Error(Code::kAlreadyExists, "meter '" + j.meter_id() + "' is already in pool " + UNum(*in));
      }
      // Its own enrollment and the pool's would count the same energy; it joins once the event
      // has settled (an enrollment lasts at most params.grid_horizon_s + kEventDurationSMax).
      if (HasOpenEventEnrollment(st, j.meter_id())) {
        return Error(Code::kUnauthorized, "meter '" + j.meter_id() +
                                              "' is enrolled in an event on its own; it can join a pool once that event has settled");
      }
      // The cap bounds the grid pass's largest indivisible step, a pool's enrollment (1 + members
      // records; limits.h). Members still leaving count until their departure completes.
      if (static_cast<int64_t>(pool->members()) >= limits::kPoolMembersMax) {
        return Error(Code::kPoolFull, "pool " + UNum(pool->id()) + " has " + UNum(pool->members()) +
                                          " members, the most a pool may have (" + Num(limits::kPoolMembersMax) +
                                          "); its aggregator can create another pool");
      }
      pb::PoolMember mem;
      mem.set_pool_id(pool->id());
      mem.set_meter_id(j.meter_id());
      mem.set_owner(AddressBytes(tx.signer));
      mem.set_from_s(next);
      st.Put(MemberKey(pool->id(), j.meter_id()), Encode(mem));
      std::string v;
      AppendBigEndian64(v, pool->id());
      st.Put(MeterPoolKey(j.meter_id()), v);
      pool->set_members(pool->members() + 1);
      StorePool(st, *pool);
      if (result) SetLog(result, Text("meter '" + j.meter_id() + "' joins pool " + UNum(pool->id()) + " from {from}").Time("from", next));
      return Status::Ok();
    }
    case pb::TxBody::kLeavePool: {
      const auto& l = tx.body.leave_pool();
      auto pool = LoadPool(st, l.pool_id());
      if (!pool) return Error(Code::kNotFound, "no pool " + UNum(l.pool_id()));
      // Ownership first, from the public registry: who is in a pool is its members' and its
      // aggregator's to know (docs/DESIGN.md "Who may read what"), so a stranger's answer is the
      // same whether the meter is in the pool or not.
      auto owned = LoadMeter(st, l.meter_id());
      if (!owned || owned->owner() != AddressBytes(tx.signer)) {
        return Error(Code::kUnauthorized, EncodeAddress(tx.signer) + " does not own meter '" + l.meter_id() + "'");
      }
      auto v = st.Get(MemberKey(pool->id(), l.meter_id()));
      if (!v) return Error(Code::kNotFound, "meter '" + l.meter_id() + "' is not in pool " + UNum(pool->id()));
      auto mem = DecodeRecord<pb::PoolMember>(*v);
      if (mem.owner() != AddressBytes(tx.signer)) {
        return Error(Code::kUnauthorized, "meter '" + l.meter_id() + "' was not put in pool " + UNum(pool->id()) +
                                              " by " + EncodeAddress(tx.signer));
      }
      if (mem.leave_after_s() != 0) {
        return Error(Code::kAlreadyExists, Text("meter '" + l.meter_id() + "' is already leaving pool " + UNum(pool->id()) +
                                                " (after {after})")
                                               .Time("after", mem.leave_after_s()));
      }
      const int64_t after = std::max({next, pool->obligations_until_s(), mem.from_s()});
      mem.set_leave_after_s(after);
      st.Put(MemberKey(pool->id(), l.meter_id()), Encode(mem));
      std::string k(kLeavePrefix);
      AppendBigEndian64(k, static_cast<uint64_t>(after));
      AppendBigEndian64(k, pool->id());
      k += l.meter_id();
      st.Put(k, "");
      if (result) {
        SetLog(result, Text("meter '" + l.meter_id() + "' leaves pool " + UNum(pool->id()) +
                            " after its obligations, which run until {after}")
                           .Time("after", after));
      }
      return Status::Ok();
    }
    default:
      break;
  }
  V2G_ASSERT(false && "ApplyPoolOp called for a non-pool op");
  return Error(Code::kInternal, "not a pool operation");
}

int64_t CompletePoolDepartures(Overlay& state, int64_t settled_through_s, int64_t count_max) {
  V2G_ASSERT(count_max > 0);
  std::vector<std::string> done;
  state.ScanFrom(kLeavePrefix, "", /*reverse=*/false, [&](std::string_view k, std::string_view) {
    if (static_cast<int64_t>(ReadBigEndian64(k.substr(kLeavePrefix.size()))) > settled_through_s) return false;
    done.emplace_back(k);
    return static_cast<int64_t>(done.size()) < count_max;
  });
  for (const std::string& k : done) {
    const uint64_t id = ReadBigEndian64(std::string_view(k).substr(kLeavePrefix.size() + 8));
    const std::string meter = k.substr(kLeavePrefix.size() + 16);
    state.Delete(k);
    state.Delete(MemberKey(id, meter));
    state.Delete(MeterPoolKey(meter));
    pb::PoolRecord p = *LoadPool(state, id);
    p.set_members(p.members() - 1);
    StorePool(state, p);
  }
  return static_cast<int64_t>(done.size());
}

}  // namespace v2g
