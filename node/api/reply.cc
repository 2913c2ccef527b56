#include "node/api/reply.h"

#include "node/store/store.h"

namespace v2g::api {
namespace {

thread_local ApiContext* tl_display = nullptr;

}  // namespace

DisplayScope::DisplayScope(ApiContext& c) : previous_(tl_display) { tl_display = &c; }
DisplayScope::~DisplayScope() { tl_display = previous_; }

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kNotFound:
      return 404;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kDuplicate:
    case Code::kAlreadyExists:
      return 409;
    case Code::kTooLarge:
      return 413;
    case Code::kMempoolFull:
    case Code::kSenderLimit:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kTimeout:
      return 504;
    case Code::kInternal:
    case Code::kIo:
    case Code::kCorruption:
      return 500;
    default:
      return 400;
  }
}

json ErrorBody(Code code, const std::string& message) {
  return {{"error",
           {{"code", std::string(CodeName(code))},
            {"code_num", static_cast<uint32_t>(code)},
            {"message", message}}}};
}

json ErrorBody(const Status& st, const DisplayUnits& units) {
  json body = ErrorBody(st.code(), DisplayText(st.text(), units));
  if (!st.text().fields().empty()) body["error"]["fields"] = TextFieldsJson(st.text().fields(), units);
  return body;
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Replace, not throw: an error message may echo request bytes that are not valid UTF-8.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void ReplyError(httplib::Response& res, const Status& st) {
  V2G_ASSERT(!st.ok());
  if (st.text().fields().empty()) return Reply(res, HttpStatusFor(st.code()), ErrorBody(st.code(), st.message()));
  if (tl_display == nullptr || tl_display->store == nullptr) {
    return Reply(res, HttpStatusFor(st.code()), ErrorBody(st, DisplayUnits{}));
  }
  auto snap = tl_display->store->Snapshot();
  const StateView v(snap->reader());
  Reply(res, HttpStatusFor(st.code()), ErrorBody(st, DisplayUnitsOf(v)));
}

Status NotFoundById(const std::string& what, uint64_t id, const std::string& other,
                    const std::string& other_path, bool is_other) {
  const std::string n = std::to_string(id);
  return Error(
      Code::kNotFound,
      "no " + what + " " + n + (is_other ? " (it is " + other + ": " + other_path + n + ")" : ""));
}

}  // namespace v2g::api
