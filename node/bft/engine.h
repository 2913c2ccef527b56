// The consensus engine seam. The node talks to whatever decides blocks through this interface:
// the Tendermint BFT engine (node/bft/bft.h over consensus/tendermint.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "node/chain.h"
#include "node/bft/signer.h"

namespace v2g {

// Injected so tests and simulations control time; the node uses the system clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;  // Unix milliseconds: what votes are stamped with
  // Milliseconds on a clock that never goes back (timeouts, retries, penalties run on it). The
  // default is the process's steady clock; a simulation supplies its own.
  virtual int64_t MonotonicMs() const;
};
class SystemClock : public Clock {
 public:
  // offset_ms is added to the wall clock: 0 but in the fault harness, which runs one node's clock
  // ahead or behind (V2GD_TEST_CLOCK_OFFSET_MS) as a wrong NTP would. Timers use the monotonic clock.
  explicit SystemClock(int64_t offset_ms = 0) : offset_ms_(offset_ms) {}
  int64_t NowMs() const override;

 private:
  int64_t offset_ms_ = 0;
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

}  // namespace v2g
