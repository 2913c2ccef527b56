// Canonical sign-bytes. Every signature in the system covers bytes built here, explicitly, with a
// domain tag so a signature of one kind can never be replayed as another, and the chain id so a
// signature on one chain is worthless on another.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace v2g {

// "v2gledger/tx/v1" || len(chain_id) || chain_id || body (the exact serialized TxBody carried).
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

}  // namespace v2g
