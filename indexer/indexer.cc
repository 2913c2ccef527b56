// The PostgreSQL indexer: see indexer.h and docs/INDEXER.md.
#include "indexer/indexer.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/limits.h"
#include "common/time.h"
#include "indexer/schema.h"

namespace v2g::indexer {
namespace {

using json = nlohmann::json;

// Declares `auto& lhs` as the value of the Result `expr`, or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr)                     \
  auto lhs##_result = (expr);                           \
  if (!lhs##_result.ok()) return lhs##_result.status(); \
  auto& lhs = lhs##_result.value()

// Pages read per list (trades of one market, a meter's intervals) before the indexer says the
// answer is too long to be a node's: every loop here is bounded.
constexpr int kPagesMax = 10'000;
constexpr int kPageLimit = 100;
// Market events one block may carry (a node's per-block market work is far below): a stream
// announcing or sending more is refused, so a hostile node cannot grow a pending block.
constexpr int64_t kBlockMarketEventsMax = 10'000;
// Ids the indexer takes from the API (heights, interval starts) fit these bounds.
constexpr int64_t kIdMax = INT64_MAX / 4;

std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
// A string field or null (a JSON null, absent, or empty).
const char* StrOrNull(const json& j, const char* key, std::string& keep) {
  keep = Str(j, key);
  return keep.empty() ? nullptr : keep.c_str();
}
std::optional<int64_t> Int(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {  // big integers arrive as strings (nonces)
    try {
      size_t n = 0;
      const int64_t v = std::stoll(it->get<std::string>(), &n);
      if (n == it->get<std::string>().size()) return v;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}
// An amount: {"denom", "amount": "<minimal units>", "display"} or a bare string; "" if neither.
std::string Amount(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_object()) return Str(*it, "amount");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return "";
}
const char* AmountOrNull(const json& j, const char* key, std::string& keep) {
  keep = Amount(j, key);
  return keep.empty() ? nullptr : keep.c_str();
}
std::string Denom(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_object()) return "";
  return Str(j[key], "denom");
}
// Percent-encodes a path segment or query value (zones and meter ids are the user's text).
std::string Escape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status Malformed(const std::string& what) {
  return Error(Code::kMalformed, "the node answered " + what);
}

}  // namespace

Indexer::Indexer(ApiClient& stream, ApiClient& api, pqxx::connection& db)
    : stream_(stream), api_(api), db_(db) {}

Result<json> Indexer::Get(const std::string& path) { return api_.GetJson(path); }

Result<int> Indexer::Migrate() {
  try {
    {
      pqxx::work w(db_);
      // One indexer migrates at a time (another waits here, then finds the work done).
      w.exec("SELECT pg_advisory_xact_lock(7368201)");
      w.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text "
          "NOT "
          "NULL, applied_at timestamptz NOT NULL DEFAULT now())");
      w.commit();
    }
    int current = 0;
    for (const Migration& m : Migrations()) {
      pqxx::work w(db_);
      w.exec("SELECT pg_advisory_xact_lock(7368201)");
      const pqxx::result done =
          w.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (done.empty()) {
        w.exec(m.sql);
        w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                      m.name);
        std::cerr << "v2g-indexer: applied schema migration " << m.version << " (" << m.name
                  << ")\n";
      }
      w.commit();
      current = m.version;
    }
    pqxx::work w(db_);
    // Version 1 as a development build of this indexer made it (before statements per interval):
    // refused with what to do, not failed on later with a missing column.
    if (w.exec("SELECT 1 FROM information_schema.columns WHERE table_name = 'indexer_state' AND "
               "column_name = "
               "'statements_before_s'")
            .empty()) {
      return Error(
          Code::kInvalidArgument,
          "this database was made by a development build of v2g-indexer (no statements_before_s): "
          "index into a new database (scripts/indexer reset)");
    }
    const pqxx::result newest = w.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
    const int in_db = newest[0][0].as<int>();
    if (in_db > current) {
      return Error(Code::kInvalidArgument,
                   "the database's schema is version " + std::to_string(in_db) +
                       ", newer than this indexer's " + std::to_string(current) +
                       ": run a newer v2g-indexer");
    }
    return current;
  } catch (const std::exception& e) {
    return Error(Code::kUnavailable, std::string("migrating the database: ") + e.what());
  }
}

Status Indexer::ImportGenesis(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(Code::kNotFound, "cannot read the genesis file " + path);
  const json g = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!g.is_object() || !g.contains("balances") || !g["balances"].is_array()) {
    return Error(Code::kInvalidArgument, path + " is not a genesis.json (no balances list)");
  }
  V2G_RETURN_IF_ERROR(CheckChain());  // a database of another chain is refused first
  ASSIGN_OR_RETURN(status, Get("/v1/status"));
  if (Str(g, "chain_id") != Str(status, "chain_id")) {
    return Error(Code::kInvalidArgument, path + " is the genesis of chain '" + Str(g, "chain_id") +
                                             "', the node serves '" + Str(status, "chain_id") +
                                             "'");
  }
  try {
    pqxx::work w(db_);
    for (const json& b : g["balances"]) {
      const std::string amount = Amount(b, "amount");
      if (Str(b, "address").empty() || Str(b, "denom").empty() || amount.empty()) {
        return Error(Code::kInvalidArgument, path + ": a balance without address, denom or amount");
      }
      w.exec_params(
          "INSERT INTO genesis_balances (address, denom, amount) VALUES ($1, $2, $3) ON CONFLICT "
          "DO NOTHING",
          Str(b, "address"), Str(b, "denom"), amount);
    }
    w.commit();
  } catch (const std::exception& e) {
    return Error(Code::kUnavailable, std::string("writing the genesis balances: ") + e.what());
  }
  return Status::Ok();
}

Result<int64_t> Indexer::Watermark() {
  try {
    pqxx::work w(db_);
    const pqxx::result r = w.exec("SELECT height FROM indexer_state");
    return r.empty() ? int64_t{0} : r[0][0].as<int64_t>();
  } catch (const std::exception& e) {
    return Error(Code::kUnavailable, std::string("reading the watermark: ") + e.what());
  }
}

Status Indexer::CheckChain() {
  ASSIGN_OR_RETURN(status, Get("/v1/status"));
  ASSIGN_OR_RETURN(params, Get("/v1/params"));
  chain_id_ = Str(status, "chain_id");
  interval_s_ = Int(params, "settlement_interval_s").value_or(0);
  grace_s_ = Int(params, "market_grace_s").value_or(0);
  // Bounds far beyond any chain's (a day's interval, a week's grace), so the interval arithmetic
  // below cannot overflow whatever a node answers.
  if (interval_s_ > 86'400 || grace_s_ < 0 || grace_s_ > 7 * 86'400) {
    return Malformed("params with settlement_interval_s " + std::to_string(interval_s_) +
                     " and market_grace_s " + std::to_string(grace_s_));
  }
  if (chain_id_.empty() || interval_s_ <= 0)
    return Malformed("a status or params without chain_id or settlement_interval_s");
  try {
    pqxx::work w(db_);
    const pqxx::result r = w.exec("SELECT chain_id FROM indexer_state");
    if (r.empty()) {
      w.exec_params("INSERT INTO indexer_state (chain_id, height, block_id) VALUES ($1, 0, '')",
                    chain_id_);
    } else if (r[0][0].as<std::string>() != chain_id_) {
      return Error(Code::kInvalidArgument, "this database indexes chain '" +
                                               r[0][0].as<std::string>() + "', the node serves '" +
                                               chain_id_ + "': use another database");
    }
    w.commit();
  } catch (const std::exception& e) {
    return Error(Code::kUnavailable, std::string("") + e.what());
  }
  return Status::Ok();
}

Status Indexer::Run(const Options& o) {
  // A node not up yet, busy (503) or restarting, and a database connection that failed, are
  // waited for: the block being written was rolled back, so the indexer starts again from the
  // watermark, up to reconnects_max times in a row.
  int failures = 0;
  int64_t retry_ms = 1000;
  auto retry = [&](const Status& st) {
    if (st.code() != Code::kUnavailable || ++failures > o.reconnects_max) return false;
    std::cerr << "v2g-indexer: " << st.message() << "; trying again in " << retry_ms / 1000
              << " s\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(retry_ms));
    retry_ms = std::min<int64_t>(retry_ms * 2, 8000);
    return true;
  };
  for (Status st = CheckChain(); !st.ok(); st = CheckChain()) {
    if (!retry(st)) return st;
  }
  while (true) {
    auto mark = Watermark();
    if (!mark.ok()) {
      if (retry(mark.status())) continue;
      return mark.status();
    }
    if (o.stop_at > 0 && *mark >= o.stop_at) return Status::Ok();
    Block pending;
    int64_t expected = *mark + 1;  // the next block's height: none skipped, none twice
    Status inner = Status::Ok();
    bool stop = false;
    // Writes the pending block (its events are all in); false to end the stream.
    auto write = [&] {
      inner = Write(pending);
      if (!inner.ok()) return false;
      expected = pending.height + 1;
      failures = 0;
      retry_ms = 1000;
      if (o.on_block && !o.on_block(pending.height)) stop = true;
      if (o.stop_at > 0 && pending.height >= o.stop_at) stop = true;
      pending = Block{};
      return !stop;
    };
    const std::string path = "/v1/stream?types=block,market&from=" + std::to_string(*mark + 1);
    Status st = stream_.Follow(
        path, "", 2 * limits::kStreamKeepaliveMs,
        [&](const std::string& id, const std::string& event, const json& data) {
          const size_t colon = id.find(':');
          int64_t h = 0;
          try {
            size_t used = 0;
            h = std::stoll(id.substr(0, colon), &used);
            if (used != colon || colon == std::string::npos) throw std::invalid_argument(id);
          } catch (const std::exception&) {
            inner = Malformed("an event id '" + id + "' that is not <height>:<index>");
            return false;
          }
          if (pending.height != 0 && h != pending.height) {
            // A block that announced its market events is written when they are in (below): one
            // that is still pending lacks some, and is never written without them.
            if (pending.market_events >= 0) {
              inner = Malformed("block " + std::to_string(pending.height) + " announced " +
                                std::to_string(pending.market_events) + " market events and sent " +
                                std::to_string(pending.markets.size()));
              return false;
            }
            // A node that does not say how many: the block is complete when the next one starts.
            if (!write()) return false;
          }
          if (event == "block") {
            if (pending.height != 0 || h != expected || !data.is_object()) {
              inner = Malformed("a block event out of order (" + id + ")");
              return false;
            }
            pending.height = h;
            pending.summary = data;
            pending.market_events = Int(data, "market_events").value_or(-1);
            if (pending.market_events > kBlockMarketEventsMax) {
              inner = Malformed("block " + std::to_string(h) + " with " +
                                std::to_string(pending.market_events) + " market events");
              return false;
            }
          } else if (event == "market_cleared" || event == "market_settled") {
            if (pending.height != h) {
              inner = Malformed("a market event before its block (" + id + ")");
              return false;
            }
            if (pending.markets.size() >= static_cast<size_t>(kBlockMarketEventsMax) ||
                (pending.market_events >= 0 &&
                 pending.markets.size() >= static_cast<size_t>(pending.market_events))) {
              inner = Malformed("more market events for block " + std::to_string(h) +
                                " than it announced or " + std::to_string(kBlockMarketEventsMax));
              return false;
            }
            pending.markets.push_back(data);
            pending.market_kinds.push_back(event);
          }
          // Complete as announced: written now, not when the next block comes (a chain without
          // empty blocks may not make one for long).
          if (pending.height != 0 && pending.market_events >= 0 &&
              pending.markets.size() == static_cast<size_t>(pending.market_events)) {
            return write();
          }
          return true;
        });
    if (stop) return Status::Ok();
    if (!inner.ok()) st = inner;
    if (st.ok()) continue;
    if (!retry(st)) return st;
  }
}

Status Indexer::Write(const Block& b) {
  const json& s = b.summary;
  const std::string block_id = Str(s, "block_id");
  const int64_t num_txs = Int(s, "num_txs").value_or(-1);
  if (block_id.empty() || num_txs < 0 || Str(s, "time").empty()) {
    return Malformed("block " + std::to_string(b.height) + " without block_id, time or num_txs");
  }
  try {
    pqxx::work w(db_);
    // The watermark, locked: two indexers on one database cannot both write a block.
    const pqxx::result mark = w.exec("SELECT height FROM indexer_state FOR UPDATE");
    if (mark.empty() || mark[0][0].as<int64_t>() != b.height - 1) {
      return Error(Code::kAlreadyExists,
                   "the database's watermark is " +
                       (mark.empty() ? std::string("missing") : mark[0][0].as<std::string>()) +
                       ", the next block " + std::to_string(b.height) +
                       ": is another indexer writing this database?");
    }
    w.exec_params(
        "INSERT INTO blocks (height, block_id, time, num_txs, proposer) VALUES ($1, $2, $3, $4, "
        "$5)",
        b.height, block_id, Str(s, "time"), num_txs, Str(s, "proposer_address"));
    std::map<std::string, std::pair<int64_t, int64_t>> touched;  // meter -> [from, to) seconds
    std::set<int64_t> new_events;
    if (num_txs > 0) {
      ASSIGN_OR_RETURN(block, Get("/v1/blocks/" + std::to_string(b.height)));
      if (Str(block, "block_id") != block_id) {
        return Malformed("block " + std::to_string(b.height) +
                         " with another block_id than its stream event");
      }
      V2G_RETURN_IF_ERROR(WriteTxs(w, b, block, touched, new_events));
    }
    for (size_t i = 0; i < b.markets.size(); ++i)
      V2G_RETURN_IF_ERROR(WriteMarket(w, b, b.market_kinds[i], b.markets[i]));
    for (const auto& [meter, span] : touched) {
      V2G_RETURN_IF_ERROR(WriteMeterIntervals(w, b.height, meter, span.first, span.second));
    }
    for (int64_t id : new_events) V2G_RETURN_IF_ERROR(WriteEvent(w, b.height, id));
    // Events that may have settled by this block's time: at most the open ones that ended.
    // The block's time: time_ms, or its RFC 3339 text from a node that does not send it.
    int64_t block_ms = Int(s, "time_ms").value_or(0);
    if (block_ms == 0) {
      auto parsed = ParseRfc3339Ms(Str(s, "time"));
      if (!parsed.ok())
        return Malformed("block " + std::to_string(b.height) + " with time '" + Str(s, "time") +
                         "'");
      block_ms = *parsed;
    }
    const int64_t block_s = block_ms / 1000;
    const pqxx::result open = w.exec(
        "SELECT id, created_height, coalesce((doc->>'end_s')::bigint, 0) FROM grid_events WHERE "
        "status <> 'settled' ORDER BY id");
    for (const auto& row : open) {
      if (row[2].as<int64_t>() + grace_s_ > block_s) continue;  // cannot have settled yet
      V2G_RETURN_IF_ERROR(WriteEvent(w, row[1].as<int64_t>(), row[0].as<int64_t>()));
    }
    V2G_RETURN_IF_ERROR(WriteStatements(w, b.height, block_s, Str(s, "proposer_address")));
    w.exec_params("UPDATE indexer_state SET height = $1, block_id = $2, updated_at = now()",
                  b.height, block_id);
    w.commit();
  } catch (const std::exception& e) {
    return Error(Code::kUnavailable, "writing block " + std::to_string(b.height) + ": " + e.what());
  }
  return Status::Ok();
}

Status Indexer::WriteTxs(pqxx::work& w, const Block& b, const json& block,
                         std::map<std::string, std::pair<int64_t, int64_t>>& touched,
                         std::set<int64_t>& new_events) {
  if (!block.contains("txs") || !block["txs"].is_array()) return Malformed("a block without txs");
  auto touch = [&](const std::string& meter, int64_t from, int64_t to) {
    if (meter.empty() || from <= 0 || to < from || to > kIdMax) return;
    auto [it, added] = touched.emplace(meter, std::make_pair(from, to));
    if (!added) it->second = {std::min(it->second.first, from), std::max(it->second.second, to)};
  };
  for (const json& tx : block["txs"]) {
    if (tx.value("private", false) || !tx.contains("op")) {
      return Error(Code::kPermissionDenied,
                   "the node serves this indexer txs without their content (personal data): run it "
                   "as one of the node's [api] full_readers (--as KEY) or against a node with "
                   "private_reads = false");
    }
    const std::string hash = Str(tx, "hash"), signer = Str(tx, "signer");
    const json& op = tx["op"];
    const std::string type = Str(op, "type");
    const int64_t code = Int(tx, "code").value_or(-1);
    const std::optional<int64_t> created = Int(tx, "created_id");
    std::string keep1, keep2;
    w.exec_params(
        "INSERT INTO txs (hash, height, index, signer, op_type, code, code_name, fee_denom, "
        "fee_amount, memo, log, "
        "created_id, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        hash, b.height, Int(tx, "index").value_or(-1), signer, type, code, Str(tx, "code_name"),
        tx.contains("fee") && tx["fee"].is_object() ? (keep1 = Denom(tx, "fee")).c_str() : nullptr,
        AmountOrNull(tx, "fee", keep2), Str(tx, "memo"), Str(tx, "log"),
        created ? std::to_string(*created).c_str() : nullptr, tx.dump());
    const bool ok = code == 0;
    // The fee: paid by every tx that succeeded, and by a failed one whose log says it was charged
    // (a failed tx whose nonce or fee would not have passed pays nothing: contracts/app.cc).
    const std::string fee = Amount(tx, "fee");
    if (!fee.empty() && fee != "0" &&
        (ok || Str(tx, "log").find("(the fee was charged)") != std::string::npos)) {
      w.exec_params(
          "INSERT INTO transfers (tx_hash, kind, height, from_address, denom, amount) VALUES ($1, "
          "'fee', $2, $3, $4, $5)",
          hash, b.height, signer, Denom(tx, "fee"), fee);
    }
    if (!ok) continue;
    if (type == "transfer" || type == "mint" || type == "burn") {
      std::string to;
      w.exec_params(
          "INSERT INTO transfers (tx_hash, kind, height, from_address, to_address, denom, amount) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7)",
          hash, type, b.height, type == "mint" ? nullptr : signer.c_str(), StrOrNull(op, "to", to),
          Str(op, "denom"), Amount(op, "amount"));
    } else if (type == "register_meter" || type == "register_meters") {
      std::vector<json> meters;
      if (type == "register_meter") {
        meters.push_back(op);
      } else if (op.contains("meters") && op["meters"].is_array()) {
        for (const json& m : op["meters"]) {
          if (m.value("verdict", json()) == "accepted") meters.push_back(m);
        }
      }
      for (const json& m : meters) {
        w.exec_params(
            "INSERT INTO meters (meter_id, kind, zone, owner, operator, registered_height) VALUES "
            "($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (meter_id) DO UPDATE SET kind = excluded.kind, zone = excluded.zone, "
            "owner = excluded.owner, "
            "operator = excluded.operator, registered_height = excluded.registered_height, "
            "deactivated_height = NULL",
            Str(m, "meter_id"), Str(m, "kind"), Str(m, "zone"), Str(m, "owner"), signer, b.height);
      }
    } else if (type == "transfer_meter") {
      w.exec_params("UPDATE meters SET owner = $2 WHERE meter_id = $1", Str(op, "meter_id"),
                    Str(op, "new_owner"));
    } else if (type == "deactivate_meter") {
      w.exec_params("UPDATE meters SET deactivated_height = $2 WHERE meter_id = $1",
                    Str(op, "meter_id"), b.height);
    } else if (type == "submit_readings" && op.contains("readings") && op["readings"].is_array()) {
      std::set<int64_t> rejected;
      if (tx.contains("rejected_readings") && tx["rejected_readings"].is_array()) {
        for (const json& r : tx["rejected_readings"]) rejected.insert(Int(r, "index").value_or(-1));
      }
      int64_t i = 0;
      for (const json& r : op["readings"]) {
        if (rejected.count(i++)) continue;
        const int64_t start = Int(r, "interval_start_s").value_or(0),
                      end = Int(r, "interval_end_s").value_or(0);
        const std::optional<int64_t> soc = Int(r, "soc_permille"), soh = Int(r, "soh_permille");
        w.exec_params(
            "INSERT INTO readings (meter_id, seq, interval_start_s, interval_end_s, "
            "import_wh_total, export_wh_total, "
            "soc_permille, soh_permille, tx_hash, height) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
            "$9, $10) "
            "ON CONFLICT DO NOTHING",
            Str(r, "meter_id"), Int(r, "seq").value_or(0), start, end,
            Int(r, "import_wh_total").value_or(0), Int(r, "export_wh_total").value_or(0),
            soc ? std::to_string(*soc).c_str() : nullptr,
            soh ? std::to_string(*soh).c_str() : nullptr, hash, b.height);
        touch(Str(r, "meter_id"), start, end);
        // A charger's reading may attest energy to the vehicle plugged in.
        touch(Str(r, "plugged_meter_id"), start, end);
      }
    } else if (type == "submit_ocmf" && op.contains("records") && op["records"].is_array()) {
      for (const json& rec : op["records"]) {
        if (rec.value("verdict", json()) != "accepted" || !rec.contains("readings")) continue;
        for (const json& r : rec["readings"]) {
          const int64_t t = Int(r, "time_ms").value_or(0) / 1000;
          touch(Str(rec, "meter_id"), t, t);
        }
      }
    } else if ((type == "place_order" || type == "propose_contract") && created) {
      std::string meter, price;
      w.exec_params(
          "INSERT INTO orders (id, kind, owner, side, zone, interval_start_s, energy_wh, "
          "limit_price, meter_id, height, "
          "tx_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
          *created, type == "place_order" ? "order" : "contract", signer, Str(op, "side"),
          Str(op, "zone"), Int(op, "interval_start_s").value_or(0),
          Int(op, "energy_wh").value_or(0),
          type == "place_order" ? AmountOrNull(op, "limit_price", price)
                                : AmountOrNull(op, "price", price),
          StrOrNull(op, "meter_id", meter), b.height, hash);
    } else if (type == "create_event" && created) {
      new_events.insert(*created);
    }
  }
  return Status::Ok();
}

Status Indexer::WriteMarket(pqxx::work& w, const Block& b, const std::string& kind, const json& m) {
  const std::string zone = Str(m, "zone");
  const std::optional<int64_t> start = Int(m, "interval_start_s");
  if (zone.empty() || !start) return Malformed("a market event without zone or interval_start_s");
  std::string price, delivered_keep;
  const std::optional<int64_t> delivered = Int(m, "delivered_energy_wh");
  const std::optional<int64_t> cleared_h = Int(m, "cleared_height"),
                               settled_h = Int(m, "settled_height");
  w.exec_params(
      "INSERT INTO markets (zone, interval_start_s, status, clearing_price, denom, "
      "cleared_energy_wh, delivered_energy_wh, "
      "trades, cleared_height, settled_height, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
      "$10, $11) "
      "ON CONFLICT (zone, interval_start_s) DO UPDATE SET status = excluded.status, clearing_price "
      "= excluded.clearing_price, "
      "denom = excluded.denom, cleared_energy_wh = excluded.cleared_energy_wh, delivered_energy_wh "
      "= "
      "excluded.delivered_energy_wh, trades = excluded.trades, cleared_height = "
      "excluded.cleared_height, "
      "settled_height = excluded.settled_height, doc = excluded.doc",
      zone, *start, Str(m, "status"), AmountOrNull(m, "clearing_price", price),
      Denom(m, "clearing_price"), Int(m, "cleared_energy_wh").value_or(0),
      delivered ? (delivered_keep = std::to_string(*delivered)).c_str() : nullptr,
      Int(m, "trades").value_or(0),
      cleared_h && *cleared_h > 0 ? std::to_string(*cleared_h).c_str() : nullptr,
      settled_h && *settled_h > 0 ? std::to_string(*settled_h).c_str() : nullptr, m.dump());
  // Its trades as the node has them now (at settlement with what each delivered and was paid).
  const std::string market = "zone=" + Escape(zone) + "&interval=" + std::to_string(*start);
  std::string after;
  for (int page = 0;; ++page) {
    if (page == kPagesMax)
      return Malformed("more than " + std::to_string(kPagesMax) + " pages of trades");
    ASSIGN_OR_RETURN(got,
                     Get("/v1/trades?" + market + "&limit=" + std::to_string(kPageLimit) + after));
    if (!got.contains("trades") || !got["trades"].is_array())
      return Malformed("trades without a list");
    for (const json& t : got["trades"]) {
      if (t.value("private", false)) {
        // A reduced trade (docs/API.md "Signed reads") would index as nobody's: refuse.
        return Error(Code::kPermissionDenied,
                     "the node reduces trades for this reader: run it as a full reader (--as)");
      }
      std::string buyer, seller, meter, paid, refund, penalty;
      const std::optional<int64_t> pool = Int(t, "pool_id"), dwh = Int(t, "delivered_wh");
      w.exec_params(
          "INSERT INTO trades (zone, interval_start_s, index, buyer, seller, meter_id, pool_id, "
          "energy_wh, price, settled, "
          "delivered_wh, seller_paid, buyer_refund, penalty, doc) VALUES ($1, $2, $3, $4, $5, $6, "
          "$7, $8, $9, $10, $11, "
          "$12, $13, $14, $15) ON CONFLICT (zone, interval_start_s, index) DO UPDATE SET settled = "
          "excluded.settled, "
          "delivered_wh = excluded.delivered_wh, seller_paid = excluded.seller_paid, buyer_refund "
          "= excluded.buyer_refund, "
          "penalty = excluded.penalty, doc = excluded.doc",
          zone, *start, Int(t, "index").value_or(-1), StrOrNull(t, "buyer", buyer),
          StrOrNull(t, "seller", seller), StrOrNull(t, "meter_id", meter),
          pool ? std::to_string(*pool).c_str() : nullptr, Int(t, "energy_wh").value_or(0),
          Amount(t, "price").empty() ? "0" : Amount(t, "price"), t.value("settled", false),
          dwh ? std::to_string(*dwh).c_str() : nullptr, AmountOrNull(t, "seller_paid", paid),
          AmountOrNull(t, "buyer_refund", refund), AmountOrNull(t, "penalty", penalty), t.dump());
    }
    const std::optional<int64_t> next = Int(got, "next_after");
    if (!next) break;
    after = "&after=" + std::to_string(*next);
  }
  if (kind == "market_settled") {
    ASSIGN_OR_RETURN(got, Get("/v1/settlements?" + market + "&limit=1"));
    const json totals = got.value("totals", json::object());
    auto num = [&](const char* k) {
      const std::string a = Amount(totals, k);
      return a.empty() ? std::string("0") : a;
    };
    w.exec_params(
        "INSERT INTO settlements (zone, interval_start_s, settled_height, energy_wh, delivered_wh, "
        "seller_paid, "
        "buyer_refund, penalty, trades_total, contracts_total, doc) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (zone, interval_start_s) DO UPDATE SET settled_height = "
        "excluded.settled_height, doc = excluded.doc",
        zone, *start, settled_h.value_or(b.height), Int(totals, "energy_wh").value_or(0),
        Int(totals, "delivered_wh").value_or(0), num("seller_paid"), num("buyer_refund"),
        num("penalty"), Int(got, "trades_total").value_or(0),
        Int(got, "contracts_total").value_or(0), got.dump());
  }
  return Status::Ok();
}

Status Indexer::WriteMeterIntervals(pqxx::work& w, int64_t height, const std::string& meter,
                                    int64_t from, int64_t to) {
  from = from / interval_s_ * interval_s_;
  to = (to / interval_s_ + 1) * interval_s_;
  std::string path = "/v1/meters/" + Escape(meter) + "/readings?from=" + std::to_string(from) +
                     "&to=" + std::to_string(to) + "&limit=" + std::to_string(kPageLimit);
  for (int page = 0;; ++page) {
    if (page == kPagesMax)
      return Malformed("more than " + std::to_string(kPagesMax) + " pages of intervals");
    auto got = Get(path);
    if (!got.ok() && got.status().code() == Code::kNotFound)
      return Status::Ok();  // a charger's unknown vehicle
    if (!got.ok()) return got.status();
    if (!got->contains("intervals") || !(*got)["intervals"].is_array())
      return Malformed("readings without intervals");
    for (const json& i : (*got)["intervals"]) {
      w.exec_params(
          "INSERT INTO meter_intervals (meter_id, interval_start_s, interval_end_s, import_wh, "
          "export_wh, readings, height) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (meter_id, interval_start_s) DO UPDATE "
          "SET import_wh = "
          "excluded.import_wh, export_wh = excluded.export_wh, readings = excluded.readings, "
          "height = excluded.height",
          meter, Int(i, "interval_start_s").value_or(0), Int(i, "interval_end_s").value_or(0),
          Int(i, "import_wh").value_or(0), Int(i, "export_wh").value_or(0),
          Int(i, "readings").value_or(0), height);
    }
    const std::optional<int64_t> next = Int(*got, "next_from");
    if (!next || *next >= to) break;
    path = "/v1/meters/" + Escape(meter) + "/readings?from=" + std::to_string(*next) +
           "&to=" + std::to_string(to) + "&limit=" + std::to_string(kPageLimit);
  }
  return Status::Ok();
}

Status Indexer::WriteStatements(pqxx::work& w, int64_t height, int64_t block_s,
                                const std::string& proposer) {
  const int64_t L = interval_s_;
  // Block times are Unix ms since 1970 and below 2^41 ms on any real chain: beyond, refused.
  if (block_s <= 0 || block_s > (int64_t{1} << 40)) {
    return Malformed("block " + std::to_string(height) + " with time " + std::to_string(block_s) +
                     " s");
  }
  // Interval S is settled by the first block whose time reaches S + L + grace.
  const int64_t due = block_s - L - grace_s_;
  const int64_t bound = (due >= 0 ? due / L : -((-due + L - 1) / L)) * L + L;
  const pqxx::result r = w.exec("SELECT statements_before_s FROM indexer_state");
  const int64_t done = r.empty() ? 0 : r[0][0].as<int64_t>();
  if (height == 1 || done == 0) {
    // The first block: nothing happened in the intervals before the chain began.
    if (done == 0) w.exec_params("UPDATE indexer_state SET statements_before_s = $1", bound);
    return Status::Ok();
  }
  if (bound <= done) return Status::Ok();
  // And the node's word for it: an interval is written once grid services settled it there.
  ASSIGN_OR_RETURN(st, Get("/v1/accounts/" + Escape(proposer) + "/statement?from=" +
                           std::to_string(done) + "&to=" + std::to_string(done + L)));
  const std::optional<int64_t> settled = Int(st, "settled_before_s");
  if (!settled || *settled < 0 || *settled % L != 0) {
    return Malformed("a statement whose settled_before_s is not a settlement interval's start");
  }
  const int64_t upto = std::min(bound, *settled);
  if (upto <= done) return Status::Ok();  // the node has not settled them yet: a later block
  // Only the intervals anything happened in: a chain that stood still for a year costs one query.
  for (int64_t start = done; start < upto;) {
    const pqxx::result next = w.exec_params(
        "SELECT min(s) FROM (SELECT min(interval_start_s) s FROM meter_intervals WHERE "
        "interval_start_s >= $1 "
        "UNION ALL SELECT min(interval_start_s) FROM orders WHERE interval_start_s >= $1 "
        "UNION ALL SELECT min(interval_start_s) FROM trades WHERE interval_start_s >= $1 "
        "UNION ALL SELECT min(((doc->>'start_s')::bigint / $2) * $2) FROM grid_events "
        "  WHERE (doc->>'end_s')::bigint > $1) x",
        start, L);
    if (next.empty() || next[0][0].is_null()) break;
    const int64_t at = std::max(start, next[0][0].as<int64_t>() / L * L);
    if (at >= upto) break;
    V2G_RETURN_IF_ERROR(WriteStatementsOf(w, at));
    start = at + L;
  }
  w.exec_params("UPDATE indexer_state SET statements_before_s = $1", upto);
  return Status::Ok();
}

Status Indexer::WriteStatementsOf(pqxx::work& w, int64_t start) {
  const int64_t end = start + interval_s_;
  // Who took part in the interval, as far as this database knows.
  const pqxx::result parts = w.exec_params(
      "SELECT m.owner FROM meters m JOIN meter_intervals i USING (meter_id) WHERE "
      "i.interval_start_s = $1 "
      "UNION SELECT owner FROM orders WHERE interval_start_s = $1 "
      // A contract's counterparty, as its proposal named it.
      "UNION SELECT t.doc->'op'->>'counterparty' FROM orders o JOIN txs t ON t.hash = o.tx_hash "
      "  WHERE o.interval_start_s = $1 AND o.kind = 'contract' AND t.doc->'op'->>'counterparty' IS "
      "NOT NULL "
      // Whoever owned a meter with energy in the interval before a transfer since its start.
      "UNION SELECT t.signer FROM txs t JOIN blocks b ON b.height = t.height "
      "  WHERE t.op_type = 'transfer_meter' AND t.code = 0 AND extract(epoch FROM b.time) >= $1 "
      "  AND t.doc->'op'->>'meter_id' IN (SELECT meter_id FROM meter_intervals WHERE "
      "interval_start_s = $1) "
      "UNION SELECT buyer FROM trades WHERE interval_start_s = $1 AND buyer IS NOT NULL "
      "UNION SELECT seller FROM trades WHERE interval_start_s = $1 AND seller IS NOT NULL "
      "UNION SELECT en->>'owner' FROM grid_events e, jsonb_array_elements(e.doc->'enrollments') en "
      "  WHERE (e.doc->>'start_s')::bigint < $2 AND (e.doc->>'end_s')::bigint > $1 AND "
      "en->>'owner' IS NOT NULL "
      "UNION SELECT mb->>'owner' FROM grid_events e, jsonb_array_elements(e.doc->'enrollments') "
      "en, "
      "  jsonb_array_elements(coalesce(en->'members', '[]'::jsonb)) mb "
      "  WHERE (e.doc->>'start_s')::bigint < $2 AND (e.doc->>'end_s')::bigint > $1 AND "
      "mb->>'owner' IS NOT NULL",
      start, end);
  std::set<std::string> accounts;
  for (const auto& row : parts) accounts.insert(row[0].as<std::string>());
  // The members of pools that sold in it: their shares are their market revenue.
  const pqxx::result pools = w.exec_params(
      "SELECT DISTINCT pool_id FROM trades WHERE interval_start_s = $1 AND pool_id IS NOT NULL",
      start);
  for (const auto& row : pools) {
    ASSIGN_OR_RETURN(pool, Get("/v1/pools/" + row[0].as<std::string>()));
    const json members = pool.value("members", json::array());
    if (!members.is_array()) return Malformed("a pool whose members are no list");
    for (const json& m : members) {
      if (!Str(m, "owner").empty()) accounts.insert(Str(m, "owner"));
    }
  }
  for (const std::string& a : accounts) {
    ASSIGN_OR_RETURN(st, Get("/v1/accounts/" + Escape(a) + "/statement?from=" +
                             std::to_string(start) + "&to=" + std::to_string(end)));
    auto put = [&](const std::string& tier, const std::string& denom, const std::string& amount) {
      if (amount.empty() || amount == "0") return;
      w.exec_params(
          "INSERT INTO statements (address, interval_start_s, tier, denom, amount) VALUES ($1, $2, "
          "$3, $4, $5) "
          "ON CONFLICT (address, interval_start_s, tier, denom) DO UPDATE SET amount = "
          "excluded.amount",
          a, start, tier, denom, amount);
    };
    const json tiers = st.value("tiers", json::object());
    if (!tiers.is_object()) return Malformed("a statement without tiers");
    for (const auto& [tier, value] : tiers.items()) {
      if (value.is_object()) put(tier, Str(value, "denom"), Str(value, "amount"));
    }
    put("points", Denom(st, "points"), Amount(st, "points"));
  }
  return Status::Ok();
}

Status Indexer::WriteEvent(pqxx::work& w, int64_t created_height, int64_t id) {
  ASSIGN_OR_RETURN(e, Get("/v1/events/" + std::to_string(id)));
  std::string zone;
  const std::string status = Str(e, "status");
  w.exec_params(
      "INSERT INTO grid_events (id, zone, status, created_height, doc) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
      id, StrOrNull(e, "zone", zone), status, created_height, e.dump());
  if (status != "settled") return Status::Ok();
  if (e.value("hidden_rows", 0) > 0) {
    return Error(
        Code::kPermissionDenied,
        "the node hides event enrollments from this reader: run it as a full reader (--as)");
  }
  w.exec_params("DELETE FROM event_payouts WHERE event_id = $1", id);
  int64_t row = 0;
  // Event payouts are in the market denomination: the event's price names it.
  const std::string denom = Denom(e, "price");
  auto add = [&](const std::string& owner, const json& r, const std::string& payout) {
    std::string meter;
    const std::optional<int64_t> pool = Int(r, "pool_id"), perf = Int(r, "performance_wh");
    w.exec_params(
        "INSERT INTO event_payouts (event_id, row_index, owner, meter_id, pool_id, performance_wh, "
        "payout, denom) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id, row++, owner, StrOrNull(r, "meter_id", meter),
        pool ? std::to_string(*pool).c_str() : nullptr,
        perf ? std::to_string(*perf).c_str() : nullptr, payout.empty() ? "0" : payout, denom);
  };
  const json enrollments = e.value("enrollments", json::array());
  if (!enrollments.is_array())
    return Malformed("event " + std::to_string(id) + " with enrollments that are no list");
  for (const json& en : enrollments) {
    if (en.contains("members") && en["members"].is_array()) {
      // A pool: each member's share, and the aggregator's fee.
      for (const json& m : en["members"]) add(Str(m, "owner"), m, Amount(m, "payout"));
      add(Str(en, "owner"), en, Amount(en, "fee"));
    } else {
      add(Str(en, "owner"), en, Amount(en, "payout"));
    }
  }
  return Status::Ok();
}

}  // namespace v2g::indexer
