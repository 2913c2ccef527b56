// ApiServer: binds the HTTP server, wires every module's routes and turns whatever a handler did
// not answer (an unknown route, a body too large, an exception) into the JSON error shape.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <string_view>

#include "common/limits.h"
#include "node/api/api.h"
#include "node/api/reply.h"
#include "node/api/routes.h"

namespace v2g {
namespace {

using api::ErrorBody;
using api::Reply;

struct Route {
  const char* method;   // "GET" or "POST"
  const char* pattern;  // a regex over the whole path; captures go to req.matches
  void (*handler)(ApiContext& c, const httplib::Request& req, httplib::Response& res);
};

// Every route, by the file that answers it. httplib tries them in this order and the first
// pattern that matches the whole path answers; only /v1/blocks/latest is also matched by another
// pattern (/v1/blocks/{height}), so it comes first. routes.h says what each one answers.
constexpr Route kRoutes[] = {
    // chain.cc
    {"GET", "/v1/health", api::GetHealth},
    {"GET", "/v1/status", api::GetStatus},
    {"GET", "/v1/params", api::GetParams},
    {"GET", "/v1/blocks/latest", api::GetLatestBlock},
    {"GET", R"(/v1/blocks/([^/]+)/commit)", api::GetCommit},
    {"GET", R"(/v1/blocks/([^/]+))", api::GetBlock},
    {"GET", "/v1/blocks", api::ListBlocks},
    {"GET", "/v1/validators", api::GetValidators},
    {"GET", "/v1/net_info", api::GetNetInfo},
    {"GET", "/v1/consensus_state", api::GetConsensusState},
    {"GET", "/v1/evidence", api::GetEvidence},
    // txs.cc
    {"POST", "/v1/txs", api::PostTx},
    {"GET", R"(/v1/txs/([^/]+))", api::GetTx},
    // accounts.cc
    {"GET", R"(/v1/accounts/([^/]+))", api::GetAccount},
    {"GET", "/v1/denoms", api::ListDenoms},
    // meters.cc
    {"GET", "/v1/meters", api::ListMeters},
    {"GET", R"(/v1/meters/([^/]+))", api::GetMeter},
    {"GET", R"(/v1/meters/([^/]+)/readings)", api::GetReadings},
    {"GET", R"(/v1/meters/([^/]+)/battery)", api::GetBattery},
    {"GET", R"(/v1/meters/([^/]+)/ocmf)", api::ListOcmfRecords},
    {"GET", R"(/v1/meters/([^/]+)/ocmf/([^/]+))", api::GetOcmfRecord},
    // market.cc, market_trades.cc
    {"GET", "/v1/markets", api::ListMarkets},
    {"GET", R"(/v1/markets/([^/]+)/([^/]+))", api::GetMarket},
    {"GET", R"(/v1/orders/([^/]+))", api::GetOrder},
    {"GET", R"(/v1/contracts/([^/]+))", api::GetContract},
    {"GET", R"(/v1/accounts/([^/]+)/orders)", api::AccountOrders},
    {"GET", "/v1/trades", api::ListTrades},
    {"GET", "/v1/settlements", api::ListSettlements},
    // grid.cc, statement.cc
    {"GET", R"(/v1/tariffs/([^/]+))", api::GetTariffs},
    {"GET", "/v1/events", api::ListEvents},
    {"GET", R"(/v1/events/([^/]+))", api::GetEvent},
    {"GET", "/v1/programs", api::ListPrograms},
    {"GET", R"(/v1/programs/([^/]+))", api::GetProgram},
    {"GET", "/v1/pools", api::ListPools},
    {"GET", R"(/v1/pools/([^/]+))", api::GetPool},
    {"GET", R"(/v1/accounts/([^/]+)/statement)", api::AccountStatement},
    {"GET", R"(/v1/accounts/([^/]+)/debts)", api::AccountDebts},
};

}  // namespace

ApiServer::ApiServer(ApiContext ctx)
    : ctx_(std::move(ctx)), server_(std::make_unique<httplib::Server>()) {}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start(const std::string& host, int port) {
  Routes();
  const size_t threads = static_cast<size_t>(ctx_.threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(limits::kHttpBodyBytesMax);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_keep_alive_max_count(1000);
  server_->set_tcp_nodelay(true);  // small JSON replies: don't wait for Nagle on keep-alive
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ <= 0) return Error(Code::kIo, "cannot bind the API to " + host);
  } else {
    if (!server_->bind_to_port(host, port)) {
      return Error(Code::kIo,
                   "cannot bind the API to " + host + ":" + std::to_string(port) + " (in use?)");
    }
    port_ = port;
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() does nothing until the listener thread has marked itself running; a Stop()
  // right after Start() would be lost and join() would wait forever on accept(). Wait for it.
  while (!server_->is_running() && !listen_returned_) std::this_thread::yield();
  return Status::Ok();
}

void ApiServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void ApiServer::Routes() {
  httplib::Server& s = *server_;
  s.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("api: {} {}: {}", req.method, req.path, what);
        Reply(res, 500, ErrorBody(Code::kInternal, "internal error handling the request"));
      });
  // Statuses httplib sets itself (no route, body over the limit, unparsable request) get the
  // JSON error shape too; a handler's own error body is left alone.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      Reply(res, 404, ErrorBody(Code::kNotFound, "no route " + req.method + " " + req.path));
    } else if (res.status == 413) {
      Reply(res, 413, ErrorBody(Code::kTooLarge, "request body too large"));
    } else {
      Reply(res, res.status,
            ErrorBody(Code::kInvalidArgument,
                      "bad request (HTTP " + std::to_string(res.status) + ")"));
    }
  });
  for (const Route& r : kRoutes) {
    auto handler = [this, fn = r.handler](const httplib::Request& req, httplib::Response& res) {
      fn(ctx_, req, res);
    };
    if (std::string_view(r.method) == "POST") {
      s.Post(r.pattern, handler);
    } else {
      V2G_ASSERT(std::string_view(r.method) == "GET");
      s.Get(r.pattern, handler);
    }
  }
}

}  // namespace v2g
