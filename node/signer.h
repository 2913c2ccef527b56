// The validator's signer and its safety rules, in one small module (after Diem's safety rules and
// CometBFT's privval). It owns the consensus key and the record of the last thing signed. Before a
// signature leaves it, the new record is written and fsynced; asked again for exactly the same
// vote it returns the same signature; anything that conflicts (same height/round/step, other block,
// or an earlier height/round/step) is refused. This holds across kill -9 because the record is
// durable before the signature exists outside this object. Thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "common/crypto.h"
#include "common/signbytes.h"
#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

struct SignedVote {
  Signature signature{};
  int64_t timestamp_ms = 0;  // the timestamp that was signed (the stored one on a re-sign)
};

class Signer {
 public:
  // Loads the state file (missing = never signed). A corrupt file is an error, never "reset".
  static Result<std::unique_ptr<Signer>> Open(KeyPair key, std::string chain_id, std::string state_path);

  // Signs vote (type, height, round, block_id) with timestamp_ms, subject to the rules above.
  Result<SignedVote> SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                              int64_t timestamp_ms);

  const PublicKey& public_key() const { return key_.public_key(); }
  pb::SignState LastSigned() const;

 private:
  Signer(KeyPair key, std::string chain_id, std::string state_path, pb::SignState state)
      : key_(std::move(key)), chain_id_(std::move(chain_id)), path_(std::move(state_path)), last_(std::move(state)) {}

  KeyPair key_;
  const std::string chain_id_;
  const std::string path_;
  mutable std::mutex mu_;
  pb::SignState last_;
};

}  // namespace v2g
