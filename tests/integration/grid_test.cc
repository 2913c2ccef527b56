// Four real validators, grid services end to end with one-minute intervals (the issue-6 demo):
// the grid company (the testnet issuer) publishes a time-of-use tariff and posts a peak-relief
// event (prior-days baseline, 0 here: history cannot be backfilled) and a reverse-discharge event
// for one delivery interval S; it also
// sponsors, as operator, a discharge subsidy in CNY and a reward-points program in PTS. An
// aggregator pools 20 vehicles of five owners, enrolls the pool in both events and sells 8 kWh of
// the pool's energy in S's market, which a grid account buys. One more vehicle takes part in the
// reverse discharge on its own. Owners bill some meters under the tariff (one owner cannot pay
// and goes into debt) and put some in the programs. The vehicles' signed readings cover, live, the
// interval S.
//
// After S has settled, and again after the points program has ended, every node must hold the
// same balances, equal to what this test works out on its own from the rules in contracts/grid.h,
// contracts/pools.h and contracts/market.h; each party's statement must add up to its balance
// change; the market and grid module accounts must hold exactly what open records lock (nothing
// at the end). The stopped nodes' stores must hold byte-identical records (events, enrollments,
// pool and members, programs, market, orders, trades, claims, debts, statements, accounts) with
// the expected numbers, and verify-chain must pass on each.
//
// Block times come from the wall clock, so the test waits on observed chain state with generous
// deadlines; the only wall-clock waits are for a reading's interval to end before it is sent.
#include "contracts/grid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

#include "common/bech32.h"
#include "common/crypto.h"
#include "contracts/escrow.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "contracts/state.h"
#include "node/store/store.h"
#include "tests/integration/harness_chain.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

using json = nlohmann::json;
using testing::Party;
using testing::TxToSend;

constexpr int kNodes = 4;
constexpr int64_t kIntervalS = 60;  // the shortest settlement interval genesis allows
constexpr int64_t kGateS = 10;
// Readings for S are sent at S + 30 and S + 60; settlement waits this long after S ends.
constexpr int64_t kGraceS = 20;
constexpr int64_t kHalfS = kIntervalS / 2;
// The S-dependent txs (events, programs, history, enrollments, orders) go in at least this long
// before gate closure.
constexpr int64_t kSetupMarginS = 30;
const std::string kZone = "CN-SH";
const std::string kCny = "CNY";
const std::string kPts = "PTS";

constexpr size_t kPooled = 20;
constexpr int64_t kMaxW = 120'000;  // bidirectional 120 kW chargers: 2000 Wh a minute
constexpr int64_t kPoolFeeBps = 1000;
// The market: the pool sells, the grid account buys the same energy; with one order a side
// and equal volumes the price is floor((150 + 210) / 2).
constexpr int64_t kSellWh = 8000, kSellLimit = 150, kBuyLimit = 210, kPrice = 180;
// Peak relief: the pool commits 240 kW (4000 Wh in the interval); the budget is ample.
constexpr int64_t kPrCommitW = 240'000, kPrPrice = 300, kPrBudget = 5000;
// Reverse discharge: the pool commits 360 kW (6000 Wh), the solo vehicle 60 kW (1000 Wh); the
// budget is short, so both payouts are scaled down.
constexpr int64_t kRdPoolCommitW = 360'000, kRdSoloCommitW = 60'000, kRdPrice = 400,
                  kRdBudget = 2000;
// Tariff: import price by UTC hour, feed-in price.
int64_t ImportPrice(int64_t hour) { return 100 + 5 * hour; }
constexpr int64_t kFeedInPrice = 50;
// Programs: a subsidy (CNY per kWh sold or discharged) that runs out, and points per kWh of
// participation that last past S and give the rest back.
constexpr int64_t kSubsidyRate = 200, kSubsidyBudget = 1500;
constexpr int64_t kPointsRate = 10, kPointsBudget = 100'000;
constexpr int64_t kDebtorCny = 10;  // all the fifth owner has

// floor(a * b / c) for the test's small non-negative numbers.
int64_t MulDiv(int64_t a, int64_t b, int64_t c) { return a * b / c; }

// `total` split in proportion to `weights`: floors, then the leftover units one each to the
// largest remainders, ties to the lower index (contracts/pools.h, worked out again here).
std::vector<int64_t> Split(int64_t total, const std::vector<int64_t>& weights) {
  std::vector<int64_t> out(weights.size(), 0);
  const int64_t sum = std::accumulate(weights.begin(), weights.end(), int64_t{0});
  if (sum == 0 || total == 0) return out;
  int64_t given = 0;
  std::vector<size_t> order(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    out[i] = total * weights[i] / sum;
    given += out[i];
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return total * weights[a] % sum > total * weights[b] % sum;
  });
  for (size_t k = 0; given < total; ++k, ++given) ++out[order[k]];
  return out;
}

// One vehicle meter: what it does in S and what it took part in.
struct Vehicle {
  std::string meter_id;
  size_t owner = 0;
  bool pooled = true;
  KeyPair device = KeyPair::Generate();
  KeyPair charger_device = KeyPair::Generate();  // the operator's charger "<id>-ch" it is plugged into
  int64_t import_wh = 0, export_wh = 0;  // in S
  std::vector<int64_t> history_wh;       // import in S's slot on day d = 1.. before
  bool tariff = false, subsidy = false, points = false;
  uint64_t seq = 0;
  int64_t import_total = 0, export_total = 0;
};

pb::MeterReading Reading(Vehicle& v, const std::string& chain_id, int64_t start_s, int64_t end_s,
                         int64_t import_wh, int64_t export_wh) {
  pb::MeterReading r;
  r.set_meter_id(v.meter_id);
  r.set_seq(++v.seq);
  r.set_interval_start_s(start_s);
  r.set_interval_end_s(end_s);
  v.import_total += import_wh;
  v.export_total += export_wh;
  r.set_import_wh_total(v.import_total);
  r.set_export_wh_total(v.export_total);
  r.set_soc_permille(600);
  r.set_soh_permille(970);
  SignReading(v.device, chain_id, r);
  return r;
}

// The vehicle's reading, then its charger's over the same span with the same energy, naming it
// (the car's own meter is in its owner's hands: only what a charger attests counts, issue 11).
void PushReading(std::vector<pb::MeterReading>& batch, Vehicle& v, const std::string& chain_id, int64_t start_s,
                 int64_t end_s, int64_t import_wh, int64_t export_wh) {
  batch.push_back(Reading(v, chain_id, start_s, end_s, import_wh, export_wh));
  pb::MeterReading c = batch.back();
  c.set_meter_id(v.meter_id + "-ch");
  c.set_plugged_meter_id(v.meter_id);
  SignReading(v.charger_device, chain_id, c);
  batch.push_back(std::move(c));
}

// What the rules say, per meter and party.
struct Expected {
  std::vector<int64_t> baseline, pr_contribution;
  std::vector<int64_t> market_wh, pr_wh, rd_wh, feed_in_wh;  // per vehicle (fleet order)
  std::vector<int64_t> market_pay, pr_pay, rd_pay;           // member shares, per vehicle
  std::vector<int64_t> charge, feed_in, subsidy, points;     // per vehicle
  int64_t pr_perf = 0, rd_pool_perf = 0, rd_solo_perf = 0;
  int64_t market_revenue = 0, market_fee = 0;
  int64_t pr_paid = 0, pr_fee = 0, rd_pool_paid = 0, rd_solo_paid = 0, rd_fee = 0;
  int64_t subsidy_paid = 0, points_paid = 0;
  std::map<std::string, pb::StatementEntry> statement;  // by address
  std::map<std::string, int64_t> cny_delta, pts_delta;  // by address, final
};

// The per-party sums a statement reports, as a balance change in the market denomination.
int64_t CashNet(const pb::StatementEntry& s) {
  return s.market_revenue() - s.market_penalty() - s.market_spent() + s.event_payout() +
         s.subsidy() - s.tariff_charge() + s.debt_incurred() + s.feed_in();
}

std::string Dump(const google::protobuf::Message& m) { return m.ShortDebugString() + "\n"; }

class GridOnFourValidators : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.reserve(kPooled + 1);
    for (size_t i = 0; i < kPooled; ++i) {
      Vehicle v;
      char id[16];
      std::snprintf(id, sizeof(id), "pool-ev-%02zu", i + 1);
      v.meter_id = id;  // zero-padded: meter-id order is fleet order
      v.owner = i < 5 ? 0 : i < 10 ? 1 : i < 15 ? 2 : i < 19 ? 3 : 4;
      if (i < 14) {
        v.export_wh = 600 + 80 * static_cast<int64_t>(i);  // discharging
      } else if (i == 17) {
        v.import_wh = 200;  // charging a little: still below its baseline
      } else if (i == 18) {
        v.import_wh = 900;  // charging above its baseline: drags the pool's relief down
      } else if (i == 19) {
        v.import_wh = 1500;  // the debtor's vehicle charges hard
      }                      // 14, 15, 16: parked and idle
      v.tariff = i == 0 || i == 14 || i == 17 || i == 19;
      v.subsidy = v.owner <= 1;
      v.points = i == 0 || i >= 10;
      fleet_.push_back(std::move(v));
    }
    Vehicle solo;
    solo.meter_id = "solo-ev";
    solo.owner = 0;
    solo.pooled = false;
    solo.export_wh = 1500;  // more than its 1000 Wh commitment: the rest earns feed-in
    solo.tariff = true;
    solo.subsidy = true;
    fleet_.push_back(std::move(solo));
  }

  Expected Work(int64_t S, int64_t baseline_days) const;
  void CheckStore(const std::string& home, const Expected& want, int64_t S, std::string* dump);
  void CheckApi(testing::Testnet& net, const Expected& want, int64_t S);

  Party issuer_ = testing::MakeParty("issuer");  // CNY/PTS issuer, operator and grid company
  Party agg_ = testing::MakeParty("aggregator");
  Party buyer_ = testing::MakeParty("grid-buyer");
  Party gateway_ = testing::MakeParty("meter-gateway");  // submits the meters' signed readings
  std::vector<Party> owners_{testing::MakeParty("owner-1"), testing::MakeParty("owner-2"),
                             testing::MakeParty("owner-3"), testing::MakeParty("owner-4"),
                             testing::MakeParty("owner-5-debtor")};
  std::vector<Vehicle> fleet_;
  uint64_t pool_id_ = 0, pr_id_ = 0, rd_id_ = 0, subsidy_id_ = 0, points_id_ = 0;
};

Expected GridOnFourValidators::Work(int64_t S, int64_t baseline_days) const {
  Expected w;
  const size_t n = fleet_.size();
  for (auto* v :
       {&w.baseline, &w.pr_contribution, &w.market_wh, &w.pr_wh, &w.rd_wh, &w.feed_in_wh,
        &w.market_pay, &w.pr_pay, &w.rd_pay, &w.charge, &w.feed_in, &w.subsidy, &w.points}) {
    v->assign(n, 0);
  }
  // Peak relief: baseline = floor(average import in S's slot over the prior days); the pool's
  // performance is the members' contributions summed, capped at its commitment, shared back by
  // the positive ones.
  std::vector<int64_t> weights(kPooled);
  int64_t sum = 0;
  for (size_t i = 0; i < kPooled; ++i) {
    int64_t h = 0;
    for (int64_t x : fleet_[i].history_wh) h += x;
    w.baseline[i] = h / baseline_days;
    w.pr_contribution[i] = w.baseline[i] - fleet_[i].import_wh;
    sum += w.pr_contribution[i];
    weights[i] = std::max<int64_t>(0, w.pr_contribution[i]);
  }
  w.pr_perf = std::clamp<int64_t>(sum, 0, kPrCommitW * kIntervalS / 3600);
  EXPECT_EQ(w.pr_perf, 0) << "no history: a baseline of 0 shows no reduction";
  auto parts = Split(w.pr_perf, weights);
  for (size_t i = 0; i < kPooled; ++i) w.pr_wh[i] = parts[i];
  // The market: the pool delivers from its members' export, claimed in proportion to it.
  std::vector<int64_t> avail(kPooled);
  int64_t available = 0;
  for (size_t i = 0; i < kPooled; ++i) available += avail[i] = fleet_[i].export_wh;
  const int64_t delivered = std::min(available, kSellWh);
  EXPECT_EQ(delivered, kSellWh);
  auto shares = Split(delivered, avail);
  for (size_t i = 0; i < kPooled; ++i) w.market_wh[i] = shares[i];
  w.market_revenue = MulDiv(delivered, kPrice, 1000);
  // Reverse discharge: export the market did not take.
  sum = 0;
  for (size_t i = 0; i < kPooled; ++i) sum += weights[i] = fleet_[i].export_wh - w.market_wh[i];
  w.rd_pool_perf = std::clamp<int64_t>(sum, 0, kRdPoolCommitW * kIntervalS / 3600);
  EXPECT_GT(sum, w.rd_pool_perf);
  parts = Split(w.rd_pool_perf, weights);
  for (size_t i = 0; i < kPooled; ++i) w.rd_wh[i] = parts[i];
  const size_t solo = kPooled;
  w.rd_solo_perf = std::min(fleet_[solo].export_wh, kRdSoloCommitW * kIntervalS / 3600);
  w.rd_wh[solo] = w.rd_solo_perf;
  // Event payouts: performance x price, scaled pro rata when they pass the budget.
  w.pr_paid = std::min(MulDiv(w.pr_perf, kPrPrice, 1000), kPrBudget);
  EXPECT_LT(MulDiv(w.pr_perf, kPrPrice, 1000), kPrBudget);
  const int64_t rd_pool_owed = MulDiv(w.rd_pool_perf, kRdPrice, 1000);
  const int64_t rd_solo_owed = MulDiv(w.rd_solo_perf, kRdPrice, 1000);
  const int64_t rd_owed = rd_pool_owed + rd_solo_owed;
  EXPECT_GT(rd_owed, kRdBudget);
  w.rd_pool_paid = MulDiv(rd_pool_owed, kRdBudget, rd_owed);
  w.rd_solo_paid = MulDiv(rd_solo_owed, kRdBudget, rd_owed);
  // Pool revenue: the fee, then the members by what each contributed.
  auto pay_pool = [&](int64_t amount, const std::vector<int64_t>& by, std::vector<int64_t>& to) {
    const int64_t fee = MulDiv(amount, kPoolFeeBps, 10'000);
    auto s = Split(amount - fee, std::vector<int64_t>(by.begin(), by.begin() + kPooled));
    for (size_t i = 0; i < kPooled; ++i) to[i] = s[i];
    return fee;
  };
  w.market_fee = pay_pool(w.market_revenue, w.market_wh, w.market_pay);
  w.pr_fee = pay_pool(w.pr_paid, w.pr_wh, w.pr_pay);
  w.rd_fee = pay_pool(w.rd_pool_paid, w.rd_wh, w.rd_pay);
  w.rd_pay[solo] = w.rd_solo_paid;
  // Tariff: import at the price of S's hour; unclaimed export at the feed-in price.
  const int64_t price = ImportPrice((S % 86400) / 3600);
  for (size_t i = 0; i < n; ++i) {
    if (!fleet_[i].tariff) continue;
    w.charge[i] = MulDiv(fleet_[i].import_wh, price, 1000);
    w.feed_in_wh[i] = fleet_[i].export_wh - w.market_wh[i] - w.rd_wh[i];
    w.feed_in[i] = MulDiv(w.feed_in_wh[i], kFeedInPrice, 1000);
  }
  // Programs, member by member in meter-id order (fleet order), each paying what is left.
  int64_t left = kSubsidyBudget;
  for (size_t i = 0; i < n; ++i) {
    if (!fleet_[i].subsidy) continue;
    w.subsidy[i] = std::min(left, MulDiv(w.market_wh[i] + w.rd_wh[i], kSubsidyRate, 1000));
    left -= w.subsidy[i];
  }
  EXPECT_EQ(left, 0) << "the subsidy should run out in S";
  w.subsidy_paid = kSubsidyBudget - left;
  for (size_t i = 0; i < n; ++i) {
    if (!fleet_[i].points) continue;
    w.points[i] = MulDiv(w.market_wh[i] + w.pr_wh[i] + w.rd_wh[i], kPointsRate, 1000);
    w.points_paid += w.points[i];
  }
  EXPECT_LT(w.points_paid, kPointsBudget);
  // Statements and balance changes.
  for (size_t i = 0; i < n; ++i) {
    pb::StatementEntry& s = w.statement[owners_[fleet_[i].owner].text];
    s.set_market_revenue(s.market_revenue() + w.market_pay[i]);
    s.set_event_payout(s.event_payout() + w.pr_pay[i] + w.rd_pay[i]);
    s.set_subsidy(s.subsidy() + w.subsidy[i]);
    s.set_points(s.points() + w.points[i]);
    s.set_tariff_charge(s.tariff_charge() + w.charge[i]);
    s.set_feed_in(s.feed_in() + w.feed_in[i]);
  }
  // The debtor has kDebtorCny and earns nothing: the rest of its bill becomes a debt.
  pb::StatementEntry& debtor = w.statement[owners_[4].text];
  EXPECT_GT(debtor.tariff_charge(), kDebtorCny);
  debtor.set_debt_incurred(debtor.tariff_charge() - kDebtorCny);
  pb::StatementEntry& agg = w.statement[agg_.text];
  agg.set_market_revenue(w.market_fee);
  agg.set_event_payout(w.pr_fee + w.rd_fee);
  w.statement[buyer_.text].set_market_spent(w.market_revenue);
  int64_t collected = 0, fed_in = 0;
  for (size_t i = 0; i < n; ++i) fed_in += w.feed_in[i];
  for (const auto& [address, s] : w.statement) {
    w.cny_delta[address] = CashNet(s);
    w.pts_delta[address] = s.points();
    collected += s.tariff_charge() - s.debt_incurred();
  }
  // The grid company and sponsor pays the events, the subsidy, the points and feed-in, and
  // collects the bills; the unspent budgets come back.
  w.cny_delta[issuer_.text] =
      -w.pr_paid - w.rd_pool_paid - w.rd_solo_paid - w.subsidy_paid + collected - fed_in;
  w.pts_delta[issuer_.text] = -w.points_paid;
  int64_t cny_sum = 0, pts_sum = 0;
  for (const auto& [a, d] : w.cny_delta) cny_sum += d;
  for (const auto& [a, d] : w.pts_delta) pts_sum += d;
  EXPECT_EQ(cny_sum, 0);
  EXPECT_EQ(pts_sum, 0);
  return w;
}

// Reads the stopped node's store: every involved record, dumped into `dump` (to compare across
// nodes), and checked against `want`.
void GridOnFourValidators::CheckStore(const std::string& home, const Expected& want, int64_t S,
                                      std::string* dump) {
  SCOPED_TRACE("store of " + home);
  const std::string path = home + "/data/chain.db";
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << path << ": " << store.status().message();
  const KvReader& st = (*store)->state();
  std::string& d = *dump;
  const size_t solo = kPooled;

  // Events.
  auto pr = LoadEvent(st, pr_id_);
  auto rd = LoadEvent(st, rd_id_);
  ASSERT_TRUE(pr && rd);
  d += Dump(*pr) + Dump(*rd);
  EXPECT_EQ(pr->status(), pb::EVENT_SETTLED);
  EXPECT_EQ(pr->enrollments(), 1u);
  EXPECT_EQ(pr->performance_wh(), want.pr_perf);
  EXPECT_EQ(pr->owed(), want.pr_paid);
  EXPECT_EQ(pr->paid(), want.pr_paid);
  EXPECT_EQ(pr->returned(), kPrBudget - want.pr_paid);
  EXPECT_EQ(rd->status(), pb::EVENT_SETTLED);
  EXPECT_EQ(rd->enrollments(), 2u);
  EXPECT_EQ(rd->performance_wh(), want.rd_pool_perf + want.rd_solo_perf);
  EXPECT_EQ(rd->owed(),
            MulDiv(want.rd_pool_perf, kRdPrice, 1000) + MulDiv(want.rd_solo_perf, kRdPrice, 1000));
  EXPECT_EQ(rd->paid(), want.rd_pool_paid + want.rd_solo_paid);
  EXPECT_EQ(rd->returned(), kRdBudget - want.rd_pool_paid - want.rd_solo_paid);
  auto pr_en = LoadEventEnrollments(st, pr_id_);
  auto rd_en = LoadEventEnrollments(st, rd_id_);
  for (const auto& e : pr_en) d += Dump(e);
  for (const auto& e : rd_en) d += Dump(e);
  ASSERT_EQ(pr_en.size(), 1u) << "one enrollment (the pool's) in the peak-relief event";
  EXPECT_EQ(pr_en[0].pool_id(), pool_id_);
  EXPECT_EQ(pr_en[0].performance_wh(), want.pr_perf);
  EXPECT_EQ(pr_en[0].payout(), want.pr_paid);
  ASSERT_EQ(rd_en.size(), 2u) << "the pool and the solo vehicle in the reverse discharge";
  for (const auto& e : rd_en) {
    if (e.pool_id() != 0) {
      EXPECT_EQ(e.pool_id(), pool_id_);
      EXPECT_EQ(e.performance_wh(), want.rd_pool_perf);
      EXPECT_EQ(e.payout(), want.rd_pool_paid);
    } else {
      EXPECT_EQ(e.meter_id(), fleet_[solo].meter_id);
      EXPECT_EQ(e.performance_wh(), want.rd_solo_perf);
      EXPECT_EQ(e.payout(), want.rd_solo_paid);
    }
  }
  for (auto [event, per_meter] : {std::pair{pr_id_, &want.pr_wh}, std::pair{rd_id_, &want.rd_wh}}) {
    std::map<std::string, int64_t> got;
    for (const auto& p : LoadPoolParts(st, event, pool_id_)) {
      d += Dump(p);
      got[p.meter_id()] = p.performance_wh();
    }
    for (size_t i = 0; i < kPooled; ++i) {
      EXPECT_EQ(got.count(fleet_[i].meter_id) ? got[fleet_[i].meter_id] : 0, (*per_meter)[i])
          << "event " << event << " part of " << fleet_[i].meter_id;
    }
  }

  // The pool and its members.
  auto pool = LoadPool(st, pool_id_);
  ASSERT_TRUE(pool);
  d += Dump(*pool);
  EXPECT_EQ(pool->members(), kPooled);
  EXPECT_EQ(pool->obligations_until_s(), S + kIntervalS);
  EXPECT_EQ(pool->fees_earned(), want.market_fee + want.pr_fee + want.rd_fee);
  int64_t members_earned = 0;
  auto members = LoadPoolMembers(st, pool_id_);
  ASSERT_EQ(members.size(), kPooled);
  for (size_t i = 0; i < kPooled; ++i) {
    d += Dump(members[i]);
    EXPECT_EQ(members[i].meter_id(), fleet_[i].meter_id);
    EXPECT_EQ(members[i].earned(), want.market_pay[i] + want.pr_pay[i] + want.rd_pay[i])
        << fleet_[i].meter_id;
    EXPECT_EQ(members[i].delivered_wh(), want.market_wh[i] + want.pr_wh[i] + want.rd_wh[i])
        << fleet_[i].meter_id;
    members_earned += members[i].earned();
  }
  EXPECT_EQ(pool->members_earned(), members_earned);

  // Programs: the subsidy ran out in S, the points program ended after it.
  auto subsidy = LoadProgram(st, subsidy_id_);
  auto points = LoadProgram(st, points_id_);
  ASSERT_TRUE(subsidy && points);
  d += Dump(*subsidy) + Dump(*points);
  EXPECT_EQ(subsidy->status(), pb::PROGRAM_CLOSED);
  EXPECT_EQ(subsidy->paid(), want.subsidy_paid);
  EXPECT_EQ(subsidy->remaining(), 0);
  EXPECT_EQ(subsidy->returned(), kSubsidyBudget - want.subsidy_paid);
  EXPECT_EQ(points->status(), pb::PROGRAM_CLOSED);
  EXPECT_EQ(points->paid(), want.points_paid);
  EXPECT_EQ(points->remaining(), 0);
  EXPECT_EQ(points->returned(), kPointsBudget - want.points_paid);
  for (auto [program, per_meter] :
       {std::pair{subsidy_id_, &want.subsidy}, std::pair{points_id_, &want.points}}) {
    for (const auto& m : LoadProgramMembers(st, program)) {
      d += Dump(m);
      auto it = std::find_if(fleet_.begin(), fleet_.end(),
                             [&](const Vehicle& v) { return v.meter_id == m.meter_id(); });
      ASSERT_NE(it, fleet_.end());
      EXPECT_EQ(m.paid(), (*per_meter)[static_cast<size_t>(it - fleet_.begin())])
          << "program " << program << " " << m.meter_id();
    }
  }

  // The market, its orders and its one trade.
  auto market = LoadMarket(st, kZone, S);
  ASSERT_TRUE(market);
  d += Dump(*market);
  EXPECT_EQ(market->status(), pb::MARKET_SETTLED);
  for (const auto& o : LoadMarketOrders(st, kZone, S)) {
    d += Dump(o);
    EXPECT_EQ(o.locked(), 0);
  }
  auto trades = LoadMarketTrades(st, kZone, S);
  ASSERT_EQ(trades.size(), 1u);
  d += Dump(trades[0]);
  EXPECT_EQ(trades[0].pool_id(), pool_id_);
  EXPECT_EQ(trades[0].price(), kPrice);
  EXPECT_EQ(trades[0].energy_wh(), kSellWh);
  EXPECT_EQ(trades[0].delivered_wh(), kSellWh);
  EXPECT_EQ(trades[0].seller_paid(), want.market_revenue);
  EXPECT_EQ(trades[0].penalty(), 0);

  // Energy claims: no kWh paid twice.
  for (size_t i = 0; i < fleet_.size(); ++i) {
    const pb::EnergyClaim c = LoadClaim(st, fleet_[i].meter_id, S);
    d += fleet_[i].meter_id + " " + Dump(c);
    EXPECT_EQ(c.market_wh(), want.market_wh[i]) << fleet_[i].meter_id;
    EXPECT_EQ(c.event_wh(), want.pr_wh[i] + want.rd_wh[i]) << fleet_[i].meter_id;
    EXPECT_EQ(c.event_export_wh(), want.rd_wh[i]) << fleet_[i].meter_id;
    EXPECT_EQ(c.feed_in_wh(), want.feed_in_wh[i]) << fleet_[i].meter_id;
    EXPECT_LE(c.market_wh() + c.event_export_wh() + c.feed_in_wh(), fleet_[i].export_wh)
        << fleet_[i].meter_id;
  }

  // The debtor's debt, statements and accounts.
  auto debts = LoadDebts(st, owners_[4].address);
  ASSERT_EQ(debts.size(), 1u);
  d += Dump(debts[0].second);
  EXPECT_EQ(debts[0].first, issuer_.address);
  EXPECT_EQ(debts[0].second.amount(), want.statement.at(owners_[4].text).debt_incurred());
  for (const auto& [address, s] : want.statement) {
    auto a = DecodeAddress(address);
    ASSERT_TRUE(a.ok());
    const pb::StatementEntry got = LoadStatement(st, *a, 0, S + 10 * kIntervalS);
    d += address + " " + Dump(got);
    EXPECT_EQ(got.ShortDebugString(), s.ShortDebugString()) << "statement of " << address;
  }
  for (const Address& a : {issuer_.address, agg_.address, buyer_.address, owners_[0].address,
                           owners_[1].address, owners_[2].address, owners_[3].address,
                           owners_[4].address, MarketModuleAddress(), GridModuleAddress()}) {
    d += EncodeAddress(a) + " " + Dump(LoadAccount(st, a));
  }
  EXPECT_EQ(BalanceOf(LoadAccount(st, MarketModuleAddress()), kCny), 0);
  EXPECT_EQ(BalanceOf(LoadAccount(st, GridModuleAddress()), kCny), 0);
  EXPECT_EQ(BalanceOf(LoadAccount(st, GridModuleAddress()), kPts), 0);
}

// The grid API on every running node: the same event, pool and program records, and each party's
// statement (GET /v1/accounts/{address}/statement) with the expected tiers; its `net` leaves out
// what the party could not pay (debt_incurred), so it is the balance change less the new debt.
void GridOnFourValidators::CheckApi(testing::Testnet& net, const Expected& want, int64_t S) {
  const std::string probe = "/v1/accounts/" + issuer_.text + "/statement";
  if (testing::HttpGet(net.port(0), probe).status == 404) {
    std::printf("note: this node has no %s yet; statements checked in the stores only\n",
                probe.c_str());
    return;
  }
  std::vector<std::string> paths;
  for (uint64_t id : {pr_id_, rd_id_}) paths.push_back("/v1/events/" + std::to_string(id));
  paths.push_back("/v1/pools/" + std::to_string(pool_id_));
  for (uint64_t id : {subsidy_id_, points_id_})
    paths.push_back("/v1/programs/" + std::to_string(id));
  paths.push_back("/v1/trades?zone=" + kZone + "&interval=" + std::to_string(S));
  std::map<std::string, json> first;
  for (int i = 0; i < kNodes; ++i) {
    SCOPED_TRACE("API of node " + std::to_string(i));
    for (const auto& path : paths) {
      auto r = testing::HttpGet(net.port(i), path);
      ASSERT_EQ(r.status, 200) << path << ": " << r.body.dump();
      if (i == 0) {
        first[path] = r.body;
      } else {
        EXPECT_EQ(r.body, first[path]) << path;
      }
    }
    EXPECT_EQ(first["/v1/events/" + std::to_string(pr_id_)].value("status", ""), "settled");
    EXPECT_EQ(first["/v1/events/" + std::to_string(rd_id_)].value("status", ""), "settled");
    for (const auto& [address, s] : want.statement) {
      const std::string path = "/v1/accounts/" + address +
                               "/statement?from=" + std::to_string(S - 3600) +
                               "&to=" + std::to_string(S + 10 * kIntervalS);
      auto r = testing::HttpGet(net.port(i), path);
      ASSERT_EQ(r.status, 200) << path << ": " << r.body.dump();
      const json& t = r.body["tiers"];
      EXPECT_EQ(testing::JsonInt(t["market_revenue"], kCny), s.market_revenue()) << address;
      EXPECT_EQ(testing::JsonInt(t["market_penalty"], kCny), s.market_penalty()) << address;
      EXPECT_EQ(testing::JsonInt(t["market_spent"], kCny), s.market_spent()) << address;
      EXPECT_EQ(testing::JsonInt(t["event_payout"], kCny), s.event_payout()) << address;
      EXPECT_EQ(testing::JsonInt(t["subsidy"], kCny), s.subsidy()) << address;
      EXPECT_EQ(testing::JsonInt(t["tariff_charge"], kCny), s.tariff_charge()) << address;
      EXPECT_EQ(testing::JsonInt(t["feed_in"], kCny), s.feed_in()) << address;
      EXPECT_EQ(testing::JsonInt(t["debt_incurred"], kCny), s.debt_incurred()) << address;
      EXPECT_EQ(testing::JsonInt(r.body["net"], kCny),
                want.cny_delta.at(address) - s.debt_incurred())
          << address;
      EXPECT_EQ(testing::JsonInt(r.body["points"], kPts), want.pts_delta.at(address)) << address;
    }
  }
}

TEST_F(GridOnFourValidators, DemandResponsePoolTariffAndProgramsSettleAlikeOnEveryNode) {
  testing::TempDir dir;
  testing::Testnet net;
  testing::Testnet::Options opts;
  opts.v2gd = V2GD_PATH;
  opts.nodes = kNodes;
  opts.issuer = issuer_.text;
  opts.extra_args = {"--aggregator", agg_.text, "--settlement-interval", std::to_string(kIntervalS), "--gate-closure",
                     std::to_string(kGateS),  "--market-grace",           std::to_string(kGraceS)};
  ASSERT_TRUE(net.Start(dir.path(), opts));
  ASSERT_EQ(net.genesis()["params"]["market_denom"], kCny);
  ASSERT_EQ(net.Param("settlement_interval_s"), kIntervalS);
  ASSERT_EQ(net.Param("market_collateral_bps"), 1000);
  const int64_t baseline_days = net.Param("baseline_days");
  ASSERT_GE(baseline_days, 1);
  ApiClient& api = net.client(0);
  const std::string& chain_id = net.chain_id();
  const KeyPair& issuer = issuer_.key;

  // Round 1: money, meters, the tariff (from the interval after next, so it is in force at S),
  // the pool.
  const int64_t tariff_from = (testing::NowS() / kIntervalS + 2) * kIntervalS;
  std::vector<TxToSend> txs;
  txs.push_back({&issuer, MakeMint(0, issuer_.address, kCny, 10'000'00)});
  txs.push_back({&issuer, MakeMint(0, issuer_.address, kPts, 1'000'000)});
  for (size_t o = 0; o < 4; ++o)
    txs.push_back({&issuer, MakeMint(0, owners_[o].address, kCny, 100'00)});
  txs.push_back({&issuer, MakeMint(0, owners_[4].address, kCny, kDebtorCny)});
  txs.push_back({&issuer, MakeMint(0, agg_.address, kCny, 100'00)});
  txs.push_back({&issuer, MakeMint(0, buyer_.address, kCny, 1000'00)});
  for (const auto& v : fleet_) {
    txs.push_back(
        {&issuer, MakeRegisterMeter(0, chain_id, issuer_.address, v.meter_id, v.device, pb::METER_KIND_VEHICLE,
                                    kZone, owners_[v.owner].address, kMaxW, kMaxW, 60'000)});
    txs.push_back({&issuer, MakeRegisterMeter(0, chain_id, issuer_.address, v.meter_id + "-ch", v.charger_device,
                                              pb::METER_KIND_CHARGER, kZone, issuer_.address, kMaxW, kMaxW, 0)});
  }
  std::vector<int64_t> prices;
  for (int64_t h = 0; h < 24; ++h) prices.push_back(ImportPrice(h));
  txs.push_back({&issuer, MakeSetTariff(0, kZone, tariff_from, prices, kFeedInPrice)});
  txs.push_back({&agg_.key, MakeCreatePool(0, "depot-fleet", kPoolFeeBps)});
  std::vector<SubmitResult> res;
  ASSERT_TRUE(testing::CommitAll(api, txs, &res));
  pool_id_ = res.back().created_id;
  ASSERT_NE(pool_id_, 0u) << res.back().raw.dump();

  // Round 2: the owners put 20 vehicles in the pool and some meters under the tariff.
  txs.clear();
  for (const auto& v : fleet_) {
    const KeyPair* owner = &owners_[v.owner].key;
    if (v.pooled) txs.push_back({owner, MakeJoinPool(0, pool_id_, v.meter_id)});
    if (v.tariff) txs.push_back({owner, MakeEnrollTariff(0, v.meter_id)});
  }
  ASSERT_TRUE(testing::CommitAll(api, txs));

  // The interval S: the first whose gate closes kSetupMarginS from now, with the tariff in force.
  const int64_t now = testing::NowS();
  const int64_t S = std::max(
      tariff_from, (now + kSetupMarginS + kGateS + kIntervalS - 1) / kIntervalS * kIntervalS);
  std::map<std::string, int64_t> cny_before, pts_before;
  std::vector<std::string> parties{issuer_.text, agg_.text, buyer_.text};
  for (const auto& o : owners_) parties.push_back(o.text);
  for (const auto& p : parties) {
    cny_before[p] = testing::BalanceOn(api, p, kCny);
    pts_before[p] = testing::BalanceOn(api, p, kPts);
  }

  // Round 3: the events and programs for S, and the pooled vehicles' history: import in S's slot
  // on each of the prior days (the peak-relief baseline), varying by vehicle and day.
  txs.clear();
  txs.push_back(
      {&issuer, MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, kZone, S, S + kIntervalS, 500'000,
                                kPrPrice, kPrBudget, S - kGateS, pb::BASELINE_PRIOR_DAYS)});
  txs.push_back(
      {&issuer, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, kZone, S, S + kIntervalS, 500'000,
                                kRdPrice, kRdBudget, S - kGateS, pb::BASELINE_UNSPECIFIED)});
  txs.push_back({&issuer, MakeCreateProgram(0, pb::PROGRAM_DISCHARGE_SUBSIDY, kCny, kSubsidyRate, 0,
                                            kZone, kSubsidyBudget, S + kIntervalS)});
  txs.push_back({&issuer, MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, kPts, kPointsRate, 0, "",
                                            kPointsBudget, S + kIntervalS)});
  // No prior-days history: a reading for an interval already settled is refused (contracts/
  // meters.h), so history can only be attested live, days ahead; the pool's peak-relief baseline
  // is 0 and it earns nothing. The contract tests cover prior-days baselines with simulated time.
  for (size_t i = 0; i < kPooled; ++i) fleet_[i].history_wh.assign(static_cast<size_t>(baseline_days), 0);
  ASSERT_TRUE(testing::CommitAll(api, txs, &res));
  pr_id_ = res[0].created_id;
  rd_id_ = res[1].created_id;
  subsidy_id_ = res[2].created_id;
  points_id_ = res[3].created_id;
  ASSERT_TRUE(pr_id_ && rd_id_ && subsidy_id_ && points_id_);

  // Round 4: the aggregator enrolls the pool in both events and sells for it; the solo vehicle
  // enrolls in the reverse discharge; owners join the programs; the grid account buys.
  txs.clear();
  txs.push_back({&agg_.key, MakeEnrollEvent(0, pr_id_, "", kPrCommitW, 0, pool_id_)});
  txs.push_back({&agg_.key, MakeEnrollEvent(0, rd_id_, "", kRdPoolCommitW, 0, pool_id_)});
  txs.push_back({&agg_.key, MakePoolSell(0, pool_id_, kZone, S, kSellWh, kSellLimit)});
  txs.push_back(
      {&owners_[0].key, MakeEnrollEvent(0, rd_id_, fleet_[kPooled].meter_id, kRdSoloCommitW)});
  for (const auto& v : fleet_) {
    const KeyPair* owner = &owners_[v.owner].key;
    if (v.subsidy) txs.push_back({owner, MakeJoinProgram(0, subsidy_id_, v.meter_id)});
    if (v.points) txs.push_back({owner, MakeJoinProgram(0, points_id_, v.meter_id)});
  }
  txs.push_back({&buyer_.key, MakePlaceOrder(0, pb::SIDE_BUY, kZone, S, kSellWh, kBuyLimit)});
  ASSERT_TRUE(testing::CommitAll(api, txs));
  ASSERT_LT(testing::NowS(), S - kGateS) << "setup took longer than " << kSetupMarginS << " s";

  const std::string market_path = "/v1/markets/" + kZone + "/" + std::to_string(S);
  ASSERT_TRUE(testing::PollUntil(S - kGateS + 90, [&] {
    auto r = testing::HttpGet(net.port(0), market_path);
    return r.status == 200 && r.body.value("status", "") == "cleared";
  })) << testing::HttpGet(net.port(0), market_path).body.dump();

  // Live readings: a zero reading closing the meter's registers at S, sent just before S (its
  // interval settles kGraceS after S: no later); then each half of S once it is over.
  testing::SleepUntilWall(S - 5);
  {
    std::vector<pb::MeterReading> batch;
    for (auto& v : fleet_) PushReading(batch, v, chain_id, S - 10, S, 0, 0);
    const size_t count = batch.size();
    ASSERT_TRUE(
        testing::CommitAll(api, {{&gateway_.key, MakeSubmitReadings(0, std::move(batch))}}, &res));
    EXPECT_EQ(res[0].log, std::to_string(count) + " of " + std::to_string(count) + " readings accepted");
  }
  for (int half = 0; half < 2; ++half) {
    testing::SleepUntilWall(S + (half + 1) * kHalfS);
    std::vector<pb::MeterReading> batch;
    for (auto& v : fleet_) {
      const int64_t imp = half == 0 ? v.import_wh / 2 : v.import_wh - v.import_wh / 2;
      const int64_t exp = half == 0 ? v.export_wh / 2 : v.export_wh - v.export_wh / 2;
      PushReading(batch, v, chain_id, S + half * kHalfS, S + (half + 1) * kHalfS, imp, exp);
    }
    const size_t count = batch.size();
    ASSERT_TRUE(
        testing::CommitAll(api, {{&gateway_.key, MakeSubmitReadings(0, std::move(batch))}}, &res));
    EXPECT_EQ(res[0].log,
              std::to_string(count) + " of " + std::to_string(count) + " readings accepted");
  }
  ASSERT_LT(testing::NowS(), S + kIntervalS + kGraceS)
      << "readings committed after settlement was due";

  const Expected want = Work(S, baseline_days);
  std::printf(
      "S=%lld: peak relief %lld Wh paid %lld; reverse discharge pool %lld Wh paid %lld, solo %lld "
      "Wh "
      "paid %lld; market %lld Wh for %lld (fee %lld); subsidy %lld CNY, points %lld PTS\n",
      static_cast<long long>(S), static_cast<long long>(want.pr_perf),
      static_cast<long long>(want.pr_paid), static_cast<long long>(want.rd_pool_perf),
      static_cast<long long>(want.rd_pool_paid), static_cast<long long>(want.rd_solo_perf),
      static_cast<long long>(want.rd_solo_paid), static_cast<long long>(kSellWh),
      static_cast<long long>(want.market_revenue), static_cast<long long>(want.market_fee),
      static_cast<long long>(want.subsidy_paid), static_cast<long long>(want.points_paid));
  const std::string market_module = EncodeAddress(MarketModuleAddress());
  const std::string grid_module = EncodeAddress(GridModuleAddress());
  // Balances on every node: after S has settled (the points program still holds the rest of its
  // budget), then after the program has ended.
  for (int phase = 0; phase < 2; ++phase) {
    const int64_t due = S + (phase + 1) * kIntervalS + kGraceS;
    ASSERT_TRUE(net.WaitAllPast(due, due + 120)) << "phase " << phase;
    const int64_t points_left = phase == 0 ? kPointsBudget - want.points_paid : 0;
    for (int i = 0; i < kNodes; ++i) {
      SCOPED_TRACE("phase " + std::to_string(phase) + ", node " + std::to_string(i));
      ApiClient& c = net.client(i);
      for (const auto& p : parties) {
        EXPECT_EQ(testing::BalanceOn(c, p, kCny), cny_before[p] + want.cny_delta.at(p)) << p;
        EXPECT_EQ(testing::BalanceOn(c, p, kPts),
                  pts_before[p] + want.pts_delta.at(p) - (p == issuer_.text ? points_left : 0))
            << p;
      }
      EXPECT_EQ(testing::BalanceOn(c, market_module, kCny), 0) << "market module account";
      EXPECT_EQ(testing::BalanceOn(c, grid_module, kCny), 0) << "grid module account";
      EXPECT_EQ(testing::BalanceOn(c, grid_module, kPts), points_left) << "grid module account";
      auto m = testing::HttpGet(net.port(i), market_path);
      ASSERT_EQ(m.status, 200) << m.body.dump();
      EXPECT_EQ(m.body.value("status", ""), "settled");
      EXPECT_EQ(testing::JsonInt(m.body["clearing_price"]), kPrice);
      EXPECT_EQ(testing::JsonInt(m.body["cleared_energy_wh"]), kSellWh);
      EXPECT_EQ(testing::JsonInt(m.body["delivered_energy_wh"]), kSellWh);
    }
  }
  // Every statement adds up to its party's balance change over the scenario.
  for (const auto& [address, s] : want.statement) {
    EXPECT_EQ(CashNet(s), want.cny_delta.at(address)) << address;
  }
  CheckApi(net, want, S);

  ASSERT_TRUE(net.Stop());
  std::vector<std::string> dumps(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    CheckStore(net.home(i), want, S, &dumps[static_cast<size_t>(i)]);
    if (i > 0) {
      EXPECT_EQ(dumps[static_cast<size_t>(i)], dumps[0]) << "node " << i << " differs from node 0";
    }
  }
  for (int i = 0; i < kNodes; ++i) EXPECT_TRUE(net.VerifyChain(i));
}

}  // namespace
}  // namespace v2g
