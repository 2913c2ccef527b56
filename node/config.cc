#include "node/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "common/bech32.h"
#include "common/limits.h"
#include "common/fsutil.h"

namespace v2g {

Config DefaultConfig() {
  Config c;
  c.mempool_txs_max = limits::kMempoolTxsDefault;
  c.mempool_bytes_max = limits::kMempoolBytesDefault;
  c.mempool_per_sender_max = limits::kMempoolPerSenderDefault;
  c.mempool_units_max = limits::kMempoolUnitsDefault;
  return c;
}

Status SplitHostPort(const std::string& hostport, std::string* host, int* port) {
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || colon == 0) return Error(Code::kInvalidArgument, "'" + hostport + "' is not host:port");
  std::string p = hostport.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return Error(Code::kInvalidArgument, "'" + hostport + "' has no valid port");
  }
  int v = std::stoi(p);
  if (v < 1 || v > 65535) return Error(Code::kInvalidArgument, "'" + hostport + "' port out of range");
  *host = hostport.substr(0, colon);
  *port = v;
  return Status::Ok();
}

namespace {

Status KeyError(const std::string& src, const std::string& key, const std::string& what) {
  return Error(Code::kInvalidArgument, src + ": " + key + ": " + what);
}

Status GetInt(const toml::table& t, const std::string& src, const char* section, const char* key,
              int64_t lo, int64_t hi, int64_t& out) {
  auto node = t[section][key];
  if (!node) return Status::Ok();
  std::string name = std::string(section) + "." + key;
  auto v = node.value<int64_t>();
  if (!node.is_integer() || !v) return KeyError(src, name, "must be an integer");
  if (*v < lo || *v > hi) {
    return KeyError(src, name, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  out = *v;
  return Status::Ok();
}

Status GetString(const toml::table& t, const std::string& src, const char* section, const char* key, std::string& out) {
  toml::node_view<const toml::node> node = section ? t[section][key] : t[key];
  if (!node) return Status::Ok();
  std::string name = section ? std::string(section) + "." + key : key;
  if (!node.is_string()) return KeyError(src, name, "must be a string");
  out = *node.value<std::string>();
  return Status::Ok();
}

Status GetStringList(const toml::table& t, const std::string& src, const char* section, const char* key,
                     std::vector<std::string>& out) {
  auto node = t[section][key];
  if (!node) return Status::Ok();
  std::string name = std::string(section) + "." + key;
  const toml::array* arr = node.as_array();
  if (!arr) return KeyError(src, name, "must be an array of strings");
  out.clear();
  for (size_t i = 0; i < arr->size(); ++i) {
    auto v = (*arr)[i].value<std::string>();
    if (!(*arr)[i].is_string() || !v) return KeyError(src, name + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back(*v);
  }
  return Status::Ok();
}

// A misspelt key would otherwise be silently ignored and its default used: refuse it instead.
Status CheckKnownKeys(const toml::table& t, const std::string& src) {
  static const std::map<std::string, std::set<std::string>> kKnown = {
      {"api",
       {"listen", "threads", "queue_max", "wait_slots", "connections_max",
        "connections_per_address_max", "header_timeout_ms", "body_timeout_ms", "idle_timeout_ms",
        "write_timeout_ms", "private_reads", "full_readers", "explorer", "explorer_dir"}},
      {"p2p", {"listen", "peers", "allowed"}},
      {"consensus",
       {"block_interval_ms", "create_empty_blocks", "timeout_propose_ms",
        "timeout_propose_delta_ms", "timeout_vote_ms", "timeout_vote_delta_ms"}},
      {"mempool", {"txs_max", "bytes_max", "per_sender_max", "units_max"}},
      {"log", {"level", "format"}},
      {"instrumentation", {"prometheus", "prometheus_listen_addr"}},
      {"keys", {"passphrase_file"}},
  };
  for (const auto& [key, node] : t) {
    const std::string k(key.str());
    if (k == "moniker") continue;
    auto section = kKnown.find(k);
    if (section == kKnown.end()) return KeyError(src, k, "unknown key or section");
    const toml::table* sub = node.as_table();
    if (!sub) return KeyError(src, k, "must be a [" + k + "] section");
    for (const auto& [subkey, _] : *sub) {
      if (k == "consensus" && subkey.str() == "max_time_drift_ms") {
        return KeyError(src, "consensus.max_time_drift_ms",
                        "is no longer used: block time is BFT time (the median of the last commit's timestamps), "
                        "not the proposer's clock; delete the line");
      }
      if (k == "keys" && subkey.str() == "passphrase") {
        return KeyError(src, "keys.passphrase",
                        "is not read from config.toml: put the passphrase in a file of its own "
                        "(mode 0600) and name it in keys.passphrase_file, or set "
                        "V2GD_KEY_PASSPHRASE");
      }
      if (!section->second.count(std::string(subkey.str()))) {
        return KeyError(src, k + "." + std::string(subkey.str()), "unknown key");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, const std::string& src) {
  toml::table t;
  try {
    t = toml::parse(text, src);
  } catch (const toml::parse_error& err) {
    return Error(Code::kInvalidArgument, src + ":" + std::to_string(err.source().begin.line) + ": " +
                                             std::string(err.description()));
  }
  V2G_RETURN_IF_ERROR(CheckKnownKeys(t, src));
  Config c = DefaultConfig();
  V2G_RETURN_IF_ERROR(GetString(t, src, nullptr, "moniker", c.moniker));
  V2G_RETURN_IF_ERROR(GetString(t, src, "api", "listen", c.api_listen));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "threads", 2, 256, c.api_threads));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "queue_max", 0, 100'000, c.api_queue_max));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "wait_slots", 1, 1024, c.api_wait_slots));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "connections_max", 4, 100'000, c.api_connections_max));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "connections_per_address_max", 1, 100'000,
                             c.api_connections_per_address_max));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "header_timeout_ms", 100, 60'000, c.api_header_timeout_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "body_timeout_ms", 100, 600'000, c.api_body_timeout_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "idle_timeout_ms", 100, 3'600'000, c.api_idle_timeout_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "api", "write_timeout_ms", 100, 600'000, c.api_write_timeout_ms));
  if (auto n = t["api"]["private_reads"]) {
    if (!n.is_boolean()) return KeyError(src, "api.private_reads", "must be true or false");
    c.api_private_reads = *n.value<bool>();
  }
  V2G_RETURN_IF_ERROR(GetStringList(t, src, "api", "full_readers", c.api_full_readers));
  if (auto n = t["api"]["explorer"]) {
    if (!n.is_boolean()) return KeyError(src, "api.explorer", "must be true or false");
    c.api_explorer = *n.value<bool>();
  }
  V2G_RETURN_IF_ERROR(GetString(t, src, "api", "explorer_dir", c.api_explorer_dir));
  for (const std::string& a : c.api_full_readers) {
    if (auto d = DecodeAddress(a); !d.ok()) {
      return KeyError(src, "api.full_readers", "'" + a + "' is not an address: " + d.status().message());
    }
  }
  V2G_RETURN_IF_ERROR(GetString(t, src, "p2p", "listen", c.p2p_listen));
  V2G_RETURN_IF_ERROR(GetStringList(t, src, "p2p", "peers", c.p2p_peers));
  V2G_RETURN_IF_ERROR(GetStringList(t, src, "p2p", "allowed", c.p2p_allowed));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "consensus", "block_interval_ms", 50, 60000, c.block_interval_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "consensus", "timeout_propose_ms", 50, 60000, c.timeout_propose_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "consensus", "timeout_propose_delta_ms", 0, 60000, c.timeout_propose_delta_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "consensus", "timeout_vote_ms", 50, 60000, c.timeout_vote_ms));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "consensus", "timeout_vote_delta_ms", 0, 60000, c.timeout_vote_delta_ms));
  if (auto n = t["consensus"]["create_empty_blocks"]) {
    if (!n.is_boolean()) return KeyError(src, "consensus.create_empty_blocks", "must be true or false");
    c.create_empty_blocks = *n.value<bool>();
  }
  V2G_RETURN_IF_ERROR(GetInt(t, src, "mempool", "txs_max", 1, 10'000'000, c.mempool_txs_max));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "mempool", "bytes_max", 1024, int64_t{8} << 30, c.mempool_bytes_max));
  V2G_RETURN_IF_ERROR(GetInt(t, src, "mempool", "per_sender_max", 1, 1'000'000, c.mempool_per_sender_max));
  // At least the largest tx (limits::kBlockUnitsMin units), or a full readings batch never fits.
  V2G_RETURN_IF_ERROR(
      GetInt(t, src, "mempool", "units_max", limits::kBlockUnitsMin, 100'000'000, c.mempool_units_max));
  V2G_RETURN_IF_ERROR(GetString(t, src, "log", "level", c.log_level));
  static const std::string kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return KeyError(src, "log.level", "must be one of trace, debug, info, warn, error, off");
  }
  V2G_RETURN_IF_ERROR(GetString(t, src, "log", "format", c.log_format));
  if (c.log_format != "text" && c.log_format != "json")
    return KeyError(src, "log.format", "must be text or json");
  if (auto n = t["instrumentation"]["prometheus"]) {
    if (!n.is_boolean())
      return KeyError(src, "instrumentation.prometheus", "must be true or false");
    c.prometheus = *n.value<bool>();
  }
  V2G_RETURN_IF_ERROR(
      GetString(t, src, "instrumentation", "prometheus_listen_addr", c.prometheus_listen_addr));
  V2G_RETURN_IF_ERROR(GetString(t, src, "keys", "passphrase_file", c.keys_passphrase_file));
  if (c.keys_passphrase_file.find('\0') != std::string::npos) {
    return KeyError(src, "keys.passphrase_file", "must not contain a NUL character");
  }
  std::string host;
  int port;
  if (Status st = SplitHostPort(c.api_listen, &host, &port); !st.ok()) return KeyError(src, "api.listen", st.message());
  if (Status st = SplitHostPort(c.p2p_listen, &host, &port); !st.ok()) return KeyError(src, "p2p.listen", st.message());
  if (!c.prometheus_listen_addr.empty()) {
    if (Status st = SplitHostPort(c.prometheus_listen_addr, &host, &port); !st.ok()) {
      return KeyError(src, "instrumentation.prometheus_listen_addr", st.message());
    }
    if (c.prometheus_listen_addr == c.api_listen || c.prometheus_listen_addr == c.p2p_listen) {
      return KeyError(src, "instrumentation.prometheus_listen_addr",
                      "must differ from api.listen and p2p.listen");
    }
  }
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

namespace {

// A TOML basic string holding `v` exactly: quotes, backslashes and control characters escaped
// (a raw one would make the file unreadable, or read back as something else).
std::string TomlString(std::string_view v) {
  std::string o = "\"";
  for (const char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      o += '\\';
      o += ch;
    } else if (u < 0x20 || u == 0x7f) {
      char esc[16];
      std::snprintf(esc, sizeof esc, "\\u%04X", static_cast<unsigned>(u));
      o += esc;
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

}  // namespace

std::string ConfigToToml(const Config& c) {
  std::string out;
  out += "# v2gd node configuration. Consensus rules are in genesis.json, not here.\n";
  out += "moniker = " + TomlString(c.moniker) + "\n\n";
  out += "[api]\n# HTTP API (JSON under /v1).\nlisten = " + TomlString(c.api_listen) + "\n";
  out += "# Worker threads for the handlers; requests queued for them (more get 503 + Retry-After).\n";
  out += "threads = " + std::to_string(c.api_threads) + "\n";
  out += "queue_max = " + std::to_string(c.api_queue_max) + "\n";
  out += "# Concurrent POST /v1/txs?wait=commit, on their own threads (more get 503).\n";
  out += "wait_slots = " + std::to_string(c.api_wait_slots) + "\n";
  out += "# Open connections; at the cap the longest-idle one is closed for a newcomer, else the\n";
  out += "# slowest reader (bytes/s) that has been reading a request for a second.\n";
  out += "connections_max = " + std::to_string(c.api_connections_max) + "\n";
  out += "# Open connections from one client address (IPv6: its /64); more get 503. Behind a\n";
  out += "# reverse proxy every client has the proxy's address: set it to connections_max there.\n";
  out += "connections_per_address_max = " + std::to_string(c.api_connections_per_address_max) + "\n";
  out += "# Slow clients are cut off: first byte to end of header, header to end of body,\n";
  out += "# keep-alive between requests, writing one answer.\n";
  out += "header_timeout_ms = " + std::to_string(c.api_header_timeout_ms) + "\n";
  out += "body_timeout_ms = " + std::to_string(c.api_body_timeout_ms) + "\n";
  out += "idle_timeout_ms = " + std::to_string(c.api_idle_timeout_ms) + "\n";
  out += "write_timeout_ms = " + std::to_string(c.api_write_timeout_ms) + "\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string o = "[";
    for (size_t i = 0; i < v.size(); ++i) o += (i ? ",\n  " : "\n  ") + TomlString(v[i]);
    return o + (v.empty() ? "]" : ",\n]");
  };
  out += "# Personal data (readings, balances, orders, statements, ...) only to the accounts entitled\n";
  out += "# to it, by signed reads (docs/API.md \"Signed reads\"); false serves everything to everyone:\n";
  out += "# only for a node that nobody but the operator's own tools can reach.\n";
  out += "private_reads = " + std::string(c.api_private_reads ? "true" : "false") + "\n";
  out += "# Accounts (v2g1...) that may read everything: the operator's indexer or auditor.\n";
  out += "full_readers = " + list(c.api_full_readers) + "\n";
  out += "# The block explorer page at / (docs/API.md \"Explorer\").\n";
  out += "explorer = " + std::string(c.api_explorer ? "true" : "false") + "\n";
  out +=
      "# Serve the page's files from this folder instead of the copy built in (working on it).\n";
  out += "explorer_dir = " + TomlString(c.api_explorer_dir) + "\n\n";
  out += "[p2p]\nlisten = " + TomlString(c.p2p_listen) + "\n";
  out += "# <hex node id>@host:port, dialled and redialled with backoff.\npeers = " + list(c.p2p_peers) + "\n";
  out += "# Node ids allowed in besides the genesis validators'.\nallowed = " + list(c.p2p_allowed) + "\n\n";
  out += "[consensus]\n# Target time between blocks.\nblock_interval_ms = " + std::to_string(c.block_interval_ms) + "\n";
  out += "create_empty_blocks = " + std::string(c.create_empty_blocks ? "true" : "false") + "\n";
  out += "# Round timeouts grow by delta each round.\n";
  out += "timeout_propose_ms = " + std::to_string(c.timeout_propose_ms) + "\n";
  out += "timeout_propose_delta_ms = " + std::to_string(c.timeout_propose_delta_ms) + "\n";
  out += "timeout_vote_ms = " + std::to_string(c.timeout_vote_ms) + "\n";
  out += "timeout_vote_delta_ms = " + std::to_string(c.timeout_vote_delta_ms) + "\n\n";
  out += "[mempool]\ntxs_max = " + std::to_string(c.mempool_txs_max) + "\n";
  out += "bytes_max = " + std::to_string(c.mempool_bytes_max) + "\n";
  out += "per_sender_max = " + std::to_string(c.mempool_per_sender_max) + "\n";
  out += "units_max = " + std::to_string(c.mempool_units_max) + "\n\n";
  out += "[log]\n# trace, debug, info, warn, error, off\nlevel = " + TomlString(c.log_level) + "\n";
  out +=
      "# text, or json: one object per line with time, level, msg and the height, round and peer\n";
  out += "# the line is about.\nformat = " + TomlString(c.log_format) + "\n\n";
  out += "[instrumentation]\n# GET /metrics in the Prometheus text format.\n";
  out += "prometheus = " + std::string(c.prometheus ? "true" : "false") + "\n";
  out +=
      "# Empty: /metrics on the API's address. host:port: only there (keep it off public "
      "networks).\n";
  out += "prometheus_listen_addr = " + TomlString(c.prometheus_listen_addr) + "\n\n";
  out += "[keys]\n# A file (absolute, or relative to this home; mode 0600) whose first line\n";
  out += "# is the passphrase of encrypted key files ('v2gd keys encrypt');\n";
  out += "# $V2GD_KEY_PASSPHRASE, when set, is used instead. Empty: none (plain key files).\n";
  out += "passphrase_file = " + TomlString(c.keys_passphrase_file) + "\n";
  return out;
}

}  // namespace v2g
