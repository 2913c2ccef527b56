#include "tests/faults/market.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/bytes.h"
#include "contracts/market.h"
#include "wallet/client.h"
#include "wallet/tx_builder.h"

namespace v2g::faults {

MarketWorkload::MarketWorkload(Cluster& cluster, const MeterFleet& meters, MarketOptions o, uint64_t seed,
                               int64_t run_start_ms)
    : ClientThreads(o.records_max), cluster_(cluster), meters_(meters), o_(std::move(o)), seed_(seed), run_start_ms_(run_start_ms),
      sellers_(meters.size()) {
  for (int m = 0; m < sellers_; ++m) {
    keys_.push_back(meters.Owner(m));
    addresses_.push_back(AddressFromPublicKey(keys_.back().public_key()));
  }
  for (int b = 0; b < o_.buyers; ++b) {
    const Hash256 s = Blake2b256("v2g-faults-market-buyer-" + std::to_string(b));
    keys_.push_back(KeyPair::FromSeed(ByteView(s.data(), s.size())));
    addresses_.push_back(AddressFromPublicKey(keys_.back().public_key()));
  }
}

MarketWorkload::~MarketWorkload() { Stop(); }

Status MarketWorkload::Setup() {
  // The rules the chain was made with: the checker holds every node's params and settlements to them.
  std::ifstream g(cluster_.Home(0) + "/genesis.json");
  const auto j = nlohmann::json::parse(g, nullptr, false);
  if (j.is_discarded() || !j.contains("params") || !j["params"].is_object()) {
    return Error(Code::kInternal, "cannot read the params of " + cluster_.Home(0) + "/genesis.json");
  }
  o_.collateral_bps = j["params"].value("market_collateral_bps", int64_t{-1});
  o_.penalty_bps = j["params"].value("market_penalty_bps", int64_t{-1});
  if (o_.collateral_bps < 0 || o_.penalty_bps < 0) {
    return Error(Code::kInternal, "genesis.json has no market_collateral_bps or market_penalty_bps");
  }
  return Fund(cluster_, addresses_, denom(), o_.initial, "the market's traders");
}

int64_t MarketWorkload::Start() {
  const int64_t now_s = (NowMs() + 999) / 1000;
  const int64_t s = (now_s + kMarketGateClosureS + 4 + kMarketIntervalS - 1) / kMarketIntervalS * kMarketIntervalS;
  first_s_ = s;
  deadline_s_ = s + kMarketIntervalS + kMarketGraceS;
  StartClients(static_cast<int>(keys_.size()), [this](int p) { Client(p); });
  return s;
}

void MarketWorkload::SetDeadline(int64_t deadline_s) {
  int64_t was = deadline_s_.load();
  while (was < deadline_s && !deadline_s_.compare_exchange_weak(was, deadline_s)) {
  }
}

Status MarketWorkload::WaitOrdersFor(int64_t s) {
  const size_t clients = keys_.size();
  while (NowMs() < (s - kMarketGateClosureS) * 1000) {
    std::set<int> in;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [hash, order] : orders_) {
        if (order.interval_s == s && order.acknowledged) in.insert(order.participant);
      }
    }
    if (in.size() == clients) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error(Code::kTimeout, "not every market client had an order acknowledged for interval " +
                                   std::to_string(s) + " before its gate closed");
}

std::map<std::string, SentOrder> MarketWorkload::Orders() const {
  std::lock_guard<std::mutex> lock(mu_);
  return orders_;
}

void MarketWorkload::Client(int p) {
  Rng rng(seed_ * 104729 + static_cast<uint64_t>(p) + 31);
  const int n = cluster_.size();
  NodeClients clients(cluster_, o_.wait_ms);
  const bool seller = p < sellers_;
  const KeyPair& key = keys_[static_cast<size_t>(p)];
  const std::string me = EncodeAddress(addresses_[static_cast<size_t>(p)]);
  int home = (p + 1) % n;
  uint64_t nonce = 0;  // 0: read it from the chain
  int64_t placed_for = 0;
  int placed = 0;
  auto send = [&](const pb::TxBody& body, const char* kind, TxRecord& rec) {
    rec.kind = kind;
    rec.client = p;
    rec.from = rec.to = p;
    SendTx(clients, cluster_, key, body, run_start_ms_, o_.wait_ms, o_.retries, stop_, &nonce, &home, rec);
  };
  auto keep = [&](TxRecord rec, const SentOrder* order) {
    const std::string hash = rec.hash;
    Record(std::move(rec), [&] {
      if (order) orders_[hash] = *order;
    });
  };
  while (!stop_) {
    if (!HaveNonce(clients, n, home, me, stop_, &nonce)) continue;
    // The first delivery interval whose gate closes at least 2 s from now.
    const int64_t now_s = NowMs() / 1000;
    const int64_t s = (now_s + kMarketGateClosureS + 2 + kMarketIntervalS - 1) / kMarketIntervalS * kMarketIntervalS;
    if (s < first_s_ || s + kMarketIntervalS + kMarketGraceS > deadline_s_.load() ||
        (s == placed_for && placed >= o_.orders_per_interval)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (s != placed_for) {
      placed_for = s;
      placed = 0;
    }
    ++placed;
    SentOrder order;
    order.participant = p;
    order.buy = !seller;
    order.interval_s = s;
    // Sells fit the meter's export limit (2 x 130 Wh < 100 kW x 10 s); buys cross most sells.
    order.energy_wh = seller ? rng.Range(20, 130) : rng.Range(50, 300);
    order.price = seller ? rng.Range(400, 1200) : rng.Range(600, 1600);
    if (seller) order.meter_id = meters_.MeterId(p);
    TxRecord rec;
    rec.amount = order.energy_wh;
    send(MakePlaceOrder(nonce, seller ? pb::SIDE_SELL : pb::SIDE_BUY, o_.zone, s, order.energy_wh, order.price,
                        order.meter_id),
         "place_order", rec);
    const bool placed_ok = rec.outcome == Outcome::kCommitted && rec.code == 0 && rec.created_id != 0;
    order.acknowledged = placed_ok;
    const uint64_t id = rec.created_id;
    keep(std::move(rec), &order);
    // One order in five is withdrawn while its market is still open.
    if (placed_ok && nonce != 0 && rng.Range(0, 4) == 0 && NowMs() / 1000 + 1 < s - kMarketGateClosureS && !stop_) {
      TxRecord cancel;
      cancel.created_id = id;
      send(MakeCancelOrder(nonce, id), "cancel_order", cancel);
      keep(std::move(cancel), nullptr);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

namespace {

int64_t Money(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_object()) return 0;
  const std::string a = j[key].value("amount", "0");
  return std::strtoll(a.c_str(), nullptr, 10);
}

}  // namespace

Result<MarketView> ReadMarket(const std::string& url, const std::string& zone, const std::string& denom,
                              const std::vector<Address>& participants, size_t orders_max) {
  auto api = ApiClient::Create(url, FaultClientOptions(2000));
  if (!api.ok()) return api.status();
  MarketView v;
  std::set<int64_t> intervals;
  for (const Address& a : participants) {
    std::string before;
    for (size_t page = 0; page < 1000; ++page) {
      auto r = api->GetJson("/v1/accounts/" + EncodeAddress(a) + "/orders?kind=order&limit=100" +
                            (before.empty() ? "" : "&before=" + before));
      if (!r.ok()) return r.status();
      v.fingerprint += r->dump();
      for (const auto& o : (*r)["orders"]) {
        OrderView ov;
        ov.id = o.value("id", uint64_t{0});
        ov.owner = o.value("owner", "");
        ov.side = o.value("side", "");
        ov.zone = o.value("zone", "");
        ov.meter_id = o.value("meter_id", "");
        ov.status = o.value("status", "");
        ov.interval_s = o.value("interval_start_s", int64_t{0});
        ov.energy_wh = o.value("energy_wh", int64_t{0});
        ov.limit_price = Money(o, "limit_price");
        ov.filled_wh = o.value("filled_wh", int64_t{0});
        ov.locked = Money(o, "locked");
        ov.locked_initial = Money(o, "locked_initial");
        ov.refunded = Money(o, "refunded");
        ov.paid = Money(o, "paid");
        ov.penalty = Money(o, "penalty");
        ov.delivered_wh = o.value("delivered_wh", int64_t{0});
        intervals.insert(ov.interval_s);
        v.orders[ov.id] = ov;
        if (v.orders.size() > orders_max) return Error(Code::kTooLarge, "more than " + std::to_string(orders_max) + " orders");
      }
      const auto& next = (*r)["next_before"];
      if (next.is_null()) break;
      before = next.is_string() ? next.get<std::string>() : next.dump();
    }
  }
  for (int64_t s : intervals) {
    MarketIntervalView mv;
    int64_t after = -1;
    for (int page = 0; page < 1000; ++page) {
      auto t = api->GetJson("/v1/trades?zone=" + zone + "&interval=" + std::to_string(s) + "&limit=500" +
                            (after >= 0 ? "&after=" + std::to_string(after) : ""));
      if (!t.ok()) return Error(t.status().code(), "market " + zone + " " + std::to_string(s) + ": " + t.status().message());
      const auto& m = (*t)["market"];
      mv.status = m.value("status", "");
      mv.clearing_price = Money(m, "clearing_price");
      for (const auto& tj : (*t)["trades"]) {
        TradeView tv;
        tv.index = tj.value("index", 0u);
        tv.buy_order_id = tj.value("buy_order_id", uint64_t{0});
        tv.sell_order_id = tj.value("sell_order_id", uint64_t{0});
        tv.meter_id = tj.value("meter_id", "");
        tv.energy_wh = tj.value("energy_wh", int64_t{0});
        tv.price = Money(tj, "price");
        tv.escrow = Money(tj, "escrow");
        tv.settled = tj.value("settled", false);
        tv.delivered_wh = tj.value("delivered_wh", int64_t{0});
        tv.seller_paid = Money(tj, "seller_paid");
        tv.buyer_refund = Money(tj, "buyer_refund");
        tv.penalty = Money(tj, "penalty");
        mv.trades.push_back(tv);
      }
      v.fingerprint += t->dump();
      if (!(*t)["next_after"].is_number_integer()) break;
      after = (*t)["next_after"].get<int64_t>();
    }
    v.markets[s] = std::move(mv);
  }
  auto params = api->GetJson("/v1/params");
  if (!params.ok()) return params.status();
  v.collateral_bps = params->value("market_collateral_bps", int64_t{-1});
  v.penalty_bps = params->value("market_penalty_bps", int64_t{-1});
  auto balance = [&](const Address& a) -> Result<int64_t> {
    auto acct = api->GetAccount(EncodeAddress(a));
    if (!acct.ok()) return acct.status();
    for (const auto& b : acct->balances) {
      if (b.denom == denom) return b.amount;
    }
    return int64_t{0};
  };
  for (const Address& a : participants) {
    auto b = balance(a);
    if (!b.ok()) return b.status();
    v.balances.push_back(*b);
    v.fingerprint += std::to_string(*b) + ",";
  }
  auto module = balance(MarketModuleAddress());
  if (!module.ok()) return module.status();
  v.module_balance = *module;
  v.fingerprint += std::to_string(*module);
  return v;
}

}  // namespace v2g::faults
