#include "tests/faults/bank.h"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "wallet/client.h"
#include "wallet/tx_builder.h"

namespace v2g::faults {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kCommitted: return "committed";
    case Outcome::kRefused: return "refused";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t Rng::Next() {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
int64_t Rng::Range(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
}

bool IsTransportError(const Status& st) {
  if (st.code() != Code::kUnavailable) return false;
  const std::string& m = st.message();
  return m.rfind("cannot reach", 0) == 0 || m.rfind("node at", 0) == 0 || m.rfind("cannot send", 0) == 0 ||
         m.rfind("request ", 0) == 0;
}

ClientOptions FaultClientOptions(int64_t wait_ms) {
  ClientOptions co;
  co.connect_timeout_ms = 1000;
  co.read_timeout_ms = wait_ms + 2000;
  return co;
}

Result<KeyPair> Node0Key(const Cluster& c) {
  std::ifstream f(c.Home(0) + "/keys/validator_key.json");
  auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.contains("seed")) return Error(Code::kInternal, "node0's validator key has no seed");
  auto seed = HexDecode(j["seed"].get<std::string>());
  if (!seed.ok() || seed->size() != kSeedBytes) return Error(Code::kInternal, "node0's validator seed is not 32 bytes");
  return KeyPair::FromSeed(*seed);
}

NodeClients::NodeClients(const Cluster& c, int64_t wait_ms)
    : cluster_(c), wait_ms_(wait_ms), apis_(static_cast<size_t>(c.size())) {}

ApiClient* NodeClients::Get(int node) {
  auto& a = apis_[static_cast<size_t>(node)];
  if (!a) {
    auto made = ApiClient::Create(cluster_.Api(node), FaultClientOptions(wait_ms_));
    if (!made.ok()) return nullptr;
    a.emplace(std::move(*made));
  }
  return &*a;
}

void NodeClients::Reset(int node) { apis_[static_cast<size_t>(node)].reset(); }

void Offer(NodeClients& clients, int nodes, int home, const std::string& bytes, int64_t wait_ms, int retries,
           const std::atomic<bool>& stop, TxRecord& rec) {
  bool unknown = false, done = false;
  for (int attempt = 0; attempt <= retries && !done; ++attempt) {
    if (attempt > 0 && stop) break;
    const int node = (home + attempt) % nodes;
    ++rec.attempts;
    ApiClient* a = clients.Get(node);
    if (!a) break;
    auto r = a->SubmitTx(bytes, /*wait_commit=*/true, wait_ms);
    if (r.ok() && r->committed()) {
      rec.outcome = Outcome::kCommitted;
      rec.height = r->height;
      rec.code = r->code;
      if (r->created_id != 0) rec.created_id = r->created_id;  // a cancel keeps the order it names
      done = true;
    } else if (r.ok()) {
      unknown = true;  // pending when the wait ran out: offer it again
      rec.error = "pending after " + std::to_string(wait_ms) + " ms";
    } else if (IsTransportError(r.status())) {
      unknown = true;
      rec.error = r.status().message();
      clients.Reset(node);
    } else if (!unknown) {
      rec.outcome = Outcome::kRefused;  // a definite answer to its first offer: never admitted
      rec.code = static_cast<uint32_t>(r.status().code());
      rec.error = r.status().message();
      done = true;
    } else {
      rec.error = r.status().message();  // after an unknown offer any answer stays unknown
    }
  }
  if (!done) rec.outcome = Outcome::kUnknown;
}

Status Fund(const Cluster& cluster, const std::vector<Address>& to, const std::string& denom, int64_t amount,
            const std::string& what) {
  auto node0 = Node0Key(cluster);
  if (!node0.ok()) return node0.status();
  const KeyPair& issuer = *node0;
  auto api = ApiClient::Create(cluster.Api(0), FaultClientOptions(20000));
  if (!api.ok()) return api.status();
  // The network may still be connecting: ask until it answers.
  Result<AccountInfo> acct = Error(Code::kUnavailable, "not asked");
  for (int i = 0; i < 100 && !acct.ok(); ++i) {
    acct = api->GetAccount(EncodeAddress(AddressFromPublicKey(issuer.public_key())));
    if (!acct.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!acct.ok()) return acct.status();
  uint64_t nonce = acct->next_nonce;
  for (size_t i = 0; i < to.size(); ++i) {
    const std::string tx = SignTx(issuer, cluster.chain_id(), MakeMint(nonce++, to[i], denom, amount));
    const bool last = i + 1 == to.size();
    auto r = api->SubmitTx(tx, last, 20000);
    if (!r.ok()) return Error(r.status().code(), "funding " + what + ": " + r.status().message());
    if (last && (!r->committed() || r->code != 0)) {
      return Error(Code::kInternal, "funding " + what + ": the last mint did not commit (" + r->status + ")");
    }
  }
  return Status::Ok();
}

uint64_t ReadNonce(NodeClients& clients, int nodes, int first, const std::string& address,
                   const std::atomic<bool>& stop) {
  for (int k = 0; k < nodes && !stop; ++k) {
    ApiClient* a = clients.Get((first + k) % nodes);
    if (!a) continue;
    auto acct = a->GetAccount(address);
    if (acct.ok()) return acct->next_nonce;
  }
  return 0;
}

void SendTx(NodeClients& clients, const Cluster& cluster, const KeyPair& key, const pb::TxBody& body,
            int64_t run_start_ms, int64_t wait_ms, int retries, const std::atomic<bool>& stop, uint64_t* nonce,
            int* home, TxRecord& rec) {
  rec.nonce = *nonce;
  const std::string bytes = SignTx(key, cluster.chain_id(), body);
  const Hash256 h = Blake2b256(bytes);
  rec.hash = HexEncode(ByteView(h.data(), h.size()));
  rec.start_ms = NowMs() - run_start_ms;
  Offer(clients, cluster.size(), *home, bytes, wait_ms, retries, stop, rec);
  rec.end_ms = NowMs() - run_start_ms;
  *nonce = NextNonce(rec);
  if (*nonce == 0) *home = (*home + 1) % cluster.size();
}

bool HaveNonce(NodeClients& clients, int nodes, int home, const std::string& address, const std::atomic<bool>& stop,
               uint64_t* nonce) {
  if (*nonce == 0) *nonce = ReadNonce(clients, nodes, home, address, stop);
  if (*nonce != 0) return true;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return false;
}

uint64_t NextNonce(const TxRecord& rec) {
  if (rec.outcome == Outcome::kCommitted) return rec.nonce + 1;
  if (rec.outcome == Outcome::kRefused && rec.code != static_cast<uint32_t>(Code::kNonceReplayed) &&
      rec.code != static_cast<uint32_t>(Code::kNonceGap)) {
    return rec.nonce;  // not admitted and the nonce is still ours
  }
  return 0;
}

void ClientThreads::StartClients(int count, const std::function<void(int)>& client) {
  stop_ = false;
  for (int c = 0; c < count; ++c) threads_.emplace_back([client, c] { client(c); });
}

void ClientThreads::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<TxRecord> ClientThreads::History() const {
  std::lock_guard<std::mutex> lock(mu_);
  return history_;
}

void ClientThreads::Record(TxRecord rec, const std::function<void()>& also) {
  std::lock_guard<std::mutex> lock(mu_);
  if (history_.size() >= records_max_) return;
  if (also) also();
  history_.push_back(std::move(rec));
}

Bank::Bank(Cluster& cluster, BankOptions o, uint64_t seed, int64_t run_start_ms)
    : ClientThreads(o.records_max),
      cluster_(cluster), o_(o), seed_(seed), run_start_ms_(run_start_ms) {
  for (int i = 0; i < o_.accounts; ++i) {
    const Hash256 s = Blake2b256("v2g-faults-bank-" + std::to_string(i));
    keys_.push_back(KeyPair::FromSeed(ByteView(s.data(), s.size())));
    addresses_.push_back(AddressFromPublicKey(keys_.back().public_key()));
  }
}

Bank::~Bank() { Stop(); }

Status Bank::Setup() { return Fund(cluster_, addresses_, denom(), o_.initial, "the bank"); }

void Bank::Start() {
  StartClients(o_.accounts, [this](int c) { Client(c); });
}

void Bank::Client(int c) {
  Rng rng(seed_ * 1000003 + static_cast<uint64_t>(c));
  const int n = cluster_.size();
  NodeClients clients(cluster_, o_.wait_ms);
  const std::string me = EncodeAddress(addresses_[static_cast<size_t>(c)]);
  int home = c % n;
  uint64_t nonce = 0;  // 0: read it from the chain
  int64_t seq = 0;
  while (!stop_) {
    if (!HaveNonce(clients, n, home, me, stop_, &nonce)) continue;
    TxRecord rec;
    rec.client = c;
    rec.from = c;
    rec.to = static_cast<int>((c + rng.Range(1, o_.accounts - 1)) % o_.accounts);
    rec.amount = rng.Range(1, o_.amount_max);
    pb::TxBody body = MakeTransfer(nonce, addresses_[static_cast<size_t>(rec.to)], denom(), rec.amount);
    body.set_memo("c" + std::to_string(c) + "-" + std::to_string(seq++));  // every tx's bytes are its own
    SendTx(clients, cluster_, keys_[static_cast<size_t>(c)], body, run_start_ms_, o_.wait_ms, o_.retries, stop_,
           &nonce, &home, rec);
    Record(std::move(rec));
    std::this_thread::sleep_for(std::chrono::milliseconds(o_.pause_ms));
  }
}

}  // namespace v2g::faults
