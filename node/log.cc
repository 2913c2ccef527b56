#include "node/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace v2g::log {
namespace {

struct Context {
  int64_t height = -1;  // -1: not the consensus thread
  int32_t round = 0;
  std::optional<PublicKey> peer;
};
thread_local Context t_context;

std::mutex g_node_mu;
std::string g_node;  // guarded by g_node_mu

std::string IsoTimeMs(int64_t time_ms) {
  const std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // the widest ints the format can print
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(time_ms % 1000));
  return buf;
}

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string node;
    {
      std::lock_guard<std::mutex> lock(g_node_mu);
      node = g_node;
    }
    const std::string line = JsonLine(ms, std::string_view(level.data(), level.size()), node,
                                      std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::string JsonLine(int64_t time_ms, std::string_view level, std::string_view node,
                     std::string_view msg) {
  nlohmann::ordered_json j;
  j["time"] = IsoTimeMs(time_ms);
  j["level"] = level;
  if (!node.empty()) j["node"] = node;
  j["msg"] = msg;
  if (t_context.height >= 0) {
    j["height"] = t_context.height;
    j["round"] = t_context.round;
  }
  if (t_context.peer) j["peer"] = HexEncode(ByteView(*t_context.peer));
  // Invalid UTF-8 (a peer's or a client's bytes quoted in a message) becomes U+FFFD, never an
  // exception and never a line a parser refuses.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Status Configure(const std::string& level, const std::string& format, const std::string& node) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Error(Code::kInvalidArgument, "log.level: unknown level " + level);
  }
  if (format != "text" && format != "json") {
    return Error(Code::kInvalidArgument, "log.format: must be text or json, not " + format);
  }
  {
    std::lock_guard<std::mutex> lock(g_node_mu);
    g_node = node;
  }
  spdlog::set_level(lvl);
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_formatter(std::make_unique<spdlog::pattern_formatter>());  // spdlog's default lines
  }
  return Status::Ok();
}

void SetConsensus(int64_t height, int32_t round) {
  t_context.height = height;
  t_context.round = round;
}

PeerScope::PeerScope(const std::optional<PublicKey>& peer) : previous_(t_context.peer) {
  t_context.peer = peer;
}

PeerScope::~PeerScope() { t_context.peer = previous_; }

}  // namespace v2g::log
