// Renderers of the energy market's records and txs (contracts/market.h): markets, orders,
// bilateral contracts, trades. Every amount is in the market denomination. See render.h.
#include "contracts/market.h"
#include "node/api/render.h"

namespace v2g::api {
namespace {

// What an order, a contract, a trade or the tx that makes one is about: where, which delivery
// interval, how much energy and (for a seller) from which meter. The caller adds the rest.
template <typename Msg>
json DeliveryJson(const Msg& m) {
  return {{"zone", m.zone()},
          {"interval_start", Rfc3339S(m.interval_start_s())},
          {"interval_start_s", m.interval_start_s()},
          {"energy_wh", m.energy_wh()},
          {"meter_id", m.meter_id()}};
}

}  // namespace

json MarketParamsJson(const StateView& v) {
  const pb::ParamsRecord& p = v.params;
  return {{"enabled", v.market_enabled()},
          {"denom", p.market_denom()},
          {"decimals", v.market_decimals},
          {"interval_s", p.settlement_interval_s()},
          {"gate_closure_s", p.market_gate_closure_s()},
          {"horizon_s", p.market_horizon_s()},
          {"grace_s", p.market_grace_s()},
          {"collateral_bps", p.market_collateral_bps()},
          {"penalty_bps", p.market_penalty_bps()}};
}

json MarketJson(const StateView& v, const pb::MarketRecord& m) {
  const int64_t s = m.interval_start_s();
  const int64_t len = v.params.settlement_interval_s();
  const int64_t gate = s - v.params.market_gate_closure_s();
  const int64_t due = s + len + v.params.market_grace_s();
  return {{"zone", m.zone()},
          {"interval_start", Rfc3339S(s)},
          {"interval_start_s", s},
          {"interval_end_s", s + len},
          {"gate_closure", Rfc3339S(gate)},
          {"gate_closure_s", gate},
          {"settlement_due", Rfc3339S(due)},
          {"settlement_due_s", due},
          {"status", std::string(MarketStatusName(m.status()))},
          {"buy_orders", m.buy_orders()},
          {"sell_orders", m.sell_orders()},
          {"contracts", m.contracts()},
          {"clearing_price", v.Money(m.clearing_price())},
          {"cleared_energy_wh", m.cleared_energy_wh()},
          {"contract_energy_wh", m.contract_energy_wh()},
          {"trades", m.trades()},
          {"cleared_height", m.cleared_height()},
          {"settled_height", m.settled_height()},
          {"delivered_energy_wh", m.delivered_energy_wh()},
          // Its zone's market was suspended by governance at gate closure: it traded nothing.
          {"suspended", m.suspended()}};
}

json OrderJson(const StateView& v, const pb::OrderRecord& o) {
  json j = DeliveryJson(o);
  j.update(json{{"kind", "order"},
                {"id", o.id()},
                {"owner", AddressText(o.owner())},
                {"side", std::string(SideName(o.side()))},
                {"limit_price", v.Money(o.limit_price())},
                {"status", std::string(OrderStatusName(o.status()))},
                {"height", o.height()},
                {"filled_wh", o.filled_wh()},
                {"locked", v.Money(o.locked())},
                {"locked_initial", v.Money(o.locked_initial())},
                {"refunded", v.Money(o.refunded())},
                {"paid", v.Money(o.paid())},
                {"penalty", v.Money(o.penalty())},
                {"delivered_wh", o.delivered_wh()},
                {"pool_id", IdOrNull(o.pool_id())}});
  return j;
}

json ContractJson(const StateView& v, const pb::ContractRecord& k) {
  json j = DeliveryJson(k);
  j.update(json{{"kind", "contract"},
                {"id", k.id()},
                {"proposer", AddressText(k.proposer())},
                {"counterparty", AddressText(k.counterparty())},
                {"buyer", AddressText(k.buyer())},
                {"seller", AddressText(k.seller())},
                {"price", v.Money(k.price())},
                {"status", std::string(ContractStatusName(k.status()))},
                {"proposed_height", k.proposed_height()},
                {"accepted_height", k.accepted_height()},
                {"escrow", v.Money(k.escrow())},
                {"collateral", v.Money(k.collateral())},
                {"delivered_wh", k.delivered_wh()},
                {"seller_paid", v.Money(k.seller_paid())},
                {"buyer_refund", v.Money(k.buyer_refund())},
                {"penalty", v.Money(k.penalty())},
                {"collateral_returned", v.Money(k.collateral_returned())}});
  return j;
}

json TradeJson(const StateView& v, const pb::TradeRecord& t) {
  json j = DeliveryJson(t);
  j.update(json{{"index", t.index()},
                {"buy_order_id", t.buy_order_id()},
                {"sell_order_id", t.sell_order_id()},
                {"buyer", AddressText(t.buyer())},
                {"seller", AddressText(t.seller())},
                {"price", v.Money(t.price())},
                {"escrow", v.Money(t.escrow())},
                {"settled", t.settled()},
                {"delivered_wh", t.delivered_wh()},
                {"seller_paid", v.Money(t.seller_paid())},
                {"buyer_refund", v.Money(t.buyer_refund())},
                {"penalty", v.Money(t.penalty())},
                {"pool_id", IdOrNull(t.pool_id())}});
  return j;
}

json MarketOpJson(const StateView& v, const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kPlaceOrder: {
      const auto& o = body.place_order();
      json j = DeliveryJson(o);
      j.update(json{{"type", "place_order"},
                    {"side", std::string(SideName(o.side()))},
                    {"limit_price", v.Money(o.limit_price())},
                    {"pool_id", IdOrNull(o.pool_id())}});
      return j;
    }
    case pb::TxBody::kCancelOrder:
      return IdOpJson("cancel_order", "order_id", body.cancel_order().order_id());
    case pb::TxBody::kProposeContract: {
      const auto& p = body.propose_contract();
      json j = DeliveryJson(p);
      j.update(json{{"type", "propose_contract"},
                    {"counterparty", AddressText(p.counterparty())},
                    {"side", std::string(SideName(p.side()))},
                    {"price", v.Money(p.price())}});
      return j;
    }
    case pb::TxBody::kAcceptContract:
      return IdOpJson("accept_contract", "contract_id", body.accept_contract().contract_id(),
                      &body.accept_contract().meter_id());
    case pb::TxBody::kCancelContract:
      return IdOpJson("cancel_contract", "contract_id", body.cancel_contract().contract_id());
    default:
      return {{"type", "none"}};
  }
}

}  // namespace v2g::api
