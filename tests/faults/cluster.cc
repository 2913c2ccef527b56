#include "tests/faults/cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/fsutil.h"
#include "common/bytes.h"
#include "common/crypto.h"
#include "node/config.h"
#include "node/keys.h"

namespace v2g::faults {

namespace {

constexpr int kBaseApiPort = 26657;  // what `v2gd testnet` assigns (node i: +10*i); rewritten below
constexpr int kApiPort = 26657;
constexpr int kP2pPort = 26656;
constexpr const char* kTag = "v2gf";  // every name this harness creates starts with it

std::string ShOut(const std::string& cmd, int* rc) {
  std::string out;
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!f) {
    *rc = -1;
    return "popen failed";
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (out.size() < (1u << 20)) out.append(buf, n);
  }
  int st = ::pclose(f);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// The run id (a pid) in a name "v2gf<pid>...", or 0.
int RunOf(const std::string& name) {
  if (name.rfind(kTag, 0) != 0) return 0;
  size_t i = std::strlen(kTag);
  int pid = 0;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && pid < 100'000'000) {
    pid = pid * 10 + (name[i] - '0');
    ++i;
  }
  return pid;
}

bool Alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace

Cluster::Cluster(ClusterOptions o) : o_(std::move(o)) {
  run_ = static_cast<int>(::getpid());
  net_a_ = 18 + run_ % 2;  // 198.18.0.0/15
  net_b_ = (run_ / 2) % 250;
  nodes_.resize(static_cast<size_t>(o_.validators));
}

Cluster::~Cluster() { Destroy(); }

std::string Cluster::Prefix() const { return std::string(kTag) + std::to_string(run_); }
std::string Cluster::Namespace(int i) const { return Prefix() + "n" + std::to_string(i); }
std::string Cluster::Home(int i) const { return o_.dir + "/net/node" + std::to_string(i); }
std::string Cluster::Ip(int i) const {
  return "198." + std::to_string(net_a_) + "." + std::to_string(net_b_) + "." + std::to_string(i + 1);
}
std::string Cluster::HostIp() const {
  return "198." + std::to_string(net_a_) + "." + std::to_string(net_b_) + ".254";
}
std::string Cluster::Api(int i) const { return "http://" + Ip(i) + ":" + std::to_string(kApiPort); }

Status Cluster::Sh(const std::string& cmd) {
  int rc = 0;
  std::string out = ShOut(cmd, &rc);
  if (rc != 0) return Error(Code::kInternal, "`" + cmd + "` failed (exit " + std::to_string(rc) + "): " + out);
  return Status::Ok();
}

void Cluster::RemoveStale() {
  int rc = 0;
  for (const std::string& line : Lines(ShOut("ip netns list", &rc))) {
    const std::string name = line.substr(0, line.find(' '));
    const int run = RunOf(name);
    if (run == 0 || Alive(run)) continue;
    for (const std::string& p : Lines(ShOut("ip netns pids " + name, &rc))) {
      if (!p.empty()) ::kill(std::stoi(p), SIGKILL);
    }
    ShOut("ip netns del " + name, &rc);
  }
  for (const std::string& line : Lines(ShOut("ip -o link show", &rc))) {
    // "12: v2gf123b: <...>" or "13: v2gf123v0@if2: ..."
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string name = line.substr(colon + 2);
    name = name.substr(0, name.find_first_of(":@"));
    const int run = RunOf(name);
    if (run != 0 && !Alive(run)) ShOut("ip link del " + name, &rc);
  }
  std::ifstream mounts("/proc/mounts");
  std::string dev, path, rest;
  while (mounts >> dev >> path && std::getline(mounts, rest)) {
    const int run = RunOf(dev);
    if (run != 0 && !Alive(run)) ::umount2(path.c_str(), MNT_DETACH);
  }
}

Status Cluster::Create() {
  if (o_.validators < 1 || o_.validators > kValidatorsMax) {
    return Error(Code::kInvalidArgument, "validators must be 1.." + std::to_string(kValidatorsMax));
  }
  V2G_RETURN_IF_ERROR(Sh("mkdir -p '" + o_.dir + "'"));
  V2G_RETURN_IF_ERROR(Sh("'" + o_.v2gd + "' testnet --open-reads --validators " + std::to_string(o_.validators) + " --output '" +
                         o_.dir + "/net' --chain-id v2g-faults --fee-min 0 --block-interval-ms " +
                         std::to_string(o_.block_interval_ms) + " --settlement-interval " +
                         std::to_string(kMarketIntervalS) + " --gate-closure " + std::to_string(kMarketGateClosureS) +
                         " --market-grace " + std::to_string(kMarketGraceS)));
  created_ = true;
  {
    std::ifstream g(Home(0) + "/genesis.json");
    auto j = nlohmann::json::parse(g, nullptr, false);
    if (j.is_discarded() || !j.contains("chain_id")) return Error(Code::kInternal, "cannot read genesis.json");
    chain_id_ = j["chain_id"].get<std::string>();
  }
  std::string liar_id;
  if (has_liar()) {
    const KeyPair liar = KeyPair::Generate();
    V2G_RETURN_IF_ERROR(SaveNodeKey(o_.dir + "/liar_key.json", liar));
    liar_id = HexEncode(ByteView(liar.public_key().data(), kPublicKeyBytes));
  }
  for (int i = 0; i < o_.validators; ++i) {
    auto key = LoadNodeKey(Home(i) + "/keys/node_key.json");
    if (!key.ok()) return key.status();
    node_ids_.push_back(HexEncode(ByteView(key->public_key().data(), kPublicKeyBytes)));
  }
  for (int i = 0; i < o_.validators; ++i) {
    const std::string path = Home(i) + "/config.toml";
    auto c = LoadConfig(path);
    if (!c.ok()) return c.status();
    c->api_listen = Ip(i) + ":" + std::to_string(kApiPort);
    c->p2p_listen = Ip(i) + ":" + std::to_string(kP2pPort);
    // Every client comes from the bridge's address.
    c->api_connections_per_address_max = c->api_connections_max;
    for (std::string& peer : c->p2p_peers) {
      const size_t at = peer.find('@'), colon = peer.rfind(':');
      if (at == std::string::npos || colon == std::string::npos) return Error(Code::kInternal, "peer " + peer);
      const int port = std::stoi(peer.substr(colon + 1));
      const int j = (port - (kBaseApiPort - 1)) / 10;
      peer = peer.substr(0, at + 1) + Ip(j) + ":" + std::to_string(kP2pPort);
    }
    if (has_liar()) {  // allowed and dialled like any configured peer
      c->p2p_allowed.push_back(liar_id);
      c->p2p_peers.push_back(liar_id + "@" + Ip(o_.validators) + ":" + std::to_string(kP2pPort));
    }
    V2G_RETURN_IF_ERROR(WriteFileAtomic(path, ConfigToToml(*c)));
  }
  const std::string br = Prefix() + "b";
  V2G_RETURN_IF_ERROR(Sh("ip link add " + br + " type bridge"));
  V2G_RETURN_IF_ERROR(Sh("ip addr add " + HostIp() + "/24 dev " + br));
  V2G_RETURN_IF_ERROR(Sh("ip link set " + br + " up"));
  // Bridged frames skip the host's iptables (Docker's FORWARD DROP would cut the nodes off).
  {
    std::ofstream nf("/sys/class/net/" + br + "/bridge/nf_call_iptables");
    if (nf) nf << "0\n";
  }
  const int hosts = o_.validators + (has_liar() ? 1 : 0);
  for (int i = 0; i < hosts; ++i) {
    const std::string ns = Namespace(i), veth = Prefix() + "v" + std::to_string(i),
                      peer = Prefix() + "p" + std::to_string(i);
    V2G_RETURN_IF_ERROR(Sh("ip netns add " + ns));
    V2G_RETURN_IF_ERROR(Sh("ip link add " + veth + " type veth peer name " + peer));
    V2G_RETURN_IF_ERROR(Sh("ip link set " + peer + " netns " + ns));
    V2G_RETURN_IF_ERROR(Sh("ip link set " + veth + " master " + br + " up"));
    V2G_RETURN_IF_ERROR(Sh("ip -n " + ns + " link set " + peer + " name eth0"));
    V2G_RETURN_IF_ERROR(Sh("ip -n " + ns + " addr add " + Ip(i) + "/24 dev eth0"));
    V2G_RETURN_IF_ERROR(Sh("ip -n " + ns + " link set eth0 up"));
    V2G_RETURN_IF_ERROR(Sh("ip -n " + ns + " link set lo up"));
    if (i < o_.validators) V2G_RETURN_IF_ERROR(SetRules(i, LinkRules{}));
  }
  if (o_.disk_node >= 0 && o_.disk_node < o_.validators) {
    const std::string data = Home(o_.disk_node) + "/data";
    V2G_RETURN_IF_ERROR(Sh("mkdir -p '" + data + "'"));
    V2G_RETURN_IF_ERROR(Sh("mount -t tmpfs -o size=" + std::to_string(kDiskBytes) + " " + Prefix() + " '" + data + "'"));
    nodes_[static_cast<size_t>(o_.disk_node)].mounted = true;
  }
  return Status::Ok();
}

void Cluster::Destroy() {
  if (!created_) return;
  created_ = false;
  int rc = 0;
  for (int i = 0; i < o_.validators; ++i) Kill(i);
  if (liar_pid_ > 0) {
    ::kill(liar_pid_, SIGKILL);
    ::waitpid(liar_pid_, nullptr, 0);
    liar_pid_ = -1;
  }
  for (int i = 0; i < o_.validators + (has_liar() ? 1 : 0); ++i) {
    ShOut("ip netns del " + Namespace(i), &rc);
    ShOut("ip link del " + Prefix() + "v" + std::to_string(i), &rc);
  }
  ShOut("ip link del " + Prefix() + "b", &rc);
  for (int i = 0; i < o_.validators; ++i) {
    if (nodes_[static_cast<size_t>(i)].mounted) ::umount2((Home(i) + "/data").c_str(), MNT_DETACH);
    nodes_[static_cast<size_t>(i)].mounted = false;
  }
}

namespace {

// Runs `args` (an `ip netns exec NS program ...` line: ip enters the namespace and execs the
// program in this same process) with stdout and stderr appended to `log` and `env` set.
Result<pid_t> Spawn(std::vector<std::string> args, const std::string& log,
                    const std::vector<std::pair<std::string, std::string>>& env) {
  // Everything the child needs is made before fork: other threads may hold the allocator's locks.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Error(Code::kInternal, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::setpgid(0, 0);  // the harness's own ^C is not theirs: it stops them itself
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // but a harness killed outright takes them with it
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

Status Cluster::Start(int i, int64_t clock_offset_ms) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (State(i) != NodeState::kStopped) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> env;
  if (clock_offset_ms != 0) env.emplace_back("V2GD_TEST_CLOCK_OFFSET_MS", std::to_string(clock_offset_ms));
  auto pid = Spawn({"ip", "netns", "exec", Namespace(i), o_.v2gd, "start", "--home", Home(i)},
                   o_.dir + "/node" + std::to_string(i) + ".log", env);
  if (!pid.ok()) return pid.status();
  n.pid = *pid;
  n.paused = false;
  n.clock_offset_ms = clock_offset_ms;
  return Status::Ok();
}

Status Cluster::StartLiar() {
  if (!has_liar() || liar_pid_ > 0) return Status::Ok();
  std::vector<std::string> args = {"ip", "netns", "exec", Namespace(o_.validators), o_.liar_bin,
                                   "--mode", o_.liar_mode, "--chain-id", chain_id_,
                                   "--node-key", o_.dir + "/liar_key.json",
                                   "--listen", Ip(o_.validators) + ":" + std::to_string(kP2pPort)};
  for (int i = 0; i < o_.validators; ++i) {
    args.push_back("--peer");
    args.push_back(node_ids_[static_cast<size_t>(i)] + "@" + Ip(i) + ":" + std::to_string(kP2pPort));
  }
  auto pid = Spawn(std::move(args), o_.dir + "/liar.log", {});
  if (!pid.ok()) return pid.status();
  liar_pid_ = *pid;
  return Status::Ok();
}

std::optional<int> Cluster::Kill(int i) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0) return std::nullopt;
  std::optional<int> exited;
  int st = 0;
  if (::waitpid(n.pid, &st, WNOHANG) == n.pid) {
    exited = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  } else {
    ::kill(n.pid, SIGKILL);
    ::waitpid(n.pid, nullptr, 0);
  }
  n.pid = -1;
  n.paused = false;
  return exited;
}

void Cluster::SaveDisk(int i) {
  if (!nodes_[static_cast<size_t>(i)].mounted) return;
  int rc = 0;
  ShOut("rm -rf '" + Home(i) + "/data.saved' && cp -a '" + Home(i) + "/data' '" + Home(i) + "/data.saved' && rm -f '" +
            Home(i) + "/data.saved/fault-filler'",
        &rc);
}

Status Cluster::Stop(int i, int timeout_ms) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0) return Status::Ok();
  if (n.paused) Resume(i);
  int early = 0;
  if (::waitpid(n.pid, &early, WNOHANG) == n.pid) {  // it ended on its own before we asked
    n.pid = -1;
    return Error(Code::kInternal, "node " + std::to_string(i) + " had already exited (status " +
                                      std::to_string(WIFEXITED(early) ? WEXITSTATUS(early) : 128 + WTERMSIG(early)) +
                                      ") when it was to be stopped");
  }
  ::kill(n.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (::waitpid(n.pid, &st, WNOHANG) == n.pid) {
      n.pid = -1;
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return Status::Ok();
      return Error(Code::kInternal, "node " + std::to_string(i) + " did not stop cleanly (status " +
                                        std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill(i);
  return Error(Code::kTimeout, "node " + std::to_string(i) + " did not stop within " +
                                            std::to_string(timeout_ms) + " ms of SIGTERM (killed)");
}

void Cluster::Pause(int i) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0 || n.paused) return;
  ::kill(n.pid, SIGSTOP);
  n.paused = true;
}

void Cluster::Resume(int i) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0 || !n.paused) return;
  ::kill(n.pid, SIGCONT);
  n.paused = false;
}

NodeState Cluster::State(int i) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0) return NodeState::kStopped;
  return n.paused ? NodeState::kPaused : NodeState::kRunning;
}

std::optional<int> Cluster::Reap(int i) {
  NodeProc& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0) return std::nullopt;
  int st = 0;
  if (::waitpid(n.pid, &st, WNOHANG) != n.pid) return std::nullopt;
  n.pid = -1;
  n.paused = false;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Status Cluster::SetRules(int i, const LinkRules& r) {
  std::string peers_in, peers_out;
  std::string in = "    type filter hook input priority 0; policy accept;\n";
  std::string out = "    type filter hook output priority 0; policy accept;\n";
  for (int j : r.cut) {
    in += "    ip saddr " + Ip(j) + " drop\n";
    out += "    ip daddr " + Ip(j) + " drop\n";
  }
  for (int j : r.deaf_to) in += "    ip saddr " + Ip(j) + " drop\n";
  const std::string net = "198." + std::to_string(net_a_) + "." + std::to_string(net_b_) + ".0/24";
  const std::string peers = "ip saddr " + net + " ip saddr != " + HostIp();
  if (r.loss_percent > 0) in += "    " + peers + " numgen random mod 100 < " + std::to_string(r.loss_percent) + " drop\n";
  if (r.rate_kbytes_s > 0) {
    in += "    " + peers + " limit rate over " + std::to_string(r.rate_kbytes_s) + " kbytes/second drop\n";
  }
  const std::string script = "table inet v2gf\ndelete table inet v2gf\ntable inet v2gf {\n  chain in {\n" + in +
                             "  }\n  chain out {\n" + out + "  }\n}\n";
  const std::string file = o_.dir + "/rules-node" + std::to_string(i) + ".nft";
  V2G_RETURN_IF_ERROR(WriteFileAtomic(file, script));
  V2G_RETURN_IF_ERROR(Sh("ip netns exec " + Namespace(i) + " nft -f '" + file + "'"));
  nodes_[static_cast<size_t>(i)].rules = r;
  return Status::Ok();
}

Status Cluster::ClearAllRules() {
  for (int i = 0; i < o_.validators; ++i) V2G_RETURN_IF_ERROR(SetRules(i, LinkRules{}));
  return Status::Ok();
}

Status Cluster::FillDisk(int i) {
  if (!nodes_[static_cast<size_t>(i)].mounted) return Error(Code::kInvalidArgument, "node has no fillable disk");
  const std::string path = Home(i) + "/data/fault-filler";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return Error(Code::kIo, path + ": " + std::strerror(errno));
  std::string chunk(1 << 20, '\0');
  for (int64_t written = 0; written <= kDiskBytes;) {
    ssize_t w = ::write(fd, chunk.data(), chunk.size());
    if (w <= 0) break;  // ENOSPC: full
    written += w;
  }
  // Smaller writes take the last pages.
  for (size_t sz = 4096; sz > 0; sz /= 2) {
    while (::write(fd, chunk.data(), sz) > 0) {
    }
  }
  ::close(fd);
  return Status::Ok();
}

Status Cluster::FreeDisk(int i) {
  const std::string path = Home(i) + "/data/fault-filler";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error(Code::kIo, path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace v2g::faults
