// v2g_seedday: the pilots' day as a live benchmark (issue 13 item 4; docs/DESIGN.md "The pilots'
// day"). 100,000 EVs each send a signed reading every 15 s for 24 minutes (96 spans, 9.6 M
// readings: the pilots' day of 15-minute readings compressed 60x), collected by operator gateways
// that submit them in SubmitReadings txs, into a running network.
//
// Life of a run: MeasureVerifyRate -> Setup (nodes, chain, operator key; loadgen's) ->
// FundSenders (the gateways' fees; loadgen's) -> RegisterFleet (RegisterMeters txs through one
// NonceWindow, timed on its own) -> RunSpans (one thread per gateway: at each span's end every EV
// of its slice signs its reading for the span that just ended, the gateway packs them into txs and
// sends them through its NonceWindow; a tracker polls the gateways' committed nonces and stamps
// each tx) -> drain -> Account (every node's count of accepted readings per meter against what was
// sent) -> disk, RSS and CPU per node -> table and JSON.
//
// Readings are live: a reading is made and signed after its span ends, never ahead (the
// simulator's device signing is timed and reported apart from everything else). Everything a run
// holds is bounded by the limits below, checked on the flags.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/loadgen/loadgen.h"
#include "common/bech32.h"
#include "common/crypto.h"
#include "common/status.h"

// `auto& lhs = expr.value()`, or return its error (as cli/v2g/context.h's V2G_ASSIGN_OR_RETURN).
#define SEEDDAY_ASSIGN_OR_RETURN(lhs, expr)            \
  auto lhs##_result = (expr);                           \
  if (!lhs##_result.ok()) return lhs##_result.status(); \
  auto& lhs = lhs##_result.value()

namespace v2g::seedday {

// ---- limits
// EVs: keys, specs and simulator state are ~400 bytes each, so 1,000,000 is ~400 MiB at most.
constexpr int64_t kEvsMax = 1'000'000;
// Spans: a whole day of 15 s spans; the tx records (~40 bytes each) of a run stay under ~40 MiB.
constexpr int64_t kSpansMax = 5760;
constexpr int64_t kSpanSMax = 3600;
// Gateways: one thread and one keep-alive connection each.
constexpr int64_t kGatewaysMax = 256;
// Meter ids are "<prefix>-NNNNNN": the prefix leaves room under the meter id length limit.
constexpr size_t kPrefixCharsMax = 16;
// What the signed tx adds to its body (signer key, signature, fee, framing): the body is packed
// to tx_bytes_max minus this.
constexpr int64_t kTxOverheadBytes = 512;

struct Options {
  std::vector<loadgen::Node> nodes;
  std::string seed_file;  // the operator: registers the fleet and funds the gateways
  std::vector<std::string> homes;  // node homes, for disk per node (optional)
  int64_t evs = 100'000;
  int64_t spans = 96;
  int64_t span_s = 15;
  int64_t gateways = 20;
  int64_t keep_up_s = 0;  // the bound after a span's end; 0 = span_s
  std::string prefix = "sd";
  std::string zone = "SIM";
  std::string fleet_seed = "v2g-seedday";
  uint64_t sim_seed = 1;
  int64_t window_txs = 200;  // per sender, under the node's per_sender_max (256)
  int64_t poll_ms = 250;
  int64_t drain_s = 120;
  // A gateway that reaches a span's end this long after it (its window stayed full: the network
  // is far behind) stops the run there instead of sending hours of backlog; 0 = never.
  int64_t give_up_s = 120;
  int64_t verify_ms = 1000;
  int64_t cores = 0;  // 0 = hardware_concurrency
  std::string json_path;
};

// One SubmitReadings tx a gateway sent.
struct TxRecord {
  int64_t span = 0;
  int64_t readings = 0;
  int64_t commit_wall_ms = 0;  // when the tracker first saw it committed; 0 never
};

// What one gateway did; written by its thread, read after it ends (the tracker writes
// commit_wall_ms under `mu` of the run).
struct GatewayTrace {
  std::string address;
  size_t node = 0;
  uint64_t first_nonce = 1;
  std::vector<TxRecord> txs;  // by nonce - first_nonce
  std::vector<int64_t> sent_readings;    // per span
  std::vector<int64_t> flushed_wall_ms;  // per span: its last tx admitted
  double sign_cpu_s = 0;                 // device signing of readings (thread CPU)
  double tx_cpu_s = 0;                   // packing and signing txs, submitting (thread CPU)
  std::map<std::string, int64_t> refusals;
  std::string error;
  int64_t gave_up_at_span = -1;  // the span it stopped before (give_up_s), -1 none
};

struct SpanReport {
  int64_t span = 0;
  int64_t end_unix_s = 0;
  int64_t sent = 0, committed = 0;
  double lag_max_s = 0, lag_p99_s = 0;  // commit seen minus the span's end, per reading
  int64_t late_sends = 0;  // gateways that finished submitting after the keep-up bound
  bool kept_up = false;
};

struct NodeReport {
  std::string api;
  pid_t pid = 0;
  int64_t readings_accepted = 0;  // summed over the fleet's meters
  int64_t meters = 0;             // the fleet's meters it has
  int64_t meters_short = 0;       // meters with fewer readings accepted than were sent
  int64_t disk_bytes_before = -1, disk_bytes_after = -1;
  int64_t rss_kib = -1, rss_peak_kib = -1;
  double cpu_s_spans = -1;  // utime + stime over the spans and the drain
  std::string error;
};

struct RunReport {
  loadgen::Bound bound;
  int64_t evs = 0, spans = 0, span_s = 0, gateways = 0, keep_up_s = 0;
  double register_sign_s = 0, register_submit_s = 0, register_total_s = 0;
  int64_t register_txs = 0, registered = 0;
  std::map<std::string, int64_t> register_refusals;
  std::vector<SpanReport> span_reports;
  std::vector<NodeReport> nodes;
  int64_t sent = 0, committed = 0;
  double spans_wall_s = 0;    // first span's start to the last commit seen
  double offered_rps = 0;     // evs / span_s
  double committed_rps = 0;   // committed readings over the spans' length
  double sign_cpu_s = 0, tx_cpu_s = 0, self_cpu_s = 0;
  std::map<std::string, int64_t> refusals;
  bool all_kept_up = false, all_accounted = false;
  int64_t gave_up_at_span = -1;  // the run stopped before this span (give_up_s), -1 none
  std::string first_error;
};

// ---- fleet.cc
// Meter id of EV `i`.
std::string EvMeterId(const Options& o, int64_t i);
// The fleet's owner (an address derived from the fleet seed: it only owns, it never signs).
Address FleetOwner(const Options& o);
// Device keys of EVs [0, evs), derived from the fleet seed on every core.
std::vector<KeyPair> DeviceKeys(const Options& o);
// Registers every EV as a vehicle meter owned by FleetOwner, RegisterMeters txs signed by the
// operator through one NonceWindow; fills the register_* fields of `report`.
Status RegisterFleet(const Options& o, const loadgen::Chain& chain, const std::vector<KeyPair>& devices,
                     RunReport& report);
// The gateway keys (derived from the fleet seed).
std::vector<KeyPair> GatewayKeys(const Options& o);
// Runs the spans from `t0_s` (a Unix time, a multiple of span_s): each gateway its thread, the
// tracker another. Returns the traces once every tx is seen committed or the drain ends.
Result<std::vector<GatewayTrace>> RunSpans(const Options& o, const loadgen::Chain& chain,
                                           const std::vector<KeyPair>& devices,
                                           const std::vector<KeyPair>& gateways, int64_t t0_s,
                                           int64_t settlement_s);
// Every node's view of the fleet: readings accepted per meter, against `spans_sent` each.
void Account(const Options& o, int64_t spans_sent, std::vector<NodeReport>& nodes);

// ---- report.cc
int64_t WallMs();
// Bytes of files under `dir` (recursively); -1 when it cannot be read.
int64_t DiskBytes(const std::string& dir);
// VmRSS and VmHWM of a process, KiB; -1 when unreadable.
void ReadRss(pid_t pid, int64_t& rss_kib, int64_t& peak_kib);
// Span reports from the traces.
std::vector<SpanReport> SummarizeSpans(const Options& o, int64_t t0_s,
                                       const std::vector<GatewayTrace>& traces);
void PrintReport(const RunReport& r);
Status WriteJson(const std::string& path, const RunReport& r);

}  // namespace v2g::seedday
