// ParallelFor: the process's worker threads, for work that is independent item by item and that
// the caller needs done before it goes on: verifying the signatures of a batch of gossiped txs, or
// of a block's txs this node has not seen, into the signature cache (common/crypto.h), so that the
// one thread that then applies them in order finds every verdict there. That is how a node uses
// every core for the verification that bounds it, while state changes stay on one thread.
//
// The workers are one thread fewer than the CPUs the process may use (its affinity mask, else
// hardware_concurrency(); none on one core), started on first use and
// never stopped (like the signature cache, they live as long as the process); the caller works
// too, so a call never waits for a busy pool to start: it runs every item itself if it must. At
// most kParallelJobsQueuedMax calls are offered to the workers at a time; past that a call runs on
// its caller alone. Nothing here affects results, only how fast they come: `fn` must not depend on
// which thread runs it or in what order.
#pragma once

#include <cstddef>
#include <functional>

namespace v2g {

// Runs fn(i) for every i in [0, n) exactly once, on the calling thread and the workers, and
// returns when all have returned. `fn` must be thread-safe and must not throw.
void ParallelFor(size_t n, const std::function<void(size_t)>& fn);
// Worker threads besides the caller (usable CPUs - 1, at least 0).
size_t ParallelWorkers();

constexpr size_t kParallelJobsQueuedMax = 64;

}  // namespace v2g
