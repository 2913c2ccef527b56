// Grid services: time-of-use tariffs (with debt for bills an owner cannot pay), demand-response
// events and incentive programs, all settled from the meters' attested energy like the market.
//
// Everything here settles per settlement interval I, in one pass that starts in the first block
// whose time is at or after I + interval length + params.market_grace_s, right after the market
// has settled I (RunMarketTimers runs first). A cursor (s/grid_cursor) remembers the next interval;
// a chain that halted catches up at most limits::kGridIntervalsPerBlockMax intervals per block.
// A block visits at most limits::kGridWorkPerBlockMax records (open events, enrollments, tariff
// enrollments, open programs, members, pool departures): when the next does not fit, the pass
// stops and the cursor records its phase and the last record done, and the next block resumes
// there. Records are done once each in the same order whatever the bound, so the results are those
// of one pass. Until the pass completes, I counts as not settled (GridSettledBefore <= I): a
// meter with attested energy in I cannot be transferred, and statements show I as not final
// while its entries fill in; an event being paid stays open (paid so far in `paid`) until its
// last enrollment is paid. The chain's txs run between the blocks' parts of the pass: what they
// change is seen by the records not yet done (balances a bill is paid from; a program member who
// joins is paid for I if its key sorts after the cursor, as one who joined before I's settlement
// block always was).
// The pass, per interval, in this order:
//   1. Events covering I: per enrolled meter, performance =
//        peak relief:        baseline import - actual import (0 without an attested reading in I)
//        valley fill:        actual import - baseline import
//        reverse discharge:  attested export - what the market already paid for (EnergyClaim)
//      floored at 0 and capped at committed power x interval length. Baseline: declared at
//      enrollment, or the floor of the average import in the same interval on each of the
//      previous params.baseline_days days (a day without a record counts as 0). After the
//      event's last interval: payout = floor(performance x price / 1000) each; if they sum past
//      the budget, each is scaled to floor(payout x budget / total); the rest of the budget goes
//      back to the grid company.
//   2. Tariffs: each enrolled meter's import in I is billed at its zone's import price for the
//      hour of I (the tariff in effect at I) from the owner to the grid company that set it; what
//      the owner cannot pay becomes a debt (s/debt) that blocks the owner's sell orders until paid
//      (PayDebt). Export not claimed by the market or a reverse-discharge event earns the feed-in
//      price, paid by the grid company as far as it can.
//   3. Programs (open, zone matching): charging discount = rate bps of this interval's tariff
//      charge when I's hour is in the mask; discharge subsidy = rate per kWh of export sold in the
//      market or a reverse-discharge event; reward points = rate per kWh of market delivery plus
//      event performance. Each pays what is left of the budget when that is less; a program whose
//      end has passed (or whose budget is spent) closes and returns the rest to its sponsor.
// Budgets sit in the grid module account (ModuleAddress("grid")); CheckGridEscrow checks it.
// Every amount paid to or charged from an owner is also recorded per owner and interval
// (s/earn/<owner><interval>, StatementEntry) for statements.
//
// Key layout (under s/):
//   tariff/<zone>/<from 8B> TariffRecord     tariff_e/<meter> TariffEnrollment
//   debt/<debtor 20B><creditor 20B> DebtRecord
//   claim/<meter>/<interval 8B> EnergyClaim  grid_cursor GridCursor   grid_seq (next id, 8B)
//   grid_charge/<meter> TariffCharge          (the meter's charge in the interval last billed)
//   event/<id 8B> EventRecord                event_e/<id 8B><meter> EventEnrollment
//   event_open/<id 8B> ""                    program/<id 8B> ProgramRecord
//   program_m/<id 8B><meter> ProgramMember   program_open/<id 8B> ""
//   earn/<owner 20B><interval 8B> StatementEntry
//   meter_enr/<meter>/<'e'|'p'><id 8B> ""   (a meter's own enrollments; closed ones pruned lazily)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bech32.h"
#include "common/limits.h"
#include "common/status.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "contracts/state.h"
#include "proto/v2g.pb.h"

namespace v2g {

inline constexpr std::string_view kTariffPrefix = "s/tariff/";
inline constexpr std::string_view kEventPrefix = "s/event/";
inline constexpr std::string_view kProgramPrefix = "s/program/";
inline constexpr std::string_view kStatementPrefix = "s/earn/";
inline constexpr std::string_view kDebtPrefix = "s/debt/";

Address GridModuleAddress();

// ---- records
std::optional<pb::TariffRecord> TariffAt(const KvReader& kv, std::string_view zone, int64_t t_s);
std::vector<pb::TariffRecord> LoadTariffs(const KvReader& kv, std::string_view zone);
std::optional<pb::TariffEnrollment> LoadTariffEnrollment(const KvReader& kv, std::string_view meter_id);
std::optional<pb::EventRecord> LoadEvent(const KvReader& kv, uint64_t id);
std::vector<pb::EventEnrollment> LoadEventEnrollments(const KvReader& kv, uint64_t id);
// The members' parts of pool `pool_id`'s enrollment in event `event_id` (s/event_pm/): one
// EventEnrollment per member (meter_id, owner, performance_wh accumulated over the event's
// intervals; payout is not recorded per part), in meter order.
std::vector<pb::EventEnrollment> LoadPoolParts(const KvReader& kv, uint64_t event_id, uint64_t pool_id);
std::optional<pb::ProgramRecord> LoadProgram(const KvReader& kv, uint64_t id);
std::vector<pb::ProgramMember> LoadProgramMembers(const KvReader& kv, uint64_t id);
// Who took part in event `id`'s performance (its enrollments' performance_wh; a pool's enrollment
// is its aggregator's), or in program `id`'s payouts (its members' paid since their current
// owner, paid - paid_before_owner), over their first
// `rows_max` records (state.h ScanOwnerShares).
OwnerShares EventOwnerShares(const KvReader& kv, uint64_t id, int64_t rows_max);
OwnerShares ProgramOwnerShares(const KvReader& kv, uint64_t id, int64_t rows_max);
// The events not yet settled that meter `meter_id` is enrolled in on its own (not through a pool),
// by id. Reads at most limits::kMeterOpenEnrollmentsMax index entries (s/meter_enr/).
std::vector<uint64_t> OpenEventsOfMeter(const KvReader& kv, std::string_view meter_id);
// A meter changes owner: its memberships in open programs pay `new_owner` (20-byte address) from
// now on. Returns how many moved.
int MoveProgramMemberships(Overlay& st, std::string_view meter_id, const std::string& new_owner);
pb::EnergyClaim LoadClaim(const KvReader& kv, std::string_view meter_id, int64_t interval_start_s);
// Every debt `debtor` owes, by creditor.
std::vector<std::pair<Address, pb::DebtRecord>> LoadDebts(const KvReader& kv, const Address& debtor);
bool HasDebt(const KvReader& kv, const Address& debtor);
// Whether `meter` is enrolled on its own in an event that has not settled (such a meter cannot
// join a pool: its import or export would count for the event twice).
bool HasOpenEventEnrollment(const KvReader& kv, std::string_view meter);
// params.grid_horizon_s, or its default in a params record written before the field existed.
int64_t GridHorizonS(const pb::ParamsRecord& params);
// The first settlement interval grid services have not settled (s/grid_cursor): every interval
// starting before it is settled. 0 on a chain without grid services.
int64_t GridSettledBefore(const KvReader& kv);
// Sum of an owner's statement entries for intervals in [from_s, to_s).
pb::StatementEntry LoadStatement(const KvReader& kv, const Address& owner, int64_t from_s, int64_t to_s);

std::string_view EventKindName(pb::EventKind k);  // "peak_relief", "valley_fill", "reverse_discharge"
std::optional<pb::EventKind> ParseEventKind(std::string_view name);
std::string_view BaselineName(pb::BaselineMethod b);  // "declared", "prior_days"
std::optional<pb::BaselineMethod> ParseBaseline(std::string_view name);
std::string_view ProgramKindName(pb::ProgramKind k);  // "charging_discount", "discharge_subsidy", "reward_points"
std::optional<pb::ProgramKind> ParseProgramKind(std::string_view name);

// ---- hooks for the market (contracts/market.cc)
// Adds `delivered_wh` of meter `meter_id`'s attested export in the interval to what the market
// has paid for.
void ClaimMarketDelivery(Overlay& state, std::string_view meter_id, int64_t interval_start_s, int64_t delivered_wh);
// Updates an owner's statement entry for one interval.
void AddToStatement(Overlay& state, const Address& owner, int64_t interval_start_s,
                    const std::function<void(pb::StatementEntry&)>& fn);

// ---- execution
bool IsGridOp(pb::TxBody::OpCase op);
Status CheckGridOp(const pb::TxBody& body, const pb::ParamsRecord& params);
Status ApplyGridOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                   pb::AccountRecord& signer_rec, Overlay& state, pb::TxResult* result);
// Genesis: grid services start with the interval holding the genesis time.
void InitGridServices(const pb::ParamsRecord& params, int64_t genesis_time_ms, Overlay& state);
// Settles the intervals due at ctx.time_ms (see above), resuming one left unfinished by an earlier
// block, until `work_max` records have been visited (see limits::kGridWorkPerBlockMax; at least one
// record per block). Returns the records visited. Called after RunMarketTimers.
int64_t RunGridTimers(const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state,
                      int64_t work_max = limits::kGridWorkPerBlockMax);

// Audit: the grid module account holds, per denomination, exactly the unspent budgets of open
// events and programs; closed ones hold nothing.
Status CheckGridEscrow(const KvReader& state);

}  // namespace v2g
