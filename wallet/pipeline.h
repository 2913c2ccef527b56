// Pipelined nonces (issue 13 item 5): one signer sends many txs with consecutive nonces without
// waiting for each to commit, then waits once. The node's next nonce counts the signer's pending
// txs, so tx n+1 is admitted while tx n is still in the mempool; what bounds the pipeline is the
// node's per-sender mempool limit (`[mempool] per_sender_max`, 256 by default), so a sender keeps
// at most a window of txs in flight (submitted, not yet committed) below it.
//
//   NonceWindow w(client, address, first_nonce, {});
//   for each tx: V2G_RETURN_IF_ERROR(w.Send(SignTx(key, chain, Make...(w.next_nonce(), ...))));
//   V2G_RETURN_IF_ERROR(w.Finish());   // every tx committed (or an error saying which did not)
//
// Send queues a tx and submits the queue as one POST /v1/txs/batch when it is full (by count or
// bytes); before it submits, it waits until the window has room. A tx refused for a passing
// reason (mempool_full, sender_limit, a 503, no answer) is submitted again from there after a
// pause, with the same bytes, keeping the nonce order; `duplicate` and `nonce_replayed` on a
// resend mean it was admitted (or committed) the first time. Any other refusal is an error naming
// the nonce. Committed is read from the account's nonce (GET /v1/accounts: the last nonce used by
// a committed tx), so a committed nonce n means every tx up to n committed, whatever its code:
// callers that care about a tx's result read it (GET /v1/txs/{hash}).
// One NonceWindow is used by one thread; it owns nothing but its queue.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "wallet/client.h"

namespace v2g {

struct NonceWindowOptions {
  // Txs in flight (submitted, not yet seen committed); under the node's per-sender limit (256).
  int64_t window_txs = 200;
  // A request holds at most this many txs and bytes of tx (hex doubles them; the node's body
  // limit, limits::kHttpBodyBytesMax, is ~132 KiB: 60 KiB of tx bytes is 120 KiB of hex).
  int64_t request_txs_max = 100;
  int64_t request_bytes_max = 60 * 1024;
  int64_t poll_ms = 200;       // account polls while waiting for commits
  int64_t retry_ms = 250;      // pause before resubmitting after a passing refusal
  int64_t stall_ms_max = 120'000;  // no progress (admission or commit) for this long: kTimeout
};

// Refusals seen, by code name, summed over the window's life (each resubmission counts).
using RefusalCounts = std::map<std::string, int64_t>;

class NonceWindow {
 public:
  // `first_nonce`: the nonce the first tx carries (the account's next_nonce).
  NonceWindow(ApiClient& client, std::string address, uint64_t first_nonce,
              NonceWindowOptions options = {});

  // The nonce the next tx given to Send must carry.
  uint64_t next_nonce() const { return next_nonce_; }
  // The highest nonce seen committed (first_nonce - 1 before any).
  uint64_t committed_nonce() const { return committed_; }
  // Queues `tx` (signed with next_nonce()); submits the queue when it is full.
  Status Send(std::string tx);
  // Submits what is queued (waits for room in the window first).
  Status Flush();
  // Flushes, then waits until every tx sent is committed.
  Status Finish();
  // Reads the account's committed nonce once; returns it.
  Result<uint64_t> Poll();
  const RefusalCounts& refusals() const { return refusals_; }
  // Called with (nonce, steady ms) the first time each nonce is seen committed (e.g. latency).
  void OnCommitted(std::function<void(uint64_t nonce, int64_t seen_ms)> f) {
    on_committed_ = std::move(f);
  }

 private:
  Status WaitForRoom(uint64_t highest_to_send);
  Status SubmitQueue();

  ApiClient& client_;
  std::string address_;
  NonceWindowOptions options_;
  uint64_t next_nonce_;
  uint64_t committed_;
  std::vector<std::string> queue_;  // txs with nonces next_nonce_ - queue_.size() ...
  int64_t queue_bytes_ = 0;
  RefusalCounts refusals_;
  std::function<void(uint64_t, int64_t)> on_committed_;
};

// Milliseconds on the steady clock.
int64_t SteadyMs();

}  // namespace v2g
