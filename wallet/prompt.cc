#include "wallet/prompt.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/crypto.h"

namespace v2g {
namespace {

// The terminal settings to put back if a signal arrives while echo is off. Only one prompt runs
// at a time (the CLI is single-threaded).
int g_restore_fd = -1;
termios g_restore_termios{};

void RestoreTerminalAndReraise(int sig) {
  if (g_restore_fd >= 0) ::tcsetattr(g_restore_fd, TCSAFLUSH, &g_restore_termios);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Turns echo off on `fd` for its lifetime (when `fd` is a terminal).
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;  // not a terminal: nothing to do
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    g_restore_fd = fd_;
    g_restore_termios = saved_;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
      struct sigaction sa {};
      sa.sa_handler = RestoreTerminalAndReraise;
      ::sigaction(sig, &sa, &old_[Index(sig)]);
    }
    active_ = ::tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (g_restore_fd != fd_) return;
    if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &old_[Index(sig)], nullptr);
    g_restore_fd = -1;
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  static size_t Index(int sig) {
    return sig == SIGINT ? 0 : sig == SIGTERM ? 1 : sig == SIGHUP ? 2 : 3;
  }
  int fd_;
  termios saved_{};
  struct sigaction old_[4]{};
  bool active_ = false;
};

// Reads up to '\n' (dropped, with a '\r' before it). The buffer is reserved up front so the
// secret is never copied by a reallocation and left behind in freed memory.
Result<std::string> ReadLine(int fd, std::string_view what) {
  std::string line;
  line.reserve(kSecretLineMax + 1);
  while (true) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      SecureWipe(line.data(), line.size());
      return Error(Code::kIo, "cannot read " + std::string(what) + ": " + std::strerror(errno));
    }
    if (n == 0 || c == '\n') break;
    if (line.size() == kSecretLineMax) {
      SecureWipe(line.data(), line.size());
      return Error(Code::kInvalidArgument, std::string(what) + " is longer than " +
                                               std::to_string(kSecretLineMax) + " characters");
    }
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> ReadFromTty(std::string_view prompt, bool echo) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Error(Code::kUnavailable,
                 "no terminal to ask for input on (use --passphrase-file or V2G_PASSPHRASE)");
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  Result<std::string> line = Error(Code::kInternal, "unreachable");
  if (echo) {
    line = ReadLine(fd, "input");
  } else {
    EchoOff quiet(fd);
    line = ReadLine(fd, "input");
  }
  ::close(fd);
  return line;
}

}  // namespace

Result<std::string> ReadSecretFromTerminal(std::string_view prompt) {
  return ReadFromTty(prompt, false);
}

Result<std::string> ReadLineFromTerminal(std::string_view prompt) {
  return ReadFromTty(prompt, true);
}

Result<std::string> ReadSecretLine(int fd, std::string_view what) {
  EchoOff quiet(fd);
  auto line = ReadLine(fd, what);
  if (line.ok() && line->empty())
    return Error(Code::kInvalidArgument, std::string(what) + " is empty");
  return line;
}

Result<std::string> ReadFirstLineOfFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(Code::kIo, "cannot open " + path + ": " + std::strerror(errno));
  auto line = ReadLine(fd, "passphrase file " + path);
  ::close(fd);
  return line;
}

}  // namespace v2g
