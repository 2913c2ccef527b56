// HTTP API /v1 (docs/API.md). Every handler reads one consistent snapshot, validates every input
// and answers malformed requests with a 4xx JSON error; no request can crash the node.
// node/api/routes.h lists every endpoint and the file that answers it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "node/chain.h"
#include "node/bft/bft.h"
#include "node/bft/engine.h"
#include "node/mempool.h"
#include "node/store/store.h"

namespace httplib {
class Server;
}

namespace v2g {

class P2p;

struct ApiContext {
  Store* store = nullptr;
  Chain* chain = nullptr;
  Mempool* mempool = nullptr;
  ConsensusEngine* engine = nullptr;
  BftEngine* bft = nullptr;  // consensus detail, evidence pool, peer heights (may be null)
  P2p* p2p = nullptr;        // peers (may be null)
  // Called after a tx was admitted to the mempool through the API (gossip it).
  std::function<void(const std::string&)> on_tx_admitted;
  std::string chain_id;
  std::string moniker;
  std::string node_id;            // hex node public key
  std::string validator_address;  // bech32m, empty for a non-validator
  int64_t threads = 16;
};

class ApiServer {
 public:
  explicit ApiServer(ApiContext ctx);
  ~ApiServer();
  // Binds host:port (port 0 picks a free one) and serves on a background thread.
  Status Start(const std::string& host, int port);
  void Stop();
  int port() const { return port_; }

 private:
  void Routes();
  ApiContext ctx_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  int port_ = 0;
};

}  // namespace v2g
