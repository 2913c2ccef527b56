// ApiServer: the route table, and what the HTTP transport (http_server.h) runs for a request:
// the matching handler, with whatever it did not answer (an unknown route, an exception) and
// the transport's own refusals (body too large, busy) in the JSON error shape.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string_view>
#include <vector>

#include "common/limits.h"
#include "node/api/access.h"
#include "node/api/api.h"
#include "node/api/http_server.h"
#include "node/api/reply.h"
#include "node/api/routes.h"

namespace v2g {

// The transport, named in api.h without its headers.
class ApiServer::Impl : public api::HttpServer {
 public:
  using api::HttpServer::HttpServer;
};

namespace {

using api::HttpServer;
using api::HttpServerOptions;

using api::ErrorBody;
using api::Reply;

// The routes with their patterns compiled once (std::regex is safe to share for matching).
struct CompiledRoute {
  const api::Route* route;
  std::regex pattern;
};

const std::vector<CompiledRoute>& CompiledRoutes() {
  static const std::vector<CompiledRoute> routes = [] {
    std::vector<CompiledRoute> out;
    for (const api::Route& r : api::kRoutes) {
      V2G_ASSERT(std::string_view(r.method) == "GET" || std::string_view(r.method) == "POST");
      out.push_back({&r, std::regex(r.pattern)});
    }
    return out;
  }();
  return routes;
}

// The JSON error shape for the statuses the server sets itself (413, 431, 400, 503) and for a
// handler's error status left without a body.
void ErrorOfStatus(int status, const std::string& message, httplib::Response& res) {
  const Code code = status == 413 || status == 431 ? Code::kTooLarge
                    : status == 503                ? Code::kUnavailable
                    : status == 404                ? Code::kNotFound
                                                   : Code::kInvalidArgument;
  Reply(res, status, ErrorBody(code, message));
}

// Runs the first route whose method and whole-path pattern match (HEAD is answered as GET); a
// path no route takes is a 404, a path taken only with other methods a 405 with Allow (RFC 9110
// 15.5.6), a handler's exception a 500, all in the JSON error shape.
void ServeRoute(ApiContext& ctx, api::ReadNonces& nonces, httplib::Request& req,
                httplib::Response& res, size_t* route_index) {
  if (req.path.size() > limits::kHttpPathBytesMax) {
    // Before any regex: matching recurses per character (limits.h).
    return Reply(res, 414, ErrorBody(Code::kTooLarge, "request path is " + std::to_string(req.path.size()) +
                                                          " bytes, limit " + std::to_string(limits::kHttpPathBytesMax)));
  }
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  const CompiledRoute* found = nullptr;
  bool get = false, post = false;  // the path's other methods
  for (const CompiledRoute& r : CompiledRoutes()) {
    if (!std::regex_match(req.path, req.matches, r.pattern)) continue;
    if (method == r.route->method) {
      found = &r;
      break;
    }
    (std::string_view(r.route->method) == "GET" ? get : post) = true;
  }
  if (!found && (get || post)) {
    const std::string allow = get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST";
    Reply(res, 405,
          ErrorBody(Code::kInvalidArgument, "method " + req.method + " not allowed on " + req.path +
                                                " (allowed: " + allow + ")"));
    res.set_header("Allow", allow);
    return;
  }
  if (!found) {
    return Reply(res, 404, ErrorBody(Code::kNotFound, "no route " + req.method + " " + req.path));
  }
  *route_index = static_cast<size_t>(found - CompiledRoutes().data());
  // A signed read is checked before any handler, on every route: a bad signature is an error
  // even where the data is public, so a client learns at once that its signing is broken.
  const api::DisplayScope display_scope(ctx);
  const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  auto reader = api::AuthenticateRead(ctx, nonces, req, wall_ms);
  if (!reader.ok()) {
    api::ReplyError(res, reader.status());
    if (reader.status().code() == Code::kUnavailable) res.set_header("Retry-After", "5");
    return;
  }
  const api::ReaderScope reader_scope(*reader);
  try {
    if (ctx.before_handler) ctx.before_handler(req);
    found->route->handler(ctx, req, res);
  } catch (const std::exception& e) {
    spdlog::error("api: {} {}: {}", req.method, req.path, e.what());
    res = httplib::Response();
    return Reply(res, 500, ErrorBody(Code::kInternal, "internal error handling the request"));
  } catch (...) {
    spdlog::error("api: {} {}: unknown exception", req.method, req.path);
    res = httplib::Response();
    return Reply(res, 500, ErrorBody(Code::kInternal, "internal error handling the request"));
  }
  if (res.status == -1) res.status = 200;
  if (res.status == 403 && !reader_scope.refused_readers().empty()) {
    // Which accounts may read it (access.h RequireReader): a wallet signs again with its key.
    nlohmann::json body = nlohmann::json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.contains("error") && body["error"].is_object()) {
      body["error"]["readers"] = reader_scope.refused_readers();
      Reply(res, 403, body);
    }
  }
  if (res.status >= 400 && res.body.empty()) {
    ErrorOfStatus(res.status, "bad request (HTTP " + std::to_string(res.status) + ")", res);
  }
}

void Serve(ApiContext& ctx, api::ReadNonces& nonces, RequestMetrics& metrics, httplib::Request& req,
           httplib::Response& res) {
  const auto started = std::chrono::steady_clock::now();
  size_t route = metrics.unmatched();
  ServeRoute(ctx, nonces, req, res, &route);
  // A stream's time is how long its client followed it, not a latency: counted, not timed.
  const bool streamed = api::CurrentStreamWriter() != nullptr;
  metrics.Count(route, res.status,
                streamed ? -1
                         : std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count());
}

// A route's pattern as a label: each parameter becomes {}, e.g. /v1/meters/{}/readings.
std::string RouteLabel(std::string_view pattern) {
  std::string out;
  constexpr std::string_view kParam = "([^/]+)";
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.substr(i, kParam.size()) == kParam) {
      out += "{}";
      i += kParam.size();
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

std::vector<std::string> RouteLabels() {
  std::vector<std::string> out;
  for (const api::Route& r : api::kRoutes)
    out.push_back(std::string(r.method) + " " + RouteLabel(r.pattern));
  out.push_back("unmatched");
  out.push_back("refused");
  return out;
}

}  // namespace

RequestMetrics::RequestMetrics(std::vector<std::string> route_names)
    : names_(std::move(route_names)) {
  V2G_ASSERT(names_.size() >= 2);
  for (size_t i = 0; i < names_.size(); ++i) {
    latency_.push_back(std::make_unique<metrics::Histogram>(metrics::LatencyBucketsUs()));
  }
}

void RequestMetrics::Count(size_t route, int status, int64_t micros) {
  V2G_ASSERT(route < names_.size());
  status = std::clamp(status, 100, 599);  // -1 (never set) and nonsense stay one bounded key
  if (micros >= 0) latency_[route]->Observe(micros);
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[{route, status}];
}

std::vector<RequestMetrics::Row> RequestMetrics::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Row> out;
  out.reserve(counts_.size());
  for (const auto& [key, n] : counts_) out.push_back(Row{&names_[key.first], key.second, n});
  return out;
}

ApiServer::ApiServer(ApiContext ctx)
    : ctx_(std::move(ctx)), requests_(std::make_unique<RequestMetrics>(RouteLabels())) {}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start(const std::string& host, int port) {
  V2G_ASSERT(!impl_);
  HttpServerOptions o;
  o.workers = ctx_.threads;
  o.limits = ctx_.limits;
  nonces_ = std::make_unique<api::ReadNonces>();
  o.serve = [this](httplib::Request& req, httplib::Response& res) {
    Serve(ctx_, *nonces_, *requests_, req, res);
  };
  o.refuse = [this](int status, const std::string& message, httplib::Response& res) {
    ErrorOfStatus(status, message, res);
    requests_->Count(requests_->refused(), status, -1);
  };
  o.is_long_wait = [](const httplib::Request& req) {
    return req.method == "POST" && req.path == "/v1/txs" && req.get_param_value("wait") == "commit";
  };
  o.is_batch = [](const httplib::Request& req) {
    return req.method == "POST" && req.path == "/v1/txs/batch";
  };
  o.is_stream = [](const httplib::Request& req) {
    return req.method == "GET" && req.path == "/v1/stream";
  };
  impl_ = std::make_unique<Impl>(std::move(o));
  auto bound = impl_->Start(host, port);
  if (!bound.ok()) return bound.status();
  port_ = *bound;
  return Status::Ok();
}

void ApiServer::Stop() {
  if (impl_) impl_->Stop();
}

ApiLoad ApiServer::Load() const { return impl_ ? impl_->Load() : ApiLoad{}; }

}  // namespace v2g
