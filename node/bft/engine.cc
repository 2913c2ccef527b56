#include "node/bft/engine.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/bech32.h"
#include "common/checked.h"

namespace v2g {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count() + offset_ms_;
}

int64_t Clock::MonotonicMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace v2g
