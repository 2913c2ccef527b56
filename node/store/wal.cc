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

namespace {

class PosixWalFile : public WalFile {
 public:
  PosixWalFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWalFile() override { ::close(fd_); }
  Result<std::string> ReadAll() override {
    if (::lseek(fd_, 0, SEEK_SET) < 0) return Errno("seek");
    std::string data;
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("read");
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    return data;
  }
  Status Truncate(size_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0 || ::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0) {
      return Errno("truncate");
    }
    return Status::Ok();
  }
  Status Append(const std::string& data) override {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write");
      }
      off += static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("sync");
    return Status::Ok();
  }
  const std::string& name() const override { return path_; }

 private:
  Status Errno(const char* what) const {
    return Error(Code::kIo, std::string("cannot ") + what + " WAL " + path_ + ": " + std::strerror(errno));
  }
  std::string path_;
  int fd_;
};

}  // namespace

Result<std::unique_ptr<WalFile>> OpenWalFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error(Code::kIo, "cannot open WAL " + path + ": " + std::strerror(errno));
  return std::unique_ptr<WalFile>(new PosixWalFile(path, fd));
}

Result<std::unique_ptr<Wal>> Wal::Open(const std::string& path) {
  auto file = OpenWalFile(path);
  if (!file.ok()) return file.status();
  return Open(std::move(*file));
}

Result<std::unique_ptr<Wal>> Wal::Open(std::unique_ptr<WalFile> file) {
  auto read = file->ReadAll();
  if (!read.ok()) return read.status();
  const std::string data = std::move(*read);
  std::unique_ptr<Wal> wal(new Wal(std::move(file)));
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
  V2G_RETURN_IF_ERROR(wal->file_->Truncate(off));
  return wal;
}

Wal::~Wal() = default;

Status Wal::StartHeight(int64_t height) {
  V2G_RETURN_IF_ERROR(file_->Truncate(0));
  pb::WalRecord rec;
  rec.set_height(height);
  return Append(rec, true);
}

Status Wal::Sync() { return file_->Sync(); }

Status Wal::Append(const pb::WalRecord& rec, bool sync) {
  std::string payload = Encode(rec);
  V2G_ASSERT(payload.size() <= kWalRecordBytesMax);
  std::string out;
  AppendBigEndian64(out, payload.size());
  out = out.substr(4);  // u32 length
  out += Checksum(payload);
  out += payload;
  V2G_RETURN_IF_ERROR(file_->Append(out));
  if (sync) return file_->Sync();
  return Status::Ok();
}

}  // namespace v2g
