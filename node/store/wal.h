// Consensus write-ahead log: every input of the consensus engine for the current height is
// appended here before it is processed, so a restarted node replays them and rejoins the round it
// was in with its lock and votes. Record: u32 length | 4-byte checksum (BLAKE2b prefix) | WalRecord.
// A torn or corrupt tail (a crash mid-append) is cut off at open; everything before it is kept.
// Not thread-safe: the consensus thread owns it.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

// A single record may hold a proposal with a full block.
constexpr size_t kWalRecordBytesMax = 32 * 1024 * 1024;

class Wal {
 public:
  // Opens (creating) the file and reads every intact record.
  static Result<std::unique_ptr<Wal>> Open(const std::string& path);
  ~Wal();

  // Records read at open, in order (up to the first torn or corrupt one).
  const std::vector<pb::WalRecord>& recovered() const { return recovered_; }
  // Starts a new height: truncates the log and writes the height marker, synced.
  Status StartHeight(int64_t height);
  // Makes everything appended so far durable.
  Status Sync();
  // Appends; `sync` fsyncs before returning (own messages must be durable before they leave).
  Status Append(const pb::WalRecord& rec, bool sync);

 private:
  Wal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status WriteAll(const std::string& data);
  std::string path_;
  int fd_;
  std::vector<pb::WalRecord> recovered_;
};

}  // namespace v2g
