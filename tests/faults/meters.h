// The meter workload of the fault harness: a few site meters registered at setup, each signing a
// reading of one second of energy (import and export) every second (contiguous spans, cumulative
// registers) and submitting it through the validators' APIs from its gateway's account (the
// operator's backend that relays readings; the owner's account is left to the market workload,
// where the owners sell what their meters export). A reading is sent again until the chain has
// it: an unknown outcome is settled by reading the meter's last accepted seq back from the chain.
// A reading whose settlement interval closed before it got in is made again with the same seq and
// registers over a fresh span (a real meter that was offline sends what it has now: the energy
// since its last accepted reading then crosses interval boundaries and is unattributed). Every reading the meter made is recorded, with what the client
// was told, so the checker can hold the chain's attested energy against what the meters sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"
#include "tests/faults/bank.h"
#include "tests/faults/cluster.h"

namespace v2g::faults {

// One version of a reading: a reading made again after its interval settled keeps its seq and
// registers over a new span.
struct ReadingVersion {
  std::string signature;  // hex
  int64_t start_s = 0, end_s = 0;
};

struct SentReading {
  uint64_t seq = 0;
  int64_t import_wh_total = 0, export_wh_total = 0;
  std::vector<ReadingVersion> versions;  // every version made with this seq, oldest first
  bool told_accepted = false;  // a committed tx's answer said it was accepted
  int64_t sends = 0;           // txs that carried it
};

struct MeterOptions {
  int meters = 4;
  int64_t max_import_w = 100'000;  // a 1 s span holds at most ~28 Wh; the readings carry 0..20
  int64_t max_export_w = 100'000;
  int64_t wh_per_span_max = 20;
  int64_t wait_ms = 4000;
  int retries = 3;
};

class MeterFleet : public ClientThreads {
 public:
  MeterFleet(Cluster& cluster, MeterOptions o, uint64_t seed);
  ~MeterFleet();
  // Registers the meters (node0's key is the testnet's operator) and waits for it.
  Status Setup();
  void Start();
  int size() const { return o_.meters; }
  std::string MeterId(int m) const { return "faults-site-" + std::to_string(m); }
  const KeyPair& Owner(int m) const { return owners_[static_cast<size_t>(m)]; }
  // Meter -> seq -> the reading it made with that seq (read after Stop).
  std::vector<std::map<uint64_t, SentReading>> Sent() const;

 private:
  void Meter(int m);
  Cluster& cluster_;
  MeterOptions o_;
  uint64_t seed_;
  std::vector<KeyPair> devices_, owners_, gateways_;
  std::vector<std::map<uint64_t, SentReading>> sent_;  // guarded by mu_
};

// What one node's chain says of one meter (GET /v1/meters/{id} and its readings).
struct MeterOnChain {
  int64_t readings_accepted = 0;
  uint64_t last_seq = 0;
  int64_t last_import_wh_total = 0, last_export_wh_total = 0;
  std::string last_signature;  // hex
  int64_t attested_import_wh = 0, attested_export_wh = 0;  // summed over its settlement intervals
  int64_t unattributed_import_wh = 0, unattributed_export_wh = 0;
  // interval start (s) -> attested import / export (Wh)
  std::map<int64_t, int64_t> import_by_interval, export_by_interval;
};
Result<MeterOnChain> ReadMeter(const std::string& api, const std::string& meter_id);

}  // namespace v2g::faults
