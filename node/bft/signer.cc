#include "node/bft/signer.h"

#include <tuple>

#include "contracts/state.h"
#include "common/fsutil.h"

namespace v2g {

Result<pb::SignState> FileSignStateStore::Load() {
  pb::SignState state;
  if (!FileExists(path_)) return state;
  auto data = ReadFile(path_);
  if (!data.ok()) return data.status();
  // Every record ever saved has height > 0, so an existing but empty file (which parses as an
  // empty record) is damage too; reading it as "never signed" would reset the safety rules.
  if (!state.ParseFromString(*data) || Encode(state) != *data || state.height() <= 0) {
    return Error(Code::kCorruption, "signer state " + path_ + " is corrupt; refusing to sign (restore it, never delete it)");
  }
  return state;
}

Status FileSignStateStore::Save(const pb::SignState& state) { return WriteFileAtomic(path_, Encode(state), 0600); }

Result<std::unique_ptr<Signer>> Signer::Create(KeyPair key, std::string chain_id, std::unique_ptr<SignStateStore> store) {
  auto state = store->Load();
  if (!state.ok()) return state.status();
  return std::unique_ptr<Signer>(new Signer(std::move(key), std::move(chain_id), std::move(store), std::move(*state)));
}

Result<std::unique_ptr<Signer>> Signer::Open(KeyPair key, std::string chain_id, std::string state_path) {
  return Create(std::move(key), std::move(chain_id), std::make_unique<FileSignStateStore>(std::move(state_path)));
}

pb::SignState Signer::LastSigned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

template <typename MakeBytes>
Result<SignedVote> Signer::Sign(SignStep step_enum, int64_t height, int32_t round, const std::string& block_id,
                                int64_t timestamp_ms, const MakeBytes& make_bytes) {
  V2G_ASSERT(height > 0 && round >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  const int32_t step = static_cast<int32_t>(step_enum);
  auto next = std::make_tuple(height, round, step);
  auto prev = std::make_tuple(last_.height(), last_.round(), last_.step());
  if (next < prev) {
    return Error(Code::kUnauthorized, "refusing to sign height " + std::to_string(height) + " round " +
                                          std::to_string(round) + " step " + std::to_string(step) +
                                          ": already signed height " + std::to_string(last_.height()) + " round " +
                                          std::to_string(last_.round()) + " step " + std::to_string(last_.step()));
  }
  if (next == prev) {
    // The same message again (its timestamp may differ: the stored one is reused).
    if (last_.block_id() != block_id || make_bytes(last_.timestamp_ms()) != last_.sign_bytes()) {
      return Error(Code::kUnauthorized, "refusing to sign a conflicting message at height " + std::to_string(height) +
                                            " round " + std::to_string(round) + " step " + std::to_string(step) +
                                            " (double-sign)");
    }
    SignedVote same;
    std::copy(last_.signature().begin(), last_.signature().end(), same.signature.begin());
    same.timestamp_ms = last_.timestamp_ms();
    return same;
  }
  const std::string bytes = make_bytes(timestamp_ms);
  SignedVote out;
  out.timestamp_ms = timestamp_ms;
  out.signature = key_.Sign(AsBytes(bytes));
  pb::SignState state;
  state.set_height(height);
  state.set_round(round);
  state.set_step(step);
  state.set_block_id(block_id);
  state.set_signature(std::string(out.signature.begin(), out.signature.end()));
  state.set_timestamp_ms(timestamp_ms);
  state.set_sign_bytes(bytes);
  // Durable before the signature is released: a crash after this point re-reads this record.
  V2G_RETURN_IF_ERROR(store_->Save(state));
  last_ = std::move(state);
  return out;
}

Result<SignedVote> Signer::SignVote(VoteType type, int64_t height, int32_t round, const std::string& block_id,
                                    int64_t timestamp_ms) {
  SignStep step = type == VoteType::kPrevote ? SignStep::kPrevote : SignStep::kPrecommit;
  return Sign(step, height, round, block_id, timestamp_ms, [&](int64_t ts) {
    return VoteSignBytes(chain_id_, type, height, round, block_id, ts);
  });
}

Result<SignedVote> Signer::SignProposal(int64_t height, int32_t round, int32_t pol_round, const std::string& block_id,
                                        int64_t timestamp_ms) {
  return Sign(SignStep::kPropose, height, round, block_id, timestamp_ms, [&](int64_t ts) {
    return ProposalSignBytes(chain_id_, height, round, pol_round, block_id, ts);
  });
}

void Signer::ReplaceKey(KeyPair key) {
  std::lock_guard<std::mutex> lock(mu_);
  key_ = std::move(key);
}

PublicKey Signer::public_key() const {
  std::lock_guard<std::mutex> lock(mu_);
  return key_.public_key();
}

}  // namespace v2g
