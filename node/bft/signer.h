// The validator's signer and its safety rules, in one small module (after Diem's safety rules and
// CometBFT's privval). It owns the consensus key and the record of the last thing signed. Before a
// signature leaves it, the new record is written and synced; asked again for exactly the same
// message it returns the same signature; anything that conflicts (same height/round/step with other
// sign-bytes, or an earlier height/round/step) is refused. Steps order as propose < prevote <
// precommit. This holds across kill -9 because the record is durable before the signature exists
// outside this object. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/crypto.h"
#include "common/signbytes.h"
#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

// Where the last-signed record lives. Save must be durable when it returns OK.
class SignStateStore {
 public:
  virtual ~SignStateStore() = default;
  virtual Result<pb::SignState> Load() = 0;  // empty record when nothing was signed yet
  virtual Status Save(const pb::SignState& state) = 0;
};

// A file written atomically with fsync (common/fsutil.h).
class FileSignStateStore : public SignStateStore {
 public:
  explicit FileSignStateStore(std::string path) : path_(std::move(path)) {}
  Result<pb::SignState> Load() override;
  Status Save(const pb::SignState& state) override;

 private:
  std::string path_;
};

// In memory, for simulations: survives a simulated crash as long as the object does.
class MemorySignStateStore : public SignStateStore {
 public:
  Result<pb::SignState> Load() override { return state_; }
  Status Save(const pb::SignState& state) override {
    state_ = state;
    return Status::Ok();
  }

 private:
  pb::SignState state_;
};

struct SignedVote {
  Signature signature{};
  int64_t timestamp_ms = 0;  // the timestamp that was signed (the stored one on a re-sign)
};

enum class SignStep : int32_t { kPropose = 1, kPrevote = 2, kPrecommit = 3 };

class Signer {
 public:
  // Loads the state from `store`. A corrupt record is an error, never "reset".
  static Result<std::unique_ptr<Signer>> Create(KeyPair key, std::string chain_id, std::unique_ptr<SignStateStore> store);
  // Convenience: a FileSignStateStore at state_path.
  static Result<std::unique_ptr<Signer>> Open(KeyPair key, std::string chain_id, std::string state_path);

  // Signs a prevote or precommit (type, height, round, block_id; empty block_id = nil).
  Result<SignedVote> SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                              int64_t timestamp_ms);
  Result<SignedVote> SignProposal(int64_t height, int32_t round, int32_t pol_round, const std::string& block_id,
                                  int64_t timestamp_ms);

  // The validator's key rotation (contracts/gov.h) reached its activation height: sign with
  // `key` from now on. The record of the last thing signed carries over, so the new key never
  // signs at or below a height, round and step the old one signed.
  void ReplaceKey(KeyPair key);
  PublicKey public_key() const;
  pb::SignState LastSigned() const;

 private:
  Signer(KeyPair key, std::string chain_id, std::unique_ptr<SignStateStore> store, pb::SignState state)
      : key_(std::move(key)), chain_id_(std::move(chain_id)), store_(std::move(store)), last_(std::move(state)) {}
  // make_bytes(timestamp) builds the sign-bytes; used again with the stored timestamp to tell a
  // repeat of the same message from a conflicting one.
  template <typename MakeBytes>
  Result<SignedVote> Sign(SignStep step, int64_t height, int32_t round, const std::string& block_id,
                          int64_t timestamp_ms, const MakeBytes& make_bytes);

  KeyPair key_;
  const std::string chain_id_;
  std::unique_ptr<SignStateStore> store_;
  mutable std::mutex mu_;
  pb::SignState last_;
};

}  // namespace v2g
