// Canonical encodings of schema objects, shared by every layer above the schema: the deterministic
// serialization that records, hashes and ids are computed over, and the identity of an
// equivocation. Consensus (block ids, commit hashes, evidence) and the contracts (state records)
// both use these, so neither has to reach into the other for them.
#pragma once

#include <string>

#include "common/assert.h"
#include "proto/v2g.pb.h"

namespace v2g {

// Deterministic encoding used for every stored record and every hashed message.
std::string Encode(const google::protobuf::MessageLite& msg);

// Parses a record we wrote; aborts on failure (corruption is not an input error).
template <typename M>
M DecodeRecord(const std::string& bytes) {
  M m;
  V2G_ASSERT(m.ParseFromString(bytes));
  return m;
}

// What makes one equivocation one: validator address || height || round || type (integers 8 bytes
// big-endian, type one byte). Two pieces of evidence with the same id prove the same offence,
// however many conflicting votes exist; the contracts key their evidence records by it.
std::string EquivocationId(const pb::Vote& vote);

}  // namespace v2g
