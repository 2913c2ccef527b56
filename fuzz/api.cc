// Fuzz target: the HTTP API handlers (node/api/routes.h), called in-process the way the server
// calls them, over a node store holding the world of fuzz/world.h committed block by block. The
// input is a request as text:
//   <METHOD> <path>[?<query>]\n<body>
// The path is decoded and matched against the server's route table (node/api/routes.h kRoutes),
// the query is parsed into params and the handler runs. Every answer must be JSON, and no handler may throw or answer 500:
// a client's request is answered with the status its handler chose. POST /v1/txs runs with a
// fresh mempool per input (deterministic) and without ?wait (it would block for timeout_ms).
#include "node/api/api.h"

#include <httplib.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/fuzz_switch.h"
#include "common/limits.h"
#include "fuzz/node_world.h"
#include "fuzz/world.h"
#include "node/api/routes.h"
#include "node/chain.h"
#include "node/mempool.h"
#include "node/store/store.h"

using namespace v2g;

namespace {

using api::kRoutes;
using api::Route;

struct Node {
  std::unique_ptr<fuzz::NodeWorld> world;
  std::vector<std::regex> patterns;
};

Node& TheNode() {
  static Node* node = [] {
    auto* n = new Node;
    n->world = fuzz::BuildNodeWorld();
    for (const Route& r : kRoutes) n->patterns.emplace_back(r.pattern);
    return n;
  }();
  return *node;
}

void RemoveNodeDir() { fuzz::RemoveNodeWorld(*TheNode().world); }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  FuzzSkipSignatureChecks();
  (void)TheNode();
  atexit(RemoveNodeDir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Node& n = TheNode();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  const std::string line = input.substr(0, eol);
  const size_t sp = line.find(' ');
  if (sp == std::string::npos) return 0;
  httplib::Request req;
  req.method = line.substr(0, sp);
  const std::string target = line.substr(sp + 1);
  const size_t q = target.find('?');
  req.path = httplib::detail::decode_url(target.substr(0, q), false);
  if (q != std::string::npos) httplib::detail::parse_query_text(target.substr(q + 1), req.params);
  if (eol != std::string::npos) req.body = input.substr(eol + 1);
  if (req.method == "POST") req.params.erase("wait");
  // The server answers 414 before routing a longer path (node/api/server.cc Serve).
  if (req.path.size() > limits::kHttpPathBytesMax) return 0;
  Mempool mempool(fuzz::kChainId, fuzz::kMempoolLimits);
  ApiContext ctx;
  ctx.store = n.world->store.get();
  ctx.chain = n.world->chain.get();
  ctx.mempool = &mempool;
  ctx.chain_id = fuzz::kChainId;
  ctx.moniker = "fuzz";
  ctx.node_id = std::string(64, '0');
  ctx.threads = 1;
  // Every handler whole (an anonymous read of personal data stops at its 403; who may read what
  // is tested in tests/node/api_privacy_test.cc).
  ctx.private_reads = false;
  for (size_t i = 0; i < std::size(kRoutes); ++i) {
    if (req.method != kRoutes[i].method || !std::regex_match(req.path, req.matches, n.patterns[i]))
      continue;
    httplib::Response res;
    try {
      kRoutes[i].handler(ctx, req, res);
    } catch (const std::exception& e) {
      fprintf(stderr, "%s %s threw: %s\n", req.method.c_str(), req.path.c_str(), e.what());
      abort();
    }
    // Every answer is JSON but the explorer's static files (GET /, /explorer/*: HTML, JS, CSS)
    // and /metrics (Prometheus text), which say so in their Content-Type.
    const bool json_answer = res.get_header_value("Content-Type").rfind("application/json", 0) == 0;
    if (res.status == 500 || (json_answer && !nlohmann::json::accept(res.body)) ||
        (!json_answer && res.status == 200 && req.path != "/" &&
         req.path.rfind("/explorer/", 0) != 0 && req.path != "/metrics")) {
      fprintf(stderr, "%s %s answered %d: %s\n", req.method.c_str(), req.path.c_str(), res.status,
              res.body.c_str());
      abort();
    }
    break;
  }
  return 0;
}
