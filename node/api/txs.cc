// HTTP API of txs (docs/API.md "Endpoints"): POST /v1/txs, the one endpoint that changes
// anything (it admits a signed tx to the mempool and may wait for its commit), and GET
// /v1/txs/{hash}.
#include <algorithm>

#include "common/bytes.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "node/api/params.h"
#include "node/api/render.h"
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

}  // namespace

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
  AddTxResult(out, *loc);
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
  Reply(res, 200,
        TxJson(StateView(c.store->state()), block->txs(static_cast<int>(loc->index())), &*loc));
}

}  // namespace v2g::api
