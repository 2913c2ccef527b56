// A cluster of v2gd validators, each in its own network namespace (docs/DESIGN.md "Fault
// harness"): node i lives in namespace v2gf<run>n<i> behind a veth on a bridge, at 10.A.B.(i+1);
// the harness reaches every API from the host side of the bridge (10.A.B.254). Faults are nftables
// rules inside a node's namespace (they match peers' addresses only, so the clients' own traffic
// is never cut), signals to its process, a full tmpfs under its data folder, or an offset on its
// clock (V2GD_TEST_CLOCK_OFFSET_MS, read by v2gd at start).
//
// Everything it creates carries the run's id (its pid) and is removed by Destroy(), by the
// destructor, and by RemoveStale() in a later run when the process that made it is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace v2g::faults {

// At most this many validators (addresses .1 to .N, host .254; nftables sets stay small).
constexpr int kValidatorsMax = 9;
// The data folder of the node whose disk can fill: a tmpfs of this size.
constexpr int64_t kDiskBytes = 96ll << 20;
// The exit code v2gd returns when its storage failed (EX_IOERR): a supervisor restarts it.
constexpr int kExitStorageFailed = 74;

// The testnet's market parameters (v2gd testnet --settlement-interval --gate-closure
// --market-grace): a whole market cycle (orders, clearing, delivery, settlement) in about 20 s, so
// even a 20 s schedule sees markets clear and settle under its faults. A meter reading must be in
// within the grace after its interval ends (the meter workload makes late ones again).
inline constexpr int64_t kMarketIntervalS = 10;
inline constexpr int64_t kMarketGateClosureS = 2;
inline constexpr int64_t kMarketGraceS = 5;

struct ClusterOptions {
  int validators = 5;
  std::string v2gd;        // path of the binary
  std::string dir;         // run folder: node homes, logs
  int disk_node = -1;      // node whose data folder is a tmpfs that can fill (-1: none)
  int64_t block_interval_ms = 500;
  // A Byzantine peer (tests/integration/liar.cc): an allowed node key every validator dials, in a
  // namespace of its own (host N); it claims height 10^9 and lies to block sync ("silent" or
  // "wrong"). Empty: none.
  std::string liar_mode;
  std::string liar_bin;
};

// What the harness can do to one node's links: a set of peers whose packets are dropped both ways
// (cut) or only coming in (deaf_to), a loss percentage and a byte-rate limit on peer traffic.
struct LinkRules {
  std::set<int> cut;
  std::set<int> deaf_to;
  int loss_percent = 0;
  int64_t rate_kbytes_s = 0;  // 0: no limit
  bool empty() const { return cut.empty() && deaf_to.empty() && loss_percent == 0 && rate_kbytes_s == 0; }
};

enum class NodeState { kStopped, kRunning, kPaused };

class Cluster {
 public:
  explicit Cluster(ClusterOptions o);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Removes namespaces, links and mounts of earlier runs whose process is gone.
  static void RemoveStale();

  // Generates the testnet (no fees), namespaces, bridge, addresses and configs.
  Status Create();
  void Destroy();  // idempotent: kills every node, removes rules, namespaces, links, mounts

  int size() const { return o_.validators; }
  std::string Home(int i) const;
  std::string Ip(int i) const;
  std::string Api(int i) const;  // http://198.A.B.(i+1):26657
  std::string HostIp() const;
  std::string Namespace(int i) const;
  const std::string& chain_id() const { return chain_id_; }

  // Starts node i (no-op when running) with `clock_offset_ms` added to its clock.
  Status Start(int i, int64_t clock_offset_ms = 0);
  // Starts the lying peer (when the options ask for one); it lives until Destroy.
  Status StartLiar();
  bool has_liar() const { return !o_.liar_mode.empty(); }
  // SIGKILL and reap; when the node had already exited on its own, its exit status.
  std::optional<int> Kill(int i);
  Status Stop(int i, int timeout_ms); // SIGTERM, wait; SIGKILL after timeout_ms (an error)
  void Pause(int i);                  // SIGSTOP
  void Resume(int i);                 // SIGCONT
  NodeState State(int i);
  // A node that ended on its own since the last call: its exit status (code, or 128 + signal).
  std::optional<int> Reap(int i);
  pid_t pid(int i) const { return nodes_[static_cast<size_t>(i)].pid; }
  int64_t clock_offset_ms(int i) const { return nodes_[static_cast<size_t>(i)].clock_offset_ms; }

  Status SetRules(int i, const LinkRules& r);
  Status ClearAllRules();
  const LinkRules& rules(int i) const { return nodes_[static_cast<size_t>(i)].rules; }

  // Fills the disk node's tmpfs (a filler file until ENOSPC) / deletes the filler.
  Status FillDisk(int i);
  Status FreeDisk(int i);
  // Copies the disk node's data folder out of its tmpfs (to data.saved beside it) before Destroy
  // unmounts it: a failed run keeps what the node had on disk.
  void SaveDisk(int i);

 private:
  struct NodeProc {
    pid_t pid = -1;
    bool paused = false;
    int64_t clock_offset_ms = 0;
    LinkRules rules;
    bool mounted = false;
  };
  Status Sh(const std::string& cmd);  // runs a shell command; error with its output
  std::string Prefix() const;

  ClusterOptions o_;
  int run_ = 0;
  int net_a_ = 0, net_b_ = 0;
  std::string chain_id_;
  std::vector<NodeProc> nodes_;
  bool created_ = false;
  pid_t liar_pid_ = -1;
  std::vector<std::string> node_ids_;  // hex node key of each validator
};

}  // namespace v2g::faults
