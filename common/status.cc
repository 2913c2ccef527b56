#include "common/status.h"

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
    case Code::kDeadlinePassed: return "deadline_passed";
    case Code::kNotEnrolled: return "not_enrolled";
    case Code::kPoolFull: return "pool_full";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace v2g
