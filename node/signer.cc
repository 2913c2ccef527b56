#include "node/signer.h"

#include <tuple>

#include "contracts/state.h"
#include "node/fsutil.h"

namespace v2g {

Result<std::unique_ptr<Signer>> Signer::Open(KeyPair key, std::string chain_id, std::string state_path) {
  pb::SignState state;
  if (FileExists(state_path)) {
    auto data = ReadFile(state_path);
    if (!data.ok()) return data.status();
    if (!state.ParseFromString(*data) || Encode(state) != *data) {
      return Error(Code::kCorruption, "signer state " + state_path + " is corrupt; refusing to sign (restore it, never delete it)");
    }
  }
  return std::unique_ptr<Signer>(new Signer(std::move(key), std::move(chain_id), std::move(state_path), std::move(state)));
}

pb::SignState Signer::LastSigned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

Result<SignedVote> Signer::SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                                    int64_t timestamp_ms) {
  V2G_ASSERT(height > 0 && round >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  const int32_t step = static_cast<int32_t>(type);
  auto next = std::make_tuple(height, round, step);
  auto prev = std::make_tuple(last_.height(), last_.round(), last_.step());
  if (next < prev) {
    return Error(Code::kUnauthorized, "refusing to sign height " + std::to_string(height) + " round " +
                                          std::to_string(round) + ": already signed height " +
                                          std::to_string(last_.height()) + " round " + std::to_string(last_.round()));
  }
  if (next == prev) {
    if (last_.block_id() != block_id) {
      return Error(Code::kUnauthorized, "refusing to sign a second block at height " + std::to_string(height) +
                                            " round " + std::to_string(round) + " (double-sign)");
    }
    SignedVote same;
    std::copy(last_.signature().begin(), last_.signature().end(), same.signature.begin());
    same.timestamp_ms = last_.timestamp_ms();
    return same;
  }
  SignedVote out;
  out.timestamp_ms = timestamp_ms;
  out.signature = key_.Sign(AsBytes(VoteSignBytes(chain_id_, type, height, round, block_id, timestamp_ms)));
  pb::SignState state;
  state.set_height(height);
  state.set_round(round);
  state.set_step(step);
  state.set_block_id(block_id);
  state.set_signature(std::string(out.signature.begin(), out.signature.end()));
  state.set_timestamp_ms(timestamp_ms);
  // Durable before the signature is released: a crash after this point re-reads this record.
  V2G_RETURN_IF_ERROR(WriteFileAtomic(path_, Encode(state), 0600));
  last_ = std::move(state);
  return out;
}

}  // namespace v2g
