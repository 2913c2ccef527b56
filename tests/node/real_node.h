// A real node in the test process (InitHome's home, Node::Open and Start, 50 ms blocks), on free
// loopback ports: verify_chain_test.cc, metrics_test.cc, log_test.cc.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/fsutil.h"
#include "node/config.h"
#include "node/node.h"
#include "tests/integration/harness.h"

namespace v2g::nodetest {

// Starts the node of `home` with `tune` applied to its config.toml (log level warn unless tuned);
// the ports come from config.toml, so free ones are picked and, if another process took one in
// between, others (at most 5 tries).
inline Result<std::unique_ptr<Node>> StartRealNode(const std::string& home,
                                                   const std::function<void(Config&)>& tune = {}) {
  Status last = Error(Code::kInternal, "not started");
  for (int attempt = 0; attempt < 5; ++attempt) {
    HomePaths p{home};
    auto cfg = LoadConfig(p.config());
    if (!cfg.ok()) return cfg.status();
    cfg->block_interval_ms = 50;
    cfg->api_listen = "127.0.0.1:" + std::to_string(v2g::testing::FreePort());
    cfg->p2p_listen = "127.0.0.1:" + std::to_string(v2g::testing::FreePort());
    cfg->log_level = "warn";
    if (tune) tune(*cfg);
    V2G_RETURN_IF_ERROR(WriteFileAtomic(p.config(), ConfigToToml(*cfg)));
    auto node = Node::Open(home);
    if (!node.ok()) return node.status();
    last = (*node)->Start();
    if (last.ok()) return std::move(*node);
    if (last.code() != Code::kIo) return last;
  }
  return last;
}

}  // namespace v2g::nodetest
