// Every bound in the system, in one place, with the reason for its number. Consensus-relevant
// limits that a chain may tune live in genesis parameters; these are their defaults and the hard
// ceilings no genesis may exceed.
#pragma once

#include <cstdint>

namespace v2g::limits {

// A transfer is ~180 bytes; meter batches (later) carry up to a few hundred readings of ~150
// bytes. 64 KiB leaves room for those while keeping one tx's verify+execute cost bounded.
constexpr int64_t kTxBytesDefault = 16 * 1024;
constexpr int64_t kTxBytesCeiling = 64 * 1024;
// Free text is for humans, not storage.
constexpr int64_t kMemoBytesDefault = 256;
constexpr int64_t kMemoBytesCeiling = 1024;
// One block must be verified (~50 us per signature) well inside a one-second block time on one
// core: 10,000 txs is 0.5 s of verification at worst; bytes bound the fsync and the gossip.
constexpr int64_t kBlockTxsDefault = 10000;
constexpr int64_t kBlockTxsCeiling = 50000;
constexpr int64_t kBlockBytesDefault = 4 * 1024 * 1024;
constexpr int64_t kBlockBytesCeiling = 16 * 1024 * 1024;

// Denomination names: short tickers like "CNY", "PTS".
constexpr size_t kDenomNameMin = 2;
constexpr size_t kDenomNameMax = 16;
// Distinct denominations one account may hold: keeps an account record small.
constexpr size_t kAccountDenomsMax = 64;
// Chain id: "v2g-devnet", "v2g-guangdong-1".
constexpr size_t kChainIdMax = 50;
// Validators in genesis (consensus cost grows with the set).
constexpr size_t kValidatorsMax = 150;
constexpr size_t kValidatorNameMax = 64;

// Mempool: at 10k txs per block, 50k txs is five blocks of backlog; 64 MiB bounds memory. A
// single sender may queue 256 txs so one client cannot fill the pool on its own.
constexpr int64_t kMempoolTxsDefault = 50000;
constexpr int64_t kMempoolBytesDefault = 64 * 1024 * 1024;
constexpr int64_t kMempoolPerSenderDefault = 256;

// HTTP: a request body holds one tx (hex doubles it) plus JSON framing.
constexpr size_t kHttpBodyBytesMax = 2 * kTxBytesCeiling + 4096;
// /v1/blocks?limit= caps a page so one request cannot pin a server thread.
constexpr int64_t kBlocksPageMax = 100;
// ?wait=commit waits at most this long before answering "accepted, not yet committed".
constexpr int64_t kWaitCommitMsDefault = 10000;
constexpr int64_t kWaitCommitMsMax = 60000;

}  // namespace v2g::limits
