// Finding committed txs: poll one node's block summaries, read each new block that has txs, and
// match its tx hashes against the step's. The commit time of a tx is when the poll first saw its
// block (so it includes up to one poll period and the block's trip to the watched node).
#include <httplib.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "bench/loadgen/loadgen.h"
#include "common/assert.h"
#include "common/bytes.h"
#include "common/limits.h"

namespace v2g::loadgen {
namespace {

using nlohmann::json;

struct HashKey {
  size_t operator()(const Hash256& h) const {
    size_t v = 0;
    std::memcpy(&v, h.data(), sizeof(v));  // the hash is uniform already
    return v;
  }
};

httplib::Client MakeClient(const std::string& host) {
  httplib::Client http(host);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(30));  // a full block is several MiB of JSON
  return http;
}

Result<json> GetJson(httplib::Client& http, const std::string& path) {
  auto res = http.Get(path);
  if (!res)
    return Error(Code::kUnavailable, "GET " + path + ": " + httplib::to_string(res.error()));
  auto doc = json::parse(res->body, nullptr, false);
  if (res->status != 200 || doc.is_discarded() || !doc.is_object()) {
    return Error(Code::kUnavailable, "GET " + path + ": HTTP " + std::to_string(res->status) + " " +
                                         res->body.substr(0, 200));
  }
  return doc;
}

}  // namespace

struct BlockWatcher::Impl {
  explicit Impl(const std::string& host) : http(MakeClient(host)) {}
  httplib::Client http;
  std::string prefix;
  std::unordered_map<Hash256, size_t, HashKey> index;  // read-only while the watcher runs
  std::thread thread;
};

Result<int64_t> LatestHeight(const Options& o) {
  V2G_ASSERT(o.watch_node < o.nodes.size());
  const auto [host, prefix] = SplitBaseUrl(o.nodes[o.watch_node].api);
  httplib::Client http = MakeClient(host);
  auto doc = GetJson(http, prefix + "/v1/status");
  if (!doc.ok()) return doc.status();
  if (!doc->contains("latest_height") || !(*doc)["latest_height"].is_number_integer()) {
    return Error(Code::kMalformed, "GET /v1/status: no latest_height");
  }
  return (*doc)["latest_height"].get<int64_t>();
}

BlockWatcher::BlockWatcher(const Options& o, const std::vector<PresignedTx>& txs, StepTrace& trace,
                           int64_t from_height)
    : o_(o), txs_(txs), trace_(trace), next_height_(from_height) {
  V2G_ASSERT(from_height >= 1);
  V2G_ASSERT(trace.commit_ns.size() == txs.size());
  const auto [host, prefix] = SplitBaseUrl(o.nodes[o.watch_node].api);
  impl_ = new Impl(host);
  impl_->prefix = prefix;
  impl_->index.reserve(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) impl_->index.emplace(txs[i].hash, i);
}

BlockWatcher::~BlockWatcher() {
  Stop();
  delete impl_;
}

void BlockWatcher::Start() {
  V2G_ASSERT(!impl_->thread.joinable());
  impl_->thread = std::thread([this] { Loop(); });
}

void BlockWatcher::Stop() {
  stop_ = true;
  if (impl_->thread.joinable()) impl_->thread.join();
}

void BlockWatcher::Loop() {
  while (!stop_) {
    const bool more = PollOnce();
    if (!more) std::this_thread::sleep_for(std::chrono::milliseconds(o_.poll_ms));
  }
  // One last look, so a block committed just before the stop is counted.
  PollOnce();
}

// Reads the summaries from next_height_ on and every new block with txs. True when a full page
// came back (poll again at once).
bool BlockWatcher::PollOnce() {
  const int64_t from = next_height_.load();
  auto page = GetJson(impl_->http, impl_->prefix + "/v1/blocks?from=" + std::to_string(from) +
                                       "&limit=" + std::to_string(limits::kBlocksPageMax));
  if (!page.ok()) {
    error_ = page.status().message();
    return false;
  }
  const json& blocks = (*page)["blocks"];
  if (!blocks.is_array()) return false;
  for (const json& b : blocks) {
    const int64_t seen = NowNs();
    if (!b.contains("height") || !b["height"].is_number_integer()) return false;
    const int64_t h = b["height"].get<int64_t>();
    const int64_t n =
        b.contains("num_txs") && b["num_txs"].is_number_integer() ? b["num_txs"].get<int64_t>() : 0;
    if (h != next_height_.load()) return false;  // not the next one: ask again from it
    if (n > 0) {
      auto block = GetJson(impl_->http, impl_->prefix + "/v1/blocks/" + std::to_string(h));
      if (!block.ok()) {
        error_ = block.status().message();
        return false;  // the same height again next time
      }
      const json& list = (*block)["txs"];
      if (!list.is_array()) {
        error_ = "GET /v1/blocks/" + std::to_string(h) + ": no txs list";
        return false;
      }
      for (const json& t : list) {
        if (!t.contains("hash") || !t["hash"].is_string()) continue;
        auto raw = HexDecode(t["hash"].get<std::string>());
        if (!raw.ok() || raw->size() != 32) continue;
        Hash256 hash;
        std::memcpy(hash.data(), raw->data(), hash.size());
        auto it = impl_->index.find(hash);
        if (it == impl_->index.end() || trace_.commit_ns[it->second] != 0) continue;
        trace_.commit_ns[it->second] = seen;
        trace_.commit_height[it->second] = h;
        trace_.commit_code[it->second] =
            t.contains("code") && t["code"].is_number_unsigned() ? t["code"].get<uint32_t>() : 0;
        ++matched_;
      }
    }
    if (blocks_.size() < kBlocksSeenMax) blocks_.push_back({h, n, seen});
    next_height_ = h + 1;
  }
  return static_cast<int64_t>(blocks.size()) >= limits::kBlocksPageMax;
}

}  // namespace v2g::loadgen
