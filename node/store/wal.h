// Consensus write-ahead log: every input of the consensus engine for the current height is
// appended here before it is processed, so a restarted node replays them and rejoins the round it
// was in with its lock and votes. Record: u32 length | 4-byte checksum (BLAKE2b prefix) | WalRecord.
// A torn or corrupt tail (a crash mid-append) is cut off at open; everything before it is kept.
// Not thread-safe: the consensus thread owns it.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

// A single record may hold a proposal with a full block.
constexpr size_t kWalRecordBytesMax = 32 * 1024 * 1024;

// Where the WAL's bytes live: a file (OpenWalFile), or a simulated disk whose unsynced writes a
// crash can lose or tear and whose operations can fail (tests/sim).
class WalFile {
 public:
  virtual ~WalFile() = default;
  virtual Result<std::string> ReadAll() = 0;
  // Cuts the file to `size` bytes; the next Append writes there.
  virtual Status Truncate(size_t size) = 0;
  virtual Status Append(const std::string& data) = 0;
  // Everything appended so far survives a crash once this returns ok.
  virtual Status Sync() = 0;
  virtual const std::string& name() const = 0;
};
Result<std::unique_ptr<WalFile>> OpenWalFile(const std::string& path);

class Wal {
 public:
  // Opens (creating) the file and reads every intact record.
  static Result<std::unique_ptr<Wal>> Open(const std::string& path);
  static Result<std::unique_ptr<Wal>> Open(std::unique_ptr<WalFile> file);
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
  explicit Wal(std::unique_ptr<WalFile> file) : file_(std::move(file)) {}
  std::unique_ptr<WalFile> file_;
  std::vector<pb::WalRecord> recovered_;
};

}  // namespace v2g
