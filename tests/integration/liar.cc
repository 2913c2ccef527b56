// v2g_liar: a peer that lies to block sync, for integration tests (issue 10, defect 6). It joins
// the network through the node's own P2P code (node/p2p/) with a node key the validators allow,
// and on the block-sync channel it claims a huge height (SyncStatus, every --status-interval-ms
// and to each peer as it connects). Then, by --mode:
//   silent  never answers a block request;
//   wrong   answers every block request with wrong blocks. It fetches the real block from the
//           other peers first (it is an allowed peer, they answer it) and spoils it, so the lie is
//           as close to the truth as it gets, and sends, one after the other: the real block with
//           every commit signature broken, with a tx added to its body, with its header changed
//           (so the commit signs another block id), relabelled as another height, a block made
//           up from nothing, and bytes that are no protobuf at all. When no peer has the block
//           (it is asked beyond the tip) only the last three.
// Everything else it receives (consensus, txs, evidence) is ignored. Nothing a peer sends can
// crash it: payloads are parsed, never trusted, and every table it keeps is bounded.
//
// Output, one line each, on stdout (tests read it): "request height=H from=<node id>" and
// "answer height=H to=<node id> lie=<kind>". Stops cleanly on SIGINT or SIGTERM (exit 0).
#include <signal.h>
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/bytes.h"
#include "node/keys.h"
#include "node/p2p/p2p.h"
#include "proto/encode.h"
#include "proto/v2g.pb.h"

namespace v2g {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Bounds on what the liar keeps, whatever its peers send.
constexpr size_t kCachedBlocksMax = 64;     // real blocks fetched, to spoil
constexpr size_t kPendingHeightsMax = 256;  // heights asked of it and being fetched
constexpr size_t kAskersPerHeightMax = 16;
// How long to wait for the real block before answering with a made-up one.
constexpr int64_t kFetchWaitMs = 300;

enum class Lie { kBadCommit, kWrongBody, kWrongHeader, kOtherHeight, kMadeUp, kGarbage };
constexpr int kLieKinds = 6;

const char* LieName(Lie lie) {
  switch (lie) {
    case Lie::kBadCommit:
      return "bad-commit";
    case Lie::kWrongBody:
      return "wrong-body";
    case Lie::kWrongHeader:
      return "wrong-header";
    case Lie::kOtherHeight:
      return "other-height";
    case Lie::kMadeUp:
      return "made-up";
    case Lie::kGarbage:
      return "garbage";
  }
  return "?";
}

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

std::string NodeId(const PublicKey& k) { return HexEncode(ByteView(k.data(), k.size())); }

class Liar {
 public:
  Liar(bool silent, std::string chain_id, int64_t claimed_height)
      : silent_(silent), chain_id_(std::move(chain_id)), claimed_height_(claimed_height) {}

  void set_p2p(P2p* p2p) { p2p_ = p2p; }

  std::string Status() const {
    pb::BlockSyncMessage m;
    m.mutable_status()->set_height(claimed_height_);
    return Encode(m);
  }

  // P2P thread.
  void OnMessage(const PublicKey& from, uint8_t channel, const std::string& payload) {
    if (channel != kChannelBlockSync) return;  // consensus, txs, evidence: ignored
    pb::BlockSyncMessage m;
    if (!m.ParseFromString(payload)) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (m.has_request()) {
      OnRequest(from, m.request().height());
    } else if (m.has_response()) {
      OnResponse(m.response());
    }
  }

  // P2P thread: the lie goes out at once, so a node that just (re)started hears it early.
  void OnConnected(const PublicKey& peer) { p2p_->Send(peer, kChannelBlockSync, Status()); }

  // Main thread, every ~100 ms: heights whose real block did not come get a made-up one.
  void Flush() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = SteadyClock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now - it->second.since < std::chrono::milliseconds(kFetchWaitMs)) {
        ++it;
        continue;
      }
      for (const auto& asker : it->second.askers) Answer(asker, it->first, nullptr);
      it = pending_.erase(it);
    }
  }

 private:
  struct Pending {
    std::vector<PublicKey> askers;
    SteadyClock::time_point since;
  };

  void OnRequest(const PublicKey& from, int64_t h) {
    std::printf("request height=%lld from=%s\n", static_cast<long long>(h), NodeId(from).c_str());
    std::fflush(stdout);
    if (silent_ || h < 1) return;
    if (auto c = cache_.find(h); c != cache_.end()) {
      Answer(from, h, &c->second);
      return;
    }
    auto p = pending_.find(h);
    if (p == pending_.end()) {
      if (pending_.size() >= kPendingHeightsMax) return;
      p = pending_.emplace(h, Pending{{}, SteadyClock::now()}).first;
      // Ask everyone else for the real block (the asker too would answer only if it had it).
      pb::BlockSyncMessage req;
      req.mutable_request()->set_height(h);
      const std::string bytes = Encode(req);
      for (const auto& peer : p2p_->Peers()) {
        if (peer.key != from) p2p_->Send(peer.key, kChannelBlockSync, bytes);
      }
    }
    if (p->second.askers.size() < kAskersPerHeightMax) p->second.askers.push_back(from);
  }

  void OnResponse(const pb::BlockResponse& r) {
    const int64_t h = r.block().header().height();
    auto p = pending_.find(h);
    if (p == pending_.end()) return;  // not fetched by us
    if (cache_.size() >= kCachedBlocksMax) cache_.erase(cache_.begin());
    const pb::BlockResponse& real = cache_[h] = r;
    for (const auto& asker : p->second.askers) Answer(asker, h, &real);
    pending_.erase(p);
  }

  // Answers `to` for height h with every lie in turn (those that spoil the real block only when
  // `real` is there): the first is refused and the next peer is asked, but the rest are still
  // answers from a peer that was asked for that height, and must be refused too.
  void Answer(const PublicKey& to, int64_t h, const pb::BlockResponse* real) {
    for (int k = 0; k < kLieKinds; ++k) {
      const Lie lie = static_cast<Lie>(k);
      const bool needs_real =
          lie == Lie::kBadCommit || lie == Lie::kWrongBody || lie == Lie::kWrongHeader;
      if (needs_real && !real) continue;
      std::string payload;
      if (lie == Lie::kGarbage) {
        // 0xff is a field tag of wire type 7, which does not exist: this never parses.
        payload = std::string("\xff\xff\xff\xff not a block", 17);
      } else {
        pb::BlockSyncMessage m;
        pb::BlockResponse& resp = *m.mutable_response();
        resp = real && lie != Lie::kMadeUp ? *real : MadeUp(h);  // never the real block as it is
        Spoil(lie, h, resp);
        payload = Encode(m);
        // A liar that tells the truth tests nothing (it did once: the made-up lie sent the real
        // block as it was).
        V2G_ASSERT(!real || Encode(resp) != Encode(*real));
      }
      std::printf("answer height=%lld to=%s lie=%s\n", static_cast<long long>(h),
                  NodeId(to).c_str(), LieName(lie));
      std::fflush(stdout);
      p2p_->Send(to, kChannelBlockSync, std::move(payload));
    }
  }

  static void Spoil(Lie lie, int64_t h, pb::BlockResponse& r) {
    switch (lie) {
      case Lie::kBadCommit:
        // A served commit may come with no signatures (the peer it came from may lie too).
        if (r.commit().signatures_size() == 0) r.mutable_commit()->add_signatures();
        for (auto& sig : *r.mutable_commit()->mutable_signatures()) {
          std::string s = sig.signature();
          if (s.empty()) s = RandomBytes(64);
          s[0] = static_cast<char>(s[0] ^ 0x01);
          sig.set_signature(s);
        }
        break;
      case Lie::kWrongBody:
        r.mutable_block()->add_txs(RandomBytes(100));
        break;
      case Lie::kWrongHeader:
        r.mutable_block()->mutable_header()->set_time_ms(r.block().header().time_ms() ^
                                                         1);  // no overflow
        break;
      case Lie::kOtherHeight: {
        // A height ahead of the one asked (behind it when a peer asks for the largest ones).
        const int64_t other = h <= INT64_MAX - 1000 ? h + 1000 : h - 1000;
        r.mutable_block()->mutable_header()->set_height(other);
        r.mutable_commit()->set_height(other);
      } break;
      case Lie::kMadeUp:
      case Lie::kGarbage:
        break;
    }
  }

  // A well-formed block and commit for height h that nobody signed.
  pb::BlockResponse MadeUp(int64_t h) const {
    pb::BlockResponse r;
    pb::Header& hd = *r.mutable_block()->mutable_header();
    hd.set_chain_id(chain_id_);
    hd.set_height(h);
    hd.set_time_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
    hd.set_last_block_id(RandomBytes(32));
    hd.set_last_commit_hash(RandomBytes(32));
    hd.set_data_hash(RandomBytes(32));
    hd.set_app_hash(RandomBytes(32));
    hd.set_validators_hash(RandomBytes(32));
    hd.set_proposer_address(RandomBytes(20));
    hd.set_evidence_hash(RandomBytes(32));
    pb::Commit& c = *r.mutable_commit();
    c.set_height(h);
    c.set_block_id(RandomBytes(32));
    for (int i = 0; i < 4; ++i) {
      pb::CommitSig& s = *c.add_signatures();
      s.set_validator_address(RandomBytes(20));
      s.set_timestamp_ms(hd.time_ms());
      s.set_signature(RandomBytes(64));
    }
    return r;
  }

  const bool silent_;
  const std::string chain_id_;
  const int64_t claimed_height_;
  P2p* p2p_ = nullptr;
  std::mutex mu_;  // guards everything below
  std::map<int64_t, pb::BlockResponse> cache_;
  std::map<int64_t, Pending> pending_;
};

int Main(int argc, char** argv) {
  CLI::App app{"v2g_liar: a peer that lies to block sync (integration tests)"};
  std::string mode, chain_id, key_file, listen;
  std::vector<std::string> peers;
  int64_t claimed_height = 1'000'000'000;
  int64_t status_interval_ms = 250;
  app.add_option("--mode", mode, "silent | wrong")
      ->required()
      ->check(CLI::IsMember({"silent", "wrong"}));
  app.add_option("--chain-id", chain_id)->required();
  app.add_option("--node-key", key_file,
                 "node key file (node/keys.h format); its id must be allowed")
      ->required();
  app.add_option("--listen", listen, "host:port")->required();
  app.add_option("--peer", peers, "<hex node id>@host:port, dialled and allowed (repeat)")
      ->required();
  app.add_option("--claimed-height", claimed_height);
  app.add_option("--status-interval-ms", status_interval_ms)->check(CLI::Range(10, 60000));
  CLI11_PARSE(app, argc, argv);

  auto key = LoadNodeKey(key_file);
  if (!key.ok()) {
    std::fprintf(stderr, "error: %s\n", key.status().message().c_str());
    return 1;
  }
  P2pConfig pc{.chain_id = chain_id, .node_key = *key};
  pc.listen = listen;
  pc.peers = peers;
  for (const auto& p : peers) {
    auto a = ParsePeerAddress(p);
    if (!a.ok()) {
      std::fprintf(stderr, "error: --peer %s: %s\n", p.c_str(), a.status().message().c_str());
      return 1;
    }
    pc.allowed.push_back(a->key);
  }

  // SIGINT/SIGTERM blocked in every thread (P2p's too); the main loop takes them with sigtimedwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Liar liar(mode == "silent", chain_id, claimed_height);
  auto p2p = P2p::Create(
      std::move(pc),
      [&liar](const PublicKey& from, uint8_t ch, std::string payload) {
        liar.OnMessage(from, ch, payload);
        return ReadFlow::kContinue;
      },
      [&liar](const PublicKey& peer, bool up) {
        if (up) liar.OnConnected(peer);
      });
  if (!p2p.ok()) {
    std::fprintf(stderr, "error: %s\n", p2p.status().message().c_str());
    return 1;
  }
  liar.set_p2p(p2p->get());
  if (Status st = (*p2p)->Start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("liar %s listening on %s, claiming height %lld\n", mode.c_str(), listen.c_str(),
              static_cast<long long>(claimed_height));
  std::fflush(stdout);

  const std::string status = liar.Status();
  auto next_status = SteadyClock::now();
  const timespec tick{0, 100 * 1000 * 1000};
  while (true) {
    if (sigtimedwait(&set, nullptr, &tick) > 0) break;
    liar.Flush();
    if (SteadyClock::now() >= next_status) {
      (*p2p)->Broadcast(kChannelBlockSync, status);
      next_status = SteadyClock::now() + std::chrono::milliseconds(status_interval_ms);
    }
  }
  (*p2p)->Stop();
  std::printf("liar stopped\n");
  return 0;
}

}  // namespace
}  // namespace v2g

int main(int argc, char** argv) {
  v2g::InitCrypto();
  return v2g::Main(argc, argv);
}
