#include "node/api/params.h"

#include "common/time.h"
#include "contracts/meters.h"

namespace v2g::api {
namespace {

// At most 40 characters of a rejected value in an error message ("..." when cut): enough to
// recognize it, and a megabyte-long parameter does not come back in the 400.
std::string Clip40(const std::string& text) {
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

}  // namespace

Result<int64_t> ParseInt(const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Error(Code::kInvalidArgument,
                 name + " must be a non-negative integer, got '" + text + "'");
  }
  int64_t v = std::stoll(text);  // cannot throw: 1-18 digits
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument,
                 name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v;
}

Result<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t def, int64_t lo,
                         int64_t hi) {
  if (!req.has_param(name)) return def;
  return ParseInt(name, req.get_param_value(name), lo, hi);
}

Result<int64_t> LimitParam(const httplib::Request& req, int64_t def, int64_t max) {
  V2G_ASSERT(def >= 1 && def <= max);
  return IntParam(req, "limit", def, 1, max);
}

Result<uint64_t> BeforeParam(const httplib::Request& req) {
  auto b = IntParam(req, "before", 0, 1, kIdMax);
  if (!b.ok()) return b.status();
  return static_cast<uint64_t>(*b);
}

Result<uint64_t> IdParam(const httplib::Request& req) {
  auto id = ParseInt("id", req.matches[1], 1, kIdMax);
  if (!id.ok()) return id.status();
  return static_cast<uint64_t>(*id);
}

Result<std::string> ChoiceParam(const httplib::Request& req, const char* name, const char* a,
                                const char* b) {
  if (!req.has_param(name)) return std::string();
  const std::string s = req.get_param_value(name);
  if (s != a && s != b) {
    return Error(Code::kInvalidArgument, std::string(name) + " must be " + a + " or " + b +
                                             ", got '" + s.substr(0, 40) + "'");
  }
  return s;
}

Result<std::string> ParseZone(const std::string& name, const std::string& text) {
  if (!ValidZone(text)) {
    return Error(
        Code::kInvalidArgument,
        name + " must be a zone name (1-32 of A-Z a-z 0-9 . _ -), got '" + Clip40(text) + "'");
  }
  return text;
}

Result<int64_t> ParseTime(const std::string& name, const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return ParseInt(name, text, 0, kTimeMaxS);
  }
  // An offset's '+' sent unencoded in a query string arrives as a space ("...T08:00:00 08:00").
  std::string t = text;
  if (t.size() > 6 && t[t.size() - 6] == ' ') t[t.size() - 6] = '+';
  auto ms = ParseRfc3339Ms(t);
  if (!ms.ok() || *ms / 1000 > kTimeMaxS) {
    return Error(Code::kInvalidArgument,
                 name +
                     " must be Unix seconds or an RFC 3339 time like 2026-01-01T00:00:00Z or "
                     "2026-01-01T08:00:00+08:00 (+ sent as %2B), got '" +
                     Clip40(text) + "'");
  }
  return *ms / 1000;
}

Result<int64_t> TimeParam(const httplib::Request& req, const char* name, int64_t def) {
  if (!req.has_param(name)) return def;
  return ParseTime(name, req.get_param_value(name));
}

Result<Address> ParseAddress(const std::string& name, const std::string& text) {
  auto a = DecodeAddress(text);
  if (!a.ok()) return Error(Code::kInvalidArgument, name + ": " + a.status().message());
  return a;
}

}  // namespace v2g::api
