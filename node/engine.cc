#include "node/engine.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/bech32.h"
#include "common/checked.h"

namespace v2g {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SoloEngine::SoloEngine(Chain& chain, Store& store, Mempool& mempool, Signer& signer, const Clock& clock,
                       std::string validator_address, int64_t block_interval_ms, bool create_empty_blocks)
    : chain_(chain), store_(store), mempool_(mempool), signer_(signer), clock_(clock),
      address_(std::move(validator_address)), interval_ms_(block_interval_ms),
      create_empty_blocks_(create_empty_blocks) {}

SoloEngine::~SoloEngine() { Stop(); }

Status SoloEngine::Start() {
  const pb::ValidatorSet vals = chain_.Validators();
  int64_t mine = 0;
  for (const auto& v : vals.validators()) {
    if (v.address() == address_) mine = v.power();
  }
  if (mine == 0) return Error(Code::kUnauthorized, "this node's validator key is not in the genesis validator set");
  if (static_cast<Int128>(mine) * 3 <= static_cast<Int128>(TotalPower(vals)) * 2) {
    return Error(Code::kUnavailable,
                 "this validator holds " + std::to_string(mine) + " of " + std::to_string(TotalPower(vals)) +
                     " voting power; the single-validator engine needs more than 2/3 (multi-validator BFT "
                     "consensus is not in this build yet)");
  }
  // Resume after a crash that happened between signing and committing: that round is spent.
  pb::SignState last = signer_.LastSigned();
  round_height_ = chain_.Tip().height + 1;
  round_ = last.height() == round_height_ ? last.round() + 1 : 0;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void SoloEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ConsensusInfo SoloEngine::Info() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {round_height_, round_, "propose"};
}

void SoloEngine::Run() {
  auto next = std::chrono::steady_clock::now();
  while (true) {
    next += std::chrono::milliseconds(interval_ms_);
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, next, [&] { return stop_; })) return;
    }
    // Never try to catch up a backlog of missed ticks in a burst.
    if (next < std::chrono::steady_clock::now()) next = std::chrono::steady_clock::now();
    if (!create_empty_blocks_ && mempool_.Stats().txs == 0) continue;
    Status st = ProduceOne();
    if (!st.ok()) {
      spdlog::error("block production failed: {}", st.ToString());
      if (st.code() == Code::kIo || st.code() == Code::kCorruption) {
        // The database or the signer state cannot be written: stop deciding blocks rather than
        // risk a signature that is not on disk. The operator must look.
        spdlog::critical("stopping block production; fix the storage problem and restart the node");
        return;
      }
    }
  }
}

Status SoloEngine::ProduceOne() {
  const ChainTip tip = chain_.Tip();
  const int64_t height = tip.height + 1;
  int32_t round;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (round_height_ != height) {
      round_height_ = height;
      round_ = 0;
    }
    round = round_;
  }
  // Header time: the local clock, but strictly after the previous block.
  const int64_t time_ms = std::max(clock_.NowMs(), tip.time_ms + 1);
  pb::Commit last_commit;
  if (tip.height > 0) {
    auto c = store_.LoadCommit(tip.height);
    V2G_ASSERT(c.has_value());
    last_commit = *c;
  }
  pb::Block block = chain_.Propose(time_ms, address_, last_commit);
  const std::string block_id = HashString(BlockId(block.header()));
  auto vote = signer_.SignVote(VoteType::kPrecommit, height, round, block_id, time_ms);
  {
    std::lock_guard<std::mutex> lock(mu_);
    round_++;  // this round is used whatever happens next; a retry goes to the next round
  }
  if (!vote.ok()) return vote.status();
  pb::Commit commit;
  commit.set_height(height);
  commit.set_round(round);
  commit.set_block_id(block_id);
  auto* sig = commit.add_signatures();
  sig->set_validator_address(address_);
  sig->set_timestamp_ms(vote->timestamp_ms);
  sig->set_signature(std::string(vote->signature.begin(), vote->signature.end()));
  return chain_.Commit(block, commit);
}

}  // namespace v2g
