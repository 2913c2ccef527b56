// Test harness for integration tests: real v2gd processes on loopback ports, always stopped.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace v2g::testing {

// A fresh directory under /tmp, removed when the object dies (unless V2G_KEEP_TMP is set).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to 0 and released). Successive calls
// in one process never return the same port.
int FreePort();
// A base port for `v2gd testnet --base-port B` with `nodes` nodes: every port the testnet assigns
// (B + 10*i for the API, B - 1 + 10*i for P2P) was free a moment ago, and is claimed for the life
// of this process against other test processes that call this too (ctest -j). Below 32768, so
// never among FreePort's.
int FreeTestnetBasePort(int nodes);

// Runs a program to completion; returns its exit code and combined output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult Run(const std::vector<std::string>& argv);

// A child process with stdout/stderr appended to a log file. Killed (SIGKILL) on destruction if
// still running.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  void Signal(int sig);
  // Waits for exit; returns the exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(int timeout_ms);
  bool Running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Minimal JSON-over-HTTP client for the node API.
struct HttpReply {
  int status = 0;  // 0 = no connection
  nlohmann::json body;
};
HttpReply HttpGet(int port, const std::string& path);
HttpReply HttpPost(int port, const std::string& path, const nlohmann::json& body);
// Polls GET /v1/health until it answers 200 or timeout_ms passes.
bool WaitHealthy(int port, int timeout_ms);

std::string ReadFileOrEmpty(const std::string& path);

}  // namespace v2g::testing
