#include "wallet/client.h"

#include <algorithm>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <sodium.h>

#include <array>
#include <chrono>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/read_auth.h"
#include "common/limits.h"
#include "common/time.h"

namespace v2g {
namespace {

using nlohmann::json;

// Enough of a bad body to recognise it (an HTML error page, a proxy's message) in one line.
constexpr size_t kSnippetMax = 120;
// The node holds a wait=commit answer up to timeout_ms; give the network this much on top.
constexpr int64_t kWaitSlackMs = 5000;
constexpr size_t kHashHexChars = 64;

std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kSnippetMax)) {
    out.push_back(c >= 32 && c < 127 ? c : ' ');
  }
  if (body.size() > kSnippetMax) out += "...";
  return out.empty() ? "(empty body)" : "'" + out + "'";
}

std::string LowerFirst(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// httplib reports every connect failure as Error::Connection without the cause. To tell the user
// "connection refused" from "no such host" from "timed out", repeat the connect once, directly.
std::string DiagnoseConnect(const std::string& host, int port, int64_t timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return "cannot resolve host '" + host + "': " + LowerFirst(::gai_strerror(rc));
  std::string last = "connection failed";
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
    if (fd < 0) {
      last = LowerFirst(std::strerror(errno));
      continue;
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout_ms % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int c = ::connect(fd, p->ai_addr, p->ai_addrlen);
    int err = errno;
    ::close(fd);
    if (c == 0) {
      last = "connection failed (it works now: the node may have just started)";
      break;
    }
    last = (err == EINPROGRESS || err == EAGAIN) ? "connection timed out"
                                                 : LowerFirst(std::strerror(err));
  }
  ::freeaddrinfo(res);
  return last;
}

// Reads typed fields of a response object; the first problem becomes a kMalformed Status.
class Fields {
 public:
  Fields(const json& obj, std::string context) : obj_(obj), context_(std::move(context)) {
    if (!obj_.is_object()) status_ = Error(Code::kMalformed, context_ + ": expected a JSON object");
  }

  std::string Str(const char* key, bool required = true) {
    const json* v = Get(key, required);
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_string()) return Fail(key, "is not a string"), std::string();
    return v->get<std::string>();
  }
  // Integers arrive as JSON numbers or, when they can exceed 2^53, as decimal strings.
  int64_t Int(const char* key, bool required = true) {
    const json* v = Get(key, required);
    if (v == nullptr || v->is_null()) return 0;
    if (v->is_number_integer()) {
      if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return Fail(key, "is out of range"), 0;
      }
      return v->get<int64_t>();
    }
    if (v->is_string()) {
      const std::string& s = v->get_ref<const std::string&>();
      int64_t out = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return out;
    }
    return Fail(key, "is not an integer"), 0;
  }
  uint64_t Uint(const char* key, bool required = true) {
    int64_t v = Int(key, required);
    if (v < 0) return Fail(key, "is negative"), 0;
    return static_cast<uint64_t>(v);
  }
  bool Bool(const char* key, bool required = true) {
    const json* v = Get(key, required);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_boolean()) return Fail(key, "is not true or false"), false;
    return v->get<bool>();
  }
  const json* Get(const char* key, bool required) {
    if (!status_.ok()) return nullptr;
    auto it = obj_.find(key);
    if (it == obj_.end()) {
      if (required) Fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  void Fail(const std::string& key, const std::string& why) {
    if (status_.ok()) status_ = Error(Code::kMalformed, context_ + ": field '" + key + "' " + why);
  }
  const Status& status() const { return status_; }

 private:
  const json& obj_;
  std::string context_;
  Status status_;
};

// Codes are below kCodeNumMax (common/status.h: meter readings from 100, the market from 120).
constexpr int64_t kCodeNumMax = 1000;

Code CodeFromApi(int64_t code_num, const std::string& code_name) {
  // CodeName says "unknown" for numbers this build does not know.
  if (code_num >= 0 && code_num < kCodeNumMax && CodeName(static_cast<Code>(code_num)) != "unknown") {
    return static_cast<Code>(code_num);
  }
  for (uint32_t i = 1; i < kCodeNumMax; ++i) {
    if (CodeName(static_cast<Code>(i)) == code_name) return static_cast<Code>(i);
  }
  return Code::kInternal;
}

// {"error": {"code", "code_num", "message"}} -> Status; nullopt if `body` is not such an object.
std::optional<Status> ApiErrorFromBody(const json& body) {
  if (!body.is_object()) return std::nullopt;
  auto it = body.find("error");
  if (it == body.end() || !it->is_object()) return std::nullopt;
  const json& e = *it;
  std::string code =
      e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
  int64_t code_num = e.contains("code_num") && e["code_num"].is_number_integer()
                         ? e["code_num"].get<int64_t>()
                         : -1;
  std::string message =
      e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
  if (code.empty() && message.empty()) return std::nullopt;
  std::string text = code.empty() ? message : message.empty() ? code : code + ": " + message;
  return Error(CodeFromApi(code_num, code), text);
}

// The request target as sent: the characters that cpp-httplib's own encoding escapes (space, '+',
// ',', ';', '\'', controls and non-ASCII bytes) percent-encoded, the rest as given (callers pass
// URL-safe paths and queries). A node decodes both alike.
std::string EncodeTarget(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if (c <= 0x20 || c >= 0x7f || ch == '+' || ch == ',' || ch == ';' || ch == '\'') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

struct ParsedUrl {
  std::string scheme, host, path_prefix;
  int port = 0;
  bool ipv6 = false;
};

Result<ParsedUrl> ParseBaseUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Error(Code::kInvalidArgument, "bad node URL '" + std::string(url) + "': " + why);
  };
  ParsedUrl out;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("must start with http:// (e.g. http://127.0.0.1:26657)");
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme == "https") {
    // This build links no TLS (cpp-httplib without OpenSSL): say what to do instead of failing
    // later with an opaque connection error.
    return bad("https is not spoken here: the node's API is plain HTTP, meant for localhost or a private "
               "network, and an operator who publishes it puts a TLS proxy in front of it. Reach a remote "
               "node through an SSH tunnel (ssh -L 26657:127.0.0.1:26657 HOST) and use --node "
               "http://127.0.0.1:26657");
  }
  if (out.scheme != "http") return bad("scheme must be http (e.g. http://127.0.0.1:26657)");
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of("?#") != std::string_view::npos)
    return bad("must not have a query or fragment");
  out.path_prefix = std::string(path);
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in host");
    out.host = std::string(authority.substr(1, close - 1));
    out.ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return bad("unexpected text after ']'");
    if (!after.empty()) port_text = after.substr(1);
  } else {
    size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  for (char c : out.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
          (out.ipv6 && c == ':'))) {
      return bad("host has an invalid character");
    }
  }
  out.port = 80;
  if (!port_text.empty() || authority.ends_with(':')) {
    int p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p < 1 || p > 65535) {
      return bad("port must be a number from 1 to 65535");
    }
    out.port = p;
  }
  return out;
}

}  // namespace

Result<ApiClient> ApiClient::Create(std::string_view base_url, ClientOptions options) {
  V2G_ASSERT(options.connect_timeout_ms > 0 && options.read_timeout_ms > 0);
  auto url = ParseBaseUrl(base_url);
  if (!url.ok()) return url.status();
  ApiClient c;
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  c.base_url_ = std::string(base_url);
  c.host_ = url->host;
  c.port_ = url->port;
  c.path_prefix_ = url->path_prefix;
  c.options_ = options;
  std::string host = url->ipv6 ? "[" + url->host + "]" : url->host;
  c.http_ = std::make_unique<httplib::Client>(url->scheme + "://" + host + ":" +
                                              std::to_string(url->port));
  c.http_->set_connection_timeout(std::chrono::milliseconds(options.connect_timeout_ms));
  c.http_->set_write_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  // One connection per request: on a reused connection httplib's server writes headers and body
  // separately and Nagle + delayed ACK stall every request after the first by ~40 ms; a fresh
  // loopback connection costs well under a millisecond. The CLI makes only a handful of calls.
  c.http_->set_keep_alive(false);
  // The target is encoded here (EncodeTarget), so what a signed read signs is what is sent.
  c.http_->set_url_encode(false);
  c.http_->set_tcp_nodelay(true);
  return c;
}

ApiClient::ApiClient(ApiClient&&) noexcept = default;
ApiClient& ApiClient::operator=(ApiClient&&) noexcept = default;
ApiClient::~ApiClient() = default;

void ApiClient::SetReader(std::optional<KeyPair> key) { reader_ = std::move(key); }

Result<json> ApiClient::Call(std::string_view method, const std::string& path,
                             const std::string* body, int64_t read_timeout_ms) {
  auto r = CallOnce(method, path, body, read_timeout_ms);
  if (method == "GET" && reader_ && !r.ok() && r.status().code() == Code::kUnauthenticated) {
    // The node does not take this key's signature (a clock far off, another chain): read
    // unsigned from now on, this request too.
    reader_.reset();
    r = CallOnce(method, path, body, read_timeout_ms);
  }
  if (method != "GET" || !reader_source_) return r;
  // Refused as personal data (403, error.readers), or answered without it ("private": true, or
  // rows hidden, with "readers" who would see it all): sign as one of them if the wallet can.
  std::vector<std::string> readers;
  if (!r.ok() && r.status().code() == Code::kPermissionDenied) {
    readers = refused_readers_;
  } else if (r.ok() && r->is_object()) {
    const json& j = *r;
    auto positive = [&](const char* k) {
      return j.contains(k) && j[k].is_number_integer() && j[k].get<int64_t>() > 0;
    };
    const bool priv = j.contains("private") && j["private"].is_boolean() && j["private"].get<bool>();
    if (!priv && !positive("hidden_rows") && !positive("private_items")) return r;
    if (j.contains("readers") && j["readers"].is_array()) {
      for (const json& a : j["readers"]) {
        if (a.is_string() && readers.size() < 16) readers.push_back(a.get<std::string>());
      }
    }
  } else {
    return r;
  }
  std::optional<KeyPair> key = reader_source_(readers);
  if (!key || (reader_ && key->public_key() == reader_->public_key())) return r;
  reader_ = std::move(key);
  auto again = CallOnce(method, path, body, read_timeout_ms);
  // A key the node does not take (a clock far off, another chain): read unsigned from now on.
  if (!again.ok() && again.status().code() == Code::kUnauthenticated) reader_.reset();
  return again;
}

Result<json> ApiClient::CallOnce(std::string_view method, const std::string& path,
                                 const std::string* body, int64_t read_timeout_ms) {
  V2G_ASSERT(http_ != nullptr);
  V2G_ASSERT(method == "GET" || method == "POST");
  const std::string what = std::string(method) + " " + path;
  const std::string sent = EncodeTarget(path);
  auto signed_read = ReadHeaders(method, path, sent);
  if (!signed_read.ok()) return signed_read.status();
  const httplib::Headers headers(signed_read->begin(), signed_read->end());
  refused_readers_.clear();
  http_->set_read_timeout(std::chrono::milliseconds(read_timeout_ms));
  const std::string target = path_prefix_ + sent;
  httplib::Result res =
      method == "GET"
          ? http_->Get(target, headers)
          : http_->Post(target, body != nullptr ? *body : std::string(), "application/json");
  if (!res) return ConnectionError(static_cast<int>(res.error()), what, read_timeout_ms);
  return AnswerOf(res->status, res->body, what);
}

Result<std::vector<std::pair<std::string, std::string>>> ApiClient::ReadHeaders(
    std::string_view method, const std::string& path, const std::string& sent) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (method == "GET" && reader_ && path != "/v1/status") {
    if (chain_id_.empty()) {
      auto st = CallOnce("GET", "/v1/status", nullptr, options_.read_timeout_ms);
      if (!st.ok()) return st.status();
      if (!st->contains("chain_id") || !(*st)["chain_id"].is_string()) {
        return Error(Code::kMalformed, "node at " + base_url_ + " did not say its chain_id in GET /v1/status");
      }
      chain_id_ = (*st)["chain_id"].get<std::string>();
    }
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
    std::array<uint8_t, 16> nonce_bytes{};
    randombytes_buf(nonce_bytes.data(), nonce_bytes.size());
    const std::string nonce = HexEncode(ByteView(nonce_bytes.data(), nonce_bytes.size()));
    const Signature sig = reader_->Sign(AsBytes(ReadAuthMessage(chain_id_, method, sent, now_ms, nonce)));
    headers.emplace_back(kReadKeyHeader, HexEncode(ByteView(reader_->public_key().data(),
                                                            reader_->public_key().size())));
    headers.emplace_back(kReadTimeHeader, std::to_string(now_ms));
    headers.emplace_back(kReadNonceHeader, nonce);
    headers.emplace_back(kReadSignatureHeader, HexEncode(ByteView(sig.data(), sig.size())));
  }
  return headers;
}

Status ApiClient::ConnectionError(int error_code, const std::string& what,
                                  int64_t read_timeout_ms) const {
  const auto error = static_cast<httplib::Error>(error_code);
  switch (error) {
    case httplib::Error::Connection:
      return Error(Code::kUnavailable,
                   "cannot reach node at " + base_url_ + ": " +
                       DiagnoseConnect(host_, port_, options_.connect_timeout_ms));
    case httplib::Error::ConnectionTimeout:
      return Error(Code::kUnavailable, "cannot reach node at " + base_url_ +
                                           ": connection timed out after " +
                                           std::to_string(options_.connect_timeout_ms) + " ms");
    case httplib::Error::Read:
      return Error(Code::kUnavailable, "node at " + base_url_ + " gave no complete answer to " +
                                           what + " (connection closed, or no answer within " +
                                           std::to_string(read_timeout_ms) + " ms)");
    case httplib::Error::Write:
      return Error(Code::kUnavailable, "cannot send " + what + " to node at " + base_url_ +
                                           ": connection closed or timed out");
    default:
      return Error(Code::kUnavailable, "request " + what + " to node at " + base_url_ +
                                           " failed: " + httplib::to_string(error));
  }
}

Result<json> ApiClient::AnswerOf(int http_status, const std::string& body,
                                 const std::string& what) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (http_status >= 200 && http_status < 300) {
    if (doc.is_discarded()) {
      return Error(Code::kMalformed, "node at " + base_url_ + " answered " + what +
                                         " with a body that is not JSON: " + Snippet(body));
    }
    return doc;
  }
  if (!doc.is_discarded()) {
    if (http_status == 403 && doc.contains("error") && doc["error"].is_object() && doc["error"].contains("readers") &&
        doc["error"]["readers"].is_array()) {
      for (const json& r : doc["error"]["readers"]) {
        if (r.is_string() && refused_readers_.size() < 16) refused_readers_.push_back(r.get<std::string>());
      }
    }
    if (auto api_error = ApiErrorFromBody(doc)) return *api_error;
  }
  Code code = http_status == 404   ? Code::kNotFound
              : http_status == 503 ? Code::kUnavailable
                                   : Code::kInternal;
  return Error(code, "node at " + base_url_ + " answered " + what + " with HTTP " +
                         std::to_string(http_status) +
                         " and no API error object: " + Snippet(body));
}

Status ApiClient::Follow(const std::string& path_and_query, const std::string& last_event_id,
                         int64_t idle_timeout_ms, const EventHandler& on_event) {
  V2G_ASSERT(http_ != nullptr);
  const std::string what = "GET " + path_and_query;
  const std::string sent = EncodeTarget(path_and_query);
  auto signed_read = ReadHeaders("GET", path_and_query, sent);
  if (!signed_read.ok()) return signed_read.status();
  httplib::Headers headers(signed_read->begin(), signed_read->end());
  if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
  http_->set_read_timeout(std::chrono::milliseconds(idle_timeout_ms));
  int status = 0;
  std::string buf;  // an error's body, or the stream's bytes not yet a whole event
  bool stopped = false;
  Status failed = Status::Ok();
  // One event: its lines up to the blank line (the SSE format; comments and retry ignored).
  auto dispatch = [&](std::string_view block) {
    std::string id, event, data;
    size_t start = 0;
    while (start < block.size()) {
      const size_t nl = std::min(block.find('\n', start), block.size());
      const std::string_view line = block.substr(start, nl - start);
      if (line.starts_with("id: ")) id = line.substr(4);
      if (line.starts_with("event: ")) event = line.substr(7);
      if (line.starts_with("data: ")) data = line.substr(6);
      start = nl + 1;
    }
    if (event.empty()) return true;
    json doc = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      failed = Error(Code::kMalformed, "node at " + base_url_ + " sent a " + event +
                                           " event that is not JSON: " + Snippet(data));
      return false;
    }
    if (!on_event(id, event, doc)) {
      stopped = true;
      return false;
    }
    return true;
  };
  httplib::Result res = http_->Get(
      path_prefix_ + sent, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t n) {
        // The end of an event is looked for only in what came since the last look (and the
        // byte before it): a large event arriving in many chunks is scanned once, not once per
        // chunk.
        const size_t from = buf.empty() ? 0 : buf.size() - 1;
        buf.append(data, n);
        if (status != 200) return buf.size() <= 64 * 1024;  // an error's body
        for (size_t end = buf.find("\n\n", from); end != std::string::npos;
             end = buf.find("\n\n")) {
          const bool go_on = dispatch(std::string_view(buf).substr(0, end));
          buf.erase(0, end + 2);
          if (!go_on) return false;
        }
        if (buf.size() > kEventBytesMax) {
          failed = Error(Code::kMalformed, "node at " + base_url_ + " sent an event over " +
                                               std::to_string(kEventBytesMax) + " bytes");
          return false;
        }
        return true;
      });
  if (stopped) return Status::Ok();
  if (!failed.ok()) return failed;
  if (status != 0 && status != 200) {
    auto answer = AnswerOf(status, buf, what);
    return answer.ok() ? Error(Code::kInternal, "node at " + base_url_ + " answered " + what +
                                                    " with HTTP " + std::to_string(status))
                       : answer.status();
  }
  if (!res && status == 0)
    return ConnectionError(static_cast<int>(res.error()), what, idle_timeout_ms);
  return Error(Code::kUnavailable, "the stream from " + base_url_ +
                                       " ended (the node closed it, or sent nothing for " +
                                       std::to_string(idle_timeout_ms) + " ms)");
}

Result<NodeStatus> ApiClient::GetStatus() {
  auto doc = Call("GET", "/v1/status", nullptr, options_.read_timeout_ms);
  if (!doc.ok()) return doc.status();
  const std::string context =
      "node at " + base_url_ + " sent an unexpected answer to GET /v1/status";
  Fields f(*doc, context);
  NodeStatus s;
  s.chain_id = f.Str("chain_id");
  s.latest_height = f.Int("latest_height");
  s.moniker = f.Str("moniker", false);
  s.node_id = f.Str("node_id", false);
  s.validator_address = f.Str("validator_address", false);
  s.latest_block_id = f.Str("latest_block_id", false);
  s.latest_app_hash = f.Str("latest_app_hash", false);
  if (const json* t = f.Get("latest_block_time", false); t != nullptr && !t->is_null()) {
    s.latest_block_time = t->is_string() ? t->get<std::string>() : t->dump();
  }
  s.latest_block_time_ms = f.Int("latest_block_time_ms", false);
  if (s.latest_block_time_ms == 0 && !s.latest_block_time.empty()) {
    // Nodes before latest_block_time_ms: the RFC 3339 time (0 if it does not parse).
    if (auto ms = ParseRfc3339Ms(s.latest_block_time); ms.ok()) s.latest_block_time_ms = *ms;
  }
  s.earliest_height = f.Int("earliest_height", false);
  s.catching_up = f.Bool("catching_up", false);
  s.version = f.Str("version", false);
  if (const json* m = f.Get("mempool", false); m != nullptr && !m->is_null()) {
    Fields mf(*m, context + " (mempool)");
    s.mempool_txs = mf.Int("txs", false);
    s.mempool_bytes = mf.Int("bytes", false);
    s.mempool_fee_per_unit = std::max<int64_t>(0, mf.Int("fee_per_unit", false));
    V2G_RETURN_IF_ERROR(mf.status());
  }
  V2G_RETURN_IF_ERROR(f.status());
  if (s.chain_id.empty()) return Error(Code::kMalformed, context + ": chain_id is empty");
  s.raw = std::move(doc).value();
  return s;
}

Result<AccountInfo> ApiClient::GetAccount(std::string_view address) {
  // Validate before it goes into a URL path, and send the canonical lower-case form.
  auto decoded = DecodeAddress(address);
  if (!decoded.ok()) return decoded.status();
  const std::string canonical = EncodeAddress(*decoded);
  const std::string path = "/v1/accounts/" + canonical;
  auto doc = Call("GET", path, nullptr, options_.read_timeout_ms);
  if (!doc.ok()) return doc.status();
  const std::string context = "node at " + base_url_ + " sent an unexpected answer to GET " + path;
  Fields f(*doc, context);
  AccountInfo a;
  a.address = f.Str("address", false);
  if (a.address.empty()) a.address = canonical;
  a.nonce = f.Uint("nonce", false);
  a.next_nonce = f.Get("next_nonce", false) != nullptr ? f.Uint("next_nonce") : a.nonce + 1;
  const json* balances = f.Get("balances", false);
  V2G_RETURN_IF_ERROR(f.status());
  if (balances != nullptr && !balances->is_null()) {
    if (!balances->is_array())
      return Error(Code::kMalformed, context + ": field 'balances' is not a list");
    for (const json& b : *balances) {
      Fields bf(b, context + " (balances)");
      Balance bal;
      bal.denom = bf.Str("denom");
      bal.amount = bf.Int("amount");
      bal.display = bf.Str("display", false);
      V2G_RETURN_IF_ERROR(bf.status());
      a.balances.push_back(std::move(bal));
    }
  }
  a.raw = std::move(doc).value();
  return a;
}

Result<std::vector<DenomInfo>> ApiClient::GetDenoms() {
  auto doc = Call("GET", "/v1/denoms", nullptr, options_.read_timeout_ms);
  if (!doc.ok()) return doc.status();
  const std::string context =
      "node at " + base_url_ + " sent an unexpected answer to GET /v1/denoms";
  Fields f(*doc, context);
  const json* list = f.Get("denominations", true);
  V2G_RETURN_IF_ERROR(f.status());
  if (!list->is_array())
    return Error(Code::kMalformed, context + ": field 'denominations' is not a list");
  std::vector<DenomInfo> out;
  for (const json& d : *list) {
    Fields df(d, context + " (denominations)");
    DenomInfo info;
    info.name = df.Str("name");
    int64_t decimals = df.Int("decimals");
    info.issuer = df.Str("issuer", false);
    info.minted = df.Int("minted", false);
    info.burned = df.Int("burned", false);
    info.supply = df.Int("supply", false);
    V2G_RETURN_IF_ERROR(df.status());
    if (decimals < 0 || decimals > 18) {
      return Error(Code::kMalformed, context + ": denomination " + info.name + " has " +
                                         std::to_string(decimals) + " decimals");
    }
    info.decimals = static_cast<uint32_t>(decimals);
    out.push_back(std::move(info));
  }
  return out;
}

namespace {

// The fields a submit answer and a tx object share.
template <typename T>
Status ReadTxFields(const json& doc, const std::string& context, T& out) {
  Fields f(doc, context);
  out.hash = f.Str("hash");
  out.status = f.Str("status");
  out.height = f.Int("height", false);
  out.index = f.Int("index", false);
  int64_t code = f.Int("code", false);
  out.code_name = f.Str("code_name", false);
  out.log = f.Str("log", false);
  out.created_id = f.Uint("created_id", false);
  V2G_RETURN_IF_ERROR(f.status());
  if (code < 0 || code > UINT32_MAX)
    return Error(Code::kMalformed, context + ": field 'code' is out of range");
  out.code = static_cast<uint32_t>(code);
  if (out.code_name.empty()) out.code_name = std::string(CodeName(static_cast<Code>(out.code)));
  return Status::Ok();
}

}  // namespace

Result<SubmitResult> ApiClient::SubmitTx(std::string_view tx_bytes, bool wait_commit,
                                         int64_t timeout_ms) {
  V2G_ASSERT(!tx_bytes.empty());
  V2G_ASSERT(timeout_ms > 0 && timeout_ms <= limits::kWaitCommitMsMax);
  std::string path = "/v1/txs";
  if (wait_commit) path += "?wait=commit&timeout_ms=" + std::to_string(timeout_ms);
  const std::string body = json{{"tx", HexEncode(tx_bytes)}}.dump();
  int64_t read_timeout = wait_commit ? timeout_ms + kWaitSlackMs : options_.read_timeout_ms;
  auto doc = Call("POST", path, &body, read_timeout);
  if (!doc.ok()) return doc.status();
  SubmitResult r;
  V2G_RETURN_IF_ERROR(
      ReadTxFields(*doc, "node at " + base_url_ + " sent an unexpected answer to POST /v1/txs", r));
  r.raw = std::move(doc).value();
  return r;
}

Result<std::vector<BatchVerdict>> ApiClient::SubmitTxBatch(const std::vector<std::string>& txs) {
  if (txs.empty() || static_cast<int64_t>(txs.size()) > limits::kApiBatchTxsMax) {
    return Error(Code::kInvalidArgument, "a batch holds 1 to " + std::to_string(limits::kApiBatchTxsMax) +
                                             " txs, got " + std::to_string(txs.size()));
  }
  json list = json::array();
  for (const std::string& tx : txs) list.push_back(HexEncode(tx));
  const std::string body = json{{"txs", std::move(list)}}.dump();
  auto doc = Call("POST", "/v1/txs/batch", &body, options_.read_timeout_ms);
  if (!doc.ok()) return doc.status();
  const std::string context =
      "node at " + base_url_ + " sent an unexpected answer to POST /v1/txs/batch";
  if (!doc->is_object() || !doc->contains("results") || !(*doc)["results"].is_array() ||
      (*doc)["results"].size() != txs.size()) {
    return Error(Code::kMalformed, context + ": expected \"results\" with one verdict per tx");
  }
  std::vector<BatchVerdict> out;
  for (const json& v : (*doc)["results"]) {
    Fields f(v, context);
    BatchVerdict b;
    b.index = f.Int("index");
    b.hash = f.Str("hash", false);
    b.admitted = f.Str("status", false) == "pending";
    const int64_t code = f.Int("code_num", false);
    b.code_name = f.Str("code", false);
    b.message = f.Str("message", false);
    V2G_RETURN_IF_ERROR(f.status());
    if (code < 0 || code > UINT32_MAX || b.index != static_cast<int64_t>(out.size()) ||
        b.admitted == !b.code_name.empty()) {
      return Error(Code::kMalformed,
                   context + ": verdict " + std::to_string(out.size()) + " is not one");
    }
    b.code = static_cast<uint32_t>(code);
    out.push_back(std::move(b));
  }
  return out;
}

Result<TxInfo> ApiClient::GetTx(std::string_view hash_hex) {
  auto decoded = HexDecode(hash_hex);
  if (!decoded.ok() || decoded->size() != kHashHexChars / 2) {
    return Error(Code::kInvalidArgument,
                 "tx hash must be 64 hex digits, got '" + std::string(hash_hex) + "'");
  }
  const std::string path = "/v1/txs/" + HexEncode(*decoded);
  auto doc = Call("GET", path, nullptr, options_.read_timeout_ms);
  if (!doc.ok()) return doc.status();
  TxInfo t;
  V2G_RETURN_IF_ERROR(
      ReadTxFields(*doc, "node at " + base_url_ + " sent an unexpected answer to GET " + path, t));
  t.reduced = doc->contains("private") && (*doc)["private"].is_boolean() && (*doc)["private"].get<bool>();
  t.raw = std::move(doc).value();
  return t;
}

Result<json> ApiClient::GetJson(const std::string& path_and_query) {
  V2G_ASSERT(!path_and_query.empty() && path_and_query[0] == '/');
  return Call("GET", path_and_query, nullptr, options_.read_timeout_ms);
}

ApiClient::ReaderSource ReaderSourceOf(std::vector<KeyPair> keys) {
  std::vector<std::string> addresses;
  for (const KeyPair& k : keys) addresses.push_back(EncodeAddress(AddressFromPublicKey(k.public_key())));
  return [keys = std::move(keys), addresses = std::move(addresses)](
             const std::vector<std::string>& readers) -> std::optional<KeyPair> {
    for (const std::string& r : readers) {
      for (size_t i = 0; i < addresses.size(); ++i) {
        if (addresses[i] == r) return keys[i];
      }
    }
    return std::nullopt;
  };
}

}  // namespace v2g
