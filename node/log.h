// The node's logs ([log] in config.toml): level and format of spdlog's default logger, and what
// a line is about (height, round, peer) for the JSON format.
//
// JSON lines, one object each, for log shippers (Loki, Elasticsearch, journald's JSON):
//   {"time":"2026-12-07T09:00:00.123Z","level":"info","node":"node0","msg":"...",
//    "height":12,"round":0,"peer":"<64 hex>"}
// `height` and `round` are those the consensus thread is deciding when it writes the line (and
// the block's, for a commit); `peer` the peer whose message or connection the line is about.
// Each is left out where it does not apply. The context is per thread: spdlog's default logger
// formats on the thread that logs, so a line carries the context of the code that wrote it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/status.h"

namespace v2g::log {

// Applies level (trace, debug, info, warn, error, off) and format (text, json) process-wide.
// `node` names the node in JSON lines (its moniker). Errors name the bad value.
Status Configure(const std::string& level, const std::string& format, const std::string& node);

// The calling thread decides this height and round from now on (the consensus thread).
void SetConsensus(int64_t height, int32_t round);

// While alive, the calling thread's lines are about this peer (none: about no peer); nests.
// Cheap: the key is kept as it is and written as hex only into a JSON line, so the consensus
// thread pays a 32-byte copy per message, not an encoding.
class PeerScope {
 public:
  explicit PeerScope(const std::optional<PublicKey>& peer);
  ~PeerScope();
  PeerScope(const PeerScope&) = delete;
  PeerScope& operator=(const PeerScope&) = delete;

 private:
  std::optional<PublicKey> previous_;
};

// One JSON line (with its newline) as the JSON format writes it; for tests and the formatter.
// `time_ms`: Unix ms. Control characters and invalid UTF-8 in `msg` are escaped, never passed.
std::string JsonLine(int64_t time_ms, std::string_view level, std::string_view node,
                     std::string_view msg);

}  // namespace v2g::log
