#include "tests/integration/harness.h"

#include <fcntl.h>
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

int FreeTestnetBasePort(int nodes) {
  static std::set<int> handed_out;
  // Spread processes apart by pid so parallel test binaries rarely probe the same range.
  int candidate = 20000 + static_cast<int>(::getpid() % 2000) * 10;
  for (int attempt = 0; attempt < 2000; ++attempt, candidate += 10 * nodes + 10) {
    if (candidate + 10 * nodes > 60000) candidate = 20000 + attempt % 10;
    if (handed_out.count(candidate)) continue;
    bool ok = true;
    for (int i = 0; i < nodes && ok; ++i) ok = PortFree(candidate + 10 * i) && PortFree(candidate - 1 + 10 * i);
    if (ok) {
      handed_out.insert(candidate);
      return candidate;
    }
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
