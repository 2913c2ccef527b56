#include "common/status.h"

#include "common/time.h"

namespace v2g {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kMalformed: return "malformed";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kWrongChainId: return "wrong_chain_id";
    case Code::kBadSignature: return "bad_signature";
    case Code::kTooLarge: return "too_large";
    case Code::kUnknownDenom: return "unknown_denom";
    case Code::kUnauthorized: return "unauthorized";
    case Code::kOverflow: return "overflow";
    case Code::kNonceReplayed: return "nonce_replayed";
    case Code::kNonceGap: return "nonce_gap";
    case Code::kInsufficientFunds: return "insufficient_funds";
    case Code::kFeeTooLow: return "fee_too_low";
    case Code::kMempoolFull: return "mempool_full";
    case Code::kSenderLimit: return "sender_limit";
    case Code::kDuplicate: return "duplicate";
    case Code::kTimeout: return "timeout";
    case Code::kUnavailable: return "unavailable";
    case Code::kUnauthenticated: return "unauthenticated";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kNotFound: return "not_found";
    case Code::kAlreadyExists: return "already_exists";
    case Code::kInternal: return "internal";
    case Code::kIo: return "io";
    case Code::kCorruption: return "corruption";
    case Code::kMeterUnregistered: return "meter_unregistered";
    case Code::kMeterDeactivated: return "meter_deactivated";
    case Code::kReadingBadSignature: return "reading_bad_signature";
    case Code::kReadingReplayed: return "reading_replayed";
    case Code::kReadingSeqGap: return "reading_seq_gap";
    case Code::kReadingOverlap: return "reading_overlap";
    case Code::kReadingIntervalInvalid: return "reading_interval_invalid";
    case Code::kReadingCrossesBoundary: return "reading_crosses_boundary";
    case Code::kReadingInFuture: return "reading_in_future";
    case Code::kReadingRegisterDecreased: return "reading_register_decreased";
    case Code::kReadingEnergyImpossible: return "reading_energy_impossible";
    case Code::kReadingOutOfRange: return "reading_out_of_range";
    case Code::kReadingBeforeRegistration: return "reading_before_registration";
    case Code::kReadingIntervalSettled: return "reading_interval_settled";
    case Code::kMeterBusy: return "meter_busy";
    case Code::kReadingPluggedMeterInvalid: return "reading_plugged_meter_invalid";
    case Code::kOcmfInvalid: return "ocmf_invalid";
    case Code::kOcmfDuplicate: return "ocmf_duplicate";
    case Code::kOcmfTimeUnreliable: return "ocmf_time_unreliable";
    case Code::kOcmfMeterError: return "ocmf_meter_error";
    case Code::kMarketDisabled: return "market_disabled";
    case Code::kGateClosed: return "gate_closed";
    case Code::kMarketNotOpen: return "market_not_open";
    case Code::kMeterCapacity: return "meter_capacity";
    case Code::kOrderNotOpen: return "order_not_open";
    case Code::kInDebt: return "in_debt";
    case Code::kMarketSuspended:
      return "market_suspended";
    case Code::kDeadlinePassed: return "deadline_passed";
    case Code::kNotEnrolled: return "not_enrolled";
    case Code::kPoolFull: return "pool_full";
    case Code::kProposalClosed:
      return "proposal_closed";
    case Code::kProposalsFull:
      return "proposals_full";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(CodeName(code_));
  out += ": ";
  out += message();
  return out;
}

Text&& Text::Amount(std::string_view name, std::string_view denom, int64_t units) && {
  return std::move(Amount(name, denom, units));
}

Text&& Text::Time(std::string_view name, int64_t unix_s) && { return std::move(Time(name, unix_s)); }

Text&& Text::TimeMs(std::string_view name, int64_t unix_ms) && { return std::move(TimeMs(name, unix_ms)); }

Text& Text::TimeMs(std::string_view name, int64_t unix_ms) & {
  fields_.push_back({std::string(name), TextField::Kind::kTimeMs, unix_ms, ""});
  Render();
  return *this;
}

Text& Text::Amount(std::string_view name, std::string_view denom, int64_t units) & {
  fields_.push_back({std::string(name), TextField::Kind::kAmount, units, std::string(denom)});
  Render();
  return *this;
}

Text& Text::Time(std::string_view name, int64_t unix_s) & {
  fields_.push_back({std::string(name), TextField::Kind::kTime, unix_s, ""});
  Render();
  return *this;
}

std::string DurationWords(int64_t s) {
  auto words = [](int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (s >= 2 * 86400 && s % 86400 == 0) return words(s / 86400, "day", "days");
  if (s != 0 && s % 3600 == 0) return words(s / 3600, "hour", "hours");
  if (s != 0 && s % 60 == 0) return words(s / 60, "minute", "minutes");
  return std::to_string(s) + " s";
}

std::string PlainField(const TextField& f) {
  if (f.kind == TextField::Kind::kAmount) return std::to_string(f.value) + " " + f.denom + " (minimal units)";
  // RFC 3339 has four-digit years: a time past 9999 (a client may send any) prints as the number
  // it is.
  constexpr int64_t kPlainTimeMaxS = kRfc3339MaxS;
  if (f.kind == TextField::Kind::kTimeMs) {
    if (f.value < 0 || f.value > kPlainTimeMaxS * 1000) return "Unix time " + std::to_string(f.value) + " ms";
    return FormatRfc3339Ms(f.value);
  }
  if (f.value < 0 || f.value > kPlainTimeMaxS) return "Unix time " + std::to_string(f.value);
  return FormatRfc3339Ms(f.value * 1000);
}

Text::Text(std::string tmpl, std::vector<TextField> fields) : tmpl_(std::move(tmpl)), fields_(std::move(fields)) {
  Render();
}

void Text::Render() { plain_ = FillText(tmpl_, fields_, PlainField); }

}  // namespace v2g
