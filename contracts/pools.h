// Aggregators (virtual power plants): an account creates a pool with a fee in basis points;
// owners put their meters in it (CreatePool / JoinPool / LeavePool). The aggregator then sells in
// the market (PlaceOrder with pool_id, collateral from the aggregator) and enrolls in
// demand-response events (EnrollEvent with pool_id) for the whole pool. A meter in a pool is
// traded and enrolled only through its pool.
//
// Membership is per interval: a member counts for intervals from the one after it joined
// (from_s) and, once it asks to leave, for intervals before leave_after_s = the later of the next
// interval and the end of the pool's last open obligation (so leaving never strands an order or
// event the pool committed to). The meter is free for another pool or for selling on its own
// once its last counted interval has settled.
//
// Delivery of a pool obligation in interval I is the sum over members counted in I of their
// attested export not already used by the market or an event (contracts/grid.h EnergyClaim); it is
// allocated to the pool's obligations in arrival order. What the pool delivered is then claimed
// from each member in proportion to its own available export, and revenue is split: fee_bps to the
// aggregator, the rest to members in proportion to what each delivered. Shares are floors with
// the leftover units handed out by largest remainder (ties by meter id), so the parts always sum
// exactly to the whole. Shortfall penalties come from the aggregator's collateral.
//
// Key layout (under s/): pool/<id 8B> PoolRecord; pool_m/<id 8B><meter> PoolMember;
// meter_pool/<meter> pool id (8B) while the meter is in a pool; pool_seq; pool_leave/<leave_after
// 8B><id 8B><meter> "" (departures the grid pass completes).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bech32.h"
#include "common/status.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "contracts/state.h"
#include "proto/v2g.pb.h"

namespace v2g {

inline constexpr std::string_view kPoolPrefix = "s/pool/";

std::optional<pb::PoolRecord> LoadPool(const KvReader& kv, uint64_t id);
std::vector<pb::PoolMember> LoadPoolMembers(const KvReader& kv, uint64_t id);
// Who earned pool `id`'s members' earnings (its current members' `earned`), over its first
// `rows_max` members (state.h ScanOwnerShares).
OwnerShares PoolOwnerShares(const KvReader& kv, uint64_t id, int64_t rows_max);
// Meter `meter_id`'s membership of pool `id`, if it is a member.
std::optional<pb::PoolMember> LoadPoolMember(const KvReader& kv, uint64_t id,
                                             std::string_view meter_id);
// Members that count for the interval starting at `interval_start_s`.
std::vector<pb::PoolMember> PoolMembersAt(const KvReader& kv, uint64_t id, int64_t interval_start_s);
// The pool a meter is in, if any.
std::optional<uint64_t> PoolOfMeter(const KvReader& kv, std::string_view meter_id);
// The key the market uses for a pool's commitments and obligations: "#pool<id>" (no meter id can
// contain '#').
std::string PoolObligationKey(uint64_t pool_id);

// Members counted in the interval whose meters are in `zone` (a pool sells and enrolls per zone).
std::vector<pb::PoolMember> PoolMembersIn(const KvReader& kv, uint64_t id, std::string_view zone, int64_t interval_start_s);
// What those members can export in the interval (max export x length).
int64_t PoolCapacityWh(const KvReader& kv, uint64_t pool_id, std::string_view zone, int64_t interval_start_s,
                       int64_t interval_s);
// The aggregator of an existing pool; kNotFound / kUnauthorized otherwise.
Result<pb::PoolRecord> RequirePoolAggregator(const KvReader& kv, uint64_t pool_id, const Address& who);
// Records that the pool is committed until `until_s` (members leave only after it).
void NotePoolObligation(Overlay& state, uint64_t pool_id, int64_t until_s);
// kUnauthorized when `meter_id` is in a pool: its aggregator trades and enrolls it.
Status RequireNotPooled(const KvReader& kv, std::string_view meter_id);

// Splits `total` in proportion to `weights` (>= 0): floors, then the leftover units one each by
// largest remainder, ties to the lower index. Sums to `total` exactly when any weight is > 0;
// all zeros when every weight is 0.
std::vector<int64_t> SplitProRata(int64_t total, const std::vector<int64_t>& weights);

// Pays `amount` earned by a pool in the interval: fee to the aggregator, the rest split by
// `delivered` (one entry per member, same order). `pay(to, amount, is_fee)` moves the money and
// records it in statements. Updates the pool and member records.
void PayPool(Overlay& state, uint64_t pool_id, const std::vector<pb::PoolMember>& members,
             const std::vector<int64_t>& delivered, int64_t amount,
             const std::function<void(const Address&, int64_t, bool)>& pay);

bool IsPoolOp(pb::TxBody::OpCase op);
Status CheckPoolOp(const pb::TxBody& body);
Status ApplyPoolOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state,
                   pb::TxResult* result);
// Completes departures whose last counted interval is before `settled_through_s` (called by the
// grid pass after settling an interval), at most `count_max` (> 0) of them, oldest first; returns
// how many it completed. Fewer than `count_max`: none is left. Reads only what it completes (plus
// one key), so the grid pass can spread many departures over blocks.
int64_t CompletePoolDepartures(Overlay& state, int64_t settled_through_s, int64_t count_max);

}  // namespace v2g
