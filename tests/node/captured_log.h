// spdlog's default logger captured into a string for a test: log_test.cc, keys_test.cc.
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

#include "node/log.h"

namespace v2g::nodetest {

// Sends spdlog's default logger's lines to a string while alive; restores the logger and the
// text format after, also when an assertion ends the test early (a logger left pointing at a
// destroyed stream would crash the next test that logs).
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)));
  }
  ~CapturedLog() {
    spdlog::set_default_logger(previous_);
    (void)log::Configure("info", "text", "");
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace v2g::nodetest
