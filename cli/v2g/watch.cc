// `v2g watch`: follows GET /v1/stream (docs/API.md "Stream") in the terminal, as `tail -f` follows
// a file: blocks as they commit, the txs naming an account or a meter, the markets cleared and
// settled. A dropped connection is resumed with Last-Event-ID, so no event is missed or shown
// twice; `--count N` stops after N events (for scripts), `--output json` prints one JSON object
// per event and line.
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/v2g/context.h"
#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/limits.h"

namespace v2g::cli {
namespace {

// Reconnecting: after 1 s, doubling to at most this; a stream refused (bad options) ends at once.
constexpr int64_t kWatchRetryMsMax = 10'000;
// Connection failures in a row (no event between them) before watch gives up.
constexpr int kWatchFailuresMax = 30;

struct WatchOptions {
  std::string account;  // an address or a key name
  std::string meter;
  std::string types;
  std::string as;
  int64_t from = 0;
  int64_t count = 0;
};

std::string Op(const json& tx) {
  if (tx.contains("op") && tx["op"].is_object()) return tx["op"].value("type", "?");
  return tx.value("private", false) ? "(private)" : "?";
}

void PrintEvent(const std::string& id, const std::string& event, const json& d, bool as_json) {
  if (as_json) {
    std::cout << json{{"id", id}, {"event", event}, {"data", d}}.dump() << '\n' << std::flush;
    return;
  }
  std::string line;
  if (event == "block") {
    line = "block   " + std::to_string(d.value("height", int64_t{0})) + "  " +
           LocalTimeText(d, "time") + "  " + std::to_string(d.value("num_txs", int64_t{0})) +
           " txs";
  } else if (event == "tx") {
    line = "tx      " + std::to_string(d.value("height", int64_t{0})) + ":" +
           std::to_string(d.value("index", int64_t{0})) + "  " + d.value("hash", "?") + "  " +
           Op(d) + "  " + d.value("code_name", "?");
  } else if (event == "market_cleared") {
    line = "market  cleared  " + d.value("zone", "?") + " " + IntervalText(d) + "  price " +
           PriceText(d, "clearing_price") + "  " + Wh(d, "cleared_energy_wh") + "  " +
           std::to_string(d.value("trades", int64_t{0})) + " trades";
  } else if (event == "market_settled") {
    line = "market  settled  " + d.value("zone", "?") + " " + IntervalText(d) + "  delivered " +
           Wh(d, "delivered_energy_wh");
  } else {
    line = event + "  " + d.dump();  // a newer node's event: shown as it came
  }
  std::cout << line << '\n' << std::flush;
}

Status CmdWatch(Context& ctx, const WatchOptions& o) {
  std::vector<std::string> query;
  std::string reader = o.as;
  if (!o.account.empty()) {
    V2G_ASSIGN_OR_RETURN(ref, ResolveAccount(ctx.keystore(), o.account));
    query.push_back("account=" + ref.address_text);
    if (reader.empty()) reader = ref.key_name;  // the wallet's own account: its txs in full
  }
  if (!o.meter.empty()) {
    V2G_RETURN_IF_ERROR(CheckMeterIdArg(o.meter));
    query.push_back("meter=" + o.meter);
  }
  if (!o.types.empty()) query.push_back("types=" + o.types);
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  int64_t from = o.from;
  for (int failures = 0; from == 0;) {
    // The next block, named: a reconnect before the first event then starts there too, not at
    // whatever is next by then. A node not up yet is waited for, as a dropped stream is.
    auto status = client->GetStatus();
    if (status.ok()) {
      from = status->latest_height + 1;
    } else if (status.status().code() != Code::kUnavailable || ++failures > kWatchFailuresMax) {
      return status.status();
    } else {
      std::cerr << "watch: " << status.status().message() << "; trying again in 1 s\n";
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  query.push_back("from=" + std::to_string(from));
  std::string path = "/v1/stream";
  for (size_t i = 0; i < query.size(); ++i) path += (i == 0 ? "?" : "&") + query[i];

  if (!reader.empty()) {
    V2G_ASSIGN_OR_RETURN(key, ctx.LoadKey(reader));
    client->SetReader(key);
    client->SetReaderSource(nullptr);
  }
  if (!ctx.json()) {
    auto params = client->GetJson("/v1/params");
    if (params.ok()) SetDisplayUtcOffsetFrom(*params);
  }
  std::string last_id;
  int64_t shown = 0;
  int failures = 0;
  int64_t retry_ms = 1000;
  while (true) {
    Status st =
        client->Follow(path, last_id, 2 * limits::kStreamKeepaliveMs,
                       [&](const std::string& id, const std::string& event, const json& data) {
                         last_id = id;
                         failures = 0;
                         retry_ms = 1000;
                         PrintEvent(id, event, data, ctx.json());
                         return !(o.count > 0 && ++shown >= o.count);
                       });
    if (st.ok()) return st;                          // --count reached
    if (st.code() != Code::kUnavailable) return st;  // refused: the options, the reader
    if (++failures > kWatchFailuresMax) return st;
    std::cerr << "watch: " << st.message() << "; reconnecting in " << retry_ms / 1000 << " s"
              << (last_id.empty() ? "" : " (after event " + last_id + ")") << '\n';
    std::this_thread::sleep_for(std::chrono::milliseconds(retry_ms));
    retry_ms = std::min(retry_ms * 2, kWatchRetryMsMax);
  }
}

}  // namespace

void AddWatchCommands(CLI::App& app, CommandLine& cl) {
  WatchOptions& o = cl.Keep<WatchOptions>();
  auto* watch =
      cl.Command(&app, "watch",
                 "Follow the chain as it commits: blocks, an account's or a meter's txs, markets "
                 "cleared and settled (GET /v1/stream)",
                 [&o](Context& c) { return CmdWatch(c, o); });
  watch->add_option(
      "--account", o.account,
      "Also the txs naming this account (address or key name; read as that key when the wallet "
      "holds it)");
  watch->add_option("--meter", o.meter,
                    "Also the txs naming this meter id (its readings, registry changes)");
  watch->add_option("--types", o.types, "Only these events, comma-separated: block, tx, market");
  watch->add_option("--from", o.from, "Start at this height (default: the next block)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 62));
  watch
      ->add_option("--count", o.count,
                   "Stop after this many events (default: follow until interrupted)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 62));
  watch->add_option(
      "--as", o.as,
      "Key to sign the stream with (default: the --account key, if the wallet holds it)");
}

}  // namespace v2g::cli
