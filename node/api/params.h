// Strict parsing of the HTTP API's path and query parameters. Every parser checks the whole text
// and range, and its error (kInvalidArgument, a 400) names the parameter, so a client can tell
// which input was wrong. Internal to node/api/.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>

#include "common/bech32.h"
#include "common/status.h"

namespace v2g::api {

// Record ids (orders, contracts, events, programs, pools): 18 digits, what ParseInt reads.
inline constexpr int64_t kIdMax = 999'999'999'999'999'999;
// Unix seconds the API takes for delivery intervals and times: the market's interval range
// (contracts/market.cc CheckIntervalField: 1 .. 2^40 s).
inline constexpr int64_t kTimeMaxS = int64_t{1} << 40;

// A non-negative integer: digits only (at most 18), within [lo, hi]. The error names `name`.
Result<int64_t> ParseInt(const std::string& name, const std::string& text, int64_t lo, int64_t hi);
// Query parameter `name` by ParseInt, or `def` when the request does not have it.
Result<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t def, int64_t lo,
                         int64_t hi);
// `limit`: 1 .. `max`, `def` when absent.
Result<int64_t> LimitParam(const httplib::Request& req, int64_t def, int64_t max);
// `before` of a newest-first page: an id (1 .. kIdMax); 0 when absent, meaning from the newest.
Result<uint64_t> BeforeParam(const httplib::Request& req);
// The record id in the path (the route's first capture), named "id": 1 .. kIdMax.
Result<uint64_t> IdParam(const httplib::Request& req);
// One of two words, e.g. status=open|settled; "" when absent.
Result<std::string> ChoiceParam(const httplib::Request& req, const char* name, const char* a,
                                const char* b);

// A zone name (contracts/meters.h ValidZone: 1-32 of A-Z a-z 0-9 . _ -).
Result<std::string> ParseZone(const std::string& name, const std::string& text);
// A time: Unix seconds, or RFC 3339 ("2026-01-01T00:00:00Z" or "2026-01-01T08:00:00+08:00", a
// fraction floored to the second; an offset's '+' may arrive as a space); at most kTimeMaxS.
Result<int64_t> ParseTime(const std::string& name, const std::string& text);
// Query parameter `name` by ParseTime, or `def` when the request does not have it.
Result<int64_t> TimeParam(const httplib::Request& req, const char* name, int64_t def);
// A bech32m account address; the error is "<name>: <why it does not decode>".
Result<Address> ParseAddress(const std::string& name, const std::string& text);

}  // namespace v2g::api
