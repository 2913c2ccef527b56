// GET /metrics of a node: what each part of it measures, in the Prometheus text format
// (node/metrics.h). Every name starts with v2g_ (process_* as Prometheus' client libraries name
// them); docs/API.md "Metrics" lists them, docs/grafana-dashboard.json charts them.
//
// Read at scrape time from the parts that keep them: the chain (blocks, txs, latencies of a
// commit and its write, markets cleared and settled), the consensus engine (height, round, step
// and step durations, WAL latency, block sync), the mempool (size, admissions, refusals by
// code), P2P (peers, bytes and queue per peer), the tx relay and gossip, the API (requests by
// route and status, latency per route, its load), the signature cache and the process.
#pragma once

#include <string>

namespace v2g {

class Chain;
class Mempool;
class BftEngine;
class P2p;
class ApiServer;
class TxRelay;
class TxGossip;

struct NodeMetricsSources {
  std::string chain_id;
  std::string moniker;
  std::string node_id;
  std::string validator_address;     // bech32m; empty for a node that does not validate
  const Chain* chain = nullptr;      // required
  const Mempool* mempool = nullptr;  // required
  // Each may be null (not started, or a test without it): its metrics are left out.
  const BftEngine* bft = nullptr;
  const P2p* p2p = nullptr;
  const ApiServer* api = nullptr;
  const TxRelay* relay = nullptr;
  const TxGossip* gossip = nullptr;
};

std::string RenderNodeMetrics(const NodeMetricsSources& s);

}  // namespace v2g
