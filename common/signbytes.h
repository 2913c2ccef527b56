// Canonical sign-bytes. Every signature in the system covers bytes built here, explicitly, with a
// domain tag so a signature of one kind can never be replayed as another, and the chain id so a
// signature on one chain is worthless on another.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace v2g {

// "v2gledger/tx/v1" || len(chain_id) || chain_id || len(body) || body (the exact serialized TxBody
// carried, length-prefixed like chain_id).
std::string TxSignBytes(std::string_view chain_id, std::string_view body);

enum class VoteType : uint8_t { kPrevote = 1, kPrecommit = 2 };

// "v2gledger/vote/v1" || len(chain_id) || chain_id || type || height || round || len(block_id) ||
// block_id || timestamp_ms (integers big-endian, fixed width).
std::string VoteSignBytes(std::string_view chain_id, VoteType type, int64_t height, int32_t round,
                          std::string_view block_id, int64_t timestamp_ms);

// "v2gledger/proposal/v1" || len(chain_id) || chain_id || height || round || pol_round ||
// len(block_id) || block_id || timestamp_ms.
std::string ProposalSignBytes(std::string_view chain_id, int64_t height, int32_t round, int32_t pol_round,
                              std::string_view block_id, int64_t timestamp_ms);

// The fields of one meter reading (pb::MeterReading without its signature); common/ does not see
// protobuf types.
struct ReadingFields {
  std::string_view meter_id;
  uint64_t seq = 0;
  int64_t interval_start_s = 0;
  int64_t interval_end_s = 0;
  int64_t import_wh_total = 0;
  int64_t export_wh_total = 0;
  int32_t soc_permille = 0;
  int32_t soh_permille = 0;
  std::string_view plugged_meter_id;  // empty: none
};

// "v2gledger/reading/v1" || len(chain_id) || chain_id || len(meter_id) || meter_id || seq ||
// interval_start_s || interval_end_s || import_wh_total || export_wh_total || soc_permille ||
// soh_permille (integers big-endian, 8 bytes each, signed ones as two's complement), then, only
// when plugged_meter_id is not empty, the byte 0x01 || len(plugged_meter_id) || plugged_meter_id.
// Signed by the meter's device key; the meter id and chain id stop a reading from counting for
// another meter or chain, seq stops it from counting twice. A reading without a plugged meter
// keeps the bytes it always had (existing signatures stay valid); with one, the fixed-width part
// before it makes the suffix unambiguous, and the tag byte leaves room for later optional fields.
std::string ReadingSignBytes(std::string_view chain_id, const ReadingFields& r);

// "v2gledger/meter-transfer/v1" || len(chain_id) || chain_id || len(meter_id) || meter_id ||
// from (20-byte address) || to (20-byte address) || nonce. Signed by the new owner `to`; the
// current owner's tx nonce makes the co-signature good for exactly one transfer.
std::string MeterTransferSignBytes(std::string_view chain_id, std::string_view meter_id,
                                   std::string_view from_address, std::string_view to_address,
                                   uint64_t nonce);

// "v2gledger/meter-key/v1" || len(chain_id) || chain_id || len(meter_id) || meter_id || owner
// (20-byte address) || operator (20-byte address). Signed by a meter's device key when an operator
// registers the meter or rotates it to that key: proof that the device holds the key, bound to
// the chain, the meter, the owner it pays and the operator that installs it (so nobody can lift
// the statement into another registration).
std::string MeterKeySignBytes(std::string_view chain_id, std::string_view meter_id, std::string_view owner_address,
                              std::string_view operator_address);

// "v2gledger/validator-key/v1" || len(chain_id) || chain_id || old consensus key (32 bytes) || new
// consensus key (32) || len(new node key) || new node key (32, or empty when it stays). Signed by
// the validator's current consensus key, by the new one and by a new node key (a
// RotateValidatorKey tx): each holder agrees, and the current key makes a proof good for exactly
// one rotation from it (a replayed one names a key that is no longer current). A rotation of the
// node key alone (new_consensus_key empty) signs "v2gledger/node-key/v1" || len(chain_id) ||
// chain_id || old consensus key (32) || len(new node key) || new node key: valid while that
// consensus key is current, but only its holder submits it, and again it changes nothing.
std::string ValidatorKeySignBytes(std::string_view chain_id, std::string_view old_consensus_key,
                                  std::string_view new_consensus_key,
                                  std::string_view new_node_key);

// An OCMF meter's registration statement, as the identification data (ID) of a record it signs:
// the first 16 bytes of BLAKE2b-256(MeterKeySignBytes(...)) in 32 upper-case hex digits (fits the
// spec's ID field; an OCPP idTag a charge point operator can start a session with). 128 bits: a
// meter's existing records cannot be searched for one.
std::string OcmfRegistrationId(std::string_view chain_id, std::string_view meter_id, std::string_view owner_address,
                               std::string_view operator_address);

}  // namespace v2g
