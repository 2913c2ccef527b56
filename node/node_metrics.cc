#include "node/node_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "common/assert.h"
#include "common/crypto.h"
#include "node/api/api.h"
#include "node/bft/bft.h"
#include "node/chain.h"
#include "node/mempool.h"
#include "node/metrics.h"
#include "node/p2p/p2p.h"
#include "node/tx_gossip.h"
#include "node/tx_relay.h"

namespace v2g {
namespace {

using metrics::Exposition;
using metrics::Histogram;
using metrics::Labels;
using metrics::Unit;

// Written once at start-up (the first scrape would be too late).
const int64_t kProcessStartUs = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();

void Gauge(Exposition& e, std::string_view name, std::string_view help, int64_t value,
           Unit unit = Unit::kOne) {
  e.Family(name, "gauge", help);
  e.Sample(name, {}, value, unit);
}

void Counter(Exposition& e, std::string_view name, std::string_view help, uint64_t value) {
  e.Family(name, "counter", help);
  e.Sample(name, {}, value);
}

void Histo(Exposition& e, std::string_view name, std::string_view help, const Histogram& h,
           Unit unit) {
  e.Family(name, "histogram", help);
  e.Histo(name, {}, h.Read(), unit);
}

void ChainPart(Exposition& e, const Chain& chain) {
  const ChainTip tip = chain.Tip();
  const ChainMetrics& m = chain.metrics();
  Gauge(e, "v2g_height", "Height of the last committed block.", tip.height);
  Gauge(e, "v2g_block_time_seconds", "BFT time of the last committed block (Unix seconds).",
        tip.time_ms * 1000, Unit::kMicro);
  Counter(e, "v2g_blocks_committed_total", "Blocks this node committed since it started.",
          m.blocks.Value());
  e.Family("v2g_txs_committed_total", "counter",
           "Txs in committed blocks since start, by outcome.");
  e.Sample("v2g_txs_committed_total", {{"result", "ok"}}, m.txs_ok.Value());
  e.Sample("v2g_txs_committed_total", {{"result", "failed"}}, m.txs_failed.Value());
  Counter(e, "v2g_evidence_committed_total",
          "Double-sign evidence in committed blocks since start.", m.evidence.Value());
  Counter(e, "v2g_txs_verified_at_commit_total",
          "Txs of committed blocks this node had not admitted, verified on every core before "
          "execution.",
          Chain::TxsWarmedBeforeExecution());
  Histo(e, "v2g_block_txs", "Txs per committed block.", m.block_txs, Unit::kOne);
  Histo(e, "v2g_block_size_bytes", "Encoded size of committed blocks.", m.block_bytes, Unit::kOne);
  Histo(e, "v2g_block_interval_seconds", "BFT time between consecutive committed blocks.",
        m.block_interval_us, Unit::kMicro);
  Histo(e, "v2g_block_commit_seconds",
        "Committing a block: validation, verification, execution and the write.", m.commit_us,
        Unit::kMicro);
  Histo(e, "v2g_store_write_seconds", "The synced LevelDB write of a block with its state changes.",
        m.store_write_us, Unit::kMicro);
  Counter(e, "v2g_market_clearings_total",
          "Market auctions (zone and interval) cleared by committed blocks.",
          m.market_clearings.Value());
  Counter(e, "v2g_market_trades_total", "Trades made by those clearings.", m.market_trades.Value());
  Counter(e, "v2g_market_cleared_energy_wh_total", "Energy traded by those clearings, in Wh.",
          m.market_cleared_wh.Value());
  Counter(e, "v2g_market_settlements_total", "Markets settled by committed blocks.",
          m.market_settlements.Value());
  Counter(e, "v2g_market_delivered_energy_wh_total",
          "Attested energy paid at those settlements, in Wh.", m.market_delivered_wh.Value());
}

void ConsensusPart(Exposition& e, const BftEngine& bft, int64_t tip_height) {
  const ConsensusInfo info = bft.Info();
  const BftMetrics& m = bft.metrics();
  Gauge(e, "v2g_consensus_height", "Height being decided.", info.height);
  Gauge(e, "v2g_consensus_round", "Round of the height being decided.", info.round);
  e.Family("v2g_consensus_step_duration_seconds", "histogram",
           "Time spent in each step of a height (commit: from the decision to the next height).");
  for (size_t i = 0; i < BftMetrics::kStepNames.size(); ++i) {
    e.Histo("v2g_consensus_step_duration_seconds", {{"step", BftMetrics::kStepNames[i]}},
            m.step_us[i].Read(), Unit::kMicro);
  }
  Counter(e, "v2g_consensus_rounds_extra_total", "Rounds heights needed beyond their first.",
          m.rounds_extra.Value());
  Gauge(e, "v2g_consensus_signing_stopped",
        "1 when storage failed and this validator stopped signing.", bft.SigningStopped() ? 1 : 0);
  e.Family("v2g_wal_write_seconds", "histogram",
           "Consensus WAL writes; sync=true ones are fsynced before signing.");
  e.Histo("v2g_wal_write_seconds", {{"sync", "false"}}, m.wal_append_us.Read(), Unit::kMicro);
  e.Histo("v2g_wal_write_seconds", {{"sync", "true"}}, m.wal_sync_us.Read(), Unit::kMicro);
  const int64_t peer_height = bft.MaxPeerHeight();
  Gauge(e, "v2g_sync_peer_height_max", "Highest height a peer claims (a hint; never trusted).",
        peer_height);
  Gauge(e, "v2g_sync_lag_blocks",
        "Blocks between the highest height a peer claims and this node's.",
        std::max<int64_t>(peer_height - tip_height, 0));
  Counter(e, "v2g_sync_blocks_total", "Blocks committed from block sync since start.",
          m.blocks_synced.Value());
  Counter(e, "v2g_sync_penalties_total",
          "Block-sync answers held against their peer (wrong, invalid, missing).",
          static_cast<uint64_t>(bft.SyncPenalties()));
  const InboxStats inbox = bft.Inbox();
  Gauge(e, "v2g_consensus_inbox_bytes", "Peer messages queued for the consensus thread, in bytes.",
        inbox.bytes);
  Gauge(e, "v2g_consensus_inbox_messages", "Peer messages queued for the consensus thread.",
        inbox.messages);
  Counter(e, "v2g_consensus_inbox_dropped_total",
          "Peer messages dropped at the consensus inbox (over its bound).",
          static_cast<uint64_t>(inbox.dropped));
  Gauge(e, "v2g_evidence_pending", "Double-sign evidence waiting for a block.",
        static_cast<int64_t>(bft.PendingEvidence().size()));
}

// The codes a dashboard expects a series of from the start (rate() of a series that appears
// later misses its first step); any other code is listed once it happened.
constexpr Code kRefusalCodesAlways[] = {Code::kMempoolFull,  Code::kSenderLimit,
                                        Code::kDuplicate,    Code::kFeeTooLow,
                                        Code::kBadSignature, Code::kNonceReplayed};

void MempoolPart(Exposition& e, const Mempool& mempool) {
  const MempoolStats st = mempool.Stats();
  Gauge(e, "v2g_mempool_txs", "Txs pending in the mempool.", st.txs);
  Gauge(e, "v2g_mempool_bytes", "Bytes of the txs pending in the mempool.", st.bytes);
  Gauge(e, "v2g_mempool_units", "Fee units of the txs pending in the mempool.", st.units);
  Counter(e, "v2g_mempool_admitted_total",
          "Txs admitted to the mempool (API and peers) since start.", mempool.Admitted());
  e.Family("v2g_mempool_refused_total", "counter",
           "Txs refused at admission since start, by the code refused with.");
  for (size_t c = 0; c < Mempool::kRefusalCodesMax; ++c) {
    const auto code = static_cast<Code>(c);
    const uint64_t n = mempool.Refused(code);
    const bool always = std::find(std::begin(kRefusalCodesAlways), std::end(kRefusalCodesAlways),
                                  code) != std::end(kRefusalCodesAlways);
    if (n > 0 || always)
      e.Sample("v2g_mempool_refused_total", {{"reason", std::string(CodeName(code))}}, n);
  }
}

void P2pPart(Exposition& e, const P2p& p2p) {
  const P2pStats st = p2p.Stats();
  const std::vector<PeerInfo> peers = p2p.Peers();  // allow-listed keys only: a bounded label set
  Gauge(e, "v2g_p2p_peers", "Authenticated peers connected.", static_cast<int64_t>(peers.size()));
  Gauge(e, "v2g_p2p_connections", "TCP connections open, handshaking ones included.",
        st.connections_open);
  e.Family("v2g_p2p_handshakes_total", "counter", "Peer handshakes since start, by result.");
  e.Sample("v2g_p2p_handshakes_total", {{"result", "ok"}}, st.handshakes_ok);
  e.Sample("v2g_p2p_handshakes_total", {{"result", "failed"}}, st.handshakes_failed);
  e.Family("v2g_p2p_messages_total", "counter", "Peer messages since start.");
  e.Sample("v2g_p2p_messages_total", {{"direction", "in"}}, st.messages_in);
  e.Sample("v2g_p2p_messages_total", {{"direction", "out"}}, st.messages_out);
  Counter(e, "v2g_p2p_peers_dropped_slow_total",
          "Peers dropped because their outbound queue overflowed.",
          static_cast<uint64_t>(st.peers_dropped_slow));
  Counter(e, "v2g_p2p_messages_prioritized_total",
          "Consensus messages sent ahead of queued gossip and sync.",
          static_cast<uint64_t>(st.messages_prioritized));
  Counter(e, "v2g_p2p_gossip_skipped_total",
          "Tx gossip batches skipped because a peer's gossip share was full.",
          static_cast<uint64_t>(st.gossip_skipped));
  Counter(e, "v2g_p2p_connections_refused_total",
          "Inbound connections closed before the handshake (limits).",
          static_cast<uint64_t>(st.connections_refused));
  Gauge(e, "v2g_p2p_readers_paused", "Peer connections whose reads are paused (back-pressure).",
        st.readers_paused);
  e.Family("v2g_p2p_peer_bytes_total", "counter",
           "Message bytes (before encryption) over the current connection to each peer.");
  for (const PeerInfo& p : peers) {
    e.Sample("v2g_p2p_peer_bytes_total", {{"peer", p.node_id}, {"direction", "in"}}, p.bytes_in);
    e.Sample("v2g_p2p_peer_bytes_total", {{"peer", p.node_id}, {"direction", "out"}}, p.bytes_out);
  }
  e.Family("v2g_p2p_peer_queue_messages", "gauge", "Messages in each peer's outbound queue.");
  for (const PeerInfo& p : peers)
    e.Sample("v2g_p2p_peer_queue_messages", {{"peer", p.node_id}}, p.queue_messages);
  e.Family("v2g_p2p_peer_queue_bytes", "gauge", "Bytes in each peer's outbound queue.");
  for (const PeerInfo& p : peers)
    e.Sample("v2g_p2p_peer_queue_bytes", {{"peer", p.node_id}}, p.queue_bytes);
}

void RelayPart(Exposition& e, const TxRelay* relay, const TxGossip* gossip) {
  if (relay) {
    Counter(e, "v2g_tx_relay_admitted_total", "Txs from peers' gossip admitted to the mempool.",
            static_cast<uint64_t>(relay->admitted()));
    Counter(e, "v2g_tx_relay_batches_refused_total",
            "Peers' tx batches refused (over a limit or malformed).",
            static_cast<uint64_t>(relay->batches_refused()));
    Gauge(e, "v2g_tx_relay_inbox_bytes", "Peers' tx batches queued for admission, in bytes.",
          relay->Inbox().bytes);
  }
  if (gossip) {
    const TxGossipStats g = gossip->stats();
    Gauge(e, "v2g_tx_gossip_queued_txs", "Admitted txs waiting to be gossiped.", g.queued_txs);
    Counter(e, "v2g_tx_gossip_batches_sent_total", "Tx gossip batches handed to P2P.",
            static_cast<uint64_t>(g.batches_sent));
    Counter(e, "v2g_tx_gossip_txs_sent_total", "Tx copies gossiped (one per peer).",
            static_cast<uint64_t>(g.txs_sent));
    Counter(e, "v2g_tx_gossip_dropped_total", "Txs not gossiped: the gossip queue was full.",
            static_cast<uint64_t>(g.dropped));
  }
}

void ApiPart(Exposition& e, const ApiServer& api) {
  const RequestMetrics& r = api.requests();
  const std::vector<RequestMetrics::Row> rows = r.Counts();
  e.Family("v2g_api_requests_total", "counter",
           "API requests answered since start, by route and HTTP status.");
  for (const auto& row : rows) {
    e.Sample("v2g_api_requests_total",
             {{"route", *row.route}, {"status", std::to_string(row.status)}}, row.count);
  }
  // Only the routes that were asked: forty idle routes' buckets would be most of every scrape.
  e.Family("v2g_api_request_duration_seconds", "histogram",
           "Time from a request's route match to its answer.");
  for (size_t i = 0; i + 1 < r.routes().size(); ++i) {  // "refused" has no duration
    const Histogram::Snapshot h = r.Latency(i).Read();
    if (h.count > 0)
      e.Histo("v2g_api_request_duration_seconds", {{"route", r.routes()[i]}}, h, Unit::kMicro);
  }
  const ApiLoad load = api.Load();
  Gauge(e, "v2g_api_connections", "API connections open.", load.connections);
  Gauge(e, "v2g_api_connections_max",
        "API connections allowed (limits.connections_max, or lower to fit fds).",
        load.connections_max);
  Gauge(e, "v2g_api_connections_idle", "API connections waiting for their next request.",
        load.idle);
  Gauge(e, "v2g_api_workers_busy", "API worker threads running a handler.", load.workers_busy);
  Gauge(e, "v2g_api_queued", "API requests waiting for a worker.", load.queued);
  Gauge(e, "v2g_api_waiting", "POST /v1/txs?wait=commit requests in their slots.", load.waiting);
  Gauge(e, "v2g_api_batches", "POST /v1/txs/batch running or waiting.", load.batches);
  Gauge(e, "v2g_api_streams", "GET /v1/stream being followed.", load.streams);
  Gauge(e, "v2g_api_answer_bytes", "Bytes of answers being written.", load.answer_bytes);
}

void ProcessPart(Exposition& e) {
  Counter(e, "v2g_ed25519_verifications_total", "Ed25519 signature verifications this process ran.",
          Ed25519Verifications());
  Counter(e, "v2g_sigcache_lookups_total",
          "Verdicts asked of the signature cache (votes, readings, OCMF).", SigCacheLookups());
  Counter(e, "v2g_sigcache_misses_total", "Of those, verified because the cache did not hold them.",
          SigCacheVerifications());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const int64_t cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000 +
                         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  e.Family("process_cpu_seconds_total", "counter", "User and system CPU time of the process.");
  e.Sample("process_cpu_seconds_total", {}, cpu_us, Unit::kMicro);
  int64_t pages = 0, resident = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> pages >> resident) {
    Gauge(e, "process_resident_memory_bytes", "Resident memory of the process.",
          resident * sysconf(_SC_PAGESIZE));
  }
  int64_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    // Bounded by RLIMIT_NOFILE, which the API server fits its connections into.
    while (const dirent* ent = readdir(d)) fds += ent->d_name[0] != '.';
    closedir(d);
    Gauge(e, "process_open_fds", "Open file descriptors of the process.",
          fds - 1);  // less the one reading
  }
  Gauge(e, "process_start_time_seconds", "When the process started (Unix seconds).",
        kProcessStartUs, Unit::kMicro);
}

}  // namespace

std::string RenderNodeMetrics(const NodeMetricsSources& s) {
  V2G_ASSERT(s.chain && s.mempool);
  Exposition e;
  e.Family("v2g_node_info", "gauge",
           "This node: its chain, moniker, node id and validator address (1).");
  e.Sample("v2g_node_info",
           {{"chain_id", s.chain_id},
            {"moniker", s.moniker},
            {"node_id", s.node_id},
            {"validator", s.validator_address}},
           int64_t{1});
  ChainPart(e, *s.chain);
  if (s.bft) ConsensusPart(e, *s.bft, s.chain->Tip().height);
  MempoolPart(e, *s.mempool);
  if (s.p2p) P2pPart(e, *s.p2p);
  RelayPart(e, s.relay, s.gossip);
  if (s.api) ApiPart(e, *s.api);
  ProcessPart(e);
  return e.text();
}

}  // namespace v2g
