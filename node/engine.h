// The consensus engine seam. The node talks to whatever decides blocks through this interface:
// today a single-validator engine, later the Tendermint BFT engine (consensus/), which replaces it
// without the rest of the node changing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "node/chain.h"
#include "node/signer.h"

namespace v2g {

// Injected so tests and simulations control time; the node uses the system clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;  // Unix milliseconds
};
class SystemClock : public Clock {
 public:
  int64_t NowMs() const override;
};

struct ConsensusInfo {
  int64_t height = 0;  // height being decided
  int32_t round = 0;
  std::string step;
};

class ConsensusEngine {
 public:
  virtual ~ConsensusEngine() = default;
  virtual Status Start() = 0;
  virtual void Stop() = 0;  // idempotent; returns after the engine thread has finished
  virtual ConsensusInfo Info() const = 0;
};

// Single validator holding more than 2/3 of the power: proposes a block every interval, signs its
// precommit through the Signer (so it never signs two blocks at one height/round, even across a
// crash) and commits. After a crash between signing and committing it resumes at the next round,
// exactly as a Tendermint proposer would.
class SoloEngine : public ConsensusEngine {
 public:
  SoloEngine(Chain& chain, Store& store, Mempool& mempool, Signer& signer, const Clock& clock,
             std::string validator_address, int64_t block_interval_ms, bool create_empty_blocks);
  ~SoloEngine() override;
  Status Start() override;
  void Stop() override;
  ConsensusInfo Info() const override;

 private:
  void Run();
  Status ProduceOne();

  Chain& chain_;
  Store& store_;
  Mempool& mempool_;
  Signer& signer_;
  const Clock& clock_;
  const std::string address_;
  const int64_t interval_ms_;
  const bool create_empty_blocks_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int32_t round_ = 0;
  int64_t round_height_ = 0;
};

}  // namespace v2g
