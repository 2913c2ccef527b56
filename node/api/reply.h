// How every handler of the HTTP API answers: a JSON body, or the one error shape
// {"error": {"code", "code_num", "message"}} with the HTTP status that goes with its code.
// Internal to node/api/.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "common/status.h"
#include "node/api/api.h"
#include "node/api/render.h"

namespace v2g::api {

using json = nlohmann::json;

// The HTTP status that goes with `code` (400 for input errors, 404, 409, 413, 429, 5xx).
int HttpStatusFor(Code code);
// {"error": {"code": "<name>", "code_num": n, "message": ...}}.
json ErrorBody(Code code, const std::string& message);
// The same for `st`, its message for people (amounts in display units, times in the market's time
// zone) and, when it carries values, "fields" for machines (TextFieldsJson).
json ErrorBody(const Status& st, const DisplayUnits& units);

// While one lives on a thread, ReplyError there shows an error's amounts and times as the chain of
// `c` defines them (its denominations' decimals and time zone). Serve opens one per request.
class DisplayScope {
 public:
  explicit DisplayScope(ApiContext& c);
  ~DisplayScope();
  DisplayScope(const DisplayScope&) = delete;
  DisplayScope& operator=(const DisplayScope&) = delete;

 private:
  ApiContext* previous_;
};
// Sets `status` and `body` as application/json (bytes that are not UTF-8 are replaced, never
// thrown on: an error message may echo request bytes).
void Reply(httplib::Response& res, int status, const json& body);
// Answers `st` (not ok) with HttpStatusFor(code) and ErrorBody (rendered in the DisplayScope).
void ReplyError(httplib::Response& res, const Status& st);

// kNotFound "no <what> <id>". Orders and contracts share one id sequence, and so do events and
// programs: when `id` is a record of the other kind (`is_other`), the message says where it is,
// e.g. " (it is a contract: /v1/contracts/7)" for `other` "a contract" at "/v1/contracts/".
Status NotFoundById(const std::string& what, uint64_t id, const std::string& other,
                    const std::string& other_path, bool is_other);

// Answers a GET of one thing named in the path. `key` is the parsed path parameter (its error is
// answered as is); `lookup` reads the thing from one fresh snapshot and renders it, or returns
// the error (a 404 saying what is missing).
template <typename Key>
void ReplyLookup(
    ApiContext& c, const Result<Key>& key, httplib::Response& res,
    const std::type_identity_t<std::function<Result<json>(const StateView& v, const Key& k)>>&
        lookup) {
  if (!key.ok()) return ReplyError(res, key.status());
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  Result<json> body = lookup(v, *key);
  if (!body.ok()) return ReplyError(res, body.status());
  Reply(res, 200, *body);
}

}  // namespace v2g::api
