// HTTP API of txs (docs/API.md "Endpoints"): POST /v1/txs and POST /v1/txs/batch, the endpoints
// that change anything (they admit signed txs to the mempool; a single one may wait for its
// commit), and GET /v1/txs/{hash}.
#include <algorithm>

#include "common/bytes.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/access.h"
#include "node/api/reply.h"
#include "node/api/routes.h"

namespace v2g::api {
namespace {

// The tx bytes of a POST /v1/txs body {"tx": "<hex>"}.
Result<std::string> TxBytesOfBody(const std::string& text) {
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Error(Code::kMalformed, "request body must be a JSON object {\"tx\": \"<hex>\"}");
  }
  if (!body.contains("tx") || !body["tx"].is_string()) {
    return Error(Code::kInvalidArgument, "field \"tx\" (hex string) is missing");
  }
  auto bytes = HexDecode(body["tx"].get<std::string>());
  if (!bytes.ok()) return Error(Code::kMalformed, "field \"tx\": " + bytes.status().message());
  return ToString(*bytes);
}

// `wait`: "commit" (true) or "none" (false, the default).
Result<bool> WaitParam(const httplib::Request& req) {
  if (!req.has_param("wait")) return false;
  const std::string w = req.get_param_value("wait");
  if (w != "commit" && w != "none") {
    return Error(Code::kInvalidArgument, "wait must be \"commit\" or \"none\", got '" + w + "'");
  }
  return w == "commit";
}

// The entries of a POST /v1/txs/batch body {"txs": [...]}: 1 to kApiBatchTxsMax of them, each
// still unchecked (a string that is not hex gets its own verdict, like a tx that is refused).
Result<json> BatchEntriesOfBody(const std::string& text) {
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Error(Code::kMalformed,
                 "request body must be a JSON object {\"txs\": [\"<hex>\", ...]}");
  }
  if (!body.contains("txs") || !body["txs"].is_array()) {
    return Error(Code::kInvalidArgument, "field \"txs\" (array of hex strings) is missing");
  }
  json& txs = body["txs"];
  if (txs.empty())
    return Error(Code::kInvalidArgument, "field \"txs\" is empty: send 1 to " +
                                             std::to_string(limits::kApiBatchTxsMax) + " txs");
  if (static_cast<int64_t>(txs.size()) > limits::kApiBatchTxsMax) {
    return Error(Code::kTooLarge, "batch of " + std::to_string(txs.size()) + " txs, limit " +
                                      std::to_string(limits::kApiBatchTxsMax) +
                                      " (kApiBatchTxsMax) per request");
  }
  return std::move(txs);
}

// The verdict of one batch entry: admitted (pending) or refused with the single endpoint's error.
json BatchVerdict(size_t index, const Hash256* hash, const Status& st) {
  json v = {{"index", index}, {"hash", hash ? json(TxHashHex(*hash)) : json(nullptr)}};
  if (st.ok()) {
    v["status"] = "pending";
    return v;
  }
  v["code"] = std::string(CodeName(st.code()));
  v["code_num"] = static_cast<uint32_t>(st.code());
  v["message"] = st.message();
  return v;
}

}  // namespace

void PostTxBatch(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  if (req.has_param("wait") && req.get_param_value("wait") != "none") {
    return ReplyError(res, Error(Code::kInvalidArgument,
                                 "wait=commit is not offered on batches: poll GET /v1/txs/{hash} "
                                 "for each admitted hash"));
  }
  auto entries = BatchEntriesOfBody(req.body);
  if (!entries.ok()) return ReplyError(res, entries.status());
  json results = json::array();
  int64_t admitted = 0;
  // One tx at a time, each admitted exactly as POST /v1/txs admits it: Add takes the mempool's
  // locks per tx, never across the batch, so blocks commit and single txs get in between.
  for (size_t i = 0; i < entries->size(); ++i) {
    const json& e = (*entries)[i];
    if (!e.is_string()) {
      results.push_back(BatchVerdict(
          i, nullptr,
          Error(Code::kInvalidArgument, "txs[" + std::to_string(i) + "] is not a hex string")));
      continue;
    }
    auto bytes = HexDecode(e.get<std::string>());
    if (!bytes.ok()) {
      results.push_back(BatchVerdict(
          i, nullptr,
          Error(Code::kMalformed, "txs[" + std::to_string(i) + "]: " + bytes.status().message())));
      continue;
    }
    const std::string tx = ToString(*bytes);
    const Hash256 hash = Blake2b256(tx);
    auto added = c.mempool->Add(tx, c.store->state());
    if (added.ok()) {
      V2G_ASSERT(*added == hash);
      ++admitted;
      if (c.on_tx_admitted) c.on_tx_admitted(tx);
    }
    results.push_back(BatchVerdict(i, &hash, added.ok() ? Status::Ok() : added.status()));
  }
  V2G_ASSERT(results.size() == entries->size());
  const int64_t total = static_cast<int64_t>(results.size());
  Reply(res, 200,
        {{"admitted", admitted}, {"refused", total - admitted}, {"results", std::move(results)}});
}

void PostTx(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto tx = TxBytesOfBody(req.body);
  if (!tx.ok()) return ReplyError(res, tx.status());
  auto wait = WaitParam(req);
  if (!wait.ok()) return ReplyError(res, wait.status());
  auto timeout_ms =
      IntParam(req, "timeout_ms", limits::kWaitCommitMsDefault, 0, limits::kWaitCommitMsMax);
  if (!timeout_ms.ok()) return ReplyError(res, timeout_ms.status());
  auto added = c.mempool->Add(*tx, c.store->state());
  if (!added.ok()) return ReplyError(res, added.status());
  if (c.on_tx_admitted) c.on_tx_admitted(*tx);
  json out = {{"hash", TxHashHex(*added)}, {"status", "pending"}};
  if (!*wait) return Reply(res, 202, out);
  auto loc = c.chain->WaitForTx(*added, *timeout_ms);
  if (!loc) return Reply(res, 202, out);
  AddTxResult(out, *loc, StateView(c.store->state()));
  Reply(res, 200, out);
}

void GetTx(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  const std::string text = req.matches[1];
  auto raw = HexDecode(text);
  if (!raw.ok() || raw->size() != 32) {
    return ReplyError(res, Error(Code::kInvalidArgument,
                                 "tx hash must be 64 hex characters, got '" + text + "'"));
  }
  Hash256 hash;
  std::copy(raw->begin(), raw->end(), hash.begin());
  auto loc = c.store->LoadTxLocation(hash);
  if (!loc) {
    if (c.mempool->Contains(hash)) {
      return Reply(res, 200, {{"hash", TxHashHex(hash)}, {"status", "pending"}});
    }
    return ReplyError(res, Error(Code::kNotFound, "tx " + TxHashHex(hash) + " not found"));
  }
  auto block = c.store->LoadBlock(loc->height());
  V2G_ASSERT(block && static_cast<int>(loc->index()) < block->txs_size());
  json body = TxJson(StateView(c.store->state()), block->txs(static_cast<int>(loc->index())), &*loc);
  ShowTxToReader(c, body);
  Reply(res, 200, body);
}

}  // namespace v2g::api
