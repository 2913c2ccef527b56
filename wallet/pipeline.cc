#include "wallet/pipeline.h"

#include <chrono>
#include <thread>
#include <utility>

#include "common/assert.h"
#include "common/limits.h"

namespace v2g {
namespace {

// Refusals that pass: the node is busy or full now, or an earlier tx of the same request was
// refused (nonce_gap); the same bytes are offered again.
bool Passing(std::string_view code) {
  return code == "mempool_full" || code == "sender_limit" || code == "nonce_gap" ||
         code == "unavailable" || code == "timeout";
}
bool PassingStatus(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kTimeout ||
         s.code() == Code::kMempoolFull || s.code() == Code::kSenderLimit;
}

}  // namespace

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

NonceWindow::NonceWindow(ApiClient& client, std::string address, uint64_t first_nonce,
                         NonceWindowOptions options)
    : client_(client),
      address_(std::move(address)),
      options_(options),
      next_nonce_(first_nonce),
      committed_(first_nonce - 1) {
  V2G_ASSERT(first_nonce >= 1);
  V2G_ASSERT(options_.window_txs >= 1 && options_.request_txs_max >= 1 &&
             options_.request_txs_max <= limits::kApiBatchTxsMax);
}

Result<uint64_t> NonceWindow::Poll() {
  auto acc = client_.GetAccount(address_);
  if (!acc.ok()) return acc.status();
  if (acc->nonce > committed_) {
    const int64_t now = SteadyMs();
    // Only nonces this window sent are reported (another sender of the same key is not ours).
    for (uint64_t n = committed_ + 1; on_committed_ && n <= acc->nonce && n < next_nonce_; ++n) {
      on_committed_(n, now);
    }
    committed_ = acc->nonce;
  }
  return committed_;
}

Status NonceWindow::WaitForRoom(uint64_t highest_to_send) {
  int64_t last_progress = SteadyMs();
  while (highest_to_send > committed_ + static_cast<uint64_t>(options_.window_txs)) {
    const uint64_t before = committed_;
    auto p = Poll();
    if (!p.ok() && !PassingStatus(p.status())) return p.status();
    if (committed_ != before) last_progress = SteadyMs();
    if (highest_to_send <= committed_ + static_cast<uint64_t>(options_.window_txs)) break;
    if (SteadyMs() - last_progress > options_.stall_ms_max) {
      return Error(Code::kTimeout, "no tx of " + address_ + " committed for " +
                                       std::to_string(options_.stall_ms_max) +
                                       " ms (committed up to nonce " +
                                       std::to_string(committed_) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.poll_ms));
  }
  return Status::Ok();
}

Status NonceWindow::SubmitQueue() {
  if (queue_.empty()) return Status::Ok();
  V2G_RETURN_IF_ERROR(WaitForRoom(next_nonce_ - 1));
  const uint64_t first = next_nonce_ - queue_.size();
  size_t at = 0;     // first tx not yet admitted
  size_t tried = 0;  // txs submitted at least once: a duplicate among them was admitted before
  int64_t last_progress = SteadyMs();
  while (at < queue_.size()) {
    std::vector<std::string> rest(queue_.begin() + static_cast<std::ptrdiff_t>(at), queue_.end());
    auto verdicts = client_.SubmitTxBatch(rest);
    // A duplicate counts as admitted only for a tx sent before this request (its earlier answer
    // was lost or refused in passing after the node took it); on a first submission it means
    // another sender used this key and nonce, and the tx will never commit.
    const size_t sent_before = tried;
    tried = queue_.size();
    bool refused = false;
    if (!verdicts.ok()) {
      if (!PassingStatus(verdicts.status())) return verdicts.status();
      ++refusals_[std::string(CodeName(verdicts.status().code()))];
      refused = true;
    } else {
      for (const BatchVerdict& v : *verdicts) {
        const bool again = at < sent_before && (v.code_name == "duplicate" || v.code_name == "nonce_replayed");
        if (v.admitted || again) {
          ++at;
          last_progress = SteadyMs();
          continue;
        }
        ++refusals_[v.code_name];
        if (!Passing(v.code_name)) {
          return Error(static_cast<Code>(v.code), "tx with nonce " + std::to_string(first + at) +
                                                      " of " + address_ + " refused: " +
                                                      v.code_name + ": " + v.message);
        }
        refused = true;
        break;
      }
    }
    if (!refused) break;
    if (SteadyMs() - last_progress > options_.stall_ms_max) {
      return Error(Code::kTimeout, "the node kept refusing the tx with nonce " +
                                       std::to_string(first + at) + " of " + address_ + " for " +
                                       std::to_string(options_.stall_ms_max) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_ms));
  }
  queue_.clear();
  queue_bytes_ = 0;
  return Status::Ok();
}

Status NonceWindow::Send(std::string tx) {
  const auto bytes = static_cast<int64_t>(tx.size());
  if (!queue_.empty() && (static_cast<int64_t>(queue_.size()) >= options_.request_txs_max ||
                          queue_bytes_ + bytes > options_.request_bytes_max)) {
    V2G_RETURN_IF_ERROR(SubmitQueue());
  }
  queue_.push_back(std::move(tx));
  queue_bytes_ += bytes;
  ++next_nonce_;
  return Status::Ok();
}

Status NonceWindow::Flush() { return SubmitQueue(); }

Status NonceWindow::Finish() {
  V2G_RETURN_IF_ERROR(Flush());
  // Waiting for room for a tx one past the window after the last one is waiting for them all.
  return WaitForRoom(next_nonce_ - 1 + static_cast<uint64_t>(options_.window_txs));
}

}  // namespace v2g
