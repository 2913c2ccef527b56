#include "tests/integration/harness.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace v2g::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/v2g-it-XXXXXX";
  char* p = ::mkdtemp(tmpl);
  if (!p) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  if (std::getenv("V2G_KEEP_TMP")) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int FreePort() {
  static std::set<int> handed_out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    if (port > 0 && handed_out.insert(port).second) return port;
  }
  std::abort();
}

namespace {
bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}
}  // namespace

namespace {
// Claims the 10-port slot at `port` for the rest of this process: an flock on a file named after
// it, whose descriptor is never closed (the kernel releases it when the process exits, however it
// exits). False when another process holds it. The file is 0600: its content is never read
// (the lock is all), and no other user could use it anyway (opening it read-write needs write
// access); a slot whose file another user owns fails to open and counts as taken.
bool ClaimSlot(int port, std::vector<int>* fds) {
  static const std::string dir = "/tmp/v2g-it-ports";
  ::mkdir(dir.c_str(), 01777);
  int fd = ::open((dir + "/" + std::to_string(port)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  fds->push_back(fd);
  return true;
}
}  // namespace

int FreeTestnetBasePort(int nodes) {
  // Parallel test binaries (ctest -j) probe at about the same moment, before any of them binds, so
  // a probe alone lets two of them pick overlapping ranges (it did). Each slot of 10 ports a
  // testnet uses is therefore also claimed across processes (ClaimSlot). Candidates stay below
  // 32768, where Linux's ephemeral ports (FreePort, outgoing connections) begin, and start apart
  // by pid so parallel binaries rarely contend for the same slots.
  constexpr int kLow = 20000, kHigh = 32760;
  const int span = 10 * nodes + 10;
  int candidate = kLow + static_cast<int>(::getpid() % ((kHigh - kLow) / 10)) * 10;
  for (int attempt = 0; attempt < 4000; ++attempt, candidate += span) {
    if (candidate + span > kHigh) candidate = kLow + (attempt % 10) * 10;
    std::vector<int> fds;
    bool ok = true;
    for (int i = 0; i < nodes && ok; ++i) {
      ok = ClaimSlot(candidate + 10 * i, &fds) && PortFree(candidate + 10 * i) &&
           PortFree(candidate - 1 + 10 * i);
    }
    if (ok) return candidate;
    for (int fd : fds) ::close(fd);  // releases this process's claims of the rejected range
  }
  std::abort();
}

namespace {
pid_t Spawn(const std::vector<std::string>& argv, int out_fd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}
}  // namespace

RunResult Run(const std::vector<std::string>& argv) {
  char tmpl[] = "/tmp/v2g-run-XXXXXX";
  int fd = ::mkstemp(tmpl);
  pid_t pid = Spawn(argv, fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fd);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.output = ReadFileOrEmpty(tmpl);
  ::unlink(tmpl);
  return r;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = Spawn(argv, fd);
  ::close(fd);
}

Process::~Process() {
  if (Running()) {
    Signal(SIGKILL);
    Wait(10000);
  }
}

void Process::Signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!reaped_) {
    pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

bool Process::Running() {
  if (reaped_) return false;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

namespace {
HttpReply ToReply(const httplib::Result& res) {
  HttpReply r;
  if (!res) return r;
  r.status = res->status;
  r.body = nlohmann::json::parse(res->body, nullptr, false);
  return r;
}
}  // namespace

HttpReply HttpGet(int port, const std::string& path) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(30, 0);
  return ToReply(cli.Get(path));
}

HttpReply HttpPost(int port, const std::string& path, const nlohmann::json& body) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(30, 0);
  return ToReply(cli.Post(path, body.dump(), "application/json"));
}

bool WaitHealthy(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpGet(port, "/v1/health").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace v2g::testing
