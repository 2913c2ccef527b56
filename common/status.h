// Status and Result<T>: errors as values. A Code says which kind of failure it is so callers (and
// API clients) can tell "invalid by the rules" from "rejected by local policy" from "internal".
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/assert.h"

namespace v2g {

// Stable numeric codes: they are stored in tx results and shown by the API. Never renumber.
enum class Code : uint32_t {
  kOk = 0,
  // Invalid by the rules (a tx with these can never become valid as it is).
  kMalformed = 1,        // undecodable or non-canonical bytes
  kInvalidArgument = 2,  // a field out of range or missing
  kWrongChainId = 3,
  kBadSignature = 4,
  kTooLarge = 5,
  kUnknownDenom = 6,
  kUnauthorized = 7,  // e.g. mint by a non-issuer
  kOverflow = 8,      // arithmetic would overflow int64
  // Invalid against the current state (may become valid later, or never).
  kNonceReplayed = 20,  // nonce already used
  kNonceGap = 21,       // nonce skips ahead
  kInsufficientFunds = 22,
  kFeeTooLow = 23,  // no fee, or less than params.fee_min x the tx's fee units
  // Rejected by local policy.
  kMempoolFull = 40,
  kSenderLimit = 41,
  kDuplicate = 42,
  kTimeout = 43,
  kUnavailable = 44,
  // The API's signed reads (node/api/access.h): a signature missing, malformed, expired, replayed
  // or not valid (401), and a valid reader not entitled to the data (403).
  kUnauthenticated = 45,
  kPermissionDenied = 46,
  // Lookups.
  kNotFound = 60,
  kAlreadyExists = 61,
  // Internal and environment errors.
  kInternal = 80,
  kIo = 81,
  kCorruption = 82,
  // Meter readings (contracts/meters.h): one code per rule, so a submitter can tell exactly why a
  // reading in a batch was rejected. Also used by the registry ops where they apply.
  kMeterUnregistered = 100,          // no meter with that id
  kMeterDeactivated = 101,           // the meter was deactivated
  kReadingBadSignature = 102,        // not signed by the meter's current device key
  kReadingReplayed = 103,            // seq <= the last accepted seq
  kReadingSeqGap = 104,              // seq > last + 1
  kReadingOverlap = 105,             // interval starts before the last accepted one ended
  kReadingIntervalInvalid = 106,     // end <= start, or a negative time
  kReadingCrossesBoundary = 107,     // interval spans two settlement intervals
  kReadingInFuture = 108,            // interval ends after block time + skew
  kReadingRegisterDecreased = 109,   // an import/export register went down
  kReadingEnergyImpossible = 110,    // more energy than max power x duration (+ tolerance)
  kReadingOutOfRange = 111,          // SoC/SoH outside 0..1000, or a negative register
  kReadingBeforeRegistration = 112,  // the reading's span starts before the meter was registered
  kReadingIntervalSettled = 113,     // its settlement interval has already been settled
  kMeterBusy = 114,  // the meter has open obligations (pool, enrollments, sells); or a
                     // contract's seller cannot sell from it now (its debts, its pool)
  // plugged_meter_id on a vehicle's own reading, or naming no registered, active vehicle in the
  // reading meter's zone.
  kReadingPluggedMeterInvalid = 115,
  kOcmfInvalid = 116,         // an OCMF record that does not parse, or names another meter serial
  kOcmfDuplicate = 117,       // that record (meter key and PG) was already accepted
  kOcmfTimeUnreliable = 118,  // a reading's time is not synchronised or informative (status U or R)
  kOcmfMeterError = 119,      // the meter flags an error (EF) or a status other than good (ST)

  // energy market (contracts/market.h)
  kMarketDisabled = 120,   // the chain has no market denomination
  kGateClosed = 121,       // past gate closure for that delivery interval
  kMarketNotOpen = 122,    // orders for that interval do not open yet
  kMeterCapacity = 123,    // more energy than the meter can export in the interval
  kOrderNotOpen = 124,     // the order or contract is no longer open
  kInDebt = 125,           // the account owes unpaid tariff bills
  kMarketSuspended = 126,  // governance suspended the zone's market (contracts/gov.h)

  // grid services (contracts/grid.h)
  kDeadlinePassed = 130,  // enrollment or start time already passed
  kNotEnrolled = 131,
  kPoolFull = 132,  // the pool has limits::kPoolMembersMax members

  // governance (contracts/gov.h)
  kProposalClosed = 140,  // the proposal's voting has ended
  kProposalsFull = 141,   // too many proposals open (in all, or of this proposer)
};

// Short snake_case name of a code, e.g. "wrong_chain_id". Never empty.
std::string_view CodeName(Code code);

// A value a message carries for its reader: an amount in minimal units of a denomination, or a
// time in Unix seconds. The deterministic code that writes a message (contracts, tx results) puts
// such values here, never in words; whoever shows the message to a person renders them in display
// units and the market's local time (common/display.h), and machines read them as they are.
struct TextField {
  enum class Kind : uint32_t { kAmount = 1, kTime = 2, kTimeMs = 3 };
  std::string name;   // the message says "{name}" where the value goes
  Kind kind = Kind::kAmount;
  int64_t value = 0;  // minimal units (kAmount), Unix seconds (kTime) or milliseconds (kTimeMs)
  std::string denom;  // kAmount only
};

// A message: a template with "{name}" placeholders and the typed values that fill them.
// plain() fills them for logs and tests ("79992 CNY (minimal units)", RFC 3339 UTC); a message
// without fields is just its text.
class Text {
 public:
  Text() = default;
  Text(std::string tmpl) : tmpl_(std::move(tmpl)), plain_(tmpl_) {}  // NOLINT: implicit by design
  Text(const char* tmpl) : Text(std::string(tmpl)) {}                 // NOLINT: implicit by design
  Text(std::string tmpl, std::vector<TextField> fields);

  Text&& Amount(std::string_view name, std::string_view denom, int64_t units) &&;
  Text&& Time(std::string_view name, int64_t unix_s) &&;
  Text&& TimeMs(std::string_view name, int64_t unix_ms) &&;
  Text& Amount(std::string_view name, std::string_view denom, int64_t units) &;
  Text& Time(std::string_view name, int64_t unix_s) &;
  Text& TimeMs(std::string_view name, int64_t unix_ms) &;

  const std::string& tmpl() const { return tmpl_; }
  const std::vector<TextField>& fields() const { return fields_; }
  const std::string& plain() const { return plain_; }

 private:
  void Render();
  std::string tmpl_;
  std::vector<TextField> fields_;
  std::string plain_;
};

// A length of time in words: "31 days", "24 hours", "1 hour", "5 minutes", "90 s" (the largest
// unit that divides it; days from two days up).
std::string DurationWords(int64_t s);

// A field as plain text: "79992 CNY (minimal units)", or a time as RFC 3339 UTC.
std::string PlainField(const TextField& f);

// Fills `tmpl`'s placeholders in one pass from left to right (a filled value is never scanned
// again; a "{...}" that names no field stays as it is), each field rendered by `render`.
template <typename Render>
std::string FillText(const std::string& tmpl, const std::vector<TextField>& fields, Render&& render) {
  std::string out;
  out.reserve(tmpl.size() + 16 * fields.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string::npos) break;
    const size_t close = tmpl.find('}', open + 1);
    if (close == std::string::npos) break;
    const std::string_view name(tmpl.data() + open + 1, close - open - 1);
    const TextField* hit = nullptr;
    for (const TextField& f : fields) {
      if (f.name == name) {
        hit = &f;
        break;
      }
    }
    out.append(tmpl, i, (hit ? open : close + 1) - i);
    if (hit) out += render(*hit);
    i = close + 1;
  }
  out.append(tmpl, std::min(i, tmpl.size()), std::string::npos);
  return out;
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, Text text) : code_(code), text_(std::move(text)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The message with its fields filled plainly (Text::plain).
  const std::string& message() const { return text_.plain(); }
  const Text& text() const { return text_; }
  // "wrong_chain_id: tx chain id is ..." (or "ok").
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  Text text_;
};

inline Status Error(Code code, Text text) { return Status(code, std::move(text)); }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { V2G_ASSERT(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    V2G_ASSERT(ok());
    return *value_;
  }
  const T& value() const& {
    V2G_ASSERT(ok());
    return *value_;
  }
  T&& value() && {
    V2G_ASSERT(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace v2g

#define V2G_RETURN_IF_ERROR(expr)          \
  do {                                     \
    ::v2g::Status _st = (expr);            \
    if (!_st.ok()) return _st;             \
  } while (0)
