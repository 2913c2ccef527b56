// HTTP API of the meter registry (contracts/meters.h; docs/API.md "Endpoints"): the registry with
// filters, one meter, its attested energy per settlement interval and a vehicle's battery.
#include "contracts/meters.h"

#include <algorithm>
#include <optional>

#include "common/limits.h"
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

// Interval starts a readings query takes: far above any time, and no sum of them overflows.
constexpr int64_t kTimeQueryMaxS = INT64_MAX / 2;

// Which meters GET /v1/meters lists.
struct MeterFilter {
  std::string zone;   // "" = any
  std::string owner;  // address bytes; "" = any
  std::optional<pb::MeterKind> kind;
  bool Matches(const pb::MeterRecord& m) const {
    return (zone.empty() || m.zone() == zone) && (owner.empty() || m.owner() == owner) &&
           (!kind || m.kind() == *kind);
  }
};

Result<MeterFilter> ParseMeterFilter(const httplib::Request& req) {
  MeterFilter f;
  f.zone = req.has_param("zone") ? req.get_param_value("zone") : "";
  if (req.has_param("owner")) {
    auto a = ParseAddress("owner", req.get_param_value("owner"));
    if (!a.ok()) return a.status();
    f.owner = AddressBytes(*a);
  }
  if (req.has_param("kind")) {
    f.kind = ParseMeterKind(req.get_param_value("kind"));
    if (!f.kind) return Error(Code::kInvalidArgument, "kind must be charger, vehicle or site");
  }
  return f;
}

// The meter id in the path (the route's first capture).
Result<std::string> MeterIdParam(const httplib::Request& req) {
  std::string id = req.matches[1];
  if (!ValidMeterId(id)) return Error(Code::kInvalidArgument, "not a valid meter id");
  return id;
}

// Meter `id` from `st`, or the 404 to answer.
Result<pb::MeterRecord> FindMeter(const KvReader& st, const std::string& id) {
  auto m = LoadMeter(st, id);
  if (!m) return Error(Code::kNotFound, "no meter '" + id + "' is registered");
  return *m;
}

// `j` (MeterJson of `m`) for a reader entitled to the meter's intervals in `spans` only
// (MeterReadSpans): the last reading, and an OCMF meter's last record times, go when they are from
// before (a new owner does not learn when the previous one last charged); "readable" names the
// spans when they are not all of time.
json CutToSpans(json j, const pb::MeterRecord& m, const std::vector<ReadSpan>& spans) {
  const json readable = ReadSpansJson(spans);
  if (readable.is_null()) return j;
  j["readable"] = readable;
  if (m.has_last_reading() && !InSpans(spans, m.last_reading().interval_start_s()))
    j["last_reading"] = nullptr;
  if (j.contains("ocmf") && j["ocmf"].is_object()) {
    json& o = j["ocmf"];
    if (!InSpans(spans, m.ocmf().last_time_ms() / 1000)) o["last_time"] = nullptr;
    for (const char* reg : {"import", "export"}) {
      if (o.contains(reg) && o[reg].is_object()) {
        const pb::OcmfRegisterState& r =
            std::string_view(reg) == "import" ? m.ocmf().import() : m.ocmf().export_();
        if (!InSpans(spans, r.last_time_ms() / 1000)) o[reg]["last_time"] = nullptr;
      }
    }
  }
  return j;
}

// A meter's registry entry as the current reader may see it: whole for those entitled to its
// readings (access.h MeterReaders), else without what its readings tell (the last reading, the
// count, unattributed energy, OCMF register state), with "private": true.
json MeterJsonForReader(const ApiContext& c, const KvReader& st, const pb::MeterRecord& m) {
  json j = MeterJson(st, m);
  // Named: not the aggregator, which would say the meter is in its pool.
  const std::vector<std::string> named = MeterReaders(st, m, /*with_aggregator=*/false);
  if (MayRead(c, named))
    return CutToSpans(j, m, MeterReadSpans(c, st, m, /*with_aggregator=*/true));
  // The aggregator reads its members' delivery, not their batteries.
  if (j.contains("battery")) j["battery"] = nullptr;
  if (j["last_reading"].is_object()) {
    j["last_reading"]["soc_permille"] = nullptr;
    j["last_reading"]["soh_permille"] = nullptr;
  }
  if (MayRead(c, MeterReaders(st, m, /*with_aggregator=*/true))) {
    return CutToSpans(j, m, MeterReadSpans(c, st, m, /*with_aggregator=*/true));
  }
  for (const char* k : {"readings_accepted", "unattributed_import_wh", "unattributed_export_wh", "last_reading"}) {
    j[k] = nullptr;
  }
  if (j.contains("ocmf")) {
    for (const char* k : {"pg_t", "pg_f", "records_accepted", "last_time", "import", "export"}) j["ocmf"][k] = nullptr;
  }
  j["private"] = true;
  j["readers"] = ReaderTexts(named);
  return j;
}

// Meter `id`, or the error to answer: a 404, or a 403 when the reader may not read its personal
// data (`what`, e.g. "the readings of meter CH-1"; `with_aggregator`: its pool's aggregator may).
Result<pb::MeterRecord> FindMeterFor(const ApiContext& c, const KvReader& st, const std::string& id,
                                     const std::string& what, bool with_aggregator) {
  auto m = FindMeter(st, id);
  if (!m.ok()) return m.status();
  if (auto ok = RequireReader(c, MeterReaders(st, *m, with_aggregator), what, /*reveal=*/true, "its owner",
                              MeterReaders(st, *m, /*with_aggregator=*/false));
      !ok.ok()) {
    return ok;
  }
  return m;
}

// Meter `id` for its raw OCMF records, or the error to answer: they carry the session's
// identification (the driver's RFID card or contract id, OCMF's ID field), so only the meter's
// owner and operator read them (others read the energy in /readings).
Result<pb::MeterRecord> FindOcmfMeterFor(const ApiContext& c, const KvReader& st, const std::string& id) {
  auto m = FindMeter(st, id);
  if (!m.ok()) return m.status();
  if (auto ok = RequireReader(c, {m->owner(), m->operator_address()}, "the OCMF records of meter '" + id + "'");
      !ok.ok()) {
    return ok;
  }
  return m;
}

// GET /v1/meters/{id}/battery: the battery and its history, or a 404 (no such meter, or not a
// vehicle).
Result<json> BatteryBody(const ApiContext& c, const StateView& v, const std::string& id) {
  auto m = FindMeterFor(c, v.state, id, "the battery of meter '" + id + "'", /*with_aggregator=*/false);
  if (!m.ok()) return m.status();
  auto b = LoadBattery(v.state, id);
  if (!b) {
    return Error(Code::kNotFound, "meter '" + id + "' is a " +
                                      std::string(MeterKindName(m->kind())) +
                                      ", not a vehicle: it has no battery");
  }
  // The battery's state and lifetime counters are the car's (its odometer); the daily samples
  // are from days the reader was entitled to (a new owner's from the day after it took over).
  const std::vector<ReadSpan> spans = MeterReadSpans(c, v.state, *m, /*with_aggregator=*/false);
  json j = BatteryJson(*b);
  j["meter_id"] = id;
  j["capacity_wh"] = b->capacity_wh();
  json history = json::array();
  const pb::BatteryHistory stored = LoadBatteryHistory(v.state, id);
  for (const pb::SohSample& s : stored.samples()) {
    // A day's sample is kept from its first reading of the day: all of the day must be the
    // reader's.
    if (s.day() >= 0 && s.day() <= INT64_MAX / 86400 - 1 && InSpans(spans, s.day() * 86400)) {
      history.push_back(BatterySampleJson(s));
    }
  }
  j["history"] = std::move(history);
  if (json r = ReadSpansJson(spans); !r.is_null()) j["readable"] = r;
  return j;
}

// A PG as the ledger keys it: 'T' or 'F' and a decimal counter without leading zeros.
bool ValidPgParam(std::string_view pg) {
  if (pg.size() < 2 || pg.size() > 21 || (pg[0] != 'T' && pg[0] != 'F')) return false;
  if (pg[1] == '0' && pg.size() > 2) return false;
  return std::all_of(pg.begin() + 1, pg.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void ListOcmfRecords(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = MeterIdParam(req);
  if (!id.ok()) return ReplyError(res, id.status());
  const std::string context = req.has_param("context") ? req.get_param_value("context") : "T";
  if (context != "T" && context != "F") {
    return ReplyError(res, Error(Code::kInvalidArgument, "context must be T (transaction) or F (fiscal)"));
  }
  auto limit = LimitParam(req, limits::kOcmfRecordsPageMax, limits::kOcmfRecordsPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  auto m = FindOcmfMeterFor(c, snap->reader(), *id);
  if (!m.ok()) return ReplyError(res, m.status());
  const std::vector<ReadSpan> spans =
      MeterReadSpans(c, snap->reader(), *m, /*with_aggregator=*/false);
  // A context's counters run without gaps from its first accepted record to next - 1 (the ledger
  // takes them in sequence), so a page is `limit` point reads, however many records there are.
  const pb::OcmfMeterState& o = m->ocmf();
  const int64_t first = static_cast<int64_t>(context == "T" ? o.first_pg_t() : o.first_pg_f());
  const int64_t next = static_cast<int64_t>(context == "T" ? o.next_pg_t() : o.next_pg_f());
  auto from = IntParam(req, "from", first, 0, INT64_MAX / 2);
  if (!from.ok()) return ReplyError(res, from.status());
  json list = json::array();
  int64_t counter = std::max(*from, first);
  // A reader whose span starts later (a meter's new owner) starts at its first record: a
  // context's record times never go back as its counter rises, so a binary search finds it in at
  // most 64 reads, however many records came before.
  if (!spans.empty() && spans.front().from_s > 0 && next > 0) {
    int64_t lo = counter, hi = std::max(counter, next);
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      auto e = LoadOcmfRecord(snap->reader(), *id, context + std::to_string(mid));
      if (!e || e->first_time_ms() / 1000 < spans.front().from_s) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    counter = lo;
  }
  for (int64_t read = 0; next > 0 && counter < next && read < *limit; ++counter, ++read) {
    const std::string pg = context + std::to_string(counter);
    auto e = LoadOcmfRecord(snap->reader(), *id, pg);
    if (!e) continue;
    if (!InSpans(spans, e->first_time_ms() / 1000))
      continue;  // the search above leaves none; kept as the rule
    list.push_back(OcmfRecordEntryJson(*id, pg, *e));
  }
  json body = {{"meter_id", *id},
               {"context", context},
               {"records", list},
               {"next_from", next > 0 && counter < next ? json(counter) : json(nullptr)}};
  if (json r = ReadSpansJson(spans); !r.is_null()) body["readable"] = r;
  Reply(res, 200, body);
}

void GetOcmfRecord(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = MeterIdParam(req);
  if (!id.ok()) return ReplyError(res, id.status());
  const std::string pg = req.matches[2];
  if (!ValidPgParam(pg)) return ReplyError(res, Error(Code::kInvalidArgument, "not a PG (T17, F3, ...)"));
  auto snap = c.store->Snapshot();
  auto m = FindOcmfMeterFor(c, snap->reader(), *id);
  if (!m.ok()) return ReplyError(res, m.status());
  auto e = LoadOcmfRecord(snap->reader(), *id, pg);
  if (!e) return ReplyError(res, Error(Code::kNotFound, "meter '" + *id + "' has no accepted OCMF record " + pg));
  if (!InSpans(MeterReadSpans(c, snap->reader(), *m, /*with_aggregator=*/false),
               e->first_time_ms() / 1000)) {
    return ReplyError(
        res, Error(Code::kPermissionDenied,
                   Text("OCMF record " + pg + " of meter '" + *id +
                        "' is from before {since}, when the meter became its owner's: it is "
                        "the previous owner's")
                       .Time("since", m->owner_from_s())));
  }
  Reply(res, 200, OcmfRecordEntryJson(*id, pg, *e));
}

void ListMeters(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto filter = ParseMeterFilter(req);
  if (!filter.ok()) return ReplyError(res, filter.status());
  const std::string after = req.has_param("after") ? req.get_param_value("after") : "";
  auto limit = LimitParam(req, kPageDefault, limits::kMetersPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  const KvReader& st = snap->reader();
  // The index that serves the most filters (node/store/index.h); only owner with zone leaves one
  // to compare record by record, within the skip budget.
  const MeterFilter& f = *filter;
  const std::string prefix =
      !f.owner.empty() ? (f.kind ? index::MeterOwnerKindPrefix(f.owner, *f.kind)
                                 : index::MeterOwnerPrefix(f.owner))
      : !f.zone.empty()
          ? (f.kind ? index::MeterZoneKindPrefix(f.zone, *f.kind) : index::MeterZonePrefix(f.zone))
      : f.kind ? index::MeterKindPrefix(*f.kind)
               : std::string(kMeterPrefix);
  const Page<pb::MeterRecord> page = FirstAfter<pb::MeterRecord>(
      st, prefix, after, *limit,
      [&](std::string_view id, std::string_view v) -> std::optional<pb::MeterRecord> {
        auto m = v.empty() ? LoadMeter(st, id) : DecodeRecord<pb::MeterRecord>(std::string(v));
        // An index entry is written with its meter, in one batch; were one ever left alone, the
        // listing skips it rather than abort the node on a client's request.
        if (!m || !f.Matches(*m)) return std::nullopt;
        return m;
      });
  int64_t reduced = 0;
  json meters = JsonList(page.items, [&](const pb::MeterRecord& m) {
    json j = MeterJsonForReader(c, st, m);
    if (j.contains("private")) ++reduced;
    return j;
  });
  json body = {{"meters", meters}, {"next_after", page.next}, {"private_items", reduced}};
  // The owner asked for reads them all (a wallet's cue which key to sign with).
  if (reduced > 0 && !f.owner.empty()) body["readers"] = ReaderTexts({f.owner});
  Reply(res, 200, body);
}

void GetReadings(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto id = MeterIdParam(req);
  if (!id.ok()) return ReplyError(res, id.status());
  auto from = TimeParam(req, "from", 0);
  if (!from.ok()) return ReplyError(res, from.status());
  auto to = TimeParam(req, "to", kTimeQueryMaxS);
  if (!to.ok()) return ReplyError(res, to.status());
  if (*from >= *to) {
    return ReplyError(res, Error(Code::kInvalidArgument, Text("to ({to}) must be later than from ({from})")
                                                             .Time("to", *to)
                                                             .Time("from", *from)));
  }
  auto limit = LimitParam(req, kPageDefault, limits::kMetersPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  auto m = FindMeterFor(c, snap->reader(), *id, "the readings of meter '" + *id + "'", true);
  if (!m.ok()) return ReplyError(res, m.status());
  const int64_t interval_s = LoadParams(snap->reader()).settlement_interval_s();
  const std::vector<ReadSpan> spans =
      MeterReadSpans(c, snap->reader(), *m, /*with_aggregator=*/true);
  json list = json::array();
  json next = nullptr;
  // Keys run by interval start: each span the reader may read (at most two) is one seek to its
  // start within [from, to), so what it may not read is never scanned.
  for (const ReadSpan& span : spans) {
    const int64_t lo = std::max(*from, span.from_s), hi = std::min(*to, span.to_s);
    if (lo >= hi || !next.is_null()) continue;
    snap->reader().ScanFrom(MeterIntervalPrefix(*id), MeterIntervalKey(*id, lo), /*reverse=*/false,
                            [&](std::string_view, std::string_view v) {
                              auto rec = DecodeRecord<pb::MeterIntervalRecord>(std::string(v));
                              if (rec.interval_start_s() < lo) return true;
                              if (rec.interval_start_s() >= hi) return false;
                              if (static_cast<int64_t>(list.size()) == *limit) {
                                next = rec.interval_start_s();
                                return false;
                              }
                              list.push_back(MeterIntervalJson(rec, interval_s));
                              return true;
                            });
  }
  json last = m->has_last_reading() && InSpans(spans, m->last_reading().interval_start_s())
                  ? ReadingJson(m->last_reading())
                  : json(nullptr);
  // The pool's aggregator reads delivery, not the battery's state.
  if (last.is_object() && !MayRead(c, MeterReaders(snap->reader(), *m, /*with_aggregator=*/false))) {
    last["soc_permille"] = nullptr;
    last["soh_permille"] = nullptr;
  }
  json body = {{"meter_id", *id},
               {"settlement_interval_s", interval_s},
               {"intervals", list},
               {"next_from", next},
               {"last_reading", last}};
  if (json r = ReadSpansJson(spans); !r.is_null()) body["readable"] = r;
  Reply(res, 200, body);
}

void GetBattery(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<std::string>(c, MeterIdParam(req), res,
                           [&](const StateView& v, const std::string& id) { return BatteryBody(c, v, id); });
}

void GetMeter(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<std::string>(c, MeterIdParam(req), res, [&](const StateView& v, const std::string& id) -> Result<json> {
    auto m = FindMeter(v.state, id);
    if (!m.ok()) return m.status();
    return MeterJsonForReader(c, v.state, *m);
  });
}

}  // namespace v2g::api
