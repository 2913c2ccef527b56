#include "tests/faults/checker.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/crypto.h"
#include "consensus/block.h"
#include "contracts/market.h"
#include "node/store/store.h"

namespace v2g::faults {

namespace {
std::string Hex(const std::string& s) { return HexEncode(std::string_view(s)); }
std::string HexHash(const Hash256& h) { return HexEncode(ByteView(h.data(), h.size())); }
}  // namespace

Result<ChainView> ReadChain(int node, const std::string& home) {
  auto store = Store::Open(home + "/data/chain.db");
  if (!store.ok()) return Error(store.status().code(), "node " + std::to_string(node) + ": " + store.status().message());
  ChainView v;
  v.node = node;
  v.height = (*store)->Height();
  for (int64_t h = 1; h <= v.height; ++h) {
    auto block = (*store)->LoadBlock(h);
    auto results = (*store)->LoadResults(h);
    if (!block || !results || results->tx_results_size() != block->txs_size()) {
      return Error(Code::kCorruption, "node " + std::to_string(node) + ": block " + std::to_string(h) + " incomplete");
    }
    v.block_ids.push_back(HexHash(BlockId(block->header())));
    v.app_hashes.push_back(Hex(results->app_hash()));
    v.times_ms.push_back(block->header().time_ms());
    v.evidence += block->evidence_size();
    v.signers.emplace_back();
    if (h > 1) {
      for (const auto& sig : block->last_commit().signatures()) {
        auto a = AddressFromBytes(sig.validator_address());
        if (a.ok()) v.signers[static_cast<size_t>(h - 2)].push_back(EncodeAddress(*a));
      }
    }
    for (int i = 0; i < block->txs_size(); ++i) {
      v.txs[HexHash(Blake2b256(block->txs(i)))].emplace_back(h, results->tx_results(i).code());
    }
  }
  if (v.height > 0) {  // the tip's own commit: no block carries it yet
    if (auto tip = (*store)->LoadCommit(v.height)) {
      for (const auto& sig : tip->signatures()) {
        auto a = AddressFromBytes(sig.validator_address());
        if (a.ok()) v.signers[static_cast<size_t>(v.height - 1)].push_back(EncodeAddress(*a));
      }
    }
  }
  return v;
}

Verdict CheckSameChain(const std::vector<ChainView>& chains) {
  Verdict v{"every node has the same blocks and app hashes", true, ""};
  if (chains.empty()) return {v.name, false, "no chain read"};
  // Each node against the first node that has the height (not node 0 alone: two nodes above node
  // 0's height could differ from each other).
  int64_t compared = 0, top = 0;
  for (const ChainView& c : chains) top = std::max(top, c.height);
  for (int64_t h = 1; h <= top; ++h) {
    const size_t k = static_cast<size_t>(h - 1);
    const ChainView* first = nullptr;
    for (const ChainView& c : chains) {
      if (c.height < h) continue;
      if (!first) {
        first = &c;
        continue;
      }
      ++compared;
      if (c.block_ids[k] != first->block_ids[k] || c.app_hashes[k] != first->app_hashes[k]) {
        return {v.name, false,
                "node " + std::to_string(c.node) + " differs from node " + std::to_string(first->node) +
                    " at height " + std::to_string(h) + " (block " + c.block_ids[k].substr(0, 16) + " vs " +
                    first->block_ids[k].substr(0, 16) + ")"};
      }
    }
  }
  v.detail = std::to_string(compared) + " (node, height) pairs compared, up to height " + std::to_string(top);
  return v;
}

Verdict CheckObserved(const std::vector<std::tuple<int, int64_t, std::string>>& seen, const ChainView& chain) {
  Verdict v{"every block a node reported while running is the final chain's block at that height", true, ""};
  int64_t checked = 0;
  for (const auto& [node, height, id] : seen) {
    if (height < 1 || id.empty()) continue;
    ++checked;
    if (height > chain.height) {
      return {v.name, false, "node " + std::to_string(node) + " reported height " + std::to_string(height) +
                                 ", the final chain ends at " + std::to_string(chain.height) + " (a committed block was lost)"};
    }
    if (chain.block_ids[static_cast<size_t>(height - 1)] != id) {
      return {v.name, false, "node " + std::to_string(node) + " reported block " + id.substr(0, 16) + " at height " +
                                 std::to_string(height) + ", the final chain has " +
                                 chain.block_ids[static_cast<size_t>(height - 1)].substr(0, 16)};
    }
  }
  v.detail = std::to_string(checked) + " reports checked";
  if (checked == 0) return {v.name, false, "no node ever reported a block"};
  return v;
}

std::vector<Verdict> CheckHistory(const std::vector<TxRecord>& history, const ChainView& chain) {
  Verdict acked{"every tx acknowledged as committed is in the chain once, where and as told", true, ""};
  Verdict refused{"no tx refused at admission ever committed", true, ""};
  Verdict unknown{"every tx with an unknown outcome committed at most once", true, ""};
  Verdict dup{"no tx is in the chain twice", true, ""};
  int64_t n_acked = 0, n_refused = 0, n_unknown = 0, unknown_committed = 0;
  auto fail = [](Verdict& v, const std::string& why) {
    if (v.ok) v.detail = why;
    v.ok = false;
  };
  for (const TxRecord& r : history) {
    auto it = chain.txs.find(r.hash);
    const size_t times = it == chain.txs.end() ? 0 : it->second.size();
    switch (r.outcome) {
      case Outcome::kCommitted:
        ++n_acked;
        if (times != 1) {
          fail(acked, "tx " + r.hash.substr(0, 16) + " (client " + std::to_string(r.client) + ", nonce " +
                          std::to_string(r.nonce) + ") acknowledged at height " + std::to_string(r.height) +
                          " is in the chain " + std::to_string(times) + " times");
        } else if (it->second[0].first != r.height || it->second[0].second != r.code) {
          fail(acked, "tx " + r.hash.substr(0, 16) + " acknowledged at height " + std::to_string(r.height) + " code " +
                          std::to_string(r.code) + " is at height " + std::to_string(it->second[0].first) +
                          " code " + std::to_string(it->second[0].second));
        }
        break;
      case Outcome::kRefused:
        ++n_refused;
        if (times != 0) {
          fail(refused, "tx " + r.hash.substr(0, 16) + " refused (" + r.error + ") is in the chain at height " +
                            std::to_string(it->second[0].first));
        }
        break;
      case Outcome::kUnknown:
        ++n_unknown;
        if (times > 1) fail(unknown, "tx " + r.hash.substr(0, 16) + " is in the chain " + std::to_string(times) + " times");
        if (times == 1) ++unknown_committed;
        break;
    }
  }
  for (const auto& [hash, where] : chain.txs) {
    if (where.size() > 1) {
      fail(dup, "tx " + hash.substr(0, 16) + " at heights " + std::to_string(where[0].first) + " and " +
                    std::to_string(where[1].first));
    }
  }
  if (acked.ok) acked.detail = std::to_string(n_acked) + " acknowledged";
  if (acked.ok && n_acked == 0) {
    acked.ok = false;
    acked.detail = "no tx was acknowledged at all: the run proved nothing";
  }
  if (refused.ok) refused.detail = std::to_string(n_refused) + " refused";
  if (unknown.ok) {
    unknown.detail = std::to_string(n_unknown) + " unknown, " + std::to_string(unknown_committed) + " of them committed";
  }
  if (dup.ok) dup.detail = std::to_string(chain.txs.size()) + " txs in " + std::to_string(chain.height) + " blocks";
  return {acked, refused, unknown, dup};
}

Verdict CheckBalances(const std::vector<TxRecord>& history, const ChainView& chain, int accounts, int64_t initial,
                      const std::vector<std::vector<int64_t>>& balances_per_node) {
  Verdict v{"the bank's money is conserved and every committed transfer applied exactly once", true, ""};
  std::vector<int64_t> want(static_cast<size_t>(accounts), initial);
  for (const TxRecord& r : history) {
    auto it = chain.txs.find(r.hash);
    if (it == chain.txs.end() || it->second[0].second != 0) continue;
    want[static_cast<size_t>(r.from)] -= r.amount;
    want[static_cast<size_t>(r.to)] += r.amount;
  }
  for (size_t node = 0; node < balances_per_node.size(); ++node) {
    const auto& got = balances_per_node[node];
    if (got.size() != want.size()) return {v.name, false, "node " + std::to_string(node) + ": balances not read"};
    int64_t sum = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      sum += got[i];
      if (got[i] != want[i]) {
        return {v.name, false,
                "node " + std::to_string(node) + ": account " + std::to_string(i) + " holds " + std::to_string(got[i]) +
                    ", the chain's committed transfers leave it " + std::to_string(want[i])};
      }
    }
    if (sum != initial * accounts) {
      return {v.name, false, "node " + std::to_string(node) + ": the accounts sum to " + std::to_string(sum) +
                                 ", minted " + std::to_string(initial * accounts)};
    }
  }
  v.detail = std::to_string(balances_per_node.size()) + " nodes, " + std::to_string(accounts) + " accounts each";
  return v;
}

namespace {

// What a meter's accepted readings 1..last attest, from what the meter sent, given which version
// of each seq the chain took (`pick`: seq -> version index; absent: the only one): each reading's
// rise over the previous one covers [previous end, its end) and goes to the settlement interval
// holding that span, or is unattributed when the span crosses a boundary (contracts/meters.h).
// Intervals that end up with no energy are left out.
struct Attribution {
  std::map<int64_t, int64_t> import, export_;
  int64_t unattributed_import = 0, unattributed_export = 0;
  bool operator==(const Attribution&) const = default;
};

Attribution Attribute(const std::map<uint64_t, SentReading>& sent, uint64_t last, int64_t interval_s,
                      const std::map<uint64_t, size_t>& pick) {
  Attribution a;
  auto end_of = [&](const SentReading& r) {
    auto p = pick.find(r.seq);
    return r.versions[p == pick.end() ? 0 : p->second].end_s;
  };
  for (uint64_t seq = 2; seq <= last; ++seq) {
    auto prev = sent.find(seq - 1), cur = sent.find(seq);
    if (prev == sent.end() || cur == sent.end() || prev->second.versions.empty() || cur->second.versions.empty()) {
      continue;  // CheckMeters fails a chain with a seq the meter never made
    }
    const int64_t start = end_of(prev->second), end = end_of(cur->second);
    const int64_t di = cur->second.import_wh_total - prev->second.import_wh_total;
    const int64_t de = cur->second.export_wh_total - prev->second.export_wh_total;
    const int64_t iv = start - start % interval_s;
    if (end > start && (end - 1) - (end - 1) % interval_s == iv) {
      a.import[iv] += di;
      a.export_[iv] += de;
    } else {
      a.unattributed_import += di;
      a.unattributed_export += de;
    }
  }
  std::erase_if(a.import, [](const auto& e) { return e.second == 0; });
  std::erase_if(a.export_, [](const auto& e) { return e.second == 0; });
  return a;
}

// Every way the chain may have taken the meter's readings: one version per seq made more than
// once (the last seq's is the one whose signature the chain shows). At most 256 ways: beyond that
// only the newest versions of later seqs are tried, and `*capped` says so.
std::vector<std::map<uint64_t, size_t>> Picks(const std::map<uint64_t, SentReading>& sent, uint64_t last,
                                              const std::string& last_signature, bool* capped) {
  *capped = false;
  std::vector<std::map<uint64_t, size_t>> out{{}};
  for (const auto& [seq, r] : sent) {
    if (seq > last) break;
    std::vector<size_t> choices;
    for (size_t k = 0; k < r.versions.size(); ++k) {
      if (seq != last || r.versions[k].signature == last_signature) choices.push_back(k);
    }
    if (choices.size() == 1 && choices[0] == 0) continue;
    if (choices.empty()) continue;  // the signature check fails it
    if (out.size() * choices.size() > 256) {
      choices = {choices.back()};
      *capped = true;
    }
    std::vector<std::map<uint64_t, size_t>> next;
    for (const auto& p : out) {
      for (size_t k : choices) {
        auto q = p;
        q[seq] = k;
        next.push_back(std::move(q));
      }
    }
    out = std::move(next);
  }
  return out;
}

}  // namespace

Verdict CheckMeters(const std::vector<std::map<uint64_t, SentReading>>& sent,
                    const std::vector<std::vector<MeterOnChain>>& per_node, int64_t interval_s) {
  Verdict v{"the energy attested is exactly what the meters sent and the chain accepted", true, ""};
  int64_t accepted = 0, energy = 0, exported = 0, remade = 0, unattributed = 0, intervals = 0;
  for (const auto& per_meter : sent) {
    for (const auto& [seq, r] : per_meter) remade += r.versions.size() > 1 ? 1 : 0;
  }
  for (size_t node = 0; node < per_node.size(); ++node) {
    if (per_node[node].size() != sent.size()) return {v.name, false, "node " + std::to_string(node) + ": meters not read"};
    for (size_t m = 0; m < sent.size(); ++m) {
      const MeterOnChain& c = per_node[node][m];
      const auto& s = sent[m];
      const std::string who = "node " + std::to_string(node) + ", meter " + std::to_string(m) + ": ";
      if (c.readings_accepted != static_cast<int64_t>(c.last_seq)) {
        return {v.name, false, who + std::to_string(c.readings_accepted) + " readings accepted but the last is seq " +
                                   std::to_string(c.last_seq)};
      }
      for (const auto& [seq, r] : s) {
        if (r.told_accepted && seq > c.last_seq) {
          return {v.name, false, who + "reading " + std::to_string(seq) + " was acknowledged accepted, the chain ends at " +
                                     std::to_string(c.last_seq)};
        }
      }
      if (c.last_seq == 0) {
        if (c.attested_import_wh != 0 || c.attested_export_wh != 0) {
          return {v.name, false, who + "energy attested without a reading"};
        }
        continue;
      }
      auto last = s.find(c.last_seq);
      auto first = s.find(1);
      if (last == s.end() || first == s.end()) {
        return {v.name, false, who + "the chain's last reading (seq " + std::to_string(c.last_seq) +
                                   ") is not one the meter sent"};
      }
      for (uint64_t seq = 1; seq <= c.last_seq; ++seq) {
        if (!s.count(seq)) {
          return {v.name, false, who + "the chain accepted seq " + std::to_string(seq) + ", which the meter never made"};
        }
      }
      const auto& versions = last->second.versions;
      const bool signed_it = std::any_of(versions.begin(), versions.end(),
                                         [&](const ReadingVersion& x) { return x.signature == c.last_signature; });
      if (!signed_it || last->second.import_wh_total != c.last_import_wh_total ||
          last->second.export_wh_total != c.last_export_wh_total) {
        return {v.name, false, who + "the chain's reading " + std::to_string(c.last_seq) +
                                   " differs from every one the meter signed with that seq"};
      }
      const int64_t rise = last->second.import_wh_total - first->second.import_wh_total;
      if (c.attested_import_wh + c.unattributed_import_wh != rise) {
        return {v.name, false, who + std::to_string(c.attested_import_wh) + " Wh attested + " +
                                   std::to_string(c.unattributed_import_wh) + " unattributed, the meter's register rose " +
                                   std::to_string(rise) + " Wh over its accepted readings"};
      }
      const int64_t export_rise = last->second.export_wh_total - first->second.export_wh_total;
      if (c.attested_export_wh + c.unattributed_export_wh != export_rise) {
        return {v.name, false, who + std::to_string(c.attested_export_wh) + " Wh export attested + " +
                                   std::to_string(c.unattributed_export_wh) +
                                   " unattributed, the meter's export register rose " + std::to_string(export_rise) +
                                   " Wh over its accepted readings"};
      }
      // Each interval's energy where the meter's spans put it (for one of the ways the chain may
      // have taken a reading made more than once).
      Attribution got;
      got.import = c.import_by_interval;
      got.export_ = c.export_by_interval;
      std::erase_if(got.import, [](const auto& e) { return e.second == 0; });
      std::erase_if(got.export_, [](const auto& e) { return e.second == 0; });
      got.unattributed_import = c.unattributed_import_wh;
      got.unattributed_export = c.unattributed_export_wh;
      bool capped = false;
      const auto picks = Picks(s, c.last_seq, c.last_signature, &capped);
      const bool placed = std::any_of(picks.begin(), picks.end(), [&](const std::map<uint64_t, size_t>& p) {
        return Attribute(s, c.last_seq, interval_s, p) == got;
      });
      if (!placed) {
        const Attribution want = Attribute(s, c.last_seq, interval_s, picks.front());
        std::string where;  // the first interval that differs, export first
        auto differ = [&](const std::map<int64_t, int64_t>& w, const std::map<int64_t, int64_t>& g, const char* what) {
          for (const auto& [iv, wh] : w) {
            auto it = g.find(iv);
            const int64_t held = it == g.end() ? 0 : it->second;
            if (held != wh && where.empty()) {
              where = "interval " + std::to_string(iv) + " holds " + std::to_string(held) + " Wh " + what +
                      ", the meter's spans put " + std::to_string(wh) + " there; ";
            }
          }
        };
        differ(want.export_, got.export_, "export");
        differ(want.import, got.import, "import");
        return {v.name, false, who + where + "its " + std::to_string(got.import.size()) + " / " +
                                   std::to_string(got.export_.size()) + " intervals with import / export and " +
                                   std::to_string(got.unattributed_import) + " / " +
                                   std::to_string(got.unattributed_export) +
                                   " Wh unattributed are not where the meter's readings put them (tried " +
                                   std::to_string(picks.size()) + " ways" +
                                   (capped ? ", not all: too many readings made again; inconclusive" : "") + ")"};
      }
      if (node == 0) intervals += static_cast<int64_t>(got.import.size() + got.export_.size());
      const MeterOnChain& c0 = per_node[0][m];
      if (c.last_seq != c0.last_seq || c.import_by_interval != c0.import_by_interval ||
          c.export_by_interval != c0.export_by_interval || c.unattributed_import_wh != c0.unattributed_import_wh ||
          c.unattributed_export_wh != c0.unattributed_export_wh) {
        return {v.name, false, who + "differs from node 0"};
      }
      if (node == 0) {
        accepted += c.readings_accepted;
        energy += c.attested_import_wh;
        exported += c.attested_export_wh;
        unattributed += c.unattributed_import_wh + c.unattributed_export_wh;
      }
    }
  }
  if (accepted == 0) return {v.name, false, "no reading was accepted at all: the run proved nothing"};
  v.detail = std::to_string(sent.size()) + " meters, " + std::to_string(accepted) + " readings accepted, " +
             std::to_string(energy) + " Wh import and " + std::to_string(exported) + " Wh export attested over " +
             std::to_string(intervals) + " (meter, interval, register) sums checked (" + std::to_string(unattributed) +
             " Wh unattributed; " + std::to_string(remade) + " readings made again after their interval settled), on " +
             std::to_string(per_node.size()) + " nodes";
  return v;
}

std::vector<Verdict> CheckMarket(const std::vector<TxRecord>& history, const std::map<std::string, SentOrder>& sent,
                                 const std::vector<MarketView>& views, const std::vector<Address>& participants,
                                 const MarketOptions& rules,
                                 const std::map<std::string, std::map<int64_t, int64_t>>& export_by_meter) {
  Verdict cycle{"every market the workload traded in settled; every order is one a client placed, final", true, ""};
  Verdict clearing{"every market cleared as the auction rule says (matches, price, collateral kept)", true, ""};
  Verdict paid{"every trade is paid for exactly the attested export that backs it", true, ""};
  Verdict money{"the market's money is conserved: traders, orders, trades and escrow agree", true, ""};
  auto fail = [](Verdict& v, const std::string& why) {
    if (v.ok) v.detail = why;
    v.ok = false;
  };
  if (views.empty()) {
    for (Verdict* v : {&cycle, &clearing, &paid, &money}) fail(*v, "no node's market was read");
    return {cycle, clearing, paid, money};
  }
  for (size_t k = 1; k < views.size(); ++k) {
    if (views[k].fingerprint != views[0].fingerprint) fail(cycle, "node " + std::to_string(k) + "'s market differs from node 0's");
  }
  const MarketView& v = views[0];
  if (v.collateral_bps != rules.collateral_bps || v.penalty_bps != rules.penalty_bps) {
    fail(money, "the chain's collateral / penalty rates " + std::to_string(v.collateral_bps) + " / " +
                    std::to_string(v.penalty_bps) + " bps are not genesis's " + std::to_string(rules.collateral_bps) +
                    " / " + std::to_string(rules.penalty_bps));
  }
  auto same = [&](const SentOrder& want, const OrderView& got) {
    return want.participant >= 0 && static_cast<size_t>(want.participant) < participants.size() &&
           got.owner == EncodeAddress(participants[static_cast<size_t>(want.participant)]) &&
           got.side == (want.buy ? "buy" : "sell") && got.zone == rules.zone && got.interval_s == want.interval_s &&
           got.energy_wh == want.energy_wh && got.limit_price == want.price && got.meter_id == want.meter_id;
  };
  // What the clients were told against the chain: each acknowledged order is there as placed, and
  // each other order on the chain is one whose tx's outcome was unknown, matched once.
  int64_t acked_orders = 0;
  std::set<uint64_t> claimed;
  std::vector<const SentOrder*> maybe;  // orders of txs with an unknown outcome
  for (const TxRecord& r : history) {
    if (r.kind == "place_order") {
      auto so = sent.find(r.hash);
      if (r.outcome == Outcome::kUnknown && so != sent.end()) maybe.push_back(&so->second);
      if (r.outcome != Outcome::kCommitted || r.code != 0) continue;
      ++acked_orders;
      auto o = v.orders.find(r.created_id);
      if (so == sent.end() || o == v.orders.end()) {
        fail(cycle, "acknowledged order " + std::to_string(r.created_id) + " (tx " + r.hash.substr(0, 16) +
                        ") is not on the chain");
        continue;
      }
      if (!same(so->second, o->second)) fail(cycle, "order " + std::to_string(r.created_id) + " on the chain is not the one its client placed");
      if (!claimed.insert(r.created_id).second) fail(cycle, "order " + std::to_string(r.created_id) + " acknowledged twice");
    } else if (r.kind == "cancel_order" && r.outcome == Outcome::kCommitted && r.code == 0) {
      auto o = v.orders.find(r.created_id);
      if (o == v.orders.end() || o->second.status != "cancelled") {
        fail(cycle, "order " + std::to_string(r.created_id) + " was acknowledged cancelled but is " +
                        (o == v.orders.end() ? std::string("not on the chain") : o->second.status));
      }
    }
  }
  for (const auto& [id, o] : v.orders) {
    if (claimed.count(id)) continue;
    const OrderView& order = o;
    auto it = std::find_if(maybe.begin(), maybe.end(), [&](const SentOrder* so) { return so && same(*so, order); });
    if (it == maybe.end()) {
      fail(cycle, "order " + std::to_string(id) + " on the chain matches no order a client sent");
    } else {
      *it = nullptr;  // each sent order backs one order at most
    }
  }
  for (const auto& [id, o] : v.orders) {
    if ((o.status != "cancelled" && o.status != "expired" && o.status != "settled") || o.locked != 0) {
      fail(cycle, "order " + std::to_string(id) + " is " + o.status + " with " + std::to_string(o.locked) +
                      " still locked after its market's settlement was due");
    }
  }
  int64_t trades = 0, settled_markets = 0, delivered = 0;
  for (const auto& [s, m] : v.markets) {
    if (m.status != "settled") {
      fail(cycle, "market " + std::to_string(s) + " is " + m.status + " after its settlement was due");
    } else {
      ++settled_markets;
    }
    trades += static_cast<int64_t>(m.trades.size());
  }
  if (cycle.ok && acked_orders == 0) fail(cycle, "no order was acknowledged at all: the run proved nothing");
  if (cycle.ok && trades == 0) fail(cycle, "no market traded: no order went through a whole cycle");
  if (cycle.ok) {
    cycle.detail = std::to_string(v.orders.size()) + " orders (" + std::to_string(acked_orders) + " acknowledged), " +
                   std::to_string(settled_markets) + " markets settled, " + std::to_string(trades) + " trades";
  }

  // Clearing, recomputed from the orders: every order not cancelled took part (none is taken after
  // gate closure, none cancelled after it).
  std::map<uint64_t, int64_t> filled, order_delivered, order_paid, order_penalty;
  for (const auto& [s, m] : v.markets) {
    std::vector<AuctionOrder> bids, asks;
    for (const auto& [id, o] : v.orders) {
      if (o.interval_s != s || o.status == "cancelled") continue;
      (o.side == "buy" ? bids : asks).push_back(AuctionOrder{id, o.limit_price, o.energy_wh});
    }
    const AuctionResult want = ClearCallAuction(bids, asks);
    std::vector<std::tuple<uint64_t, uint64_t, int64_t>> want_fills, got_fills;
    for (const AuctionFill& f : want.fills) want_fills.emplace_back(f.buy_id, f.sell_id, f.energy_wh);
    for (const TradeView& t : m.trades) got_fills.emplace_back(t.buy_order_id, t.sell_order_id, t.energy_wh);
    std::sort(want_fills.begin(), want_fills.end());
    std::sort(got_fills.begin(), got_fills.end());
    if (want_fills != got_fills || (!want.fills.empty() && m.clearing_price != want.price)) {
      fail(clearing, "market " + std::to_string(s) + ": " + std::to_string(got_fills.size()) + " trades at " +
                         std::to_string(m.clearing_price) + "; its orders clear as " + std::to_string(want_fills.size()) +
                         " matches at " + std::to_string(want.price));
    }
    for (const TradeView& t : m.trades) {
      auto sell = v.orders.find(t.sell_order_id);
      if (t.price != m.clearing_price || sell == v.orders.end() || t.meter_id != sell->second.meter_id) {
        fail(clearing, "market " + std::to_string(s) + " trade " + std::to_string(t.index) +
                           " is not at the clearing price on its sell's meter");
      }
      for (uint64_t id : {t.buy_order_id, t.sell_order_id}) {
        filled[id] += t.energy_wh;
        order_delivered[id] += t.delivered_wh;
        order_paid[id] += t.seller_paid;
        order_penalty[id] += t.penalty;
      }
    }
  }
  for (const auto& [id, o] : v.orders) {
    if (o.filled_wh != filled[id] || o.filled_wh > o.energy_wh) {
      fail(clearing, "order " + std::to_string(id) + " says " + std::to_string(o.filled_wh) + " of " +
                         std::to_string(o.energy_wh) + " Wh filled; its trades hold " + std::to_string(filled[id]));
    }
  }
  if (clearing.ok) clearing.detail = std::to_string(v.markets.size()) + " markets recomputed";

  // Settlement against the attested export: per meter, trades in arrival order (sell order id,
  // then index) take what is left of the interval's export; each sell's penalties come out of the
  // collateral it kept at clearing, capped by what is left of it.
  for (const auto& [s, m] : v.markets) {
    std::map<std::string, std::vector<const TradeView*>> by_meter;
    for (const TradeView& t : m.trades) by_meter[t.meter_id].push_back(&t);
    for (auto& [meter, list] : by_meter) {
      std::sort(list.begin(), list.end(), [](const TradeView* a, const TradeView* b) {
        return std::tie(a->sell_order_id, a->index) < std::tie(b->sell_order_id, b->index);
      });
      int64_t left = 0;
      if (auto mi = export_by_meter.find(meter); mi != export_by_meter.end()) {
        if (auto e = mi->second.find(s); e != mi->second.end()) left = e->second;
      }
      const int64_t attested = left;
      std::map<uint64_t, int64_t> collateral;  // sell order -> what is left of it
      for (const TradeView* t : list) {
        const std::string which = "market " + std::to_string(s) + " trade " + std::to_string(t->index);
        if (t->delivered_wh < 0 || t->delivered_wh > t->energy_wh || t->energy_wh <= 0 || t->price <= 0) {
          fail(paid, which + " delivered " + std::to_string(t->delivered_wh) + " of " + std::to_string(t->energy_wh) + " Wh");
          continue;
        }
        const int64_t d = std::min(left, t->energy_wh);
        left -= d;
        if (t->delivered_wh != d) {
          fail(paid, which + " on meter " + meter + " was settled as " + std::to_string(t->delivered_wh) +
                         " Wh delivered; the meter attested " + std::to_string(attested) + " Wh, which leaves it " +
                         std::to_string(d) + " in arrival order");
        }
        auto sell = v.orders.find(t->sell_order_id);
        if (sell == v.orders.end()) continue;  // the clearing verdict says so
        if (!collateral.count(t->sell_order_id)) {
          collateral[t->sell_order_id] =
              EnergyValueBps(sell->second.filled_wh, sell->second.limit_price, rules.collateral_bps).value_or(-1);
        }
        int64_t& kept = collateral[t->sell_order_id];
        const auto escrow = EnergyValue(t->energy_wh, t->price);
        const auto pay = EnergyValue(t->delivered_wh, t->price);
        const auto rate = EnergyValueBps(t->energy_wh - t->delivered_wh, t->price, rules.penalty_bps);
        const int64_t penalty = rate && kept >= 0 ? std::min(kept, *rate) : -1;
        if (!escrow || !pay || penalty < 0 || t->escrow != *escrow || t->seller_paid != *pay ||
            t->buyer_refund != t->escrow - t->seller_paid || t->penalty != penalty || !t->settled) {
          fail(paid, which + ": " + std::to_string(t->delivered_wh) + " of " + std::to_string(t->energy_wh) +
                         " Wh at " + std::to_string(t->price) + ": escrow " + std::to_string(t->escrow) + ", seller paid " +
                         std::to_string(t->seller_paid) + ", refund " + std::to_string(t->buyer_refund) + ", penalty " +
                         std::to_string(t->penalty) + " (the rules give " + std::to_string(escrow.value_or(-1)) + ", " +
                         std::to_string(pay.value_or(-1)) + ", " +
                         std::to_string(escrow.value_or(0) - pay.value_or(0)) + ", " + std::to_string(penalty) + ")");
        }
        if (penalty > 0) kept -= penalty;
        delivered += t->delivered_wh;
      }
    }
  }
  if (paid.ok) paid.detail = std::to_string(trades) + " trades, " + std::to_string(delivered) + " Wh delivered and paid";

  // Money: each order against its trades and the locking rules, each trader against its orders,
  // escrow against locks.
  std::vector<int64_t> want(participants.size(), rules.initial);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < participants.size(); ++i) index[EncodeAddress(participants[i])] = i;
  int64_t locked = 0;
  for (const auto& [id, o] : v.orders) {
    const std::string which = "order " + std::to_string(id);
    locked += o.locked;
    if (o.delivered_wh != order_delivered[id] || o.paid != order_paid[id] || o.penalty != order_penalty[id]) {
      fail(money, which + " says " + std::to_string(o.delivered_wh) + " Wh delivered, " + std::to_string(o.paid) +
                      " paid, " + std::to_string(o.penalty) + " penalty; its trades say " +
                      std::to_string(order_delivered[id]) + ", " + std::to_string(order_paid[id]) + ", " +
                      std::to_string(order_penalty[id]));
    }
    const bool buy = o.side == "buy";
    // A buy escrows its energy at its limit, a sell locks collateral on it; the escrow went to
    // sellers or back, the collateral to buyers as penalties or back.
    const auto lock = buy ? EnergyValue(o.energy_wh, o.limit_price)
                          : EnergyValueBps(o.energy_wh, o.limit_price, rules.collateral_bps);
    if (!lock || o.locked_initial != *lock || o.refunded < 0 ||
        o.locked_initial != o.locked + o.refunded + (buy ? o.paid : o.penalty)) {
      fail(money, which + " locked " + std::to_string(o.locked_initial) + " (the rules say " +
                      std::to_string(lock.value_or(-1)) + ") and accounts for " +
                      std::to_string(o.locked + o.refunded + (buy ? o.paid : o.penalty)));
    }
    auto who = index.find(o.owner);
    if (who == index.end()) {
      fail(money, which + " belongs to " + o.owner + ", no trader of the workload");
      continue;
    }
    want[who->second] += (buy ? -1 : 1) * (o.paid - o.penalty) - o.locked;
  }
  int64_t sum = v.module_balance;
  for (size_t i = 0; i < participants.size() && i < v.balances.size(); ++i) {
    sum += v.balances[i];
    if (v.balances[i] != want[i]) {
      fail(money, "trader " + std::to_string(i) + " holds " + std::to_string(v.balances[i]) + ", its orders leave it " +
                      std::to_string(want[i]));
    }
  }
  if (v.balances.size() != participants.size()) fail(money, "balances not read");
  if (v.module_balance != locked) {
    fail(money, "the market's account holds " + std::to_string(v.module_balance) + ", the orders lock " +
                    std::to_string(locked));
  }
  const int64_t minted = rules.initial * static_cast<int64_t>(participants.size());
  if (sum != minted) fail(money, "traders and escrow sum to " + std::to_string(sum) + ", minted " + std::to_string(minted));
  if (money.ok) money.detail = std::to_string(participants.size()) + " traders, " + std::to_string(minted) + " minted";
  return {cycle, clearing, paid, money};
}

}  // namespace v2g::faults
