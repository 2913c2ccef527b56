#include "common/fsutil.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/bytes.h"

namespace v2g {
namespace {

Status IoError(const std::string& what, const std::string& path) {
  return Error(Code::kIo, what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Moves tmp to final without replacing an existing file. RENAME_NOREPLACE makes the "does it
// exist" check and the rename one atomic step; filesystems without it get link + unlink, which
// is also atomic and also refuses to replace.
Status RenameNoReplace(const std::string& tmp, const std::string& final_path) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  if (errno == EINVAL || errno == ENOSYS) {
    if (::link(tmp.c_str(), final_path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return Status::Ok();
    }
  }
  if (errno == EEXIST) return Error(Code::kAlreadyExists, final_path + " already exists");
  return IoError("cannot rename into", final_path);
}

// Creates `tmp` exclusively with `data` and `mode`, synced to disk.
Status WriteSyncedFile(const std::string& tmp, std::string_view data, unsigned mode) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return IoError("cannot create", tmp);
  // fchmod: the umask must not loosen or tighten what the caller asked for (0600 for secrets).
  Status st = ::fchmod(fd, mode) == 0 ? Status::Ok() : IoError("cannot chmod", tmp);
  if (st.ok()) st = WriteAll(fd, data, tmp);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("cannot sync", tmp);
  if (::close(fd) != 0 && st.ok()) st = IoError("cannot close", tmp);
  return st;
}

}  // namespace

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory", dir);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return IoError("cannot sync directory", dir);
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode, Overwrite overwrite) {
  // A unique temp name: two writers (or a leftover from a crash) never write into one temp file.
  uint8_t rnd[8];
  randombytes_buf(rnd, sizeof(rnd));
  const std::string tmp = path + ".tmp-" + HexEncode(ByteView(rnd, sizeof(rnd)));
  Status st = WriteSyncedFile(tmp, data, mode);
  if (st.ok()) {
    if (overwrite == Overwrite::kRefuse) {
      st = RenameNoReplace(tmp, path);
    } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
      st = IoError("cannot rename into", path);
    }
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return SyncDir(dir.empty() ? "." : dir);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::kIo, "cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status MakeDirs(const std::string& path, unsigned mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Error(Code::kIo, "cannot create directory " + path + ": " + ec.message());
  ::chmod(path.c_str(), mode);
  return Status::Ok();
}

}  // namespace v2g
