// GET /v1/stream: the chain as Server-Sent Events, read from the store block by block (never a
// buffer of what happened: a stream is a cursor, a height and an event index), so a client that
// resumes, or falls behind, costs reads and not memory.
//
// Events of block h, in this order, each with `id: h:i` (i counts the block's events for this
// request's filter and reader, from 0):
//   block           the block's summary (as in GET /v1/blocks)
//   tx              each tx that names `account` or `meter` in what this reader may read of it
//                   (as in GET /v1/txs/{hash}: whole to its signer and full readers, else only
//                   hash and position, which name nothing), with its result
//   market_cleared  each market (zone, interval) the block cleared, then
//   market_settled  each it settled: the market as GET /v1/markets/{zone}/{interval} answers now
// Last-Event-ID: h:i resumes after that event (the browser's EventSource sends it on reconnect);
// else from=H starts at block H; else the next block.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/limits.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "node/api/access.h"
#include "node/api/http_server.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "node/store/index.h"

namespace v2g::api {
namespace {

constexpr int64_t kHeightMax = INT64_MAX / 2;
// The stream thread looks at the server's and the chain's state this often while no block comes.
constexpr int64_t kStreamPollMs = 500;

struct StreamFilter {
  std::string account;  // bech32m, as tx JSON names accounts; empty: none
  std::string meter;    // empty: none
  bool blocks = true, txs = false, markets = true;
};

Result<StreamFilter> ParseFilter(const httplib::Request& req) {
  StreamFilter f;
  if (req.has_param("account")) {
    auto a = ParseAddress("account", req.get_param_value("account"));
    if (!a.ok()) return a.status();
    f.account = EncodeAddress(*a);
  }
  if (req.has_param("meter")) {
    f.meter = req.get_param_value("meter");
    if (!ValidMeterId(f.meter)) return Error(Code::kInvalidArgument, "meter: not a meter id");
  }
  const bool filtered = !f.account.empty() || !f.meter.empty();
  f.txs = filtered;
  if (req.has_param("types")) {
    f.blocks = f.txs = f.markets = false;
    const std::string types = req.get_param_value("types");
    size_t start = 0;
    while (start <= types.size()) {
      const size_t comma = std::min(types.find(',', start), types.size());
      const std::string t = types.substr(start, comma - start);
      if (t == "block") {
        f.blocks = true;
      } else if (t == "tx") {
        f.txs = true;
      } else if (t == "market") {
        f.markets = true;
      } else {
        return Error(Code::kInvalidArgument,
                     "types: '" + t.substr(0, 32) + "' is not block, tx or market");
      }
      start = comma + 1;
    }
    if (f.txs && !filtered)
      return Error(Code::kInvalidArgument, "types: tx needs account= or meter=");
  }
  return f;
}

// Where the stream starts: the next event is block `height`'s with index > `after`.
struct Cursor {
  int64_t height = 0;
  int64_t after = -1;
};

Result<Cursor> ParseCursor(const httplib::Request& req, int64_t tip) {
  const std::string last = req.get_header_value("Last-Event-ID");
  if (!last.empty()) {
    const size_t colon = last.find(':');
    if (colon == std::string::npos)
      return Error(Code::kInvalidArgument, "Last-Event-ID: must be height:index");
    auto h = ParseInt("Last-Event-ID height", last.substr(0, colon), 1, kHeightMax);
    if (!h.ok()) return h.status();
    auto i = ParseInt("Last-Event-ID index", last.substr(colon + 1), 0, kHeightMax);
    if (!i.ok()) return i.status();
    return Cursor{*h, *i};
  }
  auto from = IntParam(req, "from", tip + 1, 1, kHeightMax);
  if (!from.ok()) return from.status();
  return Cursor{*from, -1};
}

// Whether a tx's JSON `j` names `needle`: an account as a string value anywhere but in its
// free-text memo (the signer, a recipient, an owner, a counterparty...), a meter under the keys
// that hold meter ids. Our own JSON of one tx: bounded in size and depth.
bool NamesAccount(const json& j, const std::string& account) {
  if (j.is_string()) return j.get_ref<const std::string&>() == account;
  if (j.is_array()) {
    for (const auto& v : j) {
      if (NamesAccount(v, account)) return true;
    }
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k != "memo" && NamesAccount(v, account)) return true;
    }
  }
  return false;
}
bool NamesMeter(const json& j, const std::string& meter) {
  if (j.is_array()) {
    for (const auto& v : j) {
      if (NamesMeter(v, meter)) return true;
    }
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if ((k == "meter_id" || k == "plugged_meter_id") && v.is_string() &&
          v.get_ref<const std::string&>() == meter) {
        return true;
      }
      if (NamesMeter(v, meter)) return true;
    }
  }
  return false;
}

// Writes one block's events after `after` in pieces of at most kStreamPieceBytesMax, or one
// larger event alone (a tx's JSON: bounded by tx_bytes_max), the last piece at the block's end.
// False when the client is gone.
class BlockWriter {
 public:
  BlockWriter(StreamWriter& w, int64_t height, int64_t after)
      : w_(w), height_(height), after_(after) {}

  bool Emit(std::string_view type, const json& data) {
    const int64_t index = next_++;
    if (index <= after_) return true;
    std::string event =
        "id: " + std::to_string(height_) + ":" + std::to_string(index) + "\nevent: ";
    event += type;
    event += "\ndata: ";
    event += data.dump(-1, ' ', false, json::error_handler_t::replace);  // one line: no raw newline
    event += "\n\n";
    if (!piece_.empty() && piece_.size() + event.size() > limits::kStreamPieceBytesMax &&
        !Flush()) {
      return false;
    }
    piece_ += event;
    return piece_.size() < limits::kStreamPieceBytesMax || Flush();
  }
  bool Flush() {
    if (piece_.empty()) return true;
    written_ += static_cast<int64_t>(piece_.size());
    std::string out;
    out.swap(piece_);
    return w_.Write(std::move(out));
  }
  int64_t written() const { return written_; }

 private:
  StreamWriter& w_;
  const int64_t height_;
  const int64_t after_;
  int64_t next_ = 0;
  int64_t written_ = 0;
  std::string piece_;
};

// Whether tx `bytes` may name the filter's account or meter (NamesAccount, NamesMeter): cheap,
// and never false for a tx whose JSON does, so only these txs are rendered and matched exactly. A
// meter id in the JSON is a string of the tx's bytes; an account is its 20 bytes or its text in
// the bytes, or an address made from a public key in them: the signer's, a meter transfer's new
// owner's (the only op that shows one).
bool MayName(const std::string& bytes, const Address* account, const std::string& account_text,
             const std::string& meter) {
  if (!meter.empty() && bytes.find(meter) != std::string::npos) return true;
  if (account == nullptr) return false;
  if (bytes.find(AddressBytes(*account)) != std::string::npos) return true;
  if (bytes.find(account_text) != std::string::npos) return true;
  pb::Tx tx;
  if (!tx.ParseFromString(bytes)) return false;
  auto from_key = [&](const std::string& key) {
    if (key.size() != kPublicKeyBytes) return false;
    PublicKey pk;
    std::copy(key.begin(), key.end(), pk.begin());
    return AddressFromPublicKey(pk) == *account;
  };
  if (from_key(tx.signer_pubkey())) return true;
  pb::TxBody body;
  return body.ParseFromString(tx.body()) && body.has_transfer_meter() &&
         from_key(body.transfer_meter().new_owner_pubkey());
}

bool WriteTxs(ApiContext& c, const StreamFilter& f, const StateView& v, int64_t height,
              BlockWriter& out) {
  const auto block = c.store->LoadBlock(height);
  const auto results = c.store->LoadResults(height);
  if (!block || !results || results->tx_results_size() != block->txs_size()) {
    return true;  // pruned or absent
  }
  std::optional<Address> account;
  if (!f.account.empty()) account = *DecodeAddress(f.account);  // checked by ParseFilter
  for (int i = 0; i < block->txs_size(); ++i) {
    if (!MayName(block->txs(i), account ? &*account : nullptr, f.account, f.meter)) continue;
    pb::TxLocation loc;
    loc.set_height(height);
    loc.set_index(static_cast<uint32_t>(i));
    *loc.mutable_result() = results->tx_results(i);
    json tx = TxJson(v, block->txs(i), &loc);
    if (ShowTxToReader(c, tx)) continue;  // reduced: it names nothing this reader may see
    if ((!f.account.empty() && NamesAccount(tx, f.account)) ||
        (!f.meter.empty() && NamesMeter(tx, f.meter))) {
      if (!out.Emit("tx", tx)) return false;
    }
  }
  return true;
}

// Writes block at.height's events: the bytes written (0: nothing matched), -1 when the client is
// gone.
int64_t WriteBlock(ApiContext& c, const StreamFilter& f, const Cursor& at, StreamWriter& w) {
  const int64_t h = at.height;
  BlockWriter out(w, h, at.after);
  auto snap = c.store->Snapshot();
  const KvReader& state = snap->reader();
  const StateView v(state);
  // The markets of one block (as many as its per-block market work allows), read first so that
  // the block event can say how many market events follow it.
  std::vector<std::pair<bool, pb::MarketRecord>> markets;  // settled?, the market now
  if (f.markets) {
    std::vector<index::MarketAtHeight> at_height;
    state.Scan(index::MarketsAtHeightPrefix(h), [&](std::string_view key, std::string_view) {
      if (auto m = index::ParseMarketAtHeight(key, h)) at_height.push_back(*m);
      return true;
    });
    for (const auto& m : at_height) {
      if (auto record = LoadMarket(state, m.zone, m.interval_start_s))
        markets.emplace_back(m.settled, std::move(*record));
    }
  }
  if (f.blocks) {
    if (auto s = state.Get(index::BlockSummaryKey(h))) {
      const index::BlockSummary sum = index::DecodeBlockSummary(*s);
      json block = BlockSummaryJson(sum.header, sum.num_txs);
      // A follower (an indexer) knows the block's events are complete after this many.
      if (f.markets) block["market_events"] = markets.size();
      if (!out.Emit("block", block)) return -1;
    }
  }
  if (f.txs && !WriteTxs(c, f, v, h, out)) return -1;
  for (const auto& [settled, record] : markets) {
    if (!out.Emit(settled ? "market_settled" : "market_cleared", MarketJson(v, record))) return -1;
  }
  return out.Flush() ? out.written() : -1;
}

}  // namespace

void GetStream(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  StreamWriter* w = CurrentStreamWriter();
  if (w == nullptr) {  // HEAD, or a transport without streams
    return ReplyError(res, Error(Code::kInvalidArgument,
                                 "GET /v1/stream only (it is a Server-Sent Events stream)"));
  }
  auto filter = ParseFilter(req);
  if (!filter.ok()) return ReplyError(res, filter.status());
  auto cursor = ParseCursor(req, c.chain->Tip().height);
  if (!cursor.ok()) return ReplyError(res, cursor.status());
  if (!w->Begin(200, {{"Content-Type", "text/event-stream; charset=utf-8"},
                      {"Cache-Control", "no-cache"},
                      {"X-Accel-Buffering", "no"}})) {
    return;
  }
  res.status = 200;  // what the API's request counts say of it
  // EventSource reconnects after `retry` ms; the comment says where this stream starts.
  if (!w->Write("retry: 1000\n: v2g stream from height " + std::to_string(cursor->height) +
                "\n\n")) {
    return;
  }
  using Clock = std::chrono::steady_clock;
  auto last_write = Clock::now();
  Cursor at = *cursor;
  // A client that went away is found by the next write that fails, so something is written at
  // least every kStreamKeepaliveMs, also while blocks come that match nothing (a quiet filter, a
  // replay for nobody): else such a stream would hold its slot for as long as blocks come.
  while (!w->Stopping()) {
    const int64_t tip = c.chain->Tip().height;
    if (at.height <= tip) {
      const int64_t written = WriteBlock(c, *filter, at, *w);
      if (written < 0) return;
      if (written > 0) last_write = Clock::now();
      at = Cursor{at.height + 1, -1};
    } else {
      if (c.chain->WaitsStopped()) return;  // the node is stopping
      c.chain->WaitForHeightAbove(tip, kStreamPollMs);
    }
    if (Clock::now() - last_write >= std::chrono::milliseconds(limits::kStreamKeepaliveMs)) {
      if (!w->Write(":\n\n")) return;
      last_write = Clock::now();
    }
  }
}

}  // namespace v2g::api
