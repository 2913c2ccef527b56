// Four real validators and the real wallet: the meter simulator registers a fleet and submits
// signed readings through one node; every node then attests exactly the energy the simulator
// sent, per meter and settlement interval.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "common/ocmf.h"
#include "common/time.h"
#include "tests/integration/harness.h"
#include "wallet/ocmf_signer.h"

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

// A 4-validator testnet on loopback whose genesis makes the wallet's `issuer` the issuer and
// operator, with `alice` in the wallet too; settlement intervals and grace as given.
struct Testnet {
  testing::TempDir dir;
  int base = 0;
  std::vector<std::unique_ptr<Process>> nodes;

  void Start(int64_t settlement_interval_s, int64_t grace_s) {
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
    base = testing::FreeTestnetBasePort(kNodes);
    auto tn = testing::Run({kV2gd, "testnet", "--open-reads", "--validators", std::to_string(kNodes), "--output", dir.path(),
                            "--issuer", issuer, "--base-port", std::to_string(base), "--block-interval-ms", "200",
                            "--settlement-interval", std::to_string(settlement_interval_s), "--market-grace",
                            std::to_string(grace_s)});
    ASSERT_EQ(tn.exit_code, 0) << tn.output;
    for (int i = 0; i < kNodes; ++i) {
      std::string home = dir.path() + "/node" + std::to_string(i);
      nodes.push_back(
          std::make_unique<Process>(std::vector<std::string>{kV2gd, "start", "--home", home}, home + ".log"));
    }
    for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(testing::WaitHealthy(base + 10 * i, 20000));
  }
  // Clean shutdown, then every node's stored chain verifies.
  void StopAndVerify() {
    for (auto& n : nodes) n->Signal(SIGTERM);
    for (auto& n : nodes) EXPECT_EQ(n->Wait(20000), 0);
    for (int i = 0; i < kNodes; ++i) {
      auto v = testing::Run({kV2gd, "verify-chain", "--home", dir.path() + "/node" + std::to_string(i)});
      EXPECT_EQ(v.exit_code, 0) << v.output;
    }
  }
};

TEST(MetersOnFourValidators, EveryNodeAttestsWhatTheSimulatorSent) {
  Testnet net;
  net.Start(60, 60);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const int base = net.base;

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
  net.StopAndVerify();
}

// A certified charger signing OCMF records, registered through the CLI with its public key; its
// records over twelve 10-second settlement intervals go through `v2g meter submit-ocmf` to one
// node, and every node attests the same energy per interval: exactly what the mapping (whole Wh
// counted from each register's baseline, spans inside one interval) gives for the points sent.
TEST(MetersOnFourValidators, OcmfRecordsAttestTheSameEnergyOnEveryNode) {
  const int64_t L = 10;  // settlement interval, seconds
  Testnet net;
  net.Start(L, 120);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const int base = net.base;
  testing::TempDir& dir = net.dir;
  const std::string node = "http://127.0.0.1:" + std::to_string(base);
  // Every tx pays the testnet's fee (v2gd testnet's default fee_min), which the CLI attaches from
  // GET /v1/params: alice needs CNY for her submit-ocmf txs; the issuer starts with a float.
  auto fund = testing::Run({kV2g, "mint", "alice", "5", "CNY", "--from", "issuer", "--node", node});
  ASSERT_EQ(fund.exit_code, 0) << fund.output;

  auto signer = OcmfSigner::Generate(OcmfCurve::kSecp256r1);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  // The meter's proof of possession: a record it signs with the ID `v2g meter ocmf-id` gives.
  auto id = testing::Run({kV2g, "meter", "ocmf-id", "OC-IT-1", "--owner", "alice", "--from", "issuer", "--node", node});
  ASSERT_EQ(id.exit_code, 0) << id.output;
  const std::string ocmf_id = id.output.substr(0, id.output.find('\n'));
  ASSERT_EQ(ocmf_id.size(), 32u) << id.output;
  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::string proof = dir.path() + "/proof.ocmf";
  std::ofstream(proof) << SignOcmfProofRecord(*signer, "SN-IT-1", ocmf_id, wall_ms()) << "\n";
  auto reg = testing::Run({kV2g, "meter", "register", "OC-IT-1", "--ocmf-pubkey", signer->PublicKeyHex(),
                           "--ocmf-serial", "SN-IT-1", "--ocmf-proof", proof, "--kind", "charger", "--zone", "GD-SZ",
                           "--owner", "alice", "--max-import-w", "22000", "--max-export-w", "22000", "--from", "issuer",
                           "--node", node});
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  auto meter = HttpGet(base, "/v1/meters/OC-IT-1");
  ASSERT_EQ(meter.status, 200);
  EXPECT_EQ(meter.body["key_type"], "ocmf");
  EXPECT_EQ(meter.body["ocmf"]["meter_serial"], "SN-IT-1");
  auto registered = ParseRfc3339Ms(meter.body["registered_time"].get<std::string>());
  ASSERT_TRUE(registered.ok());
  const int64_t registered_ms = *registered;
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };

  // Points every 2.5 s from just after registration; import grows 0.0123457 kWh a point (finer
  // than 1 Wh: the ledger truncates from the baseline), export 0.004 kWh every other point. One
  // record per 40 s of points, sent through the CLI once its last point has passed (inside the
  // 120 s grace, so no interval it covers has settled).
  struct Pt {
    int64_t ms;
    int64_t import_ummwh;  // 1e-7 kWh units, as written
    int64_t export_ummwh;
  };
  auto kwh = [](int64_t units) {  // 1e-7 kWh units -> "123.4567890"
    std::string frac = std::to_string(units % 10'000'000);
    return std::to_string(units / 10'000'000) + "." + std::string(7 - frac.size(), '0') + frac;
  };
  const int64_t first_ms = registered_ms + 1000;
  const int64_t last_ms = (registered_ms / 1000 / L + 13) * L * 1000;  // >= 12 whole intervals after the first point
  std::vector<Pt> pts;
  for (int64_t t = first_ms, k = 0; t <= last_ms; t += 2500, ++k) {
    pts.push_back({t, 1000'000'0000 + k * 123457, 200'000'0000 + (k / 2) * 40000});
  }
  std::vector<std::string> records;
  std::vector<std::string> hashes;
  std::map<int64_t, std::pair<int64_t, int64_t>> want;  // interval -> (import, export) Wh
  const int per_record = 16;                             // 40 s of points
  for (size_t from = 0, pg = 1; from < pts.size(); from += per_record, ++pg) {
    const size_t to = std::min(pts.size(), from + per_record);
    OcmfPayloadSpec spec;
    spec.pg = "T" + std::to_string(pg);
    spec.ms = "SN-IT-1";
    for (size_t i = from; i < to; ++i) {
      OcmfReadingSpec imp{FormatOcmfTime(pts[i].ms, 60, 'S'), i == from ? "B" : i + 1 == to ? "E" : "T",
                          kwh(pts[i].import_ummwh), "1-b:1.8.0"};
      OcmfReadingSpec exp{FormatOcmfTime(pts[i].ms, 60, 'S'), "", kwh(pts[i].export_ummwh), "1-b:2.8.0"};
      spec.readings.push_back(imp);
      spec.readings.push_back(exp);
    }
    const std::string record = signer->SignRecord(BuildOcmfPayload(spec));
    records.push_back(record);
    // Wait until the record's last point has passed, then submit it through the CLI.
    while (now_ms() < pts[to - 1].ms + 500) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string file = dir.path() + "/rec" + std::to_string(pg) + ".ocmf";
    std::ofstream(file) << record << "\n";
    auto sub = testing::Run({kV2g, "meter", "submit-ocmf", file, "--meter", "OC-IT-1", "--from", "alice", "--node",
                             node, "--output", "json"});
    ASSERT_EQ(sub.exit_code, 0) << sub.output;
    const size_t start = sub.output.find('{');
    json out = json::parse(sub.output.substr(start), nullptr, false);
    ASSERT_TRUE(out.is_object()) << sub.output;
    hashes.push_back(out["hash"]);
  }
  // The expected energy: each register's whole Wh from its baseline (the first point), per span
  // (previous point, this point] that lies inside one interval.
  // RV -> mWh truncated (common/ocmf.h), then whole Wh from the baseline.
  auto wh = [](int64_t units, int64_t base_units) { return (units / 10 - base_units / 10) / 1000; };
  for (size_t i = 1; i < pts.size(); ++i) {
    const int64_t from_s = pts[i - 1].ms / 1000, interval = from_s - from_s % L;
    const int64_t end_interval = ((pts[i].ms - 1) / 1000) - ((pts[i].ms - 1) / 1000) % L;
    if (interval != end_interval) continue;
    want[interval].first += wh(pts[i].import_ummwh, pts[0].import_ummwh) - wh(pts[i - 1].import_ummwh, pts[0].import_ummwh);
    want[interval].second += wh(pts[i].export_ummwh, pts[0].export_ummwh) - wh(pts[i - 1].export_ummwh, pts[0].export_ummwh);
  }
  ASSERT_GE(want.size(), 12u);

  const int64_t target = HttpGet(base, "/v1/status").body["latest_height"];
  for (int i = 0; i < kNodes; ++i) {
    const int port = base + 10 * i;
    for (int tries = 0; tries < 400 && HttpGet(port, "/v1/status").body["latest_height"].get<int64_t>() < target;
         ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto got = HttpGet(port, "/v1/meters/OC-IT-1/readings?limit=100");
    ASSERT_EQ(got.status, 200) << got.body.dump();
    EXPECT_EQ(Intervals(got.body["intervals"]), want) << "node " << i;
    // Every record is kept whole and re-verifies offline against the registered key.
    for (size_t r = 0; r < records.size(); ++r) {
      auto kept = HttpGet(port, "/v1/meters/OC-IT-1/ocmf/T" + std::to_string(r + 1));
      ASSERT_EQ(kept.status, 200) << kept.body.dump();
      EXPECT_EQ(kept.body["record"], records[r]);
    }
    // The tx view shows each record with its verdict.
    auto tx = HttpGet(port, "/v1/txs/" + hashes[0]);
    ASSERT_EQ(tx.status, 200) << tx.body.dump();
    EXPECT_EQ(tx.body["op"]["type"], "submit_ocmf");
    EXPECT_EQ(tx.body["op"]["records"][0]["verdict"], "accepted") << tx.body.dump();
  }
  auto kept = HttpGet(base, "/v1/meters/OC-IT-1/ocmf/T1");
  const std::string file = dir.path() + "/kept.ocmf";
  std::ofstream(file) << kept.body["record"].get<std::string>() << "\n";
  auto verify = testing::Run({kV2g, "meter", "verify-ocmf", file, "--pubkey", signer->PublicKeyHex()});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  // The same record again is refused, and the CLI says so and exits non-zero.
  auto again = testing::Run({kV2g, "meter", "submit-ocmf", dir.path() + "/rec1.ocmf", "--meter", "OC-IT-1", "--from",
                             "alice", "--node", node});
  EXPECT_NE(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("ocmf_duplicate"), std::string::npos) << again.output;

  net.StopAndVerify();
}

}  // namespace
}  // namespace v2g
