// HTTP API of grid services and aggregators (contracts/grid.h, contracts/pools.h; docs/API.md
// "Grid services"): tariffs, demand-response events, incentive programs and pools. An owner's
// statement and debts are in statement.cc. Read-only: every handler reads one store snapshot,
// validates each parameter with an error that names it, and caps its pages.
#include "contracts/grid.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/limits.h"
#include "contracts/pools.h"
#include "contracts/state.h"
#include "node/api/access.h"
#include "node/api/paging.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "node/store/index.h"
#include "proto/encode.h"

namespace v2g::api {
namespace {

// Same ceiling as the market's pages: a page of records with nested amounts stays well under a
// megabyte of JSON.
constexpr int64_t kPageMax = limits::kMarketPageMax;

// Answers a newest-first page of the records listed under `prefix`, after the endpoint's own
// filters were parsed: {"<items_key>": [...], "next_before": id or null}. `prefix` holds either
// the records themselves (no filter) or an index of their ids (node/store/index.h) whose every
// entry matches the filters, so a page reads the page and nothing else.
template <typename Rec, typename Render>
void ReplyNewestFirst(ApiContext& c, const httplib::Request& req, httplib::Response& res,
                      const char* items_key, std::string_view prefix,
                      std::optional<Rec> (*load)(const KvReader&, uint64_t), Render&& render) {
  auto before = BeforeParam(req);
  if (!before.ok()) return ReplyError(res, before.status());
  auto limit = LimitParam(req, kPageDefault, kPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  const Page<Rec> page =
      NewestFirst<Rec>(v.state, prefix, *before, *limit,
                       [&](uint64_t id, std::string_view val) -> std::optional<Rec> {
                         if (val.empty()) return load(v.state, id);  // an index entry
                         return DecodeRecord<Rec>(std::string(val));
                       });
  json items = JsonList(page.items, [&](const Rec& r) { return render(v, r); });
  // Records whose totals went (HideSmallTotals): how many, and who would see them (their
  // managers, at most kListReadersMax), a wallet's cue to sign the list again.
  constexpr size_t kListReadersMax = 16;
  int64_t reduced = 0;
  json readers = json::array();
  for (const json& item : items) {
    if (!item.contains("private")) continue;
    ++reduced;
    for (const json& r : item.value("readers", json::array())) {
      if (readers.size() < kListReadersMax &&
          std::find(readers.begin(), readers.end(), r) == readers.end()) {
        readers.push_back(r);
      }
    }
  }
  json body = {
      {items_key, std::move(items)}, {"next_before", page.next}, {"private_items", reduced}};
  if (!readers.empty()) body["readers"] = std::move(readers);
  Reply(res, 200, body);
}

// An event, program or pool as the current reader may see it: with its totals only over enough
// owners, or to its manager (access.h HideSmallTotals).
json EventForReader(const ApiContext& c, const StateView& v, const pb::EventRecord& e) {
  json j = EventJson(v, e);
  HideSmallTotals(c, j, e.grid_company(), {"performance_wh", "owed", "paid", "returned"},
                  e.performance_wh(),
                  [&] { return EventOwnerShares(v.state, e.id(), kPublicTotalsRowsScanned); });
  return j;
}

json ProgramForReader(const ApiContext& c, const StateView& v, const pb::ProgramRecord& p) {
  json j = ProgramJson(v, p);
  HideSmallTotals(c, j, p.sponsor(), {"paid", "remaining", "returned"}, p.paid(),
                  [&] { return ProgramOwnerShares(v.state, p.id(), kPublicTotalsRowsScanned); });
  return j;
}

json PoolForReader(const ApiContext& c, const StateView& v, const pb::PoolRecord& p) {
  json j = PoolJson(v, p);
  HideSmallTotals(c, j, p.aggregator(), {"fees_earned", "members_earned"}, p.members_earned(),
                  [&] { return PoolOwnerShares(v.state, p.id(), kPublicTotalsRowsScanned); });
  return j;
}

}  // namespace

void ListZones(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  json list = json::array();
  // Bounded: a chain has at most limits::kZonesMax zones (genesis and governance add them).
  snap->reader().Scan(kZonePrefix, [&](std::string_view, std::string_view v) {
    const auto z = DecodeRecord<pb::ZoneRecord>(std::string(v));
    list.push_back(
        {{"name", z.name()},
         {"grid_company", AddressText(z.grid_company())},
         {"market_suspended", z.market_suspended()},
         {"suspended_height", z.market_suspended() ? json(z.suspended_height()) : json(nullptr)}});
    return true;
  });
  Reply(res, 200, {{"zones", list}});
}

void GetTariffs(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto zone = ParseZone("zone", req.matches[1]);
  if (!zone.ok()) return ReplyError(res, zone.status());
  const int64_t now_s = c.chain->Tip().time_ms / 1000;
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  const std::vector<pb::TariffRecord> tariffs = LoadTariffs(v.state, *zone);
  if (tariffs.empty()) {
    return ReplyError(res, Error(Code::kNotFound, "no tariff has been set for zone " + *zone));
  }
  json current = nullptr;
  if (auto t = TariffAt(v.state, *zone, now_s)) current = TariffInEffectJson(v, *t, now_s);
  Reply(
      res, 200,
      {{"zone", *zone},
       {"denom", v.params.market_denom()},
       {"now", Rfc3339S(now_s)},
       {"now_s", now_s},
       {"tariffs", JsonList(tariffs, [&](const pb::TariffRecord& t) { return TariffJson(v, t); })},
       {"in_effect", current}});
}

// The rows (enrollments, members: records with an owner) the reader may see, rendered: each to
// its owner, and all to `manager` (the event's grid company, the pool's aggregator, the
// program's sponsor) and to full readers (access.h). `parent` gets "hidden_rows": how many were
// left out (their count is public in the parent's own counters).
template <typename Row, typename Render>
json VisibleRows(const ApiContext& c, const std::vector<Row>& rows, const std::string& manager, json& parent,
                 Render&& render) {
  json out = json::array();
  int64_t hidden = 0;
  for (const Row& r : rows) {
    if (MayRead(c, {r.owner(), manager})) {
      out.push_back(render(r));
    } else {
      ++hidden;
    }
  }
  parent["hidden_rows"] = hidden;
  if (hidden > 0) parent["readers"] = ReaderTexts({manager});
  return out;
}

void ListEvents(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  std::string zone;
  if (req.has_param("zone")) {
    auto z = ParseZone("zone", req.get_param_value("zone"));
    if (!z.ok()) return ReplyError(res, z.status());
    zone = *z;
  }
  auto status = ChoiceParam(req, "status", "open", "settled");
  if (!status.ok()) return ReplyError(res, status.status());
  const pb::EventStatus want = *status == "open" ? pb::EVENT_OPEN : pb::EVENT_SETTLED;
  const std::string prefix = !zone.empty() && !status->empty()
                                 ? index::EventZoneStatusPrefix(zone, want)
                             : !zone.empty()    ? index::EventZonePrefix(zone)
                             : !status->empty() ? index::EventStatusPrefix(want)
                                                : std::string(kEventPrefix);
  ReplyNewestFirst<pb::EventRecord>(
      c, req, res, "events", prefix, LoadEvent,
      [&](const StateView& v, const pb::EventRecord& e) { return EventForReader(c, v, e); });
}

void GetEvent(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [&](const StateView& v, uint64_t id) -> Result<json> {
    auto ev = LoadEvent(v.state, id);
    if (!ev) {
      const bool is_program = LoadProgram(v.state, id).has_value();
      return NotFoundById("event", id, "a program", "/v1/programs/", is_program);
    }
    json j = EventForReader(c, v, *ev);
    // Who enrolled what and earned what: the enrollee's and the event's grid company's.
    j["enrollments"] = VisibleRows(c, LoadEventEnrollments(v.state, id), ev->grid_company(), j,
                                   [&](const auto& e) { return EnrollmentJson(v, *ev, e); });
    return j;
  });
}

void ListPrograms(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto status = ChoiceParam(req, "status", "open", "closed");
  if (!status.ok()) return ReplyError(res, status.status());
  const pb::ProgramStatus want = *status == "open" ? pb::PROGRAM_OPEN : pb::PROGRAM_CLOSED;
  const std::string prefix =
      status->empty() ? std::string(kProgramPrefix) : index::ProgramStatusPrefix(want);
  ReplyNewestFirst<pb::ProgramRecord>(
      c, req, res, "programs", prefix, LoadProgram,
      [&](const StateView& v, const pb::ProgramRecord& p) { return ProgramForReader(c, v, p); });
}

void GetProgram(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [&](const StateView& v, uint64_t id) -> Result<json> {
    auto p = LoadProgram(v.state, id);
    if (!p) {
      const bool is_event = LoadEvent(v.state, id).has_value();
      return NotFoundById("program", id, "an event", "/v1/events/", is_event);
    }
    json j = ProgramForReader(c, v, *p);
    const bool sponsor = MayRead(c, {p->sponsor()});
    j["members"] = VisibleRows(
        c, LoadProgramMembers(v.state, id), p->sponsor(), j, [&](const pb::ProgramMember& m) {
          json row = ProgramMemberJson(v, *p, m);
          // What the meter earned under its previous owners is theirs, not the current owner's.
          if (!sponsor && m.paid_before_owner() > 0) {
            row["paid"] = AmountJson(v.state, p->denom(), m.paid() - m.paid_before_owner());
          }
          return row;
        });
    return j;
  });
}

void ListPools(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyNewestFirst<pb::PoolRecord>(
      c, req, res, "pools", kPoolPrefix, LoadPool,
      [&](const StateView& v, const pb::PoolRecord& p) { return PoolForReader(c, v, p); });
}

void GetPool(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [&](const StateView& v, uint64_t id) -> Result<json> {
    auto p = LoadPool(v.state, id);
    if (!p) return NotFoundById("pool", id, "", "", false);
    json j = PoolForReader(c, v, *p);
    j["members"] = VisibleRows(c, LoadPoolMembers(v.state, id), p->aggregator(), j,
                               [&](const auto& m) { return PoolMemberJson(v, m); });
    return j;
  });
}

}  // namespace v2g::api
