// v2g_loadgen: an open-loop load generator for a running network (docs/DESIGN.md "The load
// generator"). It funds senders from a funded key, pre-signs every transfer of a step, sends them
// at a fixed rate over keep-alive connections spread over every node's API, finds which committed
// by polling blocks, and reports offered / accepted / rejected / committed tx/s, commit latency,
// txs per block and the machine's bound B = cores x V / nodes (V: Ed25519 verifications per second
// on one core, measured in the same run).
//
// Life of a run: MeasureVerifyRate -> Setup (nodes, chain, funder key, fee) -> FundSenders ->
// for each rate: PresignStep -> RunStep (senders + BlockWatcher) -> drain -> StepReport -> table
// and JSON. Everything a run holds is bounded by the limits below, checked on the flags.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"

namespace v2g::loadgen {

// ---- limits (each flag is checked against these before anything runs)
// Txs pre-signed for one step (rate x step seconds): each holds ~600 bytes (bytes, hex body,
// hash, per-tx results), so 2,000,000 is ~1.2 GiB at most; 100,000 tx/s for 20 s.
constexpr int64_t kStepTxsMax = 2'000'000;
constexpr int64_t kRateMax = 200'000;
constexpr int64_t kStepSecondsMax = 3600;
constexpr size_t kStepsMax = 32;
// Nodes and connections: the node caps connections per client address at 8
// (api.connections_per_address_max); the block watcher takes one more on its node.
constexpr size_t kNodesMax = 64;
constexpr int kConnsPerNodeMax = 64;
// Past this many connections per node, those to a loopback node come from 127.0.0.2, .3, ...
constexpr int64_t kConnsPerAddressMax = 7;
// Senders (accounts) funded and used; each costs one funding tx.
constexpr int64_t kSendersMax = 100'000;
// Funding txs submitted before waiting for them: under the node's per-sender mempool limit (256).
constexpr int64_t kFundBatchMax = 200;
// Txs per request with --batch (POST /v1/txs/batch): the node takes at most kApiBatchTxsMax, but
// its body limit (kHttpBodyBytesMax, ~132 KiB) holds ~370 transfers as hex; 300 stays under it.
constexpr int64_t kBatchMax = 300;
// Blocks the watcher records per step (more than an hour of 10 blocks/s).
constexpr size_t kBlocksSeenMax = 100'000;
// Committed tx hashes kept per step for the JSON report (checked by the integration test).
constexpr size_t kCommittedSampleMax = 20;

// A node under load: its API URL and, when known, its process id (for CPU time).
struct Node {
  std::string api;  // http://host:port
  pid_t pid = 0;    // 0: unknown
};

struct Options {
  std::vector<Node> nodes;
  std::vector<int64_t> rates;  // tx/s, one step each
  int64_t step_seconds = 20;
  int64_t drain_seconds_max = 30;  // after a step, wait at most this for its txs to commit
  int conns_per_node = 6;
  int64_t batch = 1;    // txs per request: 1 POST /v1/txs each, else POST /v1/txs/batch
  int64_t senders = 0;  // 0: 8 per connection
  std::string sender_seed = "v2g-loadgen";
  // The funder: a keystore key (home + name + passphrase) or a seed file.
  std::string home, from, passphrase_file, seed_file;
  std::string denom;            // "" = the chain's market denomination (fees are paid in it)
  int64_t amount = 1;           // minimal units per transfer
  int64_t fee_per_unit = 0;     // 0 = what the node requires (fee_min, or its suggestion)
  int64_t late_ms = 5;          // a send this far behind its schedule counts as late
  int64_t poll_ms = 100;        // block watcher period
  size_t watch_node = 0;        // which node's blocks the watcher reads
  int64_t cores = 0;            // 0 = std::thread::hardware_concurrency
  int64_t nodes_for_bound = 0;  // 0 = nodes.size()
  std::string json_path;
  bool quiet = false;
};

// V: single-thread Ed25519 verifications per second over about `ms` (crypto_sign_verify_detached).
double MeasureVerifyRate(int64_t ms);

// The chain as the run sees it.
struct Chain {
  std::string chain_id;
  std::string denom;              // transferred and paid as the fee
  bool funder_is_issuer = false;  // mint (else transfer) to fund
  std::optional<KeyPair> funder;  // set by Setup
  std::string funder_address;
};

// One pre-signed tx of a step.
struct PresignedTx {
  int64_t sender = 0;
  uint64_t nonce = 0;
  int64_t send_at_ns = 0;  // offset from the step start
  std::string body;        // {"tx":"<hex>"} ready for POST /v1/txs (a batch quotes its hex)
  Hash256 hash{};
};

// What happened to each tx of a step; arrays indexed like the step's txs. Written by one thread
// each (the tx's connection writes verdict/sent, the watcher writes commit), read after both end.
enum class Verdict : uint8_t { kUnsent, kAccepted, kRejected };
struct StepTrace {
  std::vector<Verdict> verdict;
  std::vector<int64_t> sent_ns;    // the scheduled time of the slot that got it admitted, 0 none
  std::vector<int64_t> commit_ns;  // when the watcher first saw its block, 0 never
  std::vector<int64_t> commit_height;
  std::vector<uint32_t> commit_code;
};

// Counters one connection keeps while sending (merged after the step).
struct SendTally {
  // sent: slots (txs offered; with --batch, many per request), accepted: txs the node admitted
  int64_t sent = 0, accepted = 0, late = 0;
  std::map<std::string, int64_t> rejected;   // API error code (or transport_*) -> count
  std::vector<int64_t> lag_ns;               // send time minus schedule, one per sent tx
  std::string first_error;                   // an example message for the report
};

struct BlockSeen {
  int64_t height = 0;
  int64_t num_txs = 0;
  int64_t seen_ns = 0;
};

// One step's results, as printed and written to JSON.
struct StepReport {
  int64_t rate = 0, seconds = 0;
  int64_t offered = 0, sent = 0, late = 0, accepted = 0, rejected_total = 0;
  std::map<std::string, int64_t> rejected;
  std::string first_error;
  double lag_p99_ms = 0;
  int64_t committed_in_window = 0;  // this step's txs whose block was seen during the step
  int64_t committed_total = 0;      // ... by the end of the drain
  int64_t failed_in_block = 0;      // committed with a non-zero code
  int64_t lost = 0;                 // accepted, never seen committed
  int64_t never_admitted = 0;  // pre-signed txs no slot got admitted (refusals pushed them out)
  double committed_tps = 0;
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
  int64_t blocks = 0;
  double txs_per_block_mean = 0;
  int64_t txs_per_block_max = 0;
  double drain_s = 0;
  double loadgen_cpu_s = 0;           // this process's CPU (utime + stime) during the step
  std::vector<double> cpu_us_per_tx;  // per node with a pid; empty when none
  std::vector<std::pair<std::string, int64_t>> committed_sample;  // hash hex, height
};

// The run's header figures.
struct Bound {
  // V: the fastest of the samples (one at the start, one before each step while the network is
  // quiet): on a shared box a sample can only be slowed down by others, never sped up.
  double verify_per_s = 0;
  std::vector<double> verify_samples;
  int64_t cores = 0;
  int64_t nodes = 0;
  double bound_tps = 0;  // B = cores x V / nodes
};

// ---- setup.cc
// Parses `--api` (comma-separated URLs) or a devnet directory (its nodes' config.toml and
// v2gd.pid) into nodes. kInvalidArgument naming what is wrong.
Result<std::vector<Node>> NodesFromApiList(const std::string& list);
Result<std::vector<Node>> NodesFromDevnet(const std::string& dir);
// Pids from "--pids 1,2,3" (one per node, in order).
Status AttachPids(const std::string& list, std::vector<Node>& nodes);
// Loads the funder key and reads chain id, denomination and whether the funder issues it.
Result<Chain> Setup(const Options& o);
// The sender keys, derived from o.sender_seed (so a rerun reuses funded accounts).
std::vector<KeyPair> SenderKeys(const Options& o);
// Tops up every sender to `need` units of chain.denom (mint or transfer from the funder),
// waiting until the funding commits. Prints progress unless quiet.
Status FundSenders(const Options& o, Chain& chain, const std::vector<KeyPair>& senders,
                   int64_t need);

// ---- send.cc
// The fee (minimal units) a transfer pays now: o.fee_per_unit, or what the node asks for.
Result<int64_t> TransferFee(const Options& o, const Chain& chain);
// Signs rate x seconds transfers, sender i % senders, each sender's nonces in order from what
// the node of its connection reports, scheduled at i / rate seconds.
Result<std::vector<PresignedTx>> PresignStep(const Options& o, const Chain& chain,
                                             const std::vector<KeyPair>& senders, int64_t rate,
                                             int64_t fee);
// Sends the step's txs open-loop from `start_ns`: connection c (node c % nodes) owns the senders
// s with s % connections == c, and at each scheduled slot of a sender sends that sender's next
// tx not yet admitted (a refused tx does not use its nonce, so it is offered again at the
// sender's next slot), never waiting for answers beyond its own connection. With o.batch > 1 a
// connection gathers o.batch slots and sends their txs in one POST /v1/txs/batch at the last
// one's time, counting each tx's verdict as a single send's. Fills trace.verdict/sent_ns and
// returns one tally per connection.
std::vector<SendTally> SendStep(const Options& o, const std::vector<KeyPair>& senders,
                                const std::vector<PresignedTx>& txs, int64_t start_ns,
                                StepTrace& trace);
// "http://host:port/prefix" -> {"http://host:port", "/prefix"}.
std::pair<std::string, std::string> SplitBaseUrl(const std::string& api);

// ---- watch.cc
// Polls one node's blocks from `from_height` on its own thread; for each tx of the step found in
// a block, sets trace.commit_*; Stop() joins. Counts matches for the drain.
class BlockWatcher {
 public:
  BlockWatcher(const Options& o, const std::vector<PresignedTx>& txs, StepTrace& trace,
               int64_t from_height);
  ~BlockWatcher();
  BlockWatcher(const BlockWatcher&) = delete;
  BlockWatcher& operator=(const BlockWatcher&) = delete;
  void Start();
  void Stop();
  int64_t matched() const { return matched_.load(); }
  int64_t last_height() const { return next_height_.load() - 1; }
  // Blocks seen so far; call after Stop().
  const std::vector<BlockSeen>& blocks() const { return blocks_; }
  const std::string& error() const { return error_; }  // the last polling failure, if any

 private:
  void Loop();
  bool PollOnce();

  const Options& o_;
  const std::vector<PresignedTx>& txs_;
  StepTrace& trace_;
  std::atomic<int64_t> next_height_;
  std::atomic<int64_t> matched_{0};
  std::atomic<bool> stop_{false};
  std::vector<BlockSeen> blocks_;
  std::string error_;
  struct Impl;
  Impl* impl_ = nullptr;
};
// The node's latest height (to start watching from), or an error.
Result<int64_t> LatestHeight(const Options& o);

// ---- report.cc
// CPU seconds (utime + stime) of a process so far; -1 when unreadable.
double ProcessCpuSeconds(pid_t pid);
// The same for this process.
double SelfCpuSeconds();
// Adds a sample of V to `bound` and recomputes V and B from the fastest.
void AddVerifySample(Bound& bound, double verify_per_s);
// Builds a step's report from its trace, tallies and watcher (window = [start, end) steady ns).
StepReport Summarize(const std::vector<PresignedTx>& txs, const StepTrace& trace,
                     std::vector<SendTally>& tallies, const std::vector<BlockSeen>& blocks,
                     int64_t rate, int64_t seconds, int64_t start_ns, int64_t end_ns);
void PrintTable(const Bound& bound, const std::vector<StepReport>& steps, bool with_cpu);
Status WriteJson(const std::string& path, const Options& o, const Bound& bound,
                 const std::vector<StepReport>& steps);

// Steady-clock nanoseconds.
int64_t NowNs();

}  // namespace v2g::loadgen
