// Four real validators and the real wallet: the meter simulator registers a fleet and submits
// signed readings through one node; every node then attests exactly the energy the simulator
// sent, per meter and settlement interval.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/integration/harness.h"

namespace v2g {
namespace {

using json = nlohmann::json;
using testing::HttpGet;
using testing::Process;

const std::string kV2gd = V2GD_PATH;
const std::string kV2g = V2G_PATH;
constexpr int kNodes = 4;

// {interval start -> (import, export)} with zero intervals dropped, from either side's JSON.
std::map<int64_t, std::pair<int64_t, int64_t>> Intervals(const json& intervals) {
  auto num = [](const json& v) { return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>(); };
  std::map<int64_t, std::pair<int64_t, int64_t>> out;
  for (const auto& i : intervals) {
    int64_t imp = num(i["import_wh"]), exp = num(i["export_wh"]);
    if (imp != 0 || exp != 0) out[num(i["interval_start_s"])] = {imp, exp};
  }
  return out;
}

TEST(MetersOnFourValidators, EveryNodeAttestsWhatTheSimulatorSent) {
  testing::TempDir dir;
  const std::string wallet = dir.path() + "/wallet";
  ::setenv("V2G_HOME", wallet.c_str(), 1);
  ::setenv("V2G_PASSPHRASE", "meters-test-passphrase", 1);
  for (const char* name : {"issuer", "alice"}) {
    auto r = testing::Run({kV2g, "keys", "add", name});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  auto show = testing::Run({kV2g, "keys", "show", "issuer", "--output", "json"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  const std::string issuer = json::parse(show.output)["address"];

  const int base = testing::FreeTestnetBasePort(kNodes);
  auto tn = testing::Run({kV2gd, "testnet", "--validators", std::to_string(kNodes), "--output", dir.path(),
                          "--issuer", issuer, "--base-port", std::to_string(base), "--block-interval-ms", "200",
                          "--settlement-interval", "60", "--market-grace", "60"});
  ASSERT_EQ(tn.exit_code, 0) << tn.output;
  std::vector<std::unique_ptr<Process>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    std::string home = dir.path() + "/node" + std::to_string(i);
    nodes.push_back(std::make_unique<Process>(std::vector<std::string>{kV2gd, "start", "--home", home}, home + ".log"));
  }
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(testing::WaitHealthy(base + 10 * i, 20000));

  // The genesis issuer is also the operator: it registers alice's vehicles; they report every 5 s
  // for 30 s as each reading's span ends (no reading may predate its meter's registration, and
  // none may arrive after its interval settled, so there is no backfilling history).
  auto sim = testing::Run({kV2g, "meter-sim", "--node", "http://127.0.0.1:" + std::to_string(base), "--operator",
                           "issuer", "--owner", "alice", "--prefix", "it", "--meters", "4", "--duration", "30",
                           "--interval-s", "5", "--charger-w", "22000", "--plugged-in", "--output", "json"});
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  // The output also carries the simulator's notes on stderr (e.g. "Created fleet key"); the
  // JSON report is the object that starts a line.
  const size_t start = sim.output.find("\n{");
  json sent = json::parse(start == std::string::npos ? sim.output : sim.output.substr(start + 1), nullptr, false);
  ASSERT_TRUE(sent.is_object()) << sim.output;
  ASSERT_EQ(sent["meters"].size(), 4u);

  const int64_t target = HttpGet(base, "/v1/status").body["latest_height"];
  for (int i = 0; i < kNodes; ++i) {
    const int port = base + 10 * i;
    for (int tries = 0; tries < 400 && HttpGet(port, "/v1/status").body["latest_height"].get<int64_t>() < target;
         ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (const auto& m : sent["meters"]) {
      EXPECT_GT(m["readings_accepted"].get<int64_t>(), 0);
      EXPECT_EQ(m["readings_rejected"].get<int64_t>(), 0);
      const std::string id = m["meter_id"];
      auto got = HttpGet(port, "/v1/meters/" + id + "/readings?limit=100");
      ASSERT_EQ(got.status, 200) << got.body.dump();
      auto want = Intervals(m["intervals"]);
      EXPECT_FALSE(want.empty());
      EXPECT_EQ(Intervals(got.body["intervals"]), want) << "node " << i << " meter " << id;
    }
  }
  for (auto& n : nodes) n->Signal(SIGTERM);
  for (auto& n : nodes) EXPECT_EQ(n->Wait(20000), 0);
  for (int i = 0; i < kNodes; ++i) {
    auto v = testing::Run({kV2gd, "verify-chain", "--home", dir.path() + "/node" + std::to_string(i)});
    EXPECT_EQ(v.exit_code, 0) << v.output;
  }
}

}  // namespace
}  // namespace v2g
