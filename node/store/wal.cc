#include "node/store/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crypto.h"
#include "contracts/state.h"

namespace v2g {
namespace {

std::string Checksum(const std::string& payload) { return HashString(Blake2b256(payload)).substr(0, 4); }

uint32_t ReadU32(const char* p) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) | (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) | static_cast<uint32_t>(static_cast<uint8_t>(p[3]));
}

}  // namespace

Result<std::unique_ptr<Wal>> Wal::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Code::kIo, "cannot open WAL " + path + ": " + std::strerror(errno));
  std::unique_ptr<Wal> wal(new Wal(path, fd));
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) return Error(Code::kIo, "cannot read WAL " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  size_t off = 0;
  while (off + 8 <= data.size()) {
    uint32_t len = ReadU32(data.data() + off);
    if (len > kWalRecordBytesMax || off + 8 + len > data.size()) break;  // torn tail
    std::string payload = data.substr(off + 8, len);
    if (Checksum(payload) != data.substr(off + 4, 4)) break;  // corrupt tail
    pb::WalRecord rec;
    if (!rec.ParseFromString(payload)) break;
    wal->recovered_.push_back(std::move(rec));
    off += 8 + len;
  }
  // Cut the torn tail so new records follow the last good one.
  if (::ftruncate(fd, static_cast<off_t>(off)) != 0 || ::lseek(fd, static_cast<off_t>(off), SEEK_SET) < 0) {
    return Error(Code::kIo, "cannot truncate WAL " + path + ": " + std::strerror(errno));
  }
  return wal;
}

Wal::~Wal() {
  if (fd_ >= 0) ::close(fd_);
}

Status Wal::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(Code::kIo, "cannot write WAL " + path_ + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status Wal::StartHeight(int64_t height) {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) < 0) {
    return Error(Code::kIo, "cannot reset WAL " + path_ + ": " + std::strerror(errno));
  }
  pb::WalRecord rec;
  rec.set_height(height);
  return Append(rec, true);
}

Status Wal::Sync() {
  if (::fdatasync(fd_) != 0) return Error(Code::kIo, "cannot sync WAL " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Status Wal::Append(const pb::WalRecord& rec, bool sync) {
  std::string payload = Encode(rec);
  V2G_ASSERT(payload.size() <= kWalRecordBytesMax);
  std::string out;
  AppendBigEndian64(out, payload.size());
  out = out.substr(4);  // u32 length
  out += Checksum(payload);
  out += payload;
  V2G_RETURN_IF_ERROR(WriteAll(out));
  if (sync && ::fdatasync(fd_) != 0) return Error(Code::kIo, "cannot sync WAL " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace v2g
