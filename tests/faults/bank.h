// The bank workload of the fault harness: a fixed set of accounts, one client thread each, sending
// transfers to the others through the validators' APIs and recording every tx and what the client
// was told: committed (with height and code), refused at admission, or unknown (no answer in time,
// a transport error, or pending when the wait ran out). An unknown tx is offered again (same
// bytes) to other nodes a few times; its nonce is then read back from the chain.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/status.h"
#include "proto/v2g.pb.h"
#include "tests/faults/cluster.h"
#include "wallet/client.h"

namespace v2g::faults {

enum class Outcome { kCommitted, kRefused, kUnknown };
const char* OutcomeName(Outcome o);

struct TxRecord {
  std::string kind = "transfer";  // or the market workload's place_order / cancel_order
  int client = 0;
  std::string hash;  // hex
  uint64_t nonce = 0;
  int from = 0, to = 0;
  int64_t amount = 0;
  Outcome outcome = Outcome::kUnknown;
  int64_t height = 0;  // committed: where the client was told it is
  uint32_t code = 0;   // committed: its result code; refused: the API error code
  std::string error;   // refused / unknown: the last answer
  int attempts = 0;
  int64_t start_ms = 0, end_ms = 0;  // since the run started
  uint64_t created_id = 0;           // a committed place_order: the order's id
};

struct BankOptions {
  int accounts = 8;
  int64_t initial = 1'000'000'000;  // minted to each account at setup (minimal units)
  int64_t amount_max = 1000;
  int64_t wait_ms = 4000;           // POST /v1/txs?wait=commit timeout
  int retries = 3;                  // further offers of an unknown tx, each to the next node
  int64_t pause_ms = 100;           // between one client's txs
  size_t records_max = 200'000;     // history bound (a 30-minute run sends far fewer)
};

// What the workloads share: one thread per client, a stop flag they poll, and the history they
// record (at most records_max txs). A derived class stops the threads in its own destructor: they
// use its members.
class ClientThreads {
 public:
  explicit ClientThreads(size_t records_max) : records_max_(records_max) {}
  virtual ~ClientThreads() = default;
  void Stop();  // joins the clients
  std::vector<TxRecord> History() const;

 protected:
  void StartClients(int count, const std::function<void(int)>& client);
  // Keeps `rec` (dropped past records_max); `also` runs under the same lock when it is kept.
  void Record(TxRecord rec, const std::function<void()>& also = nullptr);
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;

 private:
  std::vector<std::thread> threads_;
  std::vector<TxRecord> history_;
  size_t records_max_;
};

class Bank : public ClientThreads {
 public:
  Bank(Cluster& cluster, BankOptions o, uint64_t seed, int64_t run_start_ms);
  ~Bank();
  // Mints `initial` to every account from node0's key (the issuer of a testnet) and waits for it.
  Status Setup();
  void Start();
  const std::vector<Address>& accounts() const { return addresses_; }
  int64_t initial() const { return o_.initial; }
  std::string denom() const { return "CNY"; }

 private:
  void Client(int c);
  Cluster& cluster_;
  BankOptions o_;
  uint64_t seed_;
  int64_t run_start_ms_;
  std::vector<KeyPair> keys_;
  std::vector<Address> addresses_;
};

int64_t NowMs();
int64_t MonoMs();
// For the workloads' clients: no answer, or none in time (the tx may or may not have been
// admitted), as opposed to the node's own refusal.
bool IsTransportError(const Status& st);
// Short connects (a cut node must not hold a client) and a read timeout past the commit wait.
ClientOptions FaultClientOptions(int64_t wait_ms);
// node0's validator key: the testnet's issuer and operator.
Result<KeyPair> Node0Key(const Cluster& c);

// One client thread's API clients, one per node, made when first needed.
class NodeClients {
 public:
  NodeClients(const Cluster& c, int64_t wait_ms);
  ApiClient* Get(int node);  // nullptr when no client can be made
  void Reset(int node);      // after a transport error: a fresh connection next time

 private:
  const Cluster& cluster_;
  int64_t wait_ms_;
  std::vector<std::optional<ApiClient>> apis_;
};
// Offers one signed tx (`bytes`) with ?wait=commit to node `home`, and to the next nodes while its
// outcome stays unknown (up to `retries` more offers; none once `stop` is set), and fills `rec`'s
// outcome, height, code, error, attempts and created_id. A definite refusal of its first offer is
// "refused"; after an unknown offer every answer but a commit leaves it unknown.
void Offer(NodeClients& clients, int nodes, int home, const std::string& bytes, int64_t wait_ms, int retries,
           const std::atomic<bool>& stop, TxRecord& rec);
// Mints `amount` of `denom` to each of `to` from node0's key and waits for the last mint.
Status Fund(const Cluster& cluster, const std::vector<Address>& to, const std::string& denom, int64_t amount,
            const std::string& what);
// The account's next nonce from the first node (from `first` on) that answers; 0 when none does.
uint64_t ReadNonce(NodeClients& clients, int nodes, int first, const std::string& address,
                   const std::atomic<bool>& stop);
// When `*nonce` is 0, reads it from the chain (ReadNonce); false, after a 200 ms pause, when no
// node answered.
bool HaveNonce(NodeClients& clients, int nodes, int home, const std::string& address, const std::atomic<bool>& stop,
               uint64_t* nonce);
// The account's next nonce after `rec` (0: read it back from the chain).
uint64_t NextNonce(const TxRecord& rec);
// One client's tx: signs `body` (which carries `*nonce`) with `key`, offers it from node `*home`
// (Offer) and fills `rec` (nonce, hash, times since `run_start_ms`, outcome); then moves `*nonce`
// on (0: read it back) and, when that is unknown, `*home` to the next node.
void SendTx(NodeClients& clients, const Cluster& cluster, const KeyPair& key, const pb::TxBody& body,
            int64_t run_start_ms, int64_t wait_ms, int retries, const std::atomic<bool>& stop, uint64_t* nonce,
            int* home, TxRecord& rec);

// A deterministic generator (splitmix64): the same seed gives the same numbers on every build.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next();
  int64_t Range(int64_t lo, int64_t hi);  // [lo, hi]
};

}  // namespace v2g::faults
