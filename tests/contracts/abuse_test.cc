// Issue 12 (abuse resistance), the contract-level attacks.
//
// Class 2: no arithmetic a tx (or any combination of txs) can reach may abort a node.
// Every node runs the same block, so an assertion that fires there halts the whole chain, and
// again after every restart. These tests drive the contracts with the largest values admission
// lets through, in the combinations that multiply (power x duration x price, many meters of one
// owner, many enrollments of one event), and with every extreme value on every numeric field of
// every tx type; the test process aborting is the failure. Conservation is checked after each.
//
// Class 1 (per-block work): markets in many zones due at once no longer make one block clear and
// settle all of them; the rest wait for the next blocks, and grid services wait for them. Grid
// services settle an interval across blocks too (GridWorkTest): at most kGridWorkPerBlockMax
// records per block, with the same results as one pass, however many enrollments there are.
// Class 1 (the cost of state): every tx pays a fee per unit of work it brings (CostOfStateTest).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <limits>
#include <string>
#include <vector>

#include "contracts/pools.h"
#include "common/time.h"
#include "tests/contracts/ledger_fixture.h"

namespace v2g {
namespace {

using namespace testing_ledger;  // NOLINT

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxW = limits::kMeterPowerWMax;
// What a kMaxW meter attests in the 899 s after AttestOwn's 1-second bridge reading, with room
// under the per-interval bound (kMaxW * 899 / 3600 = 24,972,222 Wh).
constexpr int64_t kIntervalWh = 24'000'000;
constexpr int kSites = 20;

class ExtremeValuesTest : public LedgerFixture {
 protected:
  uint64_t Ok(const KeyPair& k, pb::TxBody body) {
    auto r = Run(k, std::move(body));
    EXPECT_EQ(CodeOf(r), Code::kOk) << r.log();
    return r.created_id();
  }
  // kSites site meters of `owner`, each at the power limit.
  std::vector<std::string> Sites(const KeyPair& owner) {
    std::vector<std::string> ids;
    for (int i = 0; i < kSites; ++i) {
      ids.push_back("site-" + std::to_string(i));
      RegisterKind(ids.back(), static_cast<uint8_t>(40 + i), AddrOf(owner), kMaxW, "GD-SZ", pb::METER_KIND_SITE);
    }
    return ids;
  }
  pb::TxBody MaxTariff(int64_t from) {
    pb::TxBody b;
    auto* t = b.mutable_set_tariff();
    t->set_zone("GD-SZ");
    t->set_effective_from_s(from);
    for (int h = 0; h < 24; ++h) t->add_import_prices(limits::kOrderPriceMax);
    t->set_export_price(limits::kOrderPriceMax);
    return b;
  }
};

// A tariff at the price limit on an owner's many meters at the power limit: each interval's
// charge fits, the debt they add up to does not. The debt saturates (it is already more than any
// supply) instead of aborting every node at the same block.
TEST_F(ExtremeValuesTest, DebtOfManyMetersAtTheLimitsSaturatesInsteadOfHaltingTheChain) {
  const std::vector<std::string> sites = Sites(carol_);
  Ok(grid_, MaxTariff(kS));
  for (const auto& s : sites) {
    pb::TxBody b;
    b.mutable_enroll_tariff()->set_meter_id(s);
    Ok(carol_, b);
  }
  // 20 meters x 24,000,000 Wh x 10^12 per kWh = 4.8 x 10^17 per interval: int64 overflows in the 20th.
  constexpr int kIntervals = 22;
  for (int i = 0; i < kIntervals; ++i) {
    const int64_t start = kS + i * kLen;
    At(start + kLen);
    for (const auto& s : sites) AttestOwn(s, start, kIntervalWh, 0);
  }
  SettleThrough(kS + (kIntervals + 1) * kLen + kGrace);
  auto debts = LoadDebts(state_, AddrOf(carol_));
  ASSERT_EQ(debts.size(), 1u);
  EXPECT_EQ(debts[0].second.amount(), kMax);
  EXPECT_EQ(Bal(carol_), 0);  // the 3 minimal units she had went to the grid company
  CheckInvariants();
}

// Many enrollments of one reverse-discharge event at the power and price limits: what the event
// owes adds up past int64. It pays its whole budget pro rata instead of aborting.
TEST_F(ExtremeValuesTest, EventOwingMoreThanInt64PaysItsBudgetProRata) {
  const std::vector<std::string> sites = Sites(alice_);
  Ok(issuer_, MakeMint(0, AddrOf(grid_), "CNY", limits::kBudgetMax));
  constexpr int kIntervals = 20;
  const uint64_t ev = Ok(grid_, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "GD-SZ", kS, kS + kIntervals * kLen,
                                                limits::kMeterPowerWMax, limits::kOrderPriceMax, limits::kBudgetMax,
                                                kS - kLen, pb::BASELINE_UNSPECIFIED));
  for (const auto& s : sites) Ok(alice_, MakeEnrollEvent(0, ev, s, kMaxW));
  const int64_t before = Bal(alice_);
  // 20 meters x 20 intervals x 24,000,000 Wh x 10^12 per kWh = 9.6 x 10^18 owed.
  for (int i = 0; i < kIntervals; ++i) {
    const int64_t start = kS + i * kLen;
    At(start + kLen);
    for (const auto& s : sites) AttestOwn(s, start, 0, kIntervalWh);
  }
  SettleThrough(kS + (kIntervals + 1) * kLen + kGrace);
  const pb::EventRecord e = *LoadEvent(state_, ev);
  ASSERT_EQ(e.status(), pb::EVENT_SETTLED);
  EXPECT_EQ(e.owed(), kMax);  // 9.6 x 10^18 does not fit: shown saturated
  // Every enrollment performed the same, so each gets budget / 20 exactly.
  EXPECT_EQ(e.paid(), limits::kBudgetMax);
  EXPECT_EQ(e.returned(), 0);
  EXPECT_EQ(Bal(alice_) - before, limits::kBudgetMax);
  for (const auto& en : LoadEventEnrollments(state_, ev)) EXPECT_EQ(en.payout(), limits::kBudgetMax / kSites);
  CheckInvariants();
}

// ---------------------------------------------------------------- every field, every extreme

// The values every numeric field of every tx type is tried with.
std::vector<int64_t> ExtremeValues(const google::protobuf::FieldDescriptor* f) {
  using FD = google::protobuf::FieldDescriptor;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT64:
      return {0, 1, -1, kMax, kMax - 1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 1,
              limits::kOrderPriceMax, limits::kBudgetMax, limits::kMeterPowerWMax, int64_t{1} << 40};
    case FD::CPPTYPE_INT32:
      return {0, 1, -1, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()};
    case FD::CPPTYPE_UINT64:
    case FD::CPPTYPE_UINT32:
      return {0, 1, -1 /* all ones */, kMax};
    default:
      return {};
  }
}

void SetNumber(google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f, int64_t v, int index) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT64:
      rep ? r->SetRepeatedInt64(&m, f, index, v) : r->SetInt64(&m, f, v);
      break;
    case FD::CPPTYPE_INT32:
      rep ? r->SetRepeatedInt32(&m, f, index, static_cast<int32_t>(v)) : r->SetInt32(&m, f, static_cast<int32_t>(v));
      break;
    case FD::CPPTYPE_UINT64:
      rep ? r->SetRepeatedUInt64(&m, f, index, static_cast<uint64_t>(v)) : r->SetUInt64(&m, f, static_cast<uint64_t>(v));
      break;
    case FD::CPPTYPE_UINT32:
      rep ? r->SetRepeatedUInt32(&m, f, index, static_cast<uint32_t>(v))
          : r->SetUInt32(&m, f, static_cast<uint32_t>(v));
      break;
    default:
      break;
  }
}

int64_t GetNumber(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f, int index) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT64: return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FD::CPPTYPE_INT32: return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FD::CPPTYPE_UINT64:
      return static_cast<int64_t>(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FD::CPPTYPE_UINT32: return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    default: return 0;
  }
}

// Every (path to a numeric field, value) variant of `body`: one field changed at a time, nested
// messages and the first element of repeated fields included. `nonce` is left to the fixture.
void Variants(google::protobuf::Message& m, std::vector<pb::TxBody>& out, pb::TxBody& root, int depth = 0) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    if (depth == 0 && f->name() == "nonce") continue;
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        if (r->FieldSize(m, f) > 0) Variants(*r->MutableRepeatedMessage(&m, f, 0), out, root, depth + 1);
      } else if (r->HasField(m, f)) {
        Variants(*r->MutableMessage(&m, f), out, root, depth + 1);
      }
      continue;
    }
    if (f->is_repeated() && r->FieldSize(m, f) == 0) continue;
    const int64_t original = GetNumber(m, f, 0);
    for (int64_t v : ExtremeValues(f)) {
      // Change the field in place, copy the whole tx, then put the original value back.
      SetNumber(m, f, v, 0);
      out.push_back(root);
    }
    SetNumber(m, f, original, 0);
  }
}

class EveryFieldTest : public ExtremeValuesTest {};

// One valid tx of every type that has numeric fields, each numeric field set to each extreme in
// turn, run as a block; then time runs past every horizon so every event, program, market and
// pool obligation they created settles. No node aborts and conservation holds throughout.
TEST_F(EveryFieldTest, EveryTxTypeWithExtremeValuesInEveryNumericFieldNeverAborts) {
  const std::vector<std::string> sites = Sites(alice_);
  Ok(issuer_, MakeMint(0, AddrOf(grid_), "CNY", limits::kBudgetMax));
  Ok(issuer_, MakeMint(0, AddrOf(alice_), "CNY", limits::kBudgetMax));
  Ok(issuer_, MakeMint(0, AddrOf(bob_), "CNY", limits::kBudgetMax));
  Ok(issuer_, MakeMint(0, AddrOf(operator_), "CNY", limits::kBudgetMax));
  Ok(issuer_, MakeMint(0, AddrOf(validator_), "CNY", limits::kBudgetMax));  // governance txs' fees
  Ok(operator_, MakeCreatePool(0, "vpp", 100));  // pool 1
  RegisterKind("probe", 70, AddrOf(alice_), kMaxW, "GD-SZ", pb::METER_KIND_SITE);

  // Each template makes its tx from the ids the valid versions of the earlier ones created.
  struct Template {
    const KeyPair* signer;
    std::function<pb::TxBody()> make;
    std::string creates;  // the name the valid version's created id is kept under
  };
  std::map<std::string, uint64_t> id;
  Ok(operator_, MakeTransfer(0, AddrOf(issuer_), "CNY", 1000));  // so the issuer can burn
  const int64_t deadline = kS + 2 * kLen;
  const int64_t ev_start = kS + 4 * kLen;
  const int64_t mkt = kS + 8 * kLen;
  const std::vector<Template> templates = {
      {&alice_, [&] { return MakeTransfer(0, AddrOf(bob_), "CNY", 5); }, ""},
      {&issuer_, [&] { return MakeMint(0, AddrOf(bob_), "CNY", 5); }, ""},
      {&issuer_, [&] { return MakeBurn(0, "CNY", 5); }, ""},
      {&alice_, [&] { return MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", mkt, 1000, 50, sites[0]); },
       "sell"},
      {&bob_, [&] { return MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", mkt, 1000, 60); }, "buy"},
      {&bob_, [&] { return MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", mkt, 500, 60); }, "buy2"},
      {&bob_, [&] { return MakeCancelOrder(0, id["buy2"]); }, ""},
      {&bob_,
       [&] { return MakeProposeContract(0, AddrOf(alice_), pb::SIDE_BUY, "GD-SZ", mkt, 1000, 60); },
       "contract"},
      {&alice_, [&] { return MakeAcceptContract(0, id["contract"], sites[1]); }, ""},
      {&bob_,
       [&] { return MakeProposeContract(0, AddrOf(alice_), pb::SIDE_BUY, "GD-SZ", mkt, 1000, 60); },
       "contract2"},
      {&bob_, [&] { return MakeCancelContract(0, id["contract2"]); }, ""},
      {&grid_, [&] { return MaxTariff(kS); }, ""},
      {&alice_, [&] { return MakeEnrollTariff(0, sites[7]); }, ""},
      {&alice_, [&] { return MakeJoinPool(0, id["pool"], sites[6]); }, ""},
      {&alice_, [&] { return MakeLeavePool(0, id["pool"], sites[6]); }, ""},
      {&alice_, [&] { return MakeJoinPool(0, id["pool"], sites[5]); }, ""},
      {&grid_,
       [&] {
         return MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "GD-SZ", ev_start, ev_start + 4 * kLen, kMaxW,
                                limits::kOrderPriceMax, limits::kBudgetMax / 100, deadline, pb::BASELINE_UNSPECIFIED);
       },
       "discharge"},
      {&grid_,
       [&] {
         return MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, "GD-SZ", ev_start, ev_start + 4 * kLen, kMaxW,
                                limits::kOrderPriceMax, limits::kBudgetMax / 100, deadline, pb::BASELINE_DECLARED);
       },
       "peak"},
      {&alice_, [&] { return MakeEnrollEvent(0, id["discharge"], sites[2], kMaxW); }, ""},
      {&alice_,
       [&] { return MakeEnrollEvent(0, id["peak"], sites[3], kMaxW, limits::kOrderEnergyWhMax); },
       ""},
      {&operator_, [&] { return MakeEnrollEvent(0, id["discharge"], "", kMaxW, 0, id["pool"]); },
       ""},
      {&operator_,
       [&] {
         return MakeCreateProgram(0, pb::PROGRAM_DISCHARGE_SUBSIDY, "CNY", limits::kOrderPriceMax, 0, "GD-SZ",
                                  limits::kBudgetMax / 100, kS + 30 * kLen);
       },
       "subsidy"},
      {&operator_,
       [&] {
         return MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS", limits::kOrderPriceMax, 0, "GD-SZ", 1000,
                                  kS + 30 * kLen);
       },
       "points"},
      {&operator_,
       [&] {
         return MakeCreateProgram(0, pb::PROGRAM_CHARGING_DISCOUNT, "CNY", limits::kBpsMax, 0xffffffu, "GD-SZ",
                                  limits::kBudgetMax / 100, kS + 30 * kLen);
       },
       "discount"},
      {&alice_, [&] { return MakeJoinProgram(0, id["discount"], sites[7]); }, ""},
      {&alice_, [&] { return MakeJoinProgram(0, id["subsidy"], sites[4]); }, ""},
      {&alice_, [&] { return MakeJoinProgram(0, id["points"], sites[2]); }, ""},
      {&operator_, [&] { return MakeCreatePool(0, "vpp2", limits::kBpsMax); }, ""},
      {&operator_, [&] { return MakePoolSell(0, id["pool"], "GD-SZ", mkt, 1000, 50); }, ""},
      {&alice_,
       [&] { return MakeSubmitReadings(0, {Reading("probe", 1, kT0 + 1, kT0 + 60, 0, 0)}); }, ""},
      // Governance (the fixture's one validator holds all the power: its vote passes at once).
      {&validator_,
       [&] {
         return MakeSubmitProposal(0, "memo", "shorter memos",
                                   GovParamAction("memo_bytes_max", 100));
       },
       "proposal"},
      {&validator_, [&] { return MakeVoteProposal(0, id["proposal"], pb::GOV_VOTE_YES); }, ""},
      {&validator_,
       [&] { return MakeSubmitProposal(0, "brake", "", GovMarketAction("CN-SH", true)); }, ""},
      {&validator_,
       [&] {
         return MakeSubmitProposal(
             0, "join", "",
             GovAddValidatorAction("val-9", Key(95).public_key(), Key(96).public_key(), 3));
       },
       ""},
  };
  id["pool"] = 1;
  int runs = 0;
  auto sweep = [&](const Template& t) {
    const pb::TxBody body = t.make();
    std::vector<pb::TxBody> variants;
    pb::TxBody root = body;
    Variants(root, variants, root);
    variants.push_back(body);  // and the valid one itself, last
    int accepted = 0;
    pb::TxResult r;
    for (const pb::TxBody& v : variants) {
      // Accepted or refused: either is fine, aborting is not.
      r = Run(*t.signer, v);
      if (CodeOf(r) == Code::kOk) ++accepted;
      ++runs;
    }
      if (!t.creates.empty()) {
      EXPECT_EQ(CodeOf(r), Code::kOk) << body.ShortDebugString() << ": " << r.log();
      id[t.creates] = r.created_id();
    }
    // Not vacuous: each template is a tx the ledger takes (in some variant or as it is).
    EXPECT_GT(accepted, 0) << "no variant of " << body.ShortDebugString() << " was accepted; the valid one: " << r.log();
  };
  for (const Template& t : templates) sweep(t);
  EXPECT_GT(runs, 200);
  CheckInvariants();
  // Readings at the limits for every site in every interval until past every event, then settle.
  for (int i = 0; i < 12; ++i) {
    const int64_t start = kS + i * kLen;
    At(std::max<int64_t>(ctx_.time_ms / 1000, start + kLen));
    for (const auto& s : sites) AttestOwn(s, start, kIntervalWh, kIntervalWh);
  }
  SettleThrough(kS + 40 * kLen);
  CheckInvariants();
  // The tariff left a debt at the limits: paying it, with every extreme too.
  ASSERT_FALSE(LoadDebts(state_, AddrOf(alice_)).empty());
  sweep({&alice_, [&] { return MakePayDebt(0, "CNY"); }, ""});
  CheckInvariants();
}

// ---------------------------------------------------------------- per-block market work

class MarketWorkTest : public ExtremeValuesTest {
 protected:
  int64_t GridNext() const { return DecodeRecord<pb::GridCursor>(*state_.Get("s/grid_cursor")).next_interval_s(); }
  int Count(pb::MarketStatus s, const std::vector<std::string>& zones) const {
    int n = 0;
    for (const auto& z : zones) n += LoadMarket(state_, z, kS)->status() == s;
    return n;
  }
};

// Six zones' markets, due at the same gate closure, with a work bound of one market per block:
// each block clears one, the rest stay due in order, settlements follow, and grid services do not
// settle the interval until every one of its markets has (its claims would be missing).
TEST_F(MarketWorkTest, MarketsDueTogetherRunAcrossBlocksAndGridServicesWaitForThem) {
  std::vector<std::string> zones;
  for (int z = 0; z < 6; ++z) {
    zones.push_back("Z" + std::to_string(z));
    Place(bob_, pb::SIDE_BUY, 1000, 100, "", kS, zones.back());
    Place(alice_, pb::SIDE_BUY, 500, 90, "", kS, zones.back());
  }
  const pb::ParamsRecord params = LoadParams(state_);
  At(kS + kLen + kGrace);  // every clearing and settlement of interval kS is due
  constexpr int64_t kWork = 3;  // one market of 2 orders (+1) per block
  int blocks = 0;
  while (FirstMarketTimerDueS(state_) && *FirstMarketTimerDueS(state_) * 1000 <= ctx_.time_ms) {
    ASSERT_LT(++blocks, 100);
    const int open_before = Count(pb::MARKET_OPEN, zones);
    const int settled_before = Count(pb::MARKET_SETTLED, zones);
    RunMarketTimers(ctx_, params, state_, kWork);
    RunGridTimers(ctx_, params, state_);
    // One market's clearing or settlement per block, never all of them at once.
    EXPECT_EQ(open_before - Count(pb::MARKET_OPEN, zones) + Count(pb::MARKET_SETTLED, zones) - settled_before, 1);
    if (Count(pb::MARKET_SETTLED, zones) < 6) {
      EXPECT_LE(GridNext(), kS) << "grid services overtook a market";
    }
    ctx_.time_ms += 1;
  }
  EXPECT_EQ(blocks, 12);  // 6 clearings, then 6 settlements
  EXPECT_EQ(Count(pb::MARKET_SETTLED, zones), 6);
  RunGridTimers(ctx_, params, state_);
  EXPECT_GT(GridNext(), kS);
  CheckInvariants();
}

// ---------------------------------------------------------------------------------------------
// Class 1: the cost of state. Every tx pays params.fee_min per fee unit (one, plus one per reading
// or OCMF record) in the market denomination, burned (nobody receives it, so a validator's own txs
// in its own blocks pay too); a tx whose operation fails in a block still pays; a batch of readings
// none of which is accepted fails. Role holders pay too.

constexpr int64_t kFeeMin = 5;

class CostOfStateTest : public LedgerFixture {
 protected:
  void Configure(GenesisState& g) override { g.params.fee_min = kFeeMin; }
  // One block holding exactly these signed bytes.
  pb::TxResult Block(const std::string& tx) {
    ++ctx_.height;
    BlockOutcome out = ExecuteBlock(ctx_, {tx}, nullptr, state_);
    ctx_.time_ms += 1;
    return out.results.at(0);
  }
  // `n` readings of ev-a (seq 1..n, 10 s each, import register `import_wh`) signed by ev-b's device.
  std::vector<pb::MeterReading> Forged(int n, int64_t import_wh) {
    std::vector<pb::MeterReading> out;
    for (int i = 0; i < n; ++i) {
      pb::MeterReading r =
          Reading("ev-a", static_cast<uint64_t>(i + 1), kT0 + 10 * (i + 1), kT0 + 10 * (i + 2), import_wh, 0);
      SignReading(devices_.at("ev-b"), kChainId, r);  // the wrong device
      out.push_back(r);
    }
    return out;
  }
  pb::TxBody Signed(const KeyPair& k, pb::TxBody body, int64_t fee) {
    body.set_nonce(LoadAccount(state_, AddrOf(k)).nonce() + 1);
    body.mutable_fee()->set_denom("CNY");
    body.mutable_fee()->set_amount(fee);
    return body;
  }
  int64_t Nonce(const KeyPair& k) const { return static_cast<int64_t>(LoadAccount(state_, AddrOf(k)).nonce()); }
};

// Before fees, a brand-new key with no balance created lasting state for nothing (here: relaying
// a meter's readings; pools and contract proposals likewise) and could rotate keys around the
// per-sender mempool cap. Now it cannot pay the fee of its first tx; funded with one fee, it
// gets one tx's worth and no more.
TEST_F(CostOfStateTest, AKeyWithNoBalanceCreatesNothing) {
  const KeyPair stranger = Key(99);
  At(kT0 + 100);
  auto batch = [&](uint64_t seq) {
    return MakeSubmitReadings(0, {Reading("ev-a", seq, kT0 + 10 * static_cast<int64_t>(seq),
                                          kT0 + 10 * static_cast<int64_t>(seq + 1), 0, 0)});
  };
  auto_fee_ = false;
  ExpectRejected(stranger, batch(1), Code::kFeeTooLow, "carries no fee");
  auto_fee_ = true;
  ExpectRejected(stranger, batch(1), Code::kInsufficientFunds, "");
  ExpectRejected(stranger, MakeProposeContract(0, AddrOf(alice_), pb::SIDE_BUY, "GD-SZ", kS, 1000, 10),
                 Code::kInsufficientFunds, "");
  EXPECT_EQ(LoadMeter(state_, "ev-a")->readings_accepted(), 0);
  EXPECT_EQ(Nonce(stranger), 0);
  Run(grid_, MakeTransfer(0, AddrOf(stranger), "CNY", 2 * kFeeMin));  // one reading: two fee units
  ASSERT_EQ(CodeOf(Run(stranger, batch(1))), Code::kOk);
  EXPECT_EQ(LoadMeter(state_, "ev-a")->readings_accepted(), 1);
  ExpectRejected(stranger, batch(2), Code::kInsufficientFunds, "");
  CheckInvariants();
}

TEST_F(CostOfStateTest, EveryTxBurnsFeeMinPerFeeUnitRoleHoldersToo) {
  auto_fee_ = false;
  // The operator role does not exempt: no fee, no meter.
  ExpectRejected(operator_,
                 MakeRegisterMeter(0, kChainId, AddrOf(operator_), "ev-x", Key(77), pb::METER_KIND_VEHICLE, "GD-SZ",
                                   AddrOf(alice_), 7000, 7000, 60000),
                 Code::kFeeTooLow, "requires at least 5 CNY (minimal units) (5 CNY (minimal units) per fee unit x 1 fee units)");
  // Only in the market denomination.
  pb::TxBody pts = MakeTransfer(0, AddrOf(bob_), "CNY", 1);
  pts.mutable_fee()->set_denom("PTS");
  pts.mutable_fee()->set_amount(1000);
  ExpectRejected(operator_, pts, Code::kFeeTooLow, "fee is in PTS");

  // Three readings are four fee units: 15 is too little, 20 pays.
  At(kT0 + 100);
  std::vector<pb::MeterReading> rs;
  for (int i = 0; i < 3; ++i) rs.push_back(Reading("ev-a", static_cast<uint64_t>(i + 1), kT0 + 10 * (i + 1), kT0 + 10 * (i + 2), 0, 0));
  pb::TxBody low = MakeSubmitReadings(0, rs);
  low.mutable_fee()->set_denom("CNY");
  low.mutable_fee()->set_amount(15);
  ExpectRejected(bob_, low, Code::kFeeTooLow, "fee is 15 CNY (minimal units); this chain requires at least 20 CNY (minimal units) (5 CNY (minimal units) per fee unit x 4 fee units)");
  const int64_t bob = Bal(bob_);
  const int64_t proposer = BalanceOf(LoadAccount(state_, ctx_.proposer), "CNY");
  const int64_t burned = LoadSupply(state_, "CNY").burned();
  auto_fee_ = true;
  auto r = Run(bob_, MakeSubmitReadings(0, rs));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(Bal(bob_), bob - 20);
  EXPECT_EQ(LoadSupply(state_, "CNY").burned(), burned + 20);
  EXPECT_EQ(BalanceOf(LoadAccount(state_, ctx_.proposer), "CNY"), proposer);
  CheckInvariants();
}

// A tx that fails in a block (the state moved between admission and the block, or a faulty
// proposer put it there) is not free block space: it pays its fee and uses its nonce, so the same
// bytes cannot be put in a block again to charge the signer twice.
TEST_F(CostOfStateTest, ATxThatFailsInABlockPaysItsFeeAndUsesItsNonce) {
  const int64_t alice = Bal(alice_);
  const int64_t proposer = BalanceOf(LoadAccount(state_, ctx_.proposer), "CNY");
  const int64_t burned = LoadSupply(state_, "CNY").burned();
  const int64_t nonce = Nonce(alice_);
  const std::string tx = SignTx(alice_, kChainId, Signed(alice_, MakeTransfer(0, AddrOf(bob_), "CNY", alice), kFeeMin));
  auto r = Block(tx);  // the balance covers the transfer or the fee, not both
  EXPECT_EQ(CodeOf(r), Code::kInsufficientFunds);
  EXPECT_NE(r.log().find("(the fee was charged)"), std::string::npos) << r.log();
  EXPECT_EQ(Bal(alice_), alice - kFeeMin);
  EXPECT_EQ(LoadSupply(state_, "CNY").burned(), burned + kFeeMin);
  EXPECT_EQ(BalanceOf(LoadAccount(state_, ctx_.proposer), "CNY"), proposer);
  EXPECT_EQ(Nonce(alice_), nonce + 1);
  const Overlay::Writes before = state_.writes();
  EXPECT_EQ(CodeOf(Block(tx)), Code::kNonceReplayed);  // the same bytes again: nothing
  EXPECT_EQ(state_.writes(), before);
  // Admission (the mempool runs ApplyTx on its pending state) refuses a failing tx outright, so an
  // honest user is not charged for a tx that could not succeed when sent.
  Overlay pending(&state_);
  auto checked = CheckTxStateless(
      SignTx(alice_, kChainId, Signed(alice_, MakeTransfer(0, AddrOf(bob_), "CNY", Bal(alice_)), kFeeMin)), kChainId,
      LoadParams(state_), true);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  EXPECT_EQ(ApplyTx(*checked, ctx_, pending, nullptr).code(), Code::kInsufficientFunds);
  EXPECT_TRUE(pending.writes().empty());
  CheckInvariants();
}

// Reading signatures are the expensive part of a batch. A batch none of whose readings is
// accepted fails, so it is refused at admission; when a faulty proposer puts one in a block, its
// signer pays a fee unit for every signature the block had to verify.
TEST_F(CostOfStateTest, AReadingsBatchWithNothingAcceptedFailsAndPaysForItsVerificationsInABlock) {
  At(kT0 + 200);
  constexpr int kN = 8;
  std::vector<pb::MeterReading> forged = Forged(kN, 0);
  const int64_t fee = kFeeMin * (kN + 1);
  const std::string tx = SignTx(bob_, kChainId, Signed(bob_, MakeSubmitReadings(0, forged), fee));
  auto checked = CheckTxStateless(tx, kChainId, LoadParams(state_), true);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  Overlay pending(&state_);
  Status admitted = ApplyTx(*checked, ctx_, pending, nullptr);
  EXPECT_EQ(admitted.code(), Code::kReadingBadSignature);
  EXPECT_NE(admitted.message().find("no reading of the batch was accepted; reading 0:"), std::string::npos)
      << admitted.message();

  const int64_t bob = Bal(bob_);
  const uint64_t verifications = Ed25519Verifications();
  auto r = Block(tx);
  EXPECT_EQ(CodeOf(r), Code::kReadingBadSignature);
  EXPECT_LE(Ed25519Verifications() - verifications, static_cast<uint64_t>(kN + 1));
  EXPECT_EQ(Bal(bob_), bob - fee);  // a fee unit per signature verified
  EXPECT_EQ(LoadMeter(state_, "ev-a")->readings_accepted(), 0);

  // One good reading among forged ones: the batch stands, the rest are listed as rejected.
  forged[0] = Reading("ev-a", 1, kT0 + 10, kT0 + 20, 0, 0);
  auto mixed = Run(bob_, MakeSubmitReadings(0, forged));
  ASSERT_EQ(CodeOf(mixed), Code::kOk) << mixed.log();
  EXPECT_EQ(mixed.rejected_readings_size(), kN - 1);
  CheckInvariants();
}

// At admission (a mempool's check) a refused batch pays nothing, so it may cost at most one
// verification: it stops at its first reading refused after a signature check while nothing is
// accepted. Before, a meter owner's batch of 256 forged readings cost 256 verifications per request
// under the mempool's lock, for free.
TEST_F(CostOfStateTest, AtAdmissionARefusedReadingsBatchCostsOneVerification) {
  At(kT0 + 200);
  constexpr int kN = 16;
  const std::vector<pb::MeterReading> forged = Forged(kN, 7);  // registers unlike any other test's
  const std::string tx = SignTx(bob_, kChainId, Signed(bob_, MakeSubmitReadings(0, forged), kFeeMin * (kN + 1)));
  auto checked = CheckTxStateless(tx, kChainId, LoadParams(state_), true);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  BlockContext admission = ctx_;
  admission.admission = true;
  Overlay pending(&state_);
  const uint64_t verifications = Ed25519Verifications();
  Status st = ApplyTx(*checked, admission, pending, nullptr);
  EXPECT_EQ(Ed25519Verifications() - verifications, 1u);
  EXPECT_EQ(st.code(), Code::kReadingBadSignature);
  EXPECT_NE(st.message().find("reading 0: not signed by the current device key"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("refused at admission"), std::string::npos) << st.message();
  EXPECT_TRUE(pending.writes().empty());

  // Readings refused before their signature check (an unregistered meter) do not stop the batch:
  // a good reading after them is still accepted at admission.
  std::vector<pb::MeterReading> mixed;
  pb::MeterReading stray = Reading("ev-a", 1, kT0 + 10, kT0 + 20, 0, 0);
  stray.set_meter_id("nobody-1");
  SignReading(devices_.at("ev-b"), kChainId, stray);
  mixed.push_back(stray);
  mixed.push_back(Reading("ev-a", 1, kT0 + 10, kT0 + 20, 0, 0));
  auto ok = CheckTxStateless(SignTx(bob_, kChainId, Signed(bob_, MakeSubmitReadings(0, mixed), kFeeMin * 3)), kChainId,
                             LoadParams(state_), true);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  Overlay pending2(&state_);
  EXPECT_TRUE(ApplyTx(*ok, admission, pending2, nullptr).ok());
  CheckInvariants();
}

// The mempool warms a batch's reading signatures before taking its locks (node/mempool.cc), so
// applying the batch under them verifies nothing; a batch of forged readings costs one there too.
TEST_F(CostOfStateTest, WarmingAReadingsBatchVerifiesItOnceAndStopsAtAFirstForgery) {
  At(kT0 + 200);
  std::vector<pb::MeterReading> good;
  for (int i = 0; i < 3; ++i) {
    good.push_back(Reading("ev-a", static_cast<uint64_t>(i + 1), kT0 + 10 * (i + 1), kT0 + 10 * (i + 2), 3 + i, 0));
  }
  const pb::TxBody body = Signed(bob_, MakeSubmitReadings(0, good), kFeeMin * 4);
  uint64_t before = Ed25519Verifications();
  WarmReadingSignatures(body, state_, kChainId);
  EXPECT_EQ(Ed25519Verifications() - before, 3u);
  auto checked = CheckTxStateless(SignTx(bob_, kChainId, body), kChainId, LoadParams(state_), true);
  ASSERT_TRUE(checked.ok()) << checked.status().message();
  before = Ed25519Verifications();
  Overlay pending(&state_);
  BlockContext admission = ctx_;
  admission.admission = true;
  ASSERT_TRUE(ApplyTx(*checked, admission, pending, nullptr).ok());
  EXPECT_EQ(Ed25519Verifications() - before, 0u);  // every verdict was cached

  std::vector<pb::MeterReading> forged = good;
  for (auto& r : forged) {
    r.set_import_wh_total(r.import_wh_total() + 100);
    SignReading(devices_.at("ev-b"), kChainId, r);
  }
  before = Ed25519Verifications();
  WarmReadingSignatures(MakeSubmitReadings(0, forged), state_, kChainId);
  EXPECT_EQ(Ed25519Verifications() - before, 1u);
}

// ---------------------------------------------------------------------------------------------
// Class 3: roles that reached too far. Zones belong to a grid company (genesis `zones`): only it
// sets their tariffs and events. Meters, orders and contracts name known zones only, which bounds
// the number of markets. Pools need the aggregator role.

class ZoneRoleTest : public LedgerFixture {};

TEST_F(ZoneRoleTest, OnlyTheZonesGridCompanySetsItsTariffsAndEvents) {
  // grid2_ is a grid company too, but GD-SZ is grid_'s: before, any grid company could bill
  // another's meters under a tariff of its own.
  const int64_t from = kT0 + 2 * kLen;
  ExpectRejected(grid2_, MakeSetTariff(0, "GD-SZ", from, std::vector<int64_t>(24, 100), 10), Code::kUnauthorized,
                 "set_tariff: zone GD-SZ belongs to grid company " + EncodeAddress(AddrOf(grid_)));
  ExpectRejected(grid2_,
                 MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, "GD-SZ", from, from + kLen, 1000, 10, 10'000, kT0 + kLen,
                                 pb::BASELINE_DECLARED),
                 Code::kUnauthorized, "create_event: zone GD-SZ belongs to grid company");
  ExpectRejected(grid_, MakeSetTariff(0, "GD-FS", from, std::vector<int64_t>(24, 100), 10), Code::kUnauthorized,
                 "belongs to grid company " + EncodeAddress(AddrOf(grid2_)));
  EXPECT_EQ(CodeOf(Run(grid2_, MakeSetTariff(0, "GD-FS", from, std::vector<int64_t>(24, 100), 10))), Code::kOk);
  EXPECT_EQ(CodeOf(Run(grid_, MakeSetTariff(0, "GD-SZ", from, std::vector<int64_t>(24, 100), 10))), Code::kOk);
  EXPECT_TRUE(TariffAt(state_, "GD-SZ", from).has_value());
  EXPECT_EQ(TariffAt(state_, "GD-SZ", from)->grid_company(), AddressBytes(AddrOf(grid_)));
  ExpectRejected(grid_, MakeSetTariff(0, "NOWHERE", from, std::vector<int64_t>(24, 100), 10), Code::kNotFound,
                 "zone 'NOWHERE' is not a zone of this chain");
  CheckInvariants();
}

TEST_F(ZoneRoleTest, MetersOrdersAndContractsNameKnownZonesOnly) {
  // Before, any key could open a market in any zone name it made up: one market record and clearing
  // timer per name and interval, for nothing.
  ExpectRejected(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "MADE-UP-1", kS, 1000, 10), Code::kNotFound,
                 "place_order: zone 'MADE-UP-1' is not a zone of this chain");
  ExpectRejected(alice_, MakeProposeContract(0, AddrOf(bob_), pb::SIDE_BUY, "MADE-UP-2", kS, 1000, 10), Code::kNotFound,
                 "propose_contract: zone 'MADE-UP-2'");
  EXPECT_FALSE(LoadMarket(state_, "MADE-UP-1", kS).has_value());
  ExpectRejected(operator_,
                 MakeRegisterMeter(0, kChainId, AddrOf(operator_), "ev-z", Key(78), pb::METER_KIND_VEHICLE, "MADE-UP-3",
                                   AddrOf(alice_), 7000, 7000, 60000),
                 Code::kNotFound, "register_meter: zone 'MADE-UP-3'");
  EXPECT_EQ(CodeOf(Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 10))), Code::kOk);
  CheckInvariants();
}

TEST_F(ZoneRoleTest, PoolsNeedTheAggregatorRole) {
  // Before, any account could create a pool and lock its members' meters.
  ExpectRejected(alice_, MakeCreatePool(0, "alices-vpp", 100), Code::kUnauthorized,
                 "does not hold the aggregator role needed to create a pool");
  EXPECT_EQ(CodeOf(Run(grid2_, MakeCreatePool(0, "grid2-vpp", 100))), Code::kOk);
  CheckInvariants();
}

// ---------------------------------------------------------------- per-block grid work

// The state as one map, every key and value.
std::map<std::string, std::string> Dump(const KvReader& st) {
  std::map<std::string, std::string> all;
  st.Scan("", [&](std::string_view k, std::string_view v) {
    all.emplace(std::string(k), std::string(v));
    return true;
  });
  return all;
}

// ScanFrom on nested overlays: the base's keys merged with each level's writes (later levels win,
// deletions hide), from the given key on, stopping when asked; the same keys Scan gives.
TEST(OverlayScanFrom, MergesLevelsLikeScanFromTheGivenKey) {
  MemKv base;
  for (const char* k : {"a/1", "a/3", "a/5", "a/7", "b/1"}) base.Put(k, std::string("base") + k);
  Overlay mid(&base);
  mid.Put("a/2", "mid2");
  mid.Delete("a/3");
  mid.Put("a/5", "mid5");
  Overlay top(&mid);
  top.Put("a/3", "top3");
  top.Delete("a/7");
  top.Put("a/8", "top8");
  auto from = [&](std::string_view start, size_t stop_after) {
    std::vector<std::string> out;
    top.ScanFrom("a/", start, /*reverse=*/false, [&](std::string_view k, std::string_view v) {
      out.push_back(std::string(k) + "=" + std::string(v));
      return out.size() < stop_after;
    });
    return out;
  };
  const std::vector<std::string> all = {"a/1=basea/1", "a/2=mid2", "a/3=top3", "a/5=mid5", "a/8=top8"};
  std::vector<std::string> scanned;
  top.Scan("a/", [&](std::string_view k, std::string_view v) {
    scanned.push_back(std::string(k) + "=" + std::string(v));
    return true;
  });
  EXPECT_EQ(scanned, all);
  EXPECT_EQ(from("", 100), all);
  EXPECT_EQ(from("a/2", 100), std::vector<std::string>(all.begin() + 1, all.end()));
  EXPECT_EQ(from(std::string("a/3") + '\0', 100), std::vector<std::string>(all.begin() + 3, all.end()));
  EXPECT_EQ(from("a/4", 1), std::vector<std::string>{"a/5=mid5"});
  EXPECT_EQ(from("a/9", 100), std::vector<std::string>{});
}

class GridWorkTest : public ExtremeValuesTest {
 protected:
  // `n` site meters of `owner` at 20 kW, device seeds from `seed`.
  std::vector<std::string> Meters(const KeyPair& owner, const std::string& name, int n, int seed) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(name + std::to_string(i));
      RegisterKind(ids.back(), static_cast<uint8_t>(seed + i), AddrOf(owner), 20000, "GD-SZ", pb::METER_KIND_SITE);
    }
    return ids;
  }
  // Runs blocks at the current time (1 ms apart) with grid work bound `work_max` on `st` until
  // interval kS is settled; returns the records each block visited.
  std::vector<int64_t> SettleInBlocks(Overlay& st, int64_t work_max, int64_t step_max) {
    const pb::ParamsRecord params = LoadParams(st);
    BlockContext ctx = ctx_;
    std::vector<int64_t> visited;
    while (GridSettledBefore(st) <= kS) {
      if (visited.size() > 10000) {
        ADD_FAILURE() << "grid services did not finish interval " << kS;
        break;
      }
      ++ctx.height;
      RunMarketTimers(ctx, params, st);
      visited.push_back(RunGridTimers(ctx, params, st, work_max));
      ctx.time_ms += 1;
      // Each block within the bound (or one indivisible step: a pool's enrollment), and every
      // balance accounted for mid-interval too (an event being paid holds budget - paid).
      EXPECT_LE(visited.back(), std::max(work_max, step_max));
      // A block that leaves the interval unfinished has moved it on. (The one that finishes it may
      // visit nothing: it only finds that no departure is left.)
      if (GridSettledBefore(st) <= kS) {
        EXPECT_GT(visited.back(), 0);
      }
      EXPECT_TRUE(CheckConservation(st).ok()) << CheckConservation(st).message();
      EXPECT_TRUE(CheckGridEscrow(st).ok()) << CheckGridEscrow(st).message();
    }
    return visited;
  }

  // ---- txs between the blocks of a split pass

  // A block of a split pass: its context, grid work bound and txs (signed bytes).
  struct PassBlock {
    BlockContext ctx;
    int64_t work_max = 0;
    std::vector<std::string> txs;
  };
  // The txs to run in a block, given the state and the cursor its grid part left.
  using TxsAt = std::function<std::vector<std::string>(const Overlay&, const pb::GridCursor&)>;

  static pb::GridCursor Cursor(const KvReader& st) {
    auto v = st.Get("s/grid_cursor");
    V2G_ASSERT(v.has_value());
    return DecodeRecord<pb::GridCursor>(*v);
  }
  // `body` signed by `k` at the nonce after its last one on `st`, plus `ahead`.
  static std::string SignedOn(const KvReader& st, const KeyPair& k, pb::TxBody body, uint64_t ahead = 0) {
    body.set_nonce(LoadAccount(st, AddrOf(k)).nonce() + 1 + ahead);
    return SignTx(k, kChainId, std::move(body));
  }

  // Block `b` on `st` as ExecuteBlock runs a block, but with grid work bound b.work_max
  // (ExecuteBlock's is always kGridWorkPerBlockMax, far more than a test world needs, so no pass
  // would stop part-way): the timers, then each tx through CheckTxStateless and ApplyTx (fee_min
  // is 0 here, so a tx that fails changes nothing, as in ExecuteBlock). With `txs_at` the txs are
  // what it gives for the cursor the block's grid part left, kept in `b` for a replay. Appends
  // the txs' codes to `codes`; checks every balance is accounted for after the block.
  static void RunPassBlock(Overlay& st, PassBlock& b, const TxsAt& txs_at, std::vector<Code>& codes) {
    const pb::ParamsRecord params = LoadParams(st);
    RunMarketTimers(b.ctx, params, st);
    RunGridTimers(b.ctx, params, st, b.work_max);
    if (txs_at) b.txs = txs_at(st, Cursor(st));
    for (const std::string& bytes : b.txs) {
      auto checked = CheckTxStateless(bytes, b.ctx.chain_id, params, /*verify_signature=*/true);
      codes.push_back(checked.ok() ? ApplyTx(*checked, b.ctx, params, st, nullptr).code() : checked.status().code());
    }
    EXPECT_TRUE(CheckConservation(st).ok()) << CheckConservation(st).message();
    EXPECT_TRUE(CheckGridEscrow(st).ok()) << CheckGridEscrow(st).message();
    EXPECT_TRUE(CheckMarketEscrow(st).ok()) << CheckMarketEscrow(st).message();
  }
  // Settles interval kS on state_ in blocks from ctx_ on, with grid work bound `work_max` and the
  // txs `txs_at` gives between the parts. Returns the blocks run, for a replay.
  std::vector<PassBlock> SettleWithTxs(int64_t work_max, const TxsAt& txs_at, std::vector<Code>& codes) {
    std::vector<PassBlock> blocks;
    while (GridSettledBefore(state_) <= kS && blocks.size() < 1000) {
      ++ctx_.height;
      blocks.push_back({ctx_, work_max, {}});
      RunPassBlock(state_, blocks.back(), txs_at, codes);
      ctx_.time_ms += 1;
    }
    EXPECT_GT(GridSettledBefore(state_), kS) << "grid services did not finish interval " << kS;
    return blocks;
  }
  // A replica running the same blocks from `start` reaches state_ byte for byte, with the same
  // codes: what the txs between the parts do is deterministic.
  void ExpectReplayReachesTheSameState(const Overlay& start, std::vector<PassBlock> blocks,
                                       const std::vector<Code>& codes) {
    Overlay replica = start;
    std::vector<Code> again;
    for (PassBlock& b : blocks) RunPassBlock(replica, b, nullptr, again);
    EXPECT_EQ(again, codes);
    EXPECT_TRUE(Dump(replica) == Dump(state_));
  }
  // What program `id` has paid each member so far.
  std::map<std::string, int64_t> MemberPaid(uint64_t id) const {
    std::map<std::string, int64_t> out;
    for (const auto& m : LoadProgramMembers(state_, id)) out[m.meter_id()] = m.paid();
    return out;
  }
};

// Events (a declared-baseline peak relief over budget, so paid pro rata; a reverse discharge with
// a pool), tariffs with feed-in and a debt, three kinds of program and a pool departure, all in
// interval kS: settled with work bounds of 1, 2 and 7 records per block, every key and value of the
// state afterwards is what one unbounded pass leaves, and conservation holds after every block.
TEST_F(GridWorkTest, SettlingAcrossBlocksGivesTheSameStateAsOnePassForAnyBound) {
  const std::vector<std::string> a = Meters(alice_, "a", 4, 60);
  const std::vector<std::string> b = Meters(bob_, "b", 2, 70);
  const std::vector<std::string> c = Meters(carol_, "c", 2, 80);  // carol holds 3 CNY: a debt
  const uint64_t pool = Ok(operator_, MakeCreatePool(0, "vpp", 1000));
  Ok(alice_, MakeJoinPool(0, pool, a[0]));
  Ok(bob_, MakeJoinPool(0, pool, b[0]));
  Ok(grid_, MakeSetTariff(0, "GD-SZ", kS, std::vector<int64_t>(24, 100), 40));
  for (const auto& [k, m] : std::vector<std::pair<const KeyPair*, std::string>>{
           {&alice_, a[1]}, {&alice_, a[2]}, {&alice_, a[3]}, {&bob_, b[1]}, {&carol_, c[0]}, {&carol_, c[1]}}) {
    Ok(*k, MakeEnrollTariff(0, m));
  }
  const uint64_t peak = Ok(grid_, MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, "GD-SZ", kS, kS + kLen, 100000, 200, 700,
                                                  kS - kLen, pb::BASELINE_DECLARED));
  const uint64_t discharge = Ok(grid_, MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "GD-SZ", kS, kS + kLen, 100000,
                                                       300, 100000, kS - kLen, pb::BASELINE_UNSPECIFIED));
  Ok(alice_, MakeEnrollEvent(0, peak, a[1], 20000, 4000));
  Ok(carol_, MakeEnrollEvent(0, peak, c[0], 20000, 4000));
  Ok(alice_, MakeEnrollEvent(0, discharge, a[2], 20000));
  Ok(alice_, MakeEnrollEvent(0, discharge, a[3], 20000));
  Ok(bob_, MakeEnrollEvent(0, discharge, b[1], 20000));
  Ok(operator_, MakeEnrollEvent(0, discharge, "", 30000, 0, pool));
  const uint64_t discount = Ok(operator_, MakeCreateProgram(0, pb::PROGRAM_CHARGING_DISCOUNT, "CNY", 5000, 0, "GD-SZ",
                                                            300, kS + 4 * kLen));
  const uint64_t points = Ok(operator_, MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS", 10, 0, "GD-SZ", 1'000'000,
                                                          kS + 4 * kLen));
  const uint64_t subsidy = Ok(operator_, MakeCreateProgram(0, pb::PROGRAM_DISCHARGE_SUBSIDY, "CNY", 50, 0, "GD-SZ", 200,
                                                           kS + 4 * kLen));
  for (const auto& [k, m] : std::vector<std::pair<const KeyPair*, std::string>>{
           {&alice_, a[1]}, {&alice_, a[2]}, {&carol_, c[0]}, {&carol_, c[1]}}) {
    Ok(*k, MakeJoinProgram(0, discount, m));
  }
  for (const auto& [k, m] : std::vector<std::pair<const KeyPair*, std::string>>{
           {&alice_, a[2]}, {&alice_, a[3]}, {&bob_, b[1]}, {&alice_, a[1]}}) {
    Ok(*k, MakeJoinProgram(0, points, m));
    Ok(*k, MakeJoinProgram(0, subsidy, m));
  }
  Ok(alice_, MakeLeavePool(0, pool, a[0]));  // leaves once the pool's event has settled
  At(kS + kLen);
  AttestOwn(a[0], kS, 0, 3000);
  AttestOwn(b[0], kS, 0, 2000);
  AttestOwn(a[1], kS, 1000, 0);  // 3,000 Wh under its declared 4,000
  AttestOwn(c[0], kS, 2000, 0);
  AttestOwn(c[1], kS, 4000, 0);
  AttestOwn(a[2], kS, 0, 4000);
  AttestOwn(a[3], kS, 500, 1000);
  AttestOwn(b[1], kS, 0, 2500);
  At(kS + kLen + kGrace);  // interval kS falls due
  ASSERT_EQ(GridSettledBefore(state_), kS);
  CheckInvariants();

  const Overlay start = state_;
  Overlay one_pass = start;
  const std::vector<int64_t> once = SettleInBlocks(one_pass, std::numeric_limits<int64_t>::max(), 0);
  ASSERT_EQ(once.size(), 1u);
  const std::map<std::string, std::string> expected = Dump(one_pass);
  // Not vacuous: every part of the pass did something.
  EXPECT_EQ(LoadEvent(one_pass, peak)->status(), pb::EVENT_SETTLED);
  EXPECT_GT(LoadEvent(one_pass, peak)->owed(), LoadEvent(one_pass, peak)->budget());  // paid pro rata
  EXPECT_GT(LoadEvent(one_pass, discharge)->paid(), 0);
  EXPECT_GT(LoadProgram(one_pass, discount)->paid(), 0);
  EXPECT_GT(LoadProgram(one_pass, points)->paid(), 0);
  EXPECT_EQ(LoadProgram(one_pass, subsidy)->status(), pb::PROGRAM_CLOSED);  // its budget ran out mid-members
  EXPECT_FALSE(LoadDebts(one_pass, AddrOf(carol_)).empty());
  EXPECT_EQ(LoadPool(one_pass, pool)->members(), 1u);
  EXPECT_EQ(LoadPool(start, pool)->members(), 2u);
  for (int64_t work_max : {1, 2, 7}) {
    SCOPED_TRACE("work_max " + std::to_string(work_max));
    Overlay st = start;
    // A pool's enrollment is one step of 1 + its 2 members.
    const std::vector<int64_t> visited = SettleInBlocks(st, work_max, 3);
    EXPECT_GT(visited.size(), 1u);
    const std::map<std::string, std::string> got = Dump(st);
    EXPECT_EQ(got.size(), expected.size());
    for (const auto& [k, v] : expected) {
      auto it = got.find(k);
      if (it == got.end()) {
        ADD_FAILURE() << "missing key " << k;
      } else if (it->second != v) {
        ADD_FAILURE() << "key " << k << " differs";
      }
    }
    EXPECT_TRUE(got == expected);
  }
}

// The attack: an event, the tariff and a program each with N enrollments or members. One
// unbounded pass visits all 4N + 2 records in one block (what every block did before the bound);
// with a bound of 7 each block visits at most 7 and the interval settles after ceil((4N + 2) / 7)
// blocks, with conservation throughout and the results of the one pass.
TEST_F(GridWorkTest, ManyEnrollmentsSettleWithinTheBoundPerBlock) {
  constexpr int kN = 60;
  const std::vector<std::string> ms = Meters(alice_, "m", kN, 150);
  Ok(grid_, MakeSetTariff(0, "GD-SZ", kS, std::vector<int64_t>(24, 100), 0));
  const uint64_t ev = Ok(grid_, MakeCreateEvent(0, pb::EVENT_PEAK_RELIEF, "GD-SZ", kS, kS + kLen, 100000, 200, 1000,
                                                kS - kLen, pb::BASELINE_DECLARED));
  const uint64_t prog = Ok(operator_, MakeCreateProgram(0, pb::PROGRAM_REWARD_POINTS, "PTS", 10, 0, "GD-SZ", 1000,
                                                        kS + 4 * kLen));
  for (const auto& m : ms) {
    Ok(alice_, MakeEnrollTariff(0, m));
    Ok(alice_, MakeEnrollEvent(0, ev, m, 20000, 1000));
    Ok(alice_, MakeJoinProgram(0, prog, m));
  }
  Tick(kS + kLen);  // the intervals before kS settle
  At(kS + kLen + kGrace);
  ASSERT_EQ(GridSettledBefore(state_), kS);
  constexpr int64_t kRecords = 4 * kN + 2;  // event + measure N + pay N, tariffs N, program + N members

  Overlay one_pass = state_;
  const std::vector<int64_t> once = SettleInBlocks(one_pass, std::numeric_limits<int64_t>::max(), 0);
  ASSERT_EQ(once.size(), 1u);
  EXPECT_EQ(once[0], kRecords);

  constexpr int64_t kWork = 7;
  Overlay st = state_;
  const std::vector<int64_t> visited = SettleInBlocks(st, kWork, kWork);
  EXPECT_EQ(static_cast<int64_t>(visited.size()), (kRecords + kWork - 1) / kWork);
  int64_t total = 0;
  for (int64_t v : visited) total += v;
  EXPECT_EQ(total, kRecords);
  EXPECT_EQ(LoadEvent(st, ev)->status(), pb::EVENT_SETTLED);
  EXPECT_TRUE(Dump(st) == Dump(one_pass));
  // Until the last block the interval is not settled: transfers and statements treat it as open.
  Overlay partial = state_;
  const pb::ParamsRecord params = LoadParams(partial);
  EXPECT_EQ(RunGridTimers(ctx_, params, partial, kWork), kWork);
  EXPECT_EQ(GridSettledBefore(partial), kS);
}

// The rule (docs/DESIGN.md, "Executing a block"): a program member who joins between the parts of
// interval I's pass is paid for I if the pass has not reached its record yet (an earlier phase, or
// its key sorts after the cursor's in the program being paid), as one who joined before I's
// settlement block always was; otherwise from the next interval. Six meters billed 100 each in
// kS under a charging discount of 50 %; m0, m2, m4 members from the start. Bound 1: m3 joins while
// the tariffs are being billed (paid), m1 and m5 once the programs phase has paid m2 (m1 sorts
// before the cursor: not paid for kS; m5 after it: paid).
TEST_F(GridWorkTest, AMeterJoiningAProgramMidPassIsPaidForTheIntervalIfThePassHasNotReachedIt) {
  const std::vector<std::string> m = Meters(alice_, "m", 6, 60);
  Ok(grid_, MakeSetTariff(0, "GD-SZ", kS, std::vector<int64_t>(24, 100), 0));
  for (const auto& id : m) Ok(alice_, MakeEnrollTariff(0, id));
  const uint64_t prog = Ok(operator_, MakeCreateProgram(0, pb::PROGRAM_CHARGING_DISCOUNT, "CNY", 5000, 0, "GD-SZ",
                                                        10'000, kS + 4 * kLen));
  for (const char* id : {"m0", "m2", "m4"}) Ok(alice_, MakeJoinProgram(0, prog, id));
  At(kS + kLen);
  for (const auto& id : m) AttestOwn(id, kS, 1000, 0);  // 1 kWh at 100 a kWh: billed 100 each
  At(kS + kLen + kGrace);
  ASSERT_EQ(GridSettledBefore(state_), kS);
  const Overlay start = state_;
  const int64_t alice0 = Bal(alice_), operator0 = Bal(operator_);

  std::vector<Code> codes;
  const auto blocks = SettleWithTxs(1, [&](const Overlay& st, const pb::GridCursor& c) -> std::vector<std::string> {
    if (c.phase() == pb::GRID_PHASE_TARIFFS && c.after() == "m0") {
      return {SignedOn(st, alice_, MakeJoinProgram(0, prog, "m3"))};
    }
    if (c.phase() == pb::GRID_PHASE_PROGRAMS && c.id() == prog && c.after() == "m2") {
      return {SignedOn(st, alice_, MakeJoinProgram(0, prog, "m1")),
              SignedOn(st, alice_, MakeJoinProgram(0, prog, "m5"), 1)};
    }
    return {};
  }, codes);
  ASSERT_EQ(codes, (std::vector<Code>{Code::kOk, Code::kOk, Code::kOk}));
  EXPECT_GT(blocks.size(), 10u);
  EXPECT_EQ(MemberPaid(prog),
            (std::map<std::string, int64_t>{{"m0", 50}, {"m1", 0}, {"m2", 50}, {"m3", 50}, {"m4", 50}, {"m5", 50}}));
  EXPECT_EQ(LoadProgram(state_, prog)->paid(), 250);
  EXPECT_EQ(LoadProgram(state_, prog)->remaining(), 10'000 - 250);
  EXPECT_EQ(Bal(alice_), alice0 - 600 + 250);  // every Wh billed once, each discount paid once
  EXPECT_EQ(Bal(operator_), operator0);         // paid from the escrowed budget
  const pb::StatementEntry s = LoadStatement(state_, AddrOf(alice_), kS, kS + kLen);
  EXPECT_EQ(s.tariff_charge(), 600);
  EXPECT_EQ(s.subsidy(), 250);
  ExpectReplayReachesTheSameState(start, blocks, codes);

  // m1 is paid from the next interval on.
  At(kS + 2 * kLen);
  AttestOwn("m1", kS + kLen, 1000, 0);
  SettleThrough(kS + 2 * kLen + kGrace);
  EXPECT_EQ(MemberPaid(prog).at("m1"), 50);
  EXPECT_EQ(LoadProgram(state_, prog)->paid(), 300);
  CheckInvariants();
}

// The rule: a bill the pass has not made yet is paid from the balance at the time it is made.
// carol (3 CNY) has two meters billed 200 and 400 in kS. Bound 1: c0's bill takes her 3 and leaves
// a debt of 197; in that block alice sends her 1,000 and she pays the debt; c1's bill in the next
// block is paid from what is left. The money ends where one pass followed by the same txs leaves
// it; only how much of the bills turned into debt on the way differs.
TEST_F(GridWorkTest, ADebtPaidMidPassAndTheBillsNotYetMadeArePaidFromTheBalanceThen) {
  const std::vector<std::string> c = Meters(carol_, "c", 2, 80);
  Ok(grid_, MakeSetTariff(0, "GD-SZ", kS, std::vector<int64_t>(24, 100), 0));
  for (const auto& id : c) Ok(carol_, MakeEnrollTariff(0, id));
  At(kS + kLen);
  AttestOwn(c[0], kS, 2000, 0);
  AttestOwn(c[1], kS, 4000, 0);
  At(kS + kLen + kGrace);
  ASSERT_EQ(GridSettledBefore(state_), kS);
  ASSERT_EQ(Bal(carol_), 3);
  const Overlay start = state_;
  const int64_t alice0 = Bal(alice_), grid0 = Bal(grid_);

  std::vector<Code> codes;
  std::vector<std::string> mid;  // the txs run between the parts
  const auto blocks = SettleWithTxs(1, [&](const Overlay& st, const pb::GridCursor& cur) -> std::vector<std::string> {
    if (cur.phase() != pb::GRID_PHASE_TARIFFS || cur.after() != c[0]) return {};
    const auto debts = LoadDebts(st, AddrOf(carol_));
    EXPECT_EQ(debts.size(), 1u);
    EXPECT_EQ(debts.empty() ? 0 : debts[0].second.amount(), 197);
    mid = {SignedOn(st, alice_, MakeTransfer(0, AddrOf(carol_), "CNY", 1000)),
           SignedOn(st, carol_, MakePayDebt(0, "CNY"))};
    return mid;
  }, codes);
  ASSERT_EQ(codes, (std::vector<Code>{Code::kOk, Code::kOk}));
  EXPECT_TRUE(LoadDebts(state_, AddrOf(carol_)).empty());
  EXPECT_EQ(Bal(carol_), 3 + 1000 - 600);
  EXPECT_EQ(Bal(alice_), alice0 - 1000);
  EXPECT_EQ(Bal(grid_), grid0 + 600);  // both bills collected in full
  EXPECT_EQ(LoadStatement(state_, AddrOf(carol_), kS, kS + kLen).tariff_charge(), 600);
  EXPECT_EQ(LoadStatement(state_, AddrOf(carol_), kS, kS + kLen).debt_incurred(), 197);
  ExpectReplayReachesTheSameState(start, blocks, codes);

  // One unbounded pass, then the same txs: the same balances and no debt left.
  Overlay one = start;
  std::vector<Code> one_codes;
  PassBlock whole{blocks.front().ctx, std::numeric_limits<int64_t>::max(), {}};
  RunPassBlock(one, whole, nullptr, one_codes);
  PassBlock after{blocks.back().ctx, std::numeric_limits<int64_t>::max(), mid};
  RunPassBlock(one, after, nullptr, one_codes);
  EXPECT_EQ(one_codes, codes);
  EXPECT_TRUE(LoadDebts(one, AddrOf(carol_)).empty());
  for (const KeyPair* k : {&alice_, &carol_, &grid_}) {
    EXPECT_EQ(BalanceOf(LoadAccount(one, AddrOf(*k)), "CNY"), Bal(*k));
  }
  EXPECT_EQ(LoadStatement(one, AddrOf(carol_), kS, kS + kLen).debt_incurred(), 597);
  CheckInvariants();
}

// The rule: until the pass of I completes, I is not settled, so a meter with attested energy in I
// cannot change owner (its bill, feed-in and program pay for I are the old owner's), even once its
// own record has been done. Bound 1: in the block that billed a0, alice's transfer of a0 to carol
// is refused (meter_busy) and changes nothing; a2, which attested nothing in kS, moves, and its
// program membership with it. Once the pass completes a0 moves too, with I's bill and discount
// left with alice.
TEST_F(GridWorkTest, AMeterWithEnergyInTheIntervalCannotChangeOwnerMidPass) {
  const std::vector<std::string> a = Meters(alice_, "a", 3, 60);
  Ok(grid_, MakeSetTariff(0, "GD-SZ", kS, std::vector<int64_t>(24, 100), 0));
  for (const auto& id : a) Ok(alice_, MakeEnrollTariff(0, id));
  const uint64_t prog = Ok(operator_, MakeCreateProgram(0, pb::PROGRAM_CHARGING_DISCOUNT, "CNY", 5000, 0, "GD-SZ",
                                                        10'000, kS + 4 * kLen));
  Ok(alice_, MakeJoinProgram(0, prog, a[0]));
  Ok(alice_, MakeJoinProgram(0, prog, a[2]));
  At(kS + kLen);
  AttestOwn(a[0], kS, 1000, 0);  // billed 100, discounted 50
  AttestOwn(a[1], kS, 3000, 0);  // billed 300
  At(kS + kLen + kGrace);
  ASSERT_EQ(GridSettledBefore(state_), kS);
  const Overlay start = state_;
  const int64_t alice0 = Bal(alice_), carol0 = Bal(carol_);

  std::vector<Code> codes;
  Status refusal;
  const auto blocks = SettleWithTxs(1, [&](const Overlay& st, const pb::GridCursor& cur) -> std::vector<std::string> {
    if (cur.phase() != pb::GRID_PHASE_TARIFFS || cur.after() != a[0]) return {};
    // The refused transfer uses no nonce (no fee), so the next tx takes the same one.
    const uint64_t nonce = LoadAccount(st, AddrOf(alice_)).nonce() + 1;
    std::vector<std::string> txs = {
        SignTx(alice_, kChainId, MakeTransferMeter(nonce, kChainId, a[0], AddrOf(alice_), carol_)),
        SignTx(alice_, kChainId, MakeTransferMeter(nonce, kChainId, a[2], AddrOf(alice_), carol_))};
    // What the refusal says (on a scratch overlay: the block runs the tx itself next).
    Overlay probe(&st);
    auto checked = CheckTxStateless(txs[0], kChainId, LoadParams(st), true);
    EXPECT_TRUE(checked.ok());
    if (checked.ok()) refusal = ApplyTx(*checked, ctx_, probe, nullptr);
    return txs;
  }, codes);
  EXPECT_EQ(refusal.code(), Code::kMeterBusy);
  EXPECT_NE(refusal.message().find("readings for the interval starting " + FormatRfc3339Ms(kS * 1000) + " not yet settled"),
            std::string::npos)
      << refusal.message();
  ASSERT_EQ(codes, (std::vector<Code>{Code::kMeterBusy, Code::kOk}));
  EXPECT_EQ(LoadMeter(state_, a[0])->owner(), AddressBytes(AddrOf(alice_)));
  EXPECT_EQ(LoadMeter(state_, a[2])->owner(), AddressBytes(AddrOf(carol_)));
  EXPECT_EQ(Bal(alice_), alice0 - 100 - 300 + 50);
  EXPECT_EQ(Bal(carol_), carol0);  // a2 attested nothing in kS: nothing billed or paid
  for (const auto& mem : LoadProgramMembers(state_, prog)) {
    EXPECT_EQ(mem.owner(), AddressBytes(AddrOf(mem.meter_id() == a[2] ? carol_ : alice_))) << mem.meter_id();
  }
  ExpectReplayReachesTheSameState(start, blocks, codes);

  // Settled: a0 moves now.
  const uint64_t nonce = LoadAccount(state_, AddrOf(alice_)).nonce() + 1;
  auto r = Run(alice_, MakeTransferMeter(nonce, kChainId, a[0], AddrOf(alice_), carol_));
  ASSERT_EQ(CodeOf(r), Code::kOk) << r.log();
  EXPECT_EQ(LoadMeter(state_, a[0])->owner(), AddressBytes(AddrOf(carol_)));
  EXPECT_EQ(LoadStatement(state_, AddrOf(alice_), kS, kS + kLen).tariff_charge(), 400);
  EXPECT_EQ(LoadStatement(state_, AddrOf(carol_), kS, kS + kLen).tariff_charge(), 0);
  CheckInvariants();
}

}  // namespace
}  // namespace v2g
