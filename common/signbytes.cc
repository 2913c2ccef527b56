#include "common/signbytes.h"

#include <cctype>

#include "common/assert.h"
#include "common/bytes.h"
#include "common/crypto.h"

namespace v2g {
namespace {
// Tag of the optional plugged-meter suffix of reading sign-bytes.
constexpr uint8_t kReadingTagPluggedMeter = 0x01;

void AppendLengthPrefixed(std::string& out, std::string_view s) {
  AppendBigEndian64(out, s.size());
  out.append(s);
}
}  // namespace

std::string TxSignBytes(std::string_view chain_id, std::string_view body) {
  std::string out = "v2gledger/tx/v1";
  AppendLengthPrefixed(out, chain_id);
  AppendLengthPrefixed(out, body);
  return out;
}

std::string VoteSignBytes(std::string_view chain_id, VoteType type, int64_t height, int32_t round,
                          std::string_view block_id, int64_t timestamp_ms) {
  V2G_ASSERT(height > 0 && round >= 0);
  std::string out = "v2gledger/vote/v1";
  AppendLengthPrefixed(out, chain_id);
  out.push_back(static_cast<char>(type));
  AppendBigEndian64(out, static_cast<uint64_t>(height));
  AppendBigEndian64(out, static_cast<uint64_t>(round));
  AppendLengthPrefixed(out, block_id);
  AppendBigEndian64(out, static_cast<uint64_t>(timestamp_ms));
  return out;
}

std::string ProposalSignBytes(std::string_view chain_id, int64_t height, int32_t round, int32_t pol_round,
                              std::string_view block_id, int64_t timestamp_ms) {
  V2G_ASSERT(height > 0 && round >= 0 && pol_round >= -1 && pol_round < round);
  std::string out = "v2gledger/proposal/v1";
  AppendLengthPrefixed(out, chain_id);
  AppendBigEndian64(out, static_cast<uint64_t>(height));
  AppendBigEndian64(out, static_cast<uint64_t>(round));
  AppendBigEndian64(out, static_cast<uint64_t>(static_cast<int64_t>(pol_round)));
  AppendLengthPrefixed(out, block_id);
  AppendBigEndian64(out, static_cast<uint64_t>(timestamp_ms));
  return out;
}

std::string ReadingSignBytes(std::string_view chain_id, const ReadingFields& r) {
  std::string out = "v2gledger/reading/v1";
  AppendLengthPrefixed(out, chain_id);
  AppendLengthPrefixed(out, r.meter_id);
  AppendBigEndian64(out, r.seq);
  AppendBigEndian64(out, static_cast<uint64_t>(r.interval_start_s));
  AppendBigEndian64(out, static_cast<uint64_t>(r.interval_end_s));
  AppendBigEndian64(out, static_cast<uint64_t>(r.import_wh_total));
  AppendBigEndian64(out, static_cast<uint64_t>(r.export_wh_total));
  AppendBigEndian64(out, static_cast<uint64_t>(static_cast<int64_t>(r.soc_permille)));
  AppendBigEndian64(out, static_cast<uint64_t>(static_cast<int64_t>(r.soh_permille)));
  if (!r.plugged_meter_id.empty()) {
    out.push_back(static_cast<char>(kReadingTagPluggedMeter));
    AppendLengthPrefixed(out, r.plugged_meter_id);
  }
  return out;
}

std::string MeterTransferSignBytes(std::string_view chain_id, std::string_view meter_id,
                                   std::string_view from_address, std::string_view to_address,
                                   uint64_t nonce) {
  V2G_ASSERT(from_address.size() == 20 && to_address.size() == 20);
  std::string out = "v2gledger/meter-transfer/v1";
  AppendLengthPrefixed(out, chain_id);
  AppendLengthPrefixed(out, meter_id);
  out.append(from_address);
  out.append(to_address);
  AppendBigEndian64(out, nonce);
  return out;
}

std::string MeterKeySignBytes(std::string_view chain_id, std::string_view meter_id, std::string_view owner_address,
                              std::string_view operator_address) {
  V2G_ASSERT(owner_address.size() == 20 && operator_address.size() == 20);
  std::string out = "v2gledger/meter-key/v1";
  AppendLengthPrefixed(out, chain_id);
  AppendLengthPrefixed(out, meter_id);
  out.append(owner_address);
  out.append(operator_address);
  return out;
}

std::string ValidatorKeySignBytes(std::string_view chain_id, std::string_view old_consensus_key,
                                  std::string_view new_consensus_key,
                                  std::string_view new_node_key) {
  V2G_ASSERT(old_consensus_key.size() == 32 &&
             (new_consensus_key.size() == 32 || new_consensus_key.empty()));
  if (new_consensus_key.empty()) {  // the node key alone: its own domain
    std::string out = "v2gledger/node-key/v1";
    AppendLengthPrefixed(out, chain_id);
    out.append(old_consensus_key);
    AppendLengthPrefixed(out, new_node_key);
    return out;
  }
  std::string out = "v2gledger/validator-key/v1";
  AppendLengthPrefixed(out, chain_id);
  out.append(old_consensus_key);
  out.append(new_consensus_key);
  AppendLengthPrefixed(out, new_node_key);
  return out;
}

std::string OcmfRegistrationId(std::string_view chain_id, std::string_view meter_id, std::string_view owner_address,
                               std::string_view operator_address) {
  const Hash256 h = Blake2b256(MeterKeySignBytes(chain_id, meter_id, owner_address, operator_address));
  std::string hex = HexEncode(ByteView(h.data(), 16));
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

}  // namespace v2g
