// fuzz_seeds DIR: writes the seed corpora of every fuzz target into DIR/<target>/ from real
// encoded txs, readings, OCMF records, blocks, commits, votes, genesis and config files and API
// requests of the world in fuzz/world.h. The checked-in fuzz/corpus/ was written by it; run it
// again (scripts/fuzz --seeds) after a change to the encodings. Deterministic except for ECDSA
// signatures (OpenSSL picks k at random), which only the ocmf target verifies for real.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/bech32.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "contracts/state.h"
#include "fuzz/node_world.h"
#include "fuzz/world.h"
#include "node/config.h"
#include "node/p2p/p2p.h"
#include "node/tx_gossip.h"
#include "proto/encode.h"
#include "wallet/tx_builder.h"

using namespace v2g;

namespace {

std::string g_dir;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::string dir = g_dir + "/" + target;
  mkdir(dir.c_str(), 0755);
  std::ofstream f(dir + "/seed-" + name, std::ios::binary | std::ios::trunc);
  f << bytes;
  V2G_ASSERT(f.good());
}

// tx_apply's record: signer | time step | u16 LE length | body.
std::string ApplyRecord(size_t signer, uint8_t step, const pb::TxBody& body) {
  const std::string b = Encode(body);
  V2G_ASSERT(b.size() <= 0xFFFF);
  std::string r;
  r.push_back(static_cast<char>(signer));
  r.push_back(static_cast<char>(step));
  r.push_back(static_cast<char>(b.size() & 0xFF));
  r.push_back(static_cast<char>(b.size() >> 8));
  return r + b;
}

// p2p's chunk: kind | u16 LE length | data.
std::string Chunk(uint8_t kind, const std::string& data) {
  V2G_ASSERT(data.size() <= 0xFFFF);
  std::string r;
  r.push_back(static_cast<char>(kind));
  r.push_back(static_cast<char>(data.size() & 0xFF));
  r.push_back(static_cast<char>(data.size() >> 8));
  return r + data;
}
std::string Frame(uint8_t channel, const std::string& payload) {
  return Chunk(0, std::string(1, static_cast<char>(channel)) + payload);
}

pb::MeterReading Reading(const std::string& id, uint64_t seq, int64_t start, int64_t end,
                         int64_t imp, int64_t exp, const std::string& plugged = "") {
  pb::MeterReading r;
  r.set_meter_id(id);
  r.set_seq(seq);
  r.set_interval_start_s(start);
  r.set_interval_end_s(end);
  r.set_import_wh_total(imp);
  r.set_export_wh_total(exp);
  r.set_soc_permille(600);
  r.set_soh_permille(980);
  r.set_plugged_meter_id(plugged);
  SignReading(*fuzz::DeviceKey(id), fuzz::kChainId, r);
  return r;
}

void TxSeeds(const fuzz::MemWorld& w) {
  for (size_t i = 0; i < w.txs.size(); ++i)
    Write("tx_decode", "setup-" + std::to_string(i), w.txs[i]);
  pb::TxBody t = MakeTransfer(1, AddressFromPublicKey(fuzz::Account(4).public_key()), "CNY", 5);
  t.mutable_fee()->set_denom("CNY");
  t.mutable_fee()->set_amount(1);
  t.set_memo("fee and memo");
  Write("tx_decode", "transfer-fee-memo", SignTx(fuzz::Account(3), fuzz::kChainId, t));
}

void ApplySeeds() {
  const std::vector<fuzz::SetupTx> setup = fuzz::SetupTxs();
  std::string all;
  for (size_t i = 0; i < setup.size(); ++i) {
    const std::string r = ApplyRecord(setup[i].signer, 0, setup[i].body);
    Write("tx_apply", "setup-" + std::to_string(i), r);
    all += r;
  }
  Write("tx_apply", "setup-all", all);
  // The next interval traded, delivered and settled: readings, then time passes.
  const int64_t s = fuzz::kS;
  std::string trade = ApplyRecord(
      3, 0, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", s + 2 * fuzz::kLen, 1000, 800, "ev-a"));
  trade +=
      ApplyRecord(4, 0, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", s + 2 * fuzz::kLen, 1000, 900));
  trade += ApplyRecord(3, 0, MakeAcceptContract(0, 7, "ev-a"));
  trade += ApplyRecord(4, 0, MakeAcceptContract(0, 7));
  const int64_t e = s + fuzz::kLen;
  for (const char* id : {"ev-a", "ch-ev-a"}) {
    const std::string plugged = std::string(id) == "ch-ev-a" ? "ev-a" : "";
    trade += ApplyRecord(4, 120,
                         MakeSubmitReadings(0, {Reading(id, 3, s, s + 1, 1000, 2000),
                                                Reading(id, 4, s + 1, e, 1500, 4500, plugged)}));
  }
  for (int i = 0; i < 6; ++i)
    trade += ApplyRecord(
        0, 60, MakeTransfer(0, AddressFromPublicKey(fuzz::Account(6).public_key()), "CNY", 1));
  trade += ApplyRecord(3, 0, MakePayDebt(0, "CNY"));
  trade += ApplyRecord(3, 0, MakeCancelOrder(0, 1));
  trade += ApplyRecord(4, 0, MakeLeavePool(0, 1, "ev-b"));
  trade += ApplyRecord(5, 0, MakePoolSell(0, 1, "GD-SZ", s + 3 * fuzz::kLen, 500, 700));
  trade += ApplyRecord(2, 0, MakeDeactivateMeter(0, "ev-b"));
  trade += ApplyRecord(
      1, 0,
      MakeRotateMeterKey(0, fuzz::kChainId, AddressFromPublicKey(fuzz::Account(1).public_key()),
                         "ch-ev-b", AddressFromPublicKey(fuzz::Account(1).public_key()),
                         *fuzz::DeviceKey("ev-a")));
  trade += ApplyRecord(
      4, 0,
      MakeTransferMeter(0, fuzz::kChainId, "ev-b",
                        AddressFromPublicKey(fuzz::Account(4).public_key()), fuzz::Account(5)));
  trade +=
      ApplyRecord(1, 0, MakeMint(0, AddressFromPublicKey(fuzz::Account(3).public_key()), "PTS", 7));
  trade += ApplyRecord(3, 0, MakeBurn(0, "CNY", 1));
  trade += ApplyRecord(3, 0, MakeJoinProgram(0, 5, "ev-a"));
  Write("tx_apply", "trade-settle", trade);
}

// Every amount at the largest value admission allows: a meter at the power limit, an event and a
// tariff at the price and budget limits, a week long, energy that fills the interval.
void ExtremeSeeds() {
  const Address grid = AddressFromPublicKey(fuzz::Account(2).public_key());
  const Address alice = AddressFromPublicKey(fuzz::Account(3).public_key());
  const Address op = AddressFromPublicKey(fuzz::Account(1).public_key());
  const KeyPair device = KeyPair::FromSeed(Bytes(kSeedBytes, 77));
  const int64_t p = limits::kMeterPowerWMax;
  const int64_t a = fuzz::kS;
  std::string in;
  in += ApplyRecord(1, 0, MakeMint(0, grid, "CNY", limits::kBudgetMax));
  in += ApplyRecord(1, 0, MakeMint(0, alice, "CNY", limits::kBudgetMax));
  in += ApplyRecord(
      1, 0,
      MakeMint(0, AddressFromPublicKey(fuzz::Account(4).public_key()), "CNY", limits::kBudgetMax));
  in += ApplyRecord(1, 0,
                    MakeRegisterMeter(0, fuzz::kChainId, op, "big", device, pb::METER_KIND_VEHICLE,
                                      "GD-SZ", alice, p, p, 10'000'000));
  in += ApplyRecord(2, 0,
                    MakeSetTariff(0, "GD-SZ", a, std::vector<int64_t>(24, limits::kOrderPriceMax),
                                  limits::kOrderPriceMax));
  in += ApplyRecord(3, 0, MakeEnrollTariff(0, "big"));
  in += ApplyRecord(2, 0,
                    MakeCreateEvent(0, pb::EVENT_REVERSE_DISCHARGE, "GD-SZ", a,
                                    a + limits::kEventDurationSMax, p, limits::kOrderPriceMax,
                                    limits::kBudgetMax, a - 600, pb::BASELINE_UNSPECIFIED));
  in += ApplyRecord(3, 0, MakeEnrollEvent(0, 3, "big", p, 0));
  in += ApplyRecord(3, 0,
                    MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", a, p * fuzz::kLen / 3600, 1, "big"));
  in += ApplyRecord(
      4, 0, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", a, p * fuzz::kLen / 3600, 10'000'000'000));
  const int64_t wh = p * fuzz::kLen / 3600;
  auto reading = [&](uint64_t seq, int64_t start, int64_t end, int64_t imp, int64_t exp) {
    pb::MeterReading r;
    r.set_meter_id("big");
    r.set_seq(seq);
    r.set_interval_start_s(start);
    r.set_interval_end_s(end);
    r.set_import_wh_total(imp);
    r.set_export_wh_total(exp);
    r.set_soc_permille(500);
    r.set_soh_permille(1000);
    SignReading(device, fuzz::kChainId, r);
    return r;
  };
  in += ApplyRecord(4, 92,
                    MakeSubmitReadings(0, {reading(1, a, a + 1, 0, 0),
                                           reading(2, a + 1, a + fuzz::kLen, wh, wh)}));
  for (int i = 0; i < 8; ++i) in += ApplyRecord(2, 120, MakeTransfer(0, op, "CNY", 1));
  Write("tx_apply", "extremes", in);
}

void ReadingSeeds() {
  const int64_t s = fuzz::kS;
  pb::SubmitReadings sr;
  *sr.add_readings() = Reading("ev-a", 3, s, s + 1, 1000, 2000);
  *sr.add_readings() = Reading("ev-a", 4, s + 1, s + fuzz::kLen, 1500, 4500);
  Write("readings", "ev-a", std::string(1, '\0') + Encode(sr));
  pb::SubmitReadings ch;
  *ch.add_readings() = Reading("ch-ev-a", 3, s, s + 1, 1000, 2000);
  *ch.add_readings() = Reading("ch-ev-a", 4, s + 1, s + fuzz::kLen, 1500, 4500, "ev-a");
  Write("readings", "ch-ev-a", std::string(1, '\0') + Encode(ch));
  pb::SubmitOcmf so;
  auto* rec = so.add_records();
  rec->set_meter_id("oc-1");
  rec->set_record(fuzz::OcmfSessionRecord("T2", (fuzz::kT0 + 2 * fuzz::kLen) * 1000 + 20'000));
  Write("readings", "ocmf", std::string(1, '\1') + Encode(so));
  Write("readings", "one-reading",
        std::string(1, '\2') + Encode(Reading("ev-b", 1, s, s + 60, 10, 20)));
}

void OcmfSeeds() {
  Write("ocmf", "session", fuzz::OcmfSessionRecord("T3", fuzz::kT0 * 1000));
  OcmfPayloadSpec spec;
  spec.ms = "OC-0001";
  spec.pg = "F9";
  spec.it = "CENTRAL";
  spec.id = "idtag-1";
  spec.readings = {
      {FormatOcmfTime(fuzz::kT0 * 1000, -300, 'I'), "", "2935.60", "1-0:2.8.0", "Wh", "G"}};
  OcmfSignOptions o;
  o.encoding = "base64";
  o.write_se_sm = true;
  Write("ocmf", "base64-fiscal", fuzz::OcmfMeter().SignRecord(BuildOcmfPayload(spec), o));
  Write("ocmf", "key-der", fuzz::OcmfMeter().PublicKeyDer());
  Write("ocmf", "key-hex", fuzz::OcmfMeter().PublicKeyHex());
  Write("ocmf", "energy", "2935.60|kWh");
  Write("ocmf", "time", "2018-07-24T13:22:04,000+0200 S");
}

void P2pSeeds(fuzz::NodeWorld& n, const fuzz::MemWorld& w) {
  const std::string addr = AddressBytes(AddressFromPublicKey(fuzz::Account(0).public_key()));
  auto block = n.store->LoadBlock(3);
  auto commit = n.store->LoadCommit(3);
  V2G_ASSERT(block && commit);
  pb::Vote v;
  v.set_type(static_cast<int32_t>(VoteType::kPrecommit));
  v.set_height(3);
  v.set_round(0);
  v.set_block_id(commit->block_id());
  v.set_timestamp_ms(commit->signatures(0).timestamp_ms());
  v.set_validator_address(addr);
  v.set_signature(commit->signatures(0).signature());
  pb::ConsensusMessage cv;
  *cv.mutable_vote() = v;
  pb::ConsensusMessage cp;
  cp.mutable_proposal()->set_height(2);
  cp.mutable_proposal()->set_pol_round(-1);
  cp.mutable_proposal()->set_proposer_address(addr);
  *cp.mutable_proposal()->mutable_block() = *n.store->LoadBlock(2);
  pb::BlockSyncMessage status, request, response;
  status.mutable_status()->set_height(3);
  request.mutable_request()->set_height(2);
  *response.mutable_response()->mutable_block() = *block;
  *response.mutable_response()->mutable_commit() = *commit;
  pb::DuplicateVoteEvidence ev;
  *ev.mutable_vote_a() = v;
  *ev.mutable_vote_b() = v;
  ev.mutable_vote_b()->set_block_id(std::string(32, '\xff'));
  const std::string auth(96, '\x01');
  Write("p2p", "auth-then-vote", Frame(0, auth.substr(1)) + Frame(kChannelConsensus, Encode(cv)));
  Write("p2p", "proposal", Frame(kChannelConsensus, Encode(cp)));
  Write("p2p", "sync",
        Frame(kChannelBlockSync, Encode(status)) + Frame(kChannelBlockSync, Encode(request)) +
            Frame(kChannelBlockSync, Encode(response)));
  Write("p2p", "evidence", Frame(kChannelEvidence, Encode(ev)));
  Write("p2p", "tx", Frame(kChannelMempool, EncodeTxBatch({w.txs[0]})));
  Write("p2p", "raw-oversize-length", Chunk(1, "\xff\xff\xff\xff"));
  Write("p2p", "raw-short-frame", Chunk(1, std::string("\0\0\0\x05hello", 9)));
}

void ConfigSeeds() {
  Write("config", "genesis", std::string(1, '\0') + GenesisToJson(fuzz::WorldGenesis()));
  Config c = DefaultConfig();
  c.p2p_peers = {std::string(64, 'a') + "@127.0.0.1:26656"};
  c.p2p_allowed = {std::string(64, 'b')};
  Write("config", "config", std::string(1, '\1') + ConfigToToml(c));
  Write("config", "hostport", std::string(1, '\2') + "[::1]:26657");
}

void ApiSeeds(const fuzz::MemWorld& w) {
  const std::string alice = EncodeAddress(AddressFromPublicKey(fuzz::Account(3).public_key()));
  const std::string s = std::to_string(fuzz::kS);
  const std::string hash = TxHashHex(Blake2b256(w.txs.back()));
  const std::vector<std::pair<std::string, std::string>> reqs = {
      {"health", "GET /v1/health"},
      {"status", "GET /v1/status"},
      {"params", "GET /v1/params"},
      {"block", "GET /v1/blocks/3"},
      {"commit", "GET /v1/blocks/3/commit"},
      {"blocks", "GET /v1/blocks?from=1&limit=5"},
      {"validators", "GET /v1/validators"},
      {"evidence", "GET /v1/evidence"},
      {"post-tx", "POST /v1/txs\n{\"tx\": \"" + HexEncode(w.txs[5]) + "\"}"},
      {"tx", "GET /v1/txs/" + hash},
      {"account", "GET /v1/accounts/" + alice},
      {"denoms", "GET /v1/denoms"},
      {"meters", "GET /v1/meters?zone=GD-SZ&kind=vehicle&limit=2"},
      {"meter", "GET /v1/meters/ev-a"},
      {"readings", "GET /v1/meters/ev-a/readings?from=" + std::to_string(fuzz::kT0) + "&limit=10"},
      {"battery", "GET /v1/meters/ev-a/battery"},
      {"ocmf-list", "GET /v1/meters/oc-1/ocmf?context=T&from=1&limit=5"},
      {"ocmf-one", "GET /v1/meters/oc-1/ocmf/T1"},
      {"markets", "GET /v1/markets?zone=GD-SZ&from=" + s + "&limit=3"},
      {"market", "GET /v1/markets/GD-SZ/" + s + "?limit=5"},
      {"order", "GET /v1/orders/1"},
      {"contract", "GET /v1/contracts/4"},
      {"account-orders", "GET /v1/accounts/" + alice + "/orders?kind=order&limit=5"},
      {"trades", "GET /v1/trades?zone=GD-SZ&interval=" + s},
      {"trades-account", "GET /v1/trades?account=" + alice + "&limit=5"},
      {"settlements", "GET /v1/settlements?zone=GD-SZ&interval=" + s + "&account=" + alice},
      {"tariffs", "GET /v1/tariffs/GD-SZ"},
      {"events", "GET /v1/events?zone=GD-SZ&status=open&limit=5"},
      {"event", "GET /v1/events/1"},
      {"programs", "GET /v1/programs?limit=5"},
      {"program", "GET /v1/programs/2"},
      {"pools", "GET /v1/pools?limit=5"},
      {"pool", "GET /v1/pools/1"},
      {"statement", "GET /v1/accounts/" + alice + "/statement?from=" + std::to_string(fuzz::kT0) +
                        "&to=" + std::to_string(fuzz::kT0 + 86400)},
      {"debts", "GET /v1/accounts/" + alice + "/debts"},
  };
  for (const auto& [name, text] : reqs) Write("api", name, text);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR   (writes DIR/<target>/seed-*)\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  mkdir(g_dir.c_str(), 0755);
  InitCrypto();
  const fuzz::MemWorld w = fuzz::BuildMemWorld();
  auto n = fuzz::BuildNodeWorld();
  TxSeeds(w);
  ApplySeeds();
  ExtremeSeeds();
  ReadingSeeds();
  OcmfSeeds();
  P2pSeeds(*n, w);
  ConfigSeeds();
  ApiSeeds(w);
  fuzz::RemoveNodeWorld(*n);
  return 0;
}
