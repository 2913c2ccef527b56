#include "contracts/market.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "contracts/escrow.h"
#include "contracts/grid.h"
#include "contracts/meters.h"
#include "contracts/pools.h"
#include "contracts/state.h"

namespace v2g {
namespace {

constexpr std::string_view kOrderIndexPrefix = "s/mkt_o/";
constexpr std::string_view kContractIndexPrefix = "s/mkt_c/";
constexpr std::string_view kCommitmentPrefix = "s/mkt_m/";
constexpr std::string_view kSeqKey = "s/mkt_seq";
constexpr char kTimerClear = 1;
constexpr char kTimerSettle = 2;

std::string Num(int64_t v) { return std::to_string(v); }
std::string UNum(uint64_t v) { return std::to_string(v); }

void AppendBe32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t ReadBe32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  return v;
}

std::string ZoneIntervalKey(std::string_view prefix, std::string_view zone, int64_t interval_start_s) {
  std::string k(prefix);
  k += zone;
  k += '/';
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  return k;
}

std::string TradeKey(std::string_view zone, int64_t interval_start_s, uint32_t index) {
  std::string k = ZoneIntervalKey(kTradePrefix, zone, interval_start_s);
  AppendBe32(k, index);
  return k;
}

std::string CommitmentKey(std::string_view meter_id, int64_t interval_start_s) {
  return ZoneIntervalKey(kCommitmentPrefix, meter_id, interval_start_s);
}

std::string TimerKey(int64_t due_s, char kind, std::string_view zone, int64_t interval_start_s) {
  std::string k(kMarketTimerPrefix);
  AppendBigEndian64(k, static_cast<uint64_t>(due_s));
  k.push_back(kind);
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  k += zone;
  return k;
}

std::string AccountOrderKey(const Address& a, uint64_t id) {
  std::string k = AccountOrdersPrefix(a);
  AppendBigEndian64(k, id);
  return k;
}

std::string AccountTradeKey(const Address& a, std::string_view zone, int64_t interval_start_s, uint32_t index) {
  std::string k = AccountTradesPrefix(a);
  AppendBigEndian64(k, static_cast<uint64_t>(interval_start_s));
  AppendBe32(k, index);
  k += zone;
  return k;
}


void StoreMarket(Overlay& st, const pb::MarketRecord& m) {
  st.Put(MarketKey(m.zone(), m.interval_start_s()), Encode(m));
}
void StoreOrder(Overlay& st, const pb::OrderRecord& o) { st.Put(OrderKey(o.id()), Encode(o)); }
void StoreContract(Overlay& st, const pb::ContractRecord& c) { st.Put(ContractKey(c.id()), Encode(c)); }

int64_t LoadCommitment(const KvReader& st, std::string_view meter_id, int64_t interval_start_s) {
  auto v = st.Get(CommitmentKey(meter_id, interval_start_s));
  if (!v) return 0;
  return DecodeRecord<pb::MeterCommitment>(*v).committed_wh();
}

void StoreCommitment(Overlay& st, std::string_view meter_id, int64_t interval_start_s, int64_t wh) {
  V2G_ASSERT(wh >= 0);
  if (wh == 0) {
    st.Delete(CommitmentKey(meter_id, interval_start_s));
    return;
  }
  pb::MeterCommitment c;
  c.set_committed_wh(wh);
  st.Put(CommitmentKey(meter_id, interval_start_s), Encode(c));
}


// The market's funds: everything locked moves between accounts and the market module account in
// the market denomination.
class Funds {
 public:
  Funds(Overlay& st, std::string denom, const Address* signer, pb::AccountRecord* signer_rec)
      : denom_(std::move(denom)), funds_(st, MarketModuleAddress(), signer, signer_rec) {}
  const std::string& denom() const { return denom_; }
  // `purpose` says what it is for in a refusal ("of collateral for this sell").
  Status Lock(const Address& from, int64_t amount, std::string_view purpose) {
    return funds_.Lock(from, denom_, amount, purpose);
  }
  void Release(const Address& to, int64_t amount) { funds_.Release(to, denom_, amount); }
  // Release() to many payees with one read and write of the module account (clearing refunds
  // every order of a market); the resulting state is the same.
  void ReleaseEach(const std::map<Address, int64_t>& amounts) { funds_.ReleaseEach(denom_, amounts); }

 private:
  std::string denom_;
  ModuleFunds funds_;
};

// ------------------------------------------------------------------ stateless checks

Status CheckSide(std::string_view what, pb::Side side) {
  if (side != pb::SIDE_BUY && side != pb::SIDE_SELL) return Error(Code::kInvalidArgument, std::string(what) + " side must be buy or sell");
  return Status::Ok();
}

Status CheckZoneField(std::string_view what, std::string_view zone) {
  if (!ValidZone(zone)) return Error(Code::kInvalidArgument, std::string(what) + " zone must be 1-32 of A-Z a-z 0-9 . _ -");
  return Status::Ok();
}

// Energy and price in range and their product (the escrow) inside int64.
Status CheckEnergyPrice(std::string_view what, int64_t energy_wh, int64_t price, std::string_view price_name,
                        const std::string& denom) {
  if (energy_wh <= 0 || energy_wh > limits::kOrderEnergyWhMax) {
    return Error(Code::kInvalidArgument, std::string(what) + " energy_wh must be 1.." + Num(limits::kOrderEnergyWhMax) +
                                             ", got " + Num(energy_wh));
  }
  if (price <= 0 || price > limits::kOrderPriceMax) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " " + std::string(price_name) +
                                              " must be from {min} to {max} per kWh, got {price}")
                                             .Amount("min", denom, 1)
                                             .Amount("max", denom, limits::kOrderPriceMax)
                                             .Amount("price", denom, price));
  }
  if (!EnergyValueBps(energy_wh, price, limits::kBpsMax)) {
    return Error(Code::kOverflow, Text(std::string(what) + ": " + Num(energy_wh) + " Wh at {price} per kWh overflows a 64-bit amount")
                                     .Amount("price", denom, price));
  }
  // An order worth nothing would lock nothing: free to place by the thousand.
  if (*EnergyValue(energy_wh, price) < 1) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + ": " + Num(energy_wh) +
                                              " Wh at {price} per kWh is worth less than {one}")
                                             .Amount("price", denom, price)
                                             .Amount("one", denom, 1));
  }
  return Status::Ok();
}

Status CheckMeterField(std::string_view what, pb::Side side, std::string_view meter_id, bool seller_names_meter) {
  if (side == pb::SIDE_SELL && seller_names_meter) {
    if (!ValidMeterId(meter_id)) {
      return Error(Code::kInvalidArgument, std::string(what) + ": a sell must name the meter that delivers (1-64 of A-Z a-z 0-9 . _ : -)");
    }
  } else if (!meter_id.empty()) {
    return Error(Code::kInvalidArgument, std::string(what) + ": only the selling side names a meter");
  }
  return Status::Ok();
}

Status CheckIntervalField(std::string_view what, int64_t interval_start_s) {
  if (interval_start_s <= 0 || interval_start_s > (int64_t{1} << 40)) {
    return Error(Code::kInvalidArgument, Text(std::string(what) + " interval start must be after 1970 and before {max}, got {start}")
                                             .Time("max", int64_t{1} << 40)
                                             .Time("start", interval_start_s));
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ stateful checks

Status RequireMarketEnabled(const pb::ParamsRecord& params) {
  if (params.market_denom().empty() || params.settlement_interval_s() <= 0) {
    return Error(Code::kMarketDisabled, "this chain has no energy market (genesis params.market_denom is empty)");
  }
  return Status::Ok();
}

// A refusal of an interval's trading window, in words: when orders for the interval starting
// `start_s` `verb` ("closed", "open") at `edge_s`, `lead_s` before it, the block time, and which
// interval to try `instead` (one that is open now).
Status WindowRefusal(Code code, int64_t start_s, const char* verb, int64_t edge_s, int64_t lead_s, int64_t now_s,
                     const char* instead, int64_t instead_s) {
  return Error(code, Text(std::string("orders for the interval starting {start} ") + verb + " at {edge}, " +
                          DurationWords(lead_s) + " before it (block time {now}); " + instead + " {instead}")
                         .Time("start", start_s)
                         .Time("edge", edge_s)
                         .Time("now", now_s)
                         .Time("instead", instead_s));
}

// Orders and contracts for `interval_start_s` are accepted now: aligned, open, before gate closure.
Status RequireTradingWindow(const BlockContext& ctx, const pb::ParamsRecord& params, int64_t interval_start_s) {
  const int64_t len = params.settlement_interval_s();
  if (interval_start_s % len != 0) {
    return Error(Code::kInvalidArgument,
                 Text("interval start {start} is not aligned to the " + DurationWords(len) +
                      " delivery intervals (the interval holding it starts at {earlier})")
                     .Time("start", interval_start_s)
                     .Time("earlier", interval_start_s - interval_start_s % len));
  }
  const int64_t now_s = ctx.time_ms / 1000;
  const int64_t gate_s = interval_start_s - params.market_gate_closure_s();
  if (ctx.time_ms >= gate_s * 1000) {
    // The first interval whose gate is still open: start - gate closure > now, on the grid.
    const int64_t first = now_s + 1 + params.market_gate_closure_s();
    const int64_t next_s = (first + len - 1) / len * len;
    return WindowRefusal(Code::kGateClosed, interval_start_s, "closed", gate_s, params.market_gate_closure_s(), now_s,
                         "the next interval still open starts at", next_s);
  }
  const int64_t open_s = interval_start_s - params.market_horizon_s();
  if (ctx.time_ms < open_s * 1000) {
    // The latest interval open now: start - horizon <= now, on the grid.
    const int64_t latest_s = (now_s + params.market_horizon_s()) / len * len;
    return WindowRefusal(Code::kMarketNotOpen, interval_start_s, "open", open_s, params.market_horizon_s(), now_s,
                         "the latest interval open now starts at", latest_s);
  }
  return Status::Ok();
}

// The meter a seller delivers from: registered, active, owned by `seller`, in `zone`, able to export.
Result<pb::MeterRecord> RequireSellerMeter(const KvReader& st, std::string_view meter_id, const Address& seller,
                                           std::string_view zone) {
  auto m = RequireOwnedMeter(st, meter_id, seller);
  if (!m.ok()) return m.status();
  if (m->zone() != zone) {
    return Error(Code::kInvalidArgument, "meter '" + std::string(meter_id) + "' is in zone " + m->zone() + ", not " +
                                             std::string(zone));
  }
  if (m->max_export_w() <= 0) return Error(Code::kMeterCapacity, "meter '" + std::string(meter_id) + "' cannot export");
  V2G_RETURN_IF_ERROR(RequireNotPooled(st, meter_id));
  // A seller in debt sells nothing, by order or by contract, until the bills are paid.
  if (HasDebt(st, seller)) {
    return Error(Code::kInDebt, EncodeAddress(seller) + " has unpaid tariff bills; pay them (PayDebt) before selling");
  }
  return *m;
}

// Adds `energy_wh` to what `key` (a meter, or a pool's PoolObligationKey) has promised for the
// interval, within `cap_wh`; `who` names it in the error.
Status CommitEnergy(Overlay& st, const std::string& key, const std::string& who, int64_t cap_wh,
                    int64_t interval_start_s, int64_t energy_wh) {
  const int64_t offered_wh = LoadCommitment(st, key, interval_start_s);
  if (energy_wh > cap_wh - offered_wh) {
    return Error(Code::kMeterCapacity, Text(who + " can export at most " + Num(cap_wh) +
                                            " Wh in the interval starting {start}; " + Num(offered_wh) +
                                            " Wh are already offered, " + Num(energy_wh) + " more asked")
                                           .Time("start", interval_start_s));
  }
  StoreCommitment(st, key, interval_start_s, offered_wh + energy_wh);
  return Status::Ok();
}

// A meter's commitment, within its max export power x interval length.
Status Commit(Overlay& st, const pb::MeterRecord& m, int64_t interval_start_s, int64_t energy_wh,
              const pb::ParamsRecord& params) {
  const int64_t cap = m.max_export_w() * params.settlement_interval_s() / 3600;
  return CommitEnergy(st, m.meter_id(),
                      "meter '" + m.meter_id() + "' (" + Num(m.max_export_w()) + " W x " +
                          Num(params.settlement_interval_s()) + " s)",
                      cap, interval_start_s, energy_wh);
}

// Where an order's promised energy is counted: its meter, or its pool.
std::string CommitKeyOf(const pb::OrderRecord& o) { return o.pool_id() ? PoolObligationKey(o.pool_id()) : o.meter_id(); }

void Uncommit(Overlay& st, std::string_view meter_id, int64_t interval_start_s, int64_t energy_wh) {
  const int64_t have = LoadCommitment(st, meter_id, interval_start_s);
  V2G_ASSERT(have >= energy_wh);
  StoreCommitment(st, meter_id, interval_start_s, have - energy_wh);
}

// The market record, created (with its clearing timer) on first use.
pb::MarketRecord EnsureMarket(Overlay& st, const pb::ParamsRecord& params, std::string_view zone, int64_t interval_start_s) {
  if (auto m = LoadMarket(st, zone, interval_start_s)) return *m;
  pb::MarketRecord m;
  m.set_zone(std::string(zone));
  m.set_interval_start_s(interval_start_s);
  m.set_status(pb::MARKET_OPEN);
  st.Put(TimerKey(interval_start_s - params.market_gate_closure_s(), kTimerClear, zone, interval_start_s), "");
  return m;
}

// ------------------------------------------------------------------ ops

// Orders and contract proposals ever made in `m` (what its clearing and settlement load).
int64_t MarketSize(const pb::MarketRecord& m) {
  return static_cast<int64_t>(m.buy_orders()) + m.sell_orders() + m.contracts();
}

// Orders and contract proposals together, at most kOrdersPerMarketMax per market: clearing and
// settlement load them all in one block (a proposal locks nothing, so without the cap a key with
// no balance could make one market's clearing as large as it liked).
Status RequireMarketRoom(const pb::MarketRecord& market) {
  if (MarketSize(market) >= limits::kOrdersPerMarketMax) {
    return Error(Code::kTooLarge, Text("the market of zone " + market.zone() + " for the interval starting {start} holds the maximum of " +
                                      Num(limits::kOrdersPerMarketMax) + " orders and contract proposals")
                                     .Time("start", market.interval_start_s()));
  }
  return Status::Ok();
}

// A known zone whose market governance has not suspended (contracts/gov.h MarketSuspension).
Status RequireOpenZone(const KvReader& st, std::string_view zone, std::string_view what) {
  auto z = RequireZone(st, zone, what);
  if (!z.ok()) return z.status();
  if (z->market_suspended()) {
    return Error(Code::kMarketSuspended,
                 std::string(what) + ": the market of zone " + std::string(zone) +
                     " is suspended by governance since height " + Num(z->suspended_height()));
  }
  return Status::Ok();
}

Status ApplyPlaceOrder(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Funds& funds,
                       Overlay& st, pb::TxResult* result) {
  const pb::PlaceOrder& o = tx.body.place_order();
  V2G_RETURN_IF_ERROR(RequireTradingWindow(ctx, params, o.interval_start_s()));
  // Markets exist only in known zones: with the trading window, this bounds how many there are.
  V2G_RETURN_IF_ERROR(RequireOpenZone(st, o.zone(), "place_order"));
  pb::MarketRecord market = EnsureMarket(st, params, o.zone(), o.interval_start_s());
  V2G_RETURN_IF_ERROR(RequireMarketRoom(market));
  int64_t locked = 0;
  if (o.side() == pb::SIDE_SELL) {
    if (HasDebt(st, tx.signer)) {
      return Error(Code::kInDebt, EncodeAddress(tx.signer) + " has unpaid tariff bills; pay them (PayDebt) before selling");
    }
    if (o.pool_id() != 0) {
      auto pool = RequirePoolAggregator(st, o.pool_id(), tx.signer);
      if (!pool.ok()) return pool.status();
      const int64_t cap = PoolCapacityWh(st, o.pool_id(), o.zone(), o.interval_start_s(), params.settlement_interval_s());
      V2G_RETURN_IF_ERROR(CommitEnergy(st, PoolObligationKey(o.pool_id()),
                                       "pool " + UNum(o.pool_id()) + " (its members in " + o.zone() + ")", cap,
                                       o.interval_start_s(), o.energy_wh()));
      NotePoolObligation(st, o.pool_id(), o.interval_start_s() + params.settlement_interval_s());
    } else {
      auto meter = RequireSellerMeter(st, o.meter_id(), tx.signer, o.zone());
      if (!meter.ok()) return meter.status();
      V2G_RETURN_IF_ERROR(Commit(st, *meter, o.interval_start_s(), o.energy_wh(), params));
    }
    locked = *EnergyValueBps(o.energy_wh(), o.limit_price(), params.market_collateral_bps());
    market.set_sell_orders(market.sell_orders() + 1);
  } else {
    locked = *EnergyValue(o.energy_wh(), o.limit_price());
    market.set_buy_orders(market.buy_orders() + 1);
  }
  V2G_RETURN_IF_ERROR(
      funds.Lock(tx.signer, locked, o.side() == pb::SIDE_SELL ? "of collateral for this sell" : "of escrow for this buy"));
  pb::OrderRecord rec;
  rec.set_id(NextSequence(st, kSeqKey));
  rec.set_owner(AddressBytes(tx.signer));
  rec.set_side(o.side());
  rec.set_zone(o.zone());
  rec.set_interval_start_s(o.interval_start_s());
  rec.set_energy_wh(o.energy_wh());
  rec.set_limit_price(o.limit_price());
  rec.set_meter_id(o.meter_id());
  rec.set_pool_id(o.pool_id());
  rec.set_status(pb::ORDER_OPEN);
  rec.set_height(ctx.height);
  rec.set_locked(locked);
  rec.set_locked_initial(locked);
  StoreOrder(st, rec);
  StoreMarket(st, market);
  std::string idx = ZoneIntervalKey(kOrderIndexPrefix, o.zone(), o.interval_start_s());
  AppendBigEndian64(idx, rec.id());
  st.Put(idx, "");
  st.Put(AccountOrderKey(tx.signer, rec.id()), "o");
  if (result) {
    result->set_created_id(rec.id());
    SetLog(result, Text(std::string(SideName(o.side())) + " order " + UNum(rec.id()) + " placed; {locked} locked")
                       .Amount("locked", funds.denom(), locked));
  }
  return Status::Ok();
}

Status ApplyCancelOrder(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Funds& funds,
                        Overlay& st, pb::TxResult* result) {
  const uint64_t id = tx.body.cancel_order().order_id();
  auto o = LoadOrder(st, id);
  if (!o) return Error(Code::kNotFound, "no order " + UNum(id));
  if (o->owner() != AddressBytes(tx.signer)) {
    // Not whose it is: an order's owner is its own to know (docs/DESIGN.md "Who may read what").
    return Error(Code::kUnauthorized, "order " + UNum(id) + " is not an order of " + EncodeAddress(tx.signer));
  }
  const int64_t gate_s = o->interval_start_s() - params.market_gate_closure_s();
  if (ctx.time_ms >= gate_s * 1000) {
    return Error(Code::kGateClosed, Text("order " + UNum(id) +
                                         " can no longer be cancelled: orders for the interval starting {start} "
                                         "closed at {gate}")
                                        .Time("start", o->interval_start_s())
                                        .Time("gate", gate_s));
  }
  if (o->status() != pb::ORDER_OPEN) {
    return Error(Code::kOrderNotOpen, "order " + UNum(id) + " is " + std::string(OrderStatusName(o->status())));
  }
  if (o->side() == pb::SIDE_SELL) Uncommit(st, CommitKeyOf(*o), o->interval_start_s(), o->energy_wh());
  funds.Release(tx.signer, o->locked());
  o->set_refunded(o->refunded() + o->locked());
  o->set_locked(0);
  o->set_status(pb::ORDER_CANCELLED);
  StoreOrder(st, *o);
  if (result) {
    SetLog(result, Text("order " + UNum(id) + " cancelled; {refunded} refunded").Amount("refunded", funds.denom(), o->refunded()));
  }
  return Status::Ok();
}

Status ApplyProposeContract(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& st,
                            pb::TxResult* result) {
  const pb::ProposeContract& p = tx.body.propose_contract();
  V2G_RETURN_IF_ERROR(RequireTradingWindow(ctx, params, p.interval_start_s()));
  const Address counterparty = StoredAddress(p.counterparty());
  if (counterparty == tx.signer) return Error(Code::kInvalidArgument, "propose_contract: the counterparty is the proposer");
  V2G_RETURN_IF_ERROR(RequireOpenZone(st, p.zone(), "propose_contract"));
  if (p.side() == pb::SIDE_SELL) {
    auto meter = RequireSellerMeter(st, p.meter_id(), tx.signer, p.zone());
    if (!meter.ok()) return meter.status();
  }
  pb::MarketRecord market = EnsureMarket(st, params, p.zone(), p.interval_start_s());
  V2G_RETURN_IF_ERROR(RequireMarketRoom(market));
  market.set_contracts(market.contracts() + 1);
  pb::ContractRecord c;
  c.set_id(NextSequence(st, kSeqKey));
  c.set_proposer(AddressBytes(tx.signer));
  c.set_counterparty(p.counterparty());
  c.set_buyer(p.side() == pb::SIDE_BUY ? AddressBytes(tx.signer) : p.counterparty());
  c.set_seller(p.side() == pb::SIDE_SELL ? AddressBytes(tx.signer) : p.counterparty());
  c.set_zone(p.zone());
  c.set_interval_start_s(p.interval_start_s());
  c.set_energy_wh(p.energy_wh());
  c.set_price(p.price());
  c.set_meter_id(p.meter_id());
  c.set_status(pb::CONTRACT_PROPOSED);
  c.set_proposed_height(ctx.height);
  StoreContract(st, c);
  StoreMarket(st, market);
  std::string idx = ZoneIntervalKey(kContractIndexPrefix, p.zone(), p.interval_start_s());
  AppendBigEndian64(idx, c.id());
  st.Put(idx, "");
  st.Put(AccountOrderKey(tx.signer, c.id()), "c");
  st.Put(AccountOrderKey(counterparty, c.id()), "c");
  if (result) {
    result->set_created_id(c.id());
    result->set_log("contract " + UNum(c.id()) + " proposed to " + EncodeAddress(counterparty));
  }
  return Status::Ok();
}

Status ApplyAcceptContract(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params, Funds& funds,
                           Overlay& st, pb::TxResult* result) {
  const pb::AcceptContract& a = tx.body.accept_contract();
  auto c = LoadContract(st, a.contract_id());
  if (!c) return Error(Code::kNotFound, "no contract " + UNum(a.contract_id()));
  if (c->counterparty() != AddressBytes(tx.signer)) {
    return Error(Code::kUnauthorized, "contract " + UNum(c->id()) + " was not proposed to " + EncodeAddress(tx.signer));
  }
  V2G_RETURN_IF_ERROR(RequireTradingWindow(ctx, params, c->interval_start_s()));
  if (c->status() != pb::CONTRACT_PROPOSED) {
    return Error(Code::kOrderNotOpen, "contract " + UNum(c->id()) + " is " + std::string(ContractStatusName(c->status())));
  }
  V2G_RETURN_IF_ERROR(RequireOpenZone(st, c->zone(), "accept_contract"));
  const bool acceptor_sells = c->seller() == AddressBytes(tx.signer);
  if (acceptor_sells) {
    if (!ValidMeterId(a.meter_id())) {
      return Error(Code::kInvalidArgument, "accept_contract: the seller must name the meter that delivers");
    }
    c->set_meter_id(a.meter_id());
  } else if (!a.meter_id().empty()) {
    return Error(Code::kInvalidArgument, "accept_contract: only the selling side names a meter");
  }
  const Address seller = StoredAddress(c->seller());
  const Address buyer = StoredAddress(c->buyer());
  auto meter = RequireSellerMeter(st, c->meter_id(), seller, c->zone());
  if (!meter.ok()) {
    // A buyer accepting learns that the seller cannot sell from its meter now, not why, when the
    // why is the seller's: its debts, its meter's pool (docs/DESIGN.md "Who may read what"). What
    // the public registry says (no such meter, deactivated, another owner, zone, no export) is
    // told as it is: the contract can never be accepted.
    const Code code = meter.status().code();
    const auto m = LoadMeter(st, c->meter_id());
    const bool pooled = code == Code::kUnauthorized && m && m->owner() == c->seller() &&
                        PoolOfMeter(st, c->meter_id()).has_value();
    if (seller != tx.signer && (code == Code::kInDebt || pooled)) {
      return Error(Code::kMeterBusy, "the seller of contract " + UNum(c->id()) +
                                         " cannot sell from its meter now; the contract stays proposed");
    }
    return meter.status();
  }
  if (Status s = Commit(st, *meter, c->interval_start_s(), c->energy_wh(), params); !s.ok()) {
    // The seller's other offers are the seller's to know: a buyer accepting is told only that
    // the meter cannot take this one now.
    if (seller == tx.signer || s.code() != Code::kMeterCapacity) return s;
    return Error(Code::kMeterCapacity, "the seller's meter of contract " + UNum(c->id()) +
                                           " cannot deliver that much more in its interval now; the contract stays proposed");
  }
  const int64_t escrow = *EnergyValue(c->energy_wh(), c->price());
  const int64_t collateral = *EnergyValueBps(c->energy_wh(), c->price(), params.market_collateral_bps());
  // The party that did not sign is told nothing of: a refusal names only the signer's own amounts
  // (docs/DESIGN.md "Who may read what").
  auto lock = [&](const Address& who, int64_t amount, const char* purpose, const char* role) -> Status {
    Status s = funds.Lock(who, amount, purpose);
    if (s.ok() || who == tx.signer || s.code() != Code::kInsufficientFunds) return s;
    return Error(Code::kInsufficientFunds, "the " + std::string(role) + " of contract " + UNum(c->id()) +
                                               " cannot cover its side now; the contract stays proposed");
  };
  V2G_RETURN_IF_ERROR(lock(buyer, escrow, "of escrow for this contract", "buyer"));
  V2G_RETURN_IF_ERROR(lock(seller, collateral, "of collateral for this contract", "seller"));
  c->set_status(pb::CONTRACT_ACCEPTED);
  c->set_accepted_height(ctx.height);
  c->set_escrow(escrow);
  c->set_collateral(collateral);
  StoreContract(st, *c);
  pb::MarketRecord market = *LoadMarket(st, c->zone(), c->interval_start_s());
  market.set_contract_energy_wh(market.contract_energy_wh() + c->energy_wh());
  StoreMarket(st, market);
  if (result) {
    SetLog(result, Text("contract " + UNum(c->id()) + " accepted; {escrow} escrowed, {collateral} collateral")
                       .Amount("escrow", funds.denom(), escrow)
                       .Amount("collateral", funds.denom(), collateral));
  }
  return Status::Ok();
}

Status ApplyCancelContract(const CheckedTx& tx, Overlay& st, pb::TxResult* result) {
  const uint64_t id = tx.body.cancel_contract().contract_id();
  auto c = LoadContract(st, id);
  if (!c) return Error(Code::kNotFound, "no contract " + UNum(id));
  if (c->proposer() != AddressBytes(tx.signer)) {
    return Error(Code::kUnauthorized, "contract " + UNum(id) + " was not proposed by " + EncodeAddress(tx.signer));
  }
  if (c->status() != pb::CONTRACT_PROPOSED) {
    return Error(Code::kOrderNotOpen, "contract " + UNum(id) + " is " + std::string(ContractStatusName(c->status())));
  }
  c->set_status(pb::CONTRACT_CANCELLED);
  StoreContract(st, *c);
  if (result) result->set_log("contract " + UNum(id) + " withdrawn");
  return Status::Ok();
}

// ------------------------------------------------------------------ clearing and settlement

// Position of order `id` in `orders`, which is sorted by id (as LoadMarketOrders returns it).
size_t OrderPos(const std::vector<pb::OrderRecord>& orders, uint64_t id) {
  auto it = std::lower_bound(orders.begin(), orders.end(), id,
                             [](const pb::OrderRecord& o, uint64_t v) { return o.id() < v; });
  V2G_ASSERT(it != orders.end() && it->id() == id);
  return static_cast<size_t>(it - orders.begin());
}

void ClearMarket(const BlockContext& ctx, const pb::ParamsRecord& params, Funds& funds, Overlay& st,
                 std::string_view zone, int64_t interval_start_s) {
  auto market = LoadMarket(st, zone, interval_start_s);
  V2G_ASSERT(market && market->status() == pb::MARKET_OPEN);
  std::vector<pb::OrderRecord> orders = LoadMarketOrders(st, zone, interval_start_s);
  V2G_ASSERT(std::is_sorted(orders.begin(), orders.end(),
                            [](const pb::OrderRecord& a, const pb::OrderRecord& b) { return a.id() < b.id(); }));
  std::vector<AuctionOrder> bids, asks;
  for (const auto& o : orders) {
    if (o.status() != pb::ORDER_OPEN) continue;
    (o.side() == pb::SIDE_BUY ? bids : asks).push_back({o.id(), o.limit_price(), o.energy_wh()});
  }
  // A zone whose market governance suspended trades nothing: every order is refunded below.
  const auto zone_rec = LoadZone(st, zone);
  const bool suspended = zone_rec && zone_rec->market_suspended();
  AuctionResult r =
      suspended ? AuctionResult{} : ClearCallAuction(std::move(bids), std::move(asks));
  std::vector<int64_t> trade_escrow(orders.size(), 0);  // per buy order, by position in `orders`
  uint32_t index = 0;
  for (const AuctionFill& f : r.fills) {
    const size_t buy_pos = OrderPos(orders, f.buy_id);
    pb::OrderRecord& buy = orders[buy_pos];
    pb::OrderRecord& sell = orders[OrderPos(orders, f.sell_id)];
    buy.set_filled_wh(buy.filled_wh() + f.energy_wh);
    sell.set_filled_wh(sell.filled_wh() + f.energy_wh);
    pb::TradeRecord t;
    t.set_index(index);
    t.set_zone(std::string(zone));
    t.set_interval_start_s(interval_start_s);
    t.set_buy_order_id(f.buy_id);
    t.set_sell_order_id(f.sell_id);
    t.set_buyer(buy.owner());
    t.set_seller(sell.owner());
    t.set_meter_id(CommitKeyOf(sell));
    t.set_pool_id(sell.pool_id());
    t.set_energy_wh(f.energy_wh);
    t.set_price(r.price);
    t.set_escrow(*EnergyValue(f.energy_wh, r.price));
    trade_escrow[buy_pos] += t.escrow();
    st.Put(TradeKey(zone, interval_start_s, index), Encode(t));
    st.Put(AccountTradeKey(StoredAddress(t.buyer()), zone, interval_start_s, index), "");
    if (t.seller() != t.buyer()) st.Put(AccountTradeKey(StoredAddress(t.seller()), zone, interval_start_s, index), "");
    ++index;
  }
  // Refunds and released capacity are summed per owner and per meter and applied once each: a
  // market of 100,000 orders has far fewer accounts and meters, and the final state is the same.
  std::map<Address, int64_t> refunds;
  std::map<std::string, int64_t> uncommit_wh;
  for (size_t i = 0; i < orders.size(); ++i) {
    pb::OrderRecord& o = orders[i];
    if (o.status() != pb::ORDER_OPEN) continue;
    int64_t keep = 0;
    if (o.side() == pb::SIDE_BUY) {
      keep = trade_escrow[i];
    } else {
      keep = *EnergyValueBps(o.filled_wh(), o.limit_price(), params.market_collateral_bps());
      uncommit_wh[CommitKeyOf(o)] += o.energy_wh() - o.filled_wh();
    }
    V2G_ASSERT(keep <= o.locked());
    refunds[StoredAddress(o.owner())] += o.locked() - keep;
    o.set_refunded(o.refunded() + o.locked() - keep);
    o.set_locked(keep);
    o.set_status(o.filled_wh() > 0 ? pb::ORDER_MATCHED : pb::ORDER_EXPIRED);
    if (o.status() == pb::ORDER_EXPIRED) V2G_ASSERT(keep == 0);
    StoreOrder(st, o);
  }
  for (const auto& [meter_id, wh] : uncommit_wh) Uncommit(st, meter_id, interval_start_s, wh);
  funds.ReleaseEach(refunds);
  for (auto& c : LoadMarketContracts(st, zone, interval_start_s)) {
    if (c.status() != pb::CONTRACT_PROPOSED) continue;
    c.set_status(pb::CONTRACT_EXPIRED);
    StoreContract(st, c);
  }
  market->set_status(pb::MARKET_CLEARED);
  market->set_suspended(suspended);
  market->set_clearing_price(r.price);
  market->set_cleared_energy_wh(r.volume_wh);
  market->set_trades(index);
  market->set_cleared_height(ctx.height);
  StoreMarket(st, *market);
  const int64_t due = interval_start_s + params.settlement_interval_s() + params.market_grace_s();
  st.Put(TimerKey(due, kTimerSettle, zone, interval_start_s), "");
}

// One delivery obligation on a meter: a trade or an accepted contract.
struct Obligation {
  uint64_t id = 0;        // sell order or contract id: arrival order
  uint32_t sub = 0;       // trade index within the market
  bool contract = false;
  size_t pos = 0;         // index into the trades or contracts vector
};

struct Payout {
  int64_t delivered = 0, seller_paid = 0, buyer_refund = 0, penalty = 0;
};

// Splits one obligation's escrow given `delivered` Wh; the penalty is capped by `collateral_left`.
Payout Settle(int64_t energy_wh, int64_t price, int64_t escrow, int64_t delivered, int64_t collateral_left,
              const pb::ParamsRecord& params) {
  Payout p;
  p.delivered = delivered;
  p.seller_paid = *EnergyValue(delivered, price);
  V2G_ASSERT(p.seller_paid <= escrow);
  p.buyer_refund = escrow - p.seller_paid;
  p.penalty = std::min(collateral_left, *EnergyValueBps(energy_wh - delivered, price, params.market_penalty_bps()));
  return p;
}

// What grid services and statements need from one settled obligation: the attested energy it
// used (so reverse discharge and feed-in never pay for it again) and each side's amounts.
// For a pool's obligation the energy is claimed from its members and the revenue shared out by
// the caller (PayPool), so only the penalty is the seller's here.
void RecordSettlement(Overlay& st, std::string_view meter_id, int64_t interval_start_s, const Address& seller,
                      const Address& buyer, int64_t delivered_wh, const Payout& p, bool pooled) {
  if (!pooled) ClaimMarketDelivery(st, meter_id, interval_start_s, delivered_wh);
  AddToStatement(st, seller, interval_start_s, [&](pb::StatementEntry& s) {
    if (!pooled) s.set_market_revenue(SaturatingAdd(s.market_revenue(), p.seller_paid));
    s.set_market_penalty(SaturatingAdd(s.market_penalty(), p.penalty));
  });
  AddToStatement(st, buyer, interval_start_s, [&](pb::StatementEntry& s) { s.set_market_spent(SaturatingAdd(s.market_spent(), p.seller_paid)); });
}

// Long (about 140 lines) because it is one settlement pass: the settle_group lambda works on the
// orders, trades and contracts the pass loaded once and on its running totals, for single meters
// and then pools. Splitting it means turning that shared state into a settlement-pass object,
// which belongs with the coupled market's rework of settlement (issue 19), not with a move.
void SettleMarket(const BlockContext& ctx, const pb::ParamsRecord& params, Funds& funds, Overlay& st,
                  std::string_view zone, int64_t interval_start_s) {
  auto market = LoadMarket(st, zone, interval_start_s);
  V2G_ASSERT(market && market->status() == pb::MARKET_CLEARED);
  std::vector<pb::TradeRecord> trades = LoadMarketTrades(st, zone, interval_start_s);
  std::vector<pb::ContractRecord> contracts = LoadMarketContracts(st, zone, interval_start_s);
  std::map<uint64_t, pb::OrderRecord> orders;  // every order with a trade
  std::map<std::string, std::vector<Obligation>> by_meter;
  for (size_t i = 0; i < trades.size(); ++i) {
    const auto& t = trades[i];
    for (uint64_t id : {t.buy_order_id(), t.sell_order_id()}) {
      if (!orders.count(id)) orders.emplace(id, *LoadOrder(st, id));
    }
    by_meter[t.meter_id()].push_back({t.sell_order_id(), t.index(), false, i});
  }
  for (size_t i = 0; i < contracts.size(); ++i) {
    if (contracts[i].status() != pb::CONTRACT_ACCEPTED) continue;
    by_meter[contracts[i].meter_id()].push_back({contracts[i].id(), 0, true, i});
  }
  int64_t delivered_total = 0;
  // Settles one meter's (or one pool's) obligations in arrival order from `available` Wh; pool
  // revenue is held back in `pool_paid` for PayPool.
  auto settle_group = [&](const std::string& meter_id, std::vector<Obligation>& obligations, int64_t available,
                          bool pooled, int64_t& pool_paid) {
    std::sort(obligations.begin(), obligations.end(),
              [](const Obligation& a, const Obligation& b) { return std::tie(a.id, a.sub) < std::tie(b.id, b.sub); });
    int64_t delivered = 0;
    for (const Obligation& ob : obligations) {
      if (ob.contract) {
        pb::ContractRecord& c = contracts[ob.pos];
        const int64_t d = std::min(available, c.energy_wh());
        available -= d;
        Payout p = Settle(c.energy_wh(), c.price(), c.escrow(), d, c.collateral(), params);
        const Address buyer = StoredAddress(c.buyer()), seller = StoredAddress(c.seller());
        funds.Release(seller, p.seller_paid);
        funds.Release(buyer, p.buyer_refund + p.penalty);
        funds.Release(seller, c.collateral() - p.penalty);
        c.set_delivered_wh(d);
        c.set_seller_paid(p.seller_paid);
        c.set_buyer_refund(p.buyer_refund);
        c.set_penalty(p.penalty);
        c.set_collateral_returned(c.collateral() - p.penalty);
        c.set_escrow(0);
        c.set_collateral(0);
        c.set_status(pb::CONTRACT_SETTLED);
        Uncommit(st, meter_id, interval_start_s, c.energy_wh());
        StoreContract(st, c);
        RecordSettlement(st, meter_id, interval_start_s, seller, buyer, d, p, false);
        delivered += d;
      } else {
        pb::TradeRecord& t = trades[ob.pos];
        pb::OrderRecord& buy = orders.at(t.buy_order_id());
        pb::OrderRecord& sell = orders.at(t.sell_order_id());
        const int64_t d = std::min(available, t.energy_wh());
        available -= d;
        Payout p = Settle(t.energy_wh(), t.price(), t.escrow(), d, sell.locked(), params);
        const Address buyer = StoredAddress(t.buyer()), seller = StoredAddress(t.seller());
        if (pooled) {
          pool_paid += p.seller_paid;
        } else {
          funds.Release(seller, p.seller_paid);
        }
        funds.Release(buyer, p.buyer_refund + p.penalty);
        V2G_ASSERT(buy.locked() >= t.escrow());
        buy.set_locked(buy.locked() - t.escrow());
        buy.set_paid(buy.paid() + p.seller_paid);
        buy.set_refunded(buy.refunded() + p.buyer_refund);
        buy.set_penalty(buy.penalty() + p.penalty);
        buy.set_delivered_wh(buy.delivered_wh() + d);
        sell.set_locked(sell.locked() - p.penalty);
        sell.set_paid(sell.paid() + p.seller_paid);
        sell.set_penalty(sell.penalty() + p.penalty);
        sell.set_delivered_wh(sell.delivered_wh() + d);
        t.set_settled(true);
        t.set_delivered_wh(d);
        t.set_seller_paid(p.seller_paid);
        t.set_buyer_refund(p.buyer_refund);
        t.set_penalty(p.penalty);
        st.Put(TradeKey(zone, interval_start_s, t.index()), Encode(t));
        RecordSettlement(st, meter_id, interval_start_s, seller, buyer, d, p, pooled);
        delivered += d;
      }
    }
    delivered_total += delivered;
    return delivered;
  };
  // Single meters first, then pools from what their members have left: a meter's attested export
  // backs one obligation at most, whichever way it was sold.
  for (auto& [key, obligations] : by_meter) {
    const bool pooled = !obligations.empty() && !obligations[0].contract && trades[obligations[0].pos].pool_id() != 0;
    if (pooled) continue;
    // Payable, not raw: a vehicle delivers only what a charger corroborated (contracts/meters.h).
    const int64_t payable = LoadIntervalMoneyEnergy(st, key, interval_start_s).payable_export_wh;
    const int64_t available = std::max<int64_t>(0, payable - LoadClaim(st, key, interval_start_s).market_wh());
    int64_t unused = 0;
    settle_group(key, obligations, available, false, unused);
  }
  for (auto& [key, obligations] : by_meter) {
    const bool pooled = !obligations.empty() && !obligations[0].contract && trades[obligations[0].pos].pool_id() != 0;
    if (!pooled) continue;
    const uint64_t pool_id = trades[obligations[0].pos].pool_id();
    const std::vector<pb::PoolMember> members = PoolMembersIn(st, pool_id, zone, interval_start_s);
    std::vector<int64_t> avail;
    int64_t available = 0;
    for (const auto& m : members) {
      const int64_t payable = LoadIntervalMoneyEnergy(st, m.meter_id(), interval_start_s).payable_export_wh;
      const pb::EnergyClaim claim = LoadClaim(st, m.meter_id(), interval_start_s);
      avail.push_back(std::max<int64_t>(0, payable - claim.market_wh() - claim.event_export_wh()));
      available += avail.back();
    }
    int64_t pool_paid = 0;
    const int64_t delivered = settle_group(key, obligations, available, true, pool_paid);
    const std::vector<int64_t> shares = SplitProRata(delivered, avail);
    for (size_t i = 0; i < members.size(); ++i) ClaimMarketDelivery(st, members[i].meter_id(), interval_start_s, shares[i]);
    PayPool(st, pool_id, members, shares, pool_paid, [&](const Address& to, int64_t amount, bool) {
      funds.Release(to, amount);
      if (amount > 0) {
        AddToStatement(st, to, interval_start_s, [amount](pb::StatementEntry& e) { e.set_market_revenue(SaturatingAdd(e.market_revenue(), amount)); });
      }
    });
  }
  for (auto& [id, o] : orders) {
    // Whatever a sell's collateral did not pay in penalties goes back; a buy's escrow is all
    // spent on its trades already.
    if (o.side() == pb::SIDE_SELL) {
      Uncommit(st, CommitKeyOf(o), interval_start_s, o.filled_wh());
      funds.Release(StoredAddress(o.owner()), o.locked());
      o.set_refunded(o.refunded() + o.locked());
      o.set_locked(0);
    }
    V2G_ASSERT(o.locked() == 0);
    o.set_status(pb::ORDER_SETTLED);
    StoreOrder(st, o);
  }
  market->set_status(pb::MARKET_SETTLED);
  market->set_settled_height(ctx.height);
  market->set_delivered_energy_wh(delivered_total);
  StoreMarket(st, *market);
}

}  // namespace

// ------------------------------------------------------------------ auction

AuctionResult ClearCallAuction(std::vector<AuctionOrder> bids, std::vector<AuctionOrder> asks) {
  std::sort(bids.begin(), bids.end(), [](const AuctionOrder& a, const AuctionOrder& b) {
    return a.price != b.price ? a.price > b.price : a.id < b.id;
  });
  std::sort(asks.begin(), asks.end(), [](const AuctionOrder& a, const AuctionOrder& b) {
    return a.price != b.price ? a.price < b.price : a.id < b.id;
  });
  AuctionResult r;
  size_t i = 0, j = 0;
  int64_t bid_left = bids.empty() ? 0 : bids[0].energy_wh;
  int64_t ask_left = asks.empty() ? 0 : asks[0].energy_wh;
  int64_t last_bid = 0, last_ask = 0;
  bool matched = false;
  while (i < bids.size() && j < asks.size() && bids[i].price >= asks[j].price) {
    const int64_t q = std::min(bid_left, ask_left);
    r.fills.push_back({bids[i].id, asks[j].id, q});
    r.volume_wh += q;
    last_bid = bids[i].price;
    last_ask = asks[j].price;
    matched = true;
    bid_left -= q;
    ask_left -= q;
    if (bid_left == 0 && ++i < bids.size()) bid_left = bids[i].energy_wh;
    if (ask_left == 0 && ++j < asks.size()) ask_left = asks[j].energy_wh;
  }
  if (!matched) return r;
  // [max(a_k, b_k+1), min(b_k, a_k+1)]: bids[i] / asks[j] are the first left (wholly or partly).
  int64_t lo = last_ask, hi = last_bid;
  if (i < bids.size()) lo = std::max(lo, bids[i].price);
  if (j < asks.size()) hi = std::min(hi, asks[j].price);
  V2G_ASSERT(lo <= hi);
  r.price = lo + (hi - lo) / 2;
  return r;
}

// ------------------------------------------------------------------ keys and records

Address MarketModuleAddress() {
  static const Address a = ModuleAddress(kMarketModule);
  return a;
}

std::string MarketKey(std::string_view zone, int64_t interval_start_s) {
  return ZoneIntervalKey(kMarketPrefix, zone, interval_start_s);
}
std::string MarketZonePrefix(std::string_view zone) { return std::string(kMarketPrefix) + std::string(zone) + "/"; }
std::string OrderKey(uint64_t id) {
  std::string k(kOrderPrefix);
  AppendBigEndian64(k, id);
  return k;
}
std::string ContractKey(uint64_t id) {
  std::string k(kContractPrefix);
  AppendBigEndian64(k, id);
  return k;
}
std::string MarketTradesPrefix(std::string_view zone, int64_t interval_start_s) {
  return ZoneIntervalKey(kTradePrefix, zone, interval_start_s);
}
std::string AccountOrdersPrefix(const Address& a) { return std::string(kAccountOrdersPrefix) + AddressBytes(a); }
std::string AccountTradesPrefix(const Address& a) { return std::string(kAccountTradesPrefix) + AddressBytes(a); }

std::optional<pb::MarketRecord> LoadMarket(const KvReader& kv, std::string_view zone, int64_t interval_start_s) {
  return LoadRecord<pb::MarketRecord>(kv, MarketKey(zone, interval_start_s));
}
std::optional<pb::OrderRecord> LoadOrder(const KvReader& kv, uint64_t id) {
  return LoadRecord<pb::OrderRecord>(kv, OrderKey(id));
}
std::optional<pb::ContractRecord> LoadContract(const KvReader& kv, uint64_t id) {
  return LoadRecord<pb::ContractRecord>(kv, ContractKey(id));
}

std::vector<pb::OrderRecord> LoadMarketOrders(const KvReader& kv, std::string_view zone, int64_t interval_start_s) {
  std::vector<pb::OrderRecord> out;
  const std::string prefix = ZoneIntervalKey(kOrderIndexPrefix, zone, interval_start_s);
  kv.Scan(prefix, [&](std::string_view k, std::string_view) {
    if (k.size() != prefix.size() + 8) return true;
    auto o = LoadOrder(kv, ReadBigEndian64(k.substr(prefix.size())));
    V2G_ASSERT(o.has_value());
    out.push_back(std::move(*o));
    return true;
  });
  return out;
}

std::vector<pb::ContractRecord> LoadMarketContracts(const KvReader& kv, std::string_view zone, int64_t interval_start_s) {
  std::vector<pb::ContractRecord> out;
  const std::string prefix = ZoneIntervalKey(kContractIndexPrefix, zone, interval_start_s);
  kv.Scan(prefix, [&](std::string_view k, std::string_view) {
    if (k.size() != prefix.size() + 8) return true;
    auto c = LoadContract(kv, ReadBigEndian64(k.substr(prefix.size())));
    V2G_ASSERT(c.has_value());
    out.push_back(std::move(*c));
    return true;
  });
  return out;
}

std::vector<int64_t> OpenCommitmentIntervals(const KvReader& kv, std::string_view meter_id, size_t max, size_t* total) {
  std::vector<int64_t> out;
  size_t n = 0;
  std::string prefix(kCommitmentPrefix);
  prefix += meter_id;
  prefix += '/';
  // One key per unsettled interval with a commitment: bounded by the market horizon / interval.
  kv.Scan(prefix, [&](std::string_view key, std::string_view) {
    if (key.size() != prefix.size() + 8) return true;  // never: ids hold no '/'
    ++n;
    if (out.size() < max) out.push_back(static_cast<int64_t>(ReadBigEndian64(key.substr(prefix.size()))));
    return true;
  });
  if (total) *total = n;
  return out;
}

std::vector<pb::TradeRecord> LoadMarketTrades(const KvReader& kv, std::string_view zone, int64_t interval_start_s) {
  std::vector<pb::TradeRecord> out;
  const std::string prefix = MarketTradesPrefix(zone, interval_start_s);
  kv.Scan(prefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 4) return true;
    out.push_back(DecodeRecord<pb::TradeRecord>(std::string(v)));
    return true;
  });
  return out;
}

std::optional<pb::TradeRecord> LoadTradeByAccountKey(const KvReader& kv, std::string_view key) {
  const size_t base = kAccountTradesPrefix.size() + kAddressBytes;
  if (key.size() <= base + 12 || key.substr(0, kAccountTradesPrefix.size()) != kAccountTradesPrefix) return std::nullopt;
  const int64_t interval = static_cast<int64_t>(ReadBigEndian64(key.substr(base)));
  const uint32_t index = ReadBe32(key.substr(base + 8));
  return LoadRecord<pb::TradeRecord>(kv, TradeKey(key.substr(base + 12), interval, index));
}

std::string_view SideName(pb::Side side) {
  switch (side) {
    case pb::SIDE_BUY: return "buy";
    case pb::SIDE_SELL: return "sell";
    default: return "unknown";
  }
}
std::optional<pb::Side> ParseSide(std::string_view name) {
  if (name == "buy") return pb::SIDE_BUY;
  if (name == "sell") return pb::SIDE_SELL;
  return std::nullopt;
}
std::string_view MarketStatusName(pb::MarketStatus s) {
  switch (s) {
    case pb::MARKET_OPEN: return "open";
    case pb::MARKET_CLEARED: return "cleared";
    case pb::MARKET_SETTLED: return "settled";
    default: return "unknown";
  }
}
std::string_view OrderStatusName(pb::OrderStatus s) {
  switch (s) {
    case pb::ORDER_OPEN: return "open";
    case pb::ORDER_CANCELLED: return "cancelled";
    case pb::ORDER_EXPIRED: return "expired";
    case pb::ORDER_MATCHED: return "matched";
    case pb::ORDER_SETTLED: return "settled";
    default: return "unknown";
  }
}
std::string_view ContractStatusName(pb::ContractStatus s) {
  switch (s) {
    case pb::CONTRACT_PROPOSED: return "proposed";
    case pb::CONTRACT_ACCEPTED: return "accepted";
    case pb::CONTRACT_CANCELLED: return "cancelled";
    case pb::CONTRACT_EXPIRED: return "expired";
    case pb::CONTRACT_SETTLED: return "settled";
    default: return "unknown";
  }
}

std::optional<int64_t> EnergyValue(int64_t energy_wh, int64_t price) { return MulDivFloor(energy_wh, price, 1000); }

std::optional<int64_t> EnergyValueBps(int64_t energy_wh, int64_t price, int64_t bps) {
  if (energy_wh < 0 || price < 0 || bps < 0) return std::nullopt;
  Int128 v = static_cast<Int128>(energy_wh) * price * bps / 10'000'000;
  if (v > std::numeric_limits<int64_t>::max()) return std::nullopt;
  return static_cast<int64_t>(v);
}

// ------------------------------------------------------------------ execution

bool IsMarketOp(pb::TxBody::OpCase op) {
  return op == pb::TxBody::kPlaceOrder || op == pb::TxBody::kCancelOrder || op == pb::TxBody::kProposeContract ||
         op == pb::TxBody::kAcceptContract || op == pb::TxBody::kCancelContract;
}

Status CheckMarketOp(const pb::TxBody& body, const pb::ParamsRecord& params) {
  switch (body.op_case()) {
    case pb::TxBody::kPlaceOrder: {
      const auto& o = body.place_order();
      V2G_RETURN_IF_ERROR(CheckSide("place_order", o.side()));
      V2G_RETURN_IF_ERROR(CheckZoneField("place_order", o.zone()));
      V2G_RETURN_IF_ERROR(CheckIntervalField("place_order", o.interval_start_s()));
      V2G_RETURN_IF_ERROR(CheckEnergyPrice("place_order", o.energy_wh(), o.limit_price(), "limit_price", params.market_denom()));
      if (o.pool_id() != 0) {
        if (o.side() != pb::SIDE_SELL || !o.meter_id().empty()) {
          return Error(Code::kInvalidArgument, "place_order: a pool sells only, and names no meter");
        }
        return Status::Ok();
      }
      return CheckMeterField("place_order", o.side(), o.meter_id(), true);
    }
    case pb::TxBody::kCancelOrder:
      if (body.cancel_order().order_id() == 0) return Error(Code::kInvalidArgument, "cancel_order: order_id is required");
      return Status::Ok();
    case pb::TxBody::kProposeContract: {
      const auto& p = body.propose_contract();
      if (auto a = AddressFromBytes(p.counterparty()); !a.ok()) {
        return Error(Code::kInvalidArgument, "propose_contract counterparty: " + a.status().message());
      }
      V2G_RETURN_IF_ERROR(CheckSide("propose_contract", p.side()));
      V2G_RETURN_IF_ERROR(CheckZoneField("propose_contract", p.zone()));
      V2G_RETURN_IF_ERROR(CheckIntervalField("propose_contract", p.interval_start_s()));
      V2G_RETURN_IF_ERROR(CheckEnergyPrice("propose_contract", p.energy_wh(), p.price(), "price", params.market_denom()));
      return CheckMeterField("propose_contract", p.side(), p.meter_id(), true);
    }
    case pb::TxBody::kAcceptContract:
      if (body.accept_contract().contract_id() == 0) return Error(Code::kInvalidArgument, "accept_contract: contract_id is required");
      if (!body.accept_contract().meter_id().empty() && !ValidMeterId(body.accept_contract().meter_id())) {
        return Error(Code::kInvalidArgument, "accept_contract: meter id is not 1-64 of A-Z a-z 0-9 . _ : -");
      }
      return Status::Ok();
    case pb::TxBody::kCancelContract:
      if (body.cancel_contract().contract_id() == 0) return Error(Code::kInvalidArgument, "cancel_contract: contract_id is required");
      return Status::Ok();
    default:
      break;
  }
  V2G_ASSERT(!IsMarketOp(body.op_case()));
  return Error(Code::kInvalidArgument, "not a market operation");
}

Status ApplyMarketOp(const CheckedTx& tx, const BlockContext& ctx, const pb::ParamsRecord& params,
                     pb::AccountRecord& signer_rec, Overlay& state, pb::TxResult* result) {
  V2G_RETURN_IF_ERROR(RequireMarketEnabled(params));
  Funds funds(state, params.market_denom(), &tx.signer, &signer_rec);
  switch (tx.body.op_case()) {
    case pb::TxBody::kPlaceOrder: return ApplyPlaceOrder(tx, ctx, params, funds, state, result);
    case pb::TxBody::kCancelOrder: return ApplyCancelOrder(tx, ctx, params, funds, state, result);
    case pb::TxBody::kProposeContract: return ApplyProposeContract(tx, ctx, params, state, result);
    case pb::TxBody::kAcceptContract: return ApplyAcceptContract(tx, ctx, params, funds, state, result);
    case pb::TxBody::kCancelContract: return ApplyCancelContract(tx, state, result);
    default: break;
  }
  V2G_ASSERT(false && "ApplyMarketOp called for a non-market op");
  return Error(Code::kInternal, "not a market operation");
}

std::optional<int64_t> FirstMarketTimerDueS(const KvReader& state) {
  std::optional<int64_t> first;
  state.Scan(kMarketTimerPrefix, [&](std::string_view k, std::string_view) {
    first = static_cast<int64_t>(ReadBigEndian64(k.substr(kMarketTimerPrefix.size())));
    return false;  // keys sort by due time: the first is the earliest
  });
  return first;
}

void RunMarketTimers(const BlockContext& ctx, const pb::ParamsRecord& params, Overlay& state, int64_t work_max) {
  if (params.market_denom().empty()) return;
  struct Due {
    std::string key;
    char kind;
    int64_t interval;
    std::string zone;
  };
  std::vector<Due> due;
  int64_t work = 0;  // orders and contracts of the markets taken, bounded by kMarketWorkPerBlockMax
  state.Scan(kMarketTimerPrefix, [&](std::string_view k, std::string_view) {
    std::string_view rest = k.substr(kMarketTimerPrefix.size());
    V2G_ASSERT(rest.size() > 17);
    const int64_t at_s = static_cast<int64_t>(ReadBigEndian64(rest));
    if (at_s * 1000 > ctx.time_ms) return false;  // keys sort by due time: nothing later is due
    Due d{std::string(k), rest[8], static_cast<int64_t>(ReadBigEndian64(rest.substr(9))), std::string(rest.substr(17))};
    auto m = LoadMarket(state, d.zone, d.interval);
    const int64_t size = (m ? MarketSize(*m) : 0) + 1;
    // The rest waits for the next block (still due, and first in line: timers sort by due time).
    if (!due.empty() && work + size > work_max) return false;
    work += size;
    due.push_back(std::move(d));
    return true;
  });
  Funds funds(state, params.market_denom(), nullptr, nullptr);
  for (const Due& d : due) {
    state.Delete(d.key);
    if (d.kind == kTimerClear) {
      ClearMarket(ctx, params, funds, state, d.zone, d.interval);
    } else {
      V2G_ASSERT(d.kind == kTimerSettle);
      SettleMarket(ctx, params, funds, state, d.zone, d.interval);
    }
  }
}

Status CheckMarketEscrow(const KvReader& state) {
  const pb::ParamsRecord params = LoadParams(state);
  if (params.market_denom().empty()) return Status::Ok();
  Int128 locked = 0;
  Status bad;
  state.Scan(kOrderPrefix, [&](std::string_view k, std::string_view v) {
    auto o = DecodeRecord<pb::OrderRecord>(std::string(v));
    const bool final = o.status() == pb::ORDER_CANCELLED || o.status() == pb::ORDER_EXPIRED || o.status() == pb::ORDER_SETTLED;
    if (o.locked() < 0 || (final && o.locked() != 0)) {
      bad = Error(Code::kCorruption, "order " + UNum(o.id()) + " is " + std::string(OrderStatusName(o.status())) +
                                         " but holds " + Num(o.locked()));
      return false;
    }
    (void)k;
    locked += o.locked();
    return true;
  });
  if (!bad.ok()) return bad;
  state.Scan(kContractPrefix, [&](std::string_view, std::string_view v) {
    auto c = DecodeRecord<pb::ContractRecord>(std::string(v));
    const bool holds = c.status() == pb::CONTRACT_ACCEPTED;
    if (!holds && (c.escrow() != 0 || c.collateral() != 0)) {
      bad = Error(Code::kCorruption, "contract " + UNum(c.id()) + " is " + std::string(ContractStatusName(c.status())) +
                                         " but holds funds");
      return false;
    }
    locked += c.escrow() + c.collateral();
    return true;
  });
  if (!bad.ok()) return bad;
  const int64_t held = BalanceOf(LoadAccount(state, MarketModuleAddress()), params.market_denom());
  if (locked != held) {
    return Error(Code::kCorruption, "market module account holds " + Num(held) + " " + params.market_denom() +
                                        " but orders and contracts lock " + Num(static_cast<int64_t>(locked)));
  }
  return Status::Ok();
}

}  // namespace v2g
