// v2g verify: the light client (issue 17). `verify trust HEIGHT BLOCK_ID` keeps a checkpoint the
// user got from someone they trust; `verify balance ADDRESS` then checks what the node says of an
// account without trusting the node: the header that carries the app hash is verified from the
// checkpoint by its validators' signatures (consensus/light_client.h), and the account record by
// its Merkle proof against that app hash (contracts/state_tree.h). The newest header verified is
// kept too, so the next run starts from it.
#include <chrono>
#include <iostream>
#include <string>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "common/amount.h"
#include "common/bech32.h"
#include "common/bytes.h"
#include "common/fsutil.h"
#include "consensus/block.h"
#include "consensus/light_client.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"

namespace v2g::cli {
namespace {

constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

struct VerifyArgs {
  int64_t height = 0;
  std::string block_id;
  int64_t trusting_period_days = 14;
  std::string address;
  std::string meter, zone;
  int64_t from = 0, to = 0, interval = 0, index = 0;
  int64_t at = -1;  // --height of the state; -1: the newest provable
};

// <home>/light.json: the checkpoint and the newest header verified since.
struct TrustFile {
  std::string chain_id;
  int64_t height = 0;
  std::string block_id;  // hex
  int64_t trusting_period_ms = 14 * kDayMs;
  int64_t latest_height = 0;  // 0: none yet
  std::string latest_block_id;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string TrustPath(const Context& ctx) { return ctx.globals().home + "/light.json"; }

Status SaveTrust(const Context& ctx, const TrustFile& t) {
  V2G_RETURN_IF_ERROR(MakeDirs(ctx.globals().home, 0700));
  json j = {{"chain_id", t.chain_id},           {"height", t.height},
            {"block_id", t.block_id},           {"trusting_period_ms", t.trusting_period_ms},
            {"latest_height", t.latest_height}, {"latest_block_id", t.latest_block_id}};
  return WriteFileAtomic(TrustPath(ctx), j.dump(2) + "\n", 0600);
}

Result<TrustFile> LoadTrust(const Context& ctx) {
  const std::string path = TrustPath(ctx);
  if (!FileExists(path)) {
    return Error(
        Code::kNotFound,
        "no trusted checkpoint in " + path +
            ": run 'v2g verify trust HEIGHT BLOCK_ID' with a block id you got from someone "
            "you trust (another node's operator, the consortium), not from this node");
  }
  V2G_ASSIGN_OR_RETURN(text, ReadFile(path));
  json j = json::parse(text, nullptr, false);
  TrustFile t;
  if (!j.is_object() || !j["chain_id"].is_string() || !j["height"].is_number_integer() ||
      !j["block_id"].is_string()) {
    return Error(Code::kMalformed,
                 path + " is not a checkpoint file; set it again with 'v2g verify trust'");
  }
  t.chain_id = j["chain_id"];
  t.height = j["height"];
  t.block_id = j["block_id"];
  t.trusting_period_ms = j.value("trusting_period_ms", 14 * kDayMs);
  t.latest_height = j.value("latest_height", int64_t{0});
  t.latest_block_id = j.value("latest_block_id", std::string());
  return t;
}

// GET /v1/light/{height}, decoded (not yet checked).
Result<LightBlock> FetchLight(ApiClient& client, int64_t height) {
  V2G_ASSIGN_OR_RETURN(j, client.GetJson("/v1/light/" + std::to_string(height)));
  std::string parts[4];
  const char* names[4] = {"header", "commit", "validators", "next_validators"};
  for (int i = 0; i < 4; ++i) {
    if (!j.contains(names[i]) || !j[names[i]].is_string()) {
      return Error(Code::kMalformed, std::string("the node's light block has no ") + names[i]);
    }
    auto bytes = HexDecode(j[names[i]].get<std::string>());
    if (!bytes.ok())
      return Error(Code::kMalformed,
                   std::string("light block ") + names[i] + ": " + bytes.status().message());
    parts[i].assign(bytes->begin(), bytes->end());
  }
  return DecodeLightBlock(height, parts[0], parts[1], parts[2], parts[3]);
}

// The block at a height the trust file names, checked to be that block and whole.
Result<LightBlock> FetchTrusted(ApiClient& client, int64_t height, const std::string& block_id_hex,
                                const LightOptions& opts) {
  V2G_ASSIGN_OR_RETURN(b, FetchLight(client, height));
  if (HexEncode(b.block_id) != block_id_hex) {
    return Error(Code::kInvalidArgument, "the node's block " + std::to_string(height) + " is " +
                                             HexEncode(b.block_id) + ", not the trusted " +
                                             block_id_hex +
                                             ": this node is on another chain or lies");
  }
  V2G_RETURN_IF_ERROR(CheckLightBlock(b, opts));
  return b;
}

Status CmdTrust(Context& ctx, const VerifyArgs& a) {
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  auto want = HexDecode(a.block_id);
  if (!want.ok() || want->size() != 32) {
    return Error(Code::kInvalidArgument,
                 "BLOCK_ID: 64 hex digits (a block id, as /v1/blocks shows it)");
  }
  if (a.trusting_period_days < 1 || a.trusting_period_days > 365) {
    return Error(Code::kInvalidArgument, "--trusting-period-days: 1 to 365");
  }
  V2G_ASSIGN_OR_RETURN(b, FetchLight(*client, a.height));
  LightOptions opts;
  opts.chain_id = b.header.chain_id();
  opts.now_ms = NowMs();
  const std::string id =
      HexEncode(std::string_view(reinterpret_cast<const char*>(want->data()), want->size()));
  if (HexEncode(b.block_id) != id) {
    return Error(Code::kInvalidArgument, "the node's block " + std::to_string(a.height) + " is " +
                                             HexEncode(b.block_id) + ", not " + id +
                                             ": this node is on another chain, or the id is wrong");
  }
  V2G_RETURN_IF_ERROR(CheckLightBlock(b, opts));
  TrustFile t;
  t.chain_id = b.header.chain_id();
  t.height = a.height;
  t.block_id = id;
  t.trusting_period_ms = a.trusting_period_days * kDayMs;
  V2G_RETURN_IF_ERROR(SaveTrust(ctx, t));
  if (ctx.json()) {
    PrintJson({{"chain_id", t.chain_id},
               {"height", t.height},
               {"block_id", t.block_id},
               {"file", TrustPath(ctx)}});
  } else {
    std::cout << "trusting block " << t.height << " (" << t.block_id << ") of chain " << t.chain_id
              << " in " << TrustPath(ctx) << "\n";
  }
  return Status::Ok();
}

// The header that carries the app hash after block `at` (-1: the node's tip - 1), verified from
// the checkpoint (or the newest header verified since, while it is in the trusting period).
struct VerifiedHeader {
  LightBlock block;           // header state_height + 1
  int64_t state_height = 0;   // the state it proves
  int64_t from_height = 0;    // the trusted header the verification started from
  std::vector<int64_t> path;  // headers verified on the way
  std::string chain_id;
};

Status Failed(const Status& st) { return Error(st.code(), "verification failed: " + st.message()); }

Result<VerifiedHeader> VerifyHeaderFor(Context& ctx, ApiClient& client, int64_t at) {
  V2G_ASSIGN_OR_RETURN(trust, LoadTrust(ctx));
  LightOptions opts;
  opts.chain_id = trust.chain_id;
  opts.now_ms = NowMs();
  opts.trusting_period_ms = trust.trusting_period_ms;
  VerifiedHeader out;
  out.chain_id = trust.chain_id;
  // The state after block S is proven by header S + 1.
  out.state_height = at;
  if (out.state_height < 0) {
    V2G_ASSIGN_OR_RETURN(status, client.GetStatus());
    if (status.latest_height < 1) return Error(Code::kUnavailable, "the node has no block yet");
    out.state_height = status.latest_height - 1;
  }
  const int64_t target = out.state_height + 1;
  if (target < trust.height) {
    return Error(Code::kInvalidArgument, "height " + std::to_string(out.state_height) +
                                             " is before the trusted checkpoint at " +
                                             std::to_string(trust.height));
  }
  LightBlock trusted;
  {
    auto from_latest = trust.latest_height > trust.height && trust.latest_height <= target
                           ? FetchTrusted(client, trust.latest_height, trust.latest_block_id, opts)
                           : Result<LightBlock>(Error(Code::kNotFound, "no newer header"));
    if (from_latest.ok() && from_latest->header.time_ms() + opts.trusting_period_ms > opts.now_ms) {
      trusted = std::move(*from_latest);
    } else {
      auto cp = FetchTrusted(client, trust.height, trust.block_id, opts);
      if (!cp.ok()) return Failed(cp.status());
      trusted = std::move(*cp);
    }
  }
  out.from_height = trusted.header.height();
  if (target == trusted.header.height()) {
    out.block = std::move(trusted);
    return out;
  }
  auto v = VerifyLightTo(
      trusted, target, [&](int64_t h) { return FetchLight(client, h); }, opts, &out.path);
  if (!v.ok()) return Failed(v.status());
  out.block = std::move(*v);
  if (target > trust.latest_height) {
    trust.latest_height = target;
    trust.latest_block_id = HexEncode(out.block.block_id);
    V2G_RETURN_IF_ERROR(SaveTrust(ctx, trust));
  }
  return out;
}

// The entries of `range` that `answer` (a GET /v1/proof/... answer) proves against the verified
// header: the range is the client's own, cut only at the node's next_key when that lies inside it.
Result<std::vector<std::pair<std::string, std::string>>> ProvenEntries(const VerifiedHeader& v,
                                                                       const json& answer,
                                                                       TreeRange& range) {
  if (!answer.contains("proof") || !answer["proof"].is_string()) {
    return Failed(Error(Code::kMalformed, "the node's answer has no proof"));
  }
  auto proof = HexDecode(answer["proof"].get<std::string>());
  if (!proof.ok()) return Failed(Error(Code::kMalformed, "proof: " + proof.status().message()));
  if (answer.contains("next_key") && answer["next_key"].is_string()) {
    auto next = HexDecode(answer["next_key"].get<std::string>());
    if (!next.ok()) return Failed(Error(Code::kMalformed, "next_key: " + next.status().message()));
    std::string n(next->begin(), next->end());
    if (n <= range.lo || (!range.hi.empty() && n >= range.hi)) {
      return Failed(
          Error(Code::kInvalidArgument, "the node's next_key is outside the range asked"));
    }
    range.hi = n;
  }
  const std::string& app = v.block.header.app_hash();
  if (app.size() != 32)
    return Failed(Error(Code::kInvalidArgument, "the verified header's app hash is not 32 bytes"));
  auto entries =
      VerifyStateProof(HashFromString(app), std::string(proof->begin(), proof->end()), range);
  if (!entries.ok()) return Failed(entries.status());
  return std::move(*entries);
}

void PrintVerifiedLine(const VerifiedHeader& v) {
  std::cout << "verified at height " << v.state_height << ": header " << v.state_height + 1
            << " (app hash " << HexEncode(v.block.header.app_hash()) << ") signed by "
            << TrustedCommitPower(v.chain_id, v.block.validators, v.block.commit) << " of "
            << TotalPower(v.block.validators) << " power";
  if (!v.path.empty())
    std::cout << ", " << v.path.size() << " header(s) checked from block " << v.from_height;
  std::cout << "\n";
}

json VerifiedJson(const VerifiedHeader& v) {
  return {{"verified", true},
          {"height", v.state_height},
          {"header_height", v.state_height + 1},
          {"app_hash", HexEncode(v.block.header.app_hash())},
          {"headers_verified", v.path}};
}

// The decimals of `denom` as proven at the verified height (GET /v1/proof/denoms/{name}).
Result<uint32_t> ProvenDecimals(ApiClient& client, const VerifiedHeader& v,
                                const std::string& denom) {
  V2G_ASSIGN_OR_RETURN(answer, client.GetJson("/v1/proof/denoms/" + denom +
                                              "?height=" + std::to_string(v.state_height)));
  TreeRange range = TreeRange::Key(DenomKey(denom));
  V2G_ASSIGN_OR_RETURN(entries, ProvenEntries(v, answer, range));
  pb::DenomRecord d;
  if (entries.empty() || !d.ParseFromString(entries.front().second)) {
    return Failed(
        Error(Code::kInvalidArgument, "denomination " + denom + " is not proven to exist"));
  }
  return d.decimals();
}

Status CmdBalance(Context& ctx, const VerifyArgs& a) {
  auto addr = DecodeAddress(a.address);
  if (!addr.ok()) return Error(Code::kInvalidArgument, "ADDRESS: " + addr.status().message());
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(v, VerifyHeaderFor(ctx, *client, a.at));
  V2G_ASSIGN_OR_RETURN(answer, client->GetJson("/v1/proof/accounts/" + a.address +
                                               "?height=" + std::to_string(v.state_height)));
  TreeRange range = TreeRange::Key(AccountKey(*addr));
  V2G_ASSIGN_OR_RETURN(entries, ProvenEntries(v, answer, range));
  pb::AccountRecord rec;
  const bool exists = !entries.empty();
  if (exists && !rec.ParseFromString(entries.front().second)) {
    return Failed(Error(Code::kMalformed, "the proven account record does not decode"));
  }
  std::vector<std::string> shown;
  for (const auto& c : rec.balances()) {
    V2G_ASSIGN_OR_RETURN(decimals, ProvenDecimals(*client, v, c.denom()));
    shown.push_back(FormatAmount(c.amount(), decimals));
  }
  if (ctx.json()) {
    json out = VerifiedJson(v);
    json balances = json::array();
    for (int i = 0; i < rec.balances_size(); ++i) {
      const auto& c = rec.balances(i);
      balances.push_back({{"denom", c.denom()},
                          {"amount", std::to_string(c.amount())},
                          {"display", shown[static_cast<size_t>(i)]}});
    }
    out["address"] = a.address;
    out["exists"] = exists;
    out["nonce"] = std::to_string(rec.nonce());
    out["balances"] = balances;
    PrintJson(out);
    return Status::Ok();
  }
  PrintVerifiedLine(v);
  if (!exists) {
    std::cout << "  account " << a.address << " does not exist (proven absent)\n";
    return Status::Ok();
  }
  std::cout << "  nonce     " << rec.nonce() << "\n";
  for (int i = 0; i < rec.balances_size(); ++i) {
    std::cout << "  balance   " << shown[static_cast<size_t>(i)] << " " << rec.balances(i).denom()
              << "\n";
  }
  return Status::Ok();
}

Status CmdMeter(Context& ctx, const VerifyArgs& a) {
  if (!ValidMeterId(a.meter)) return Error(Code::kInvalidArgument, "METER: not a valid meter id");
  if (a.from < 0 || a.to <= a.from)
    return Error(Code::kInvalidArgument, "--to must be later than --from (Unix seconds)");
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(v, VerifyHeaderFor(ctx, *client, a.at));
  V2G_ASSIGN_OR_RETURN(answer,
                       client->GetJson("/v1/proof/meters/" + a.meter + "/energy?from=" +
                                       std::to_string(a.from) + "&to=" + std::to_string(a.to) +
                                       "&limit=500&height=" + std::to_string(v.state_height)));
  TreeRange range{MeterIntervalKey(a.meter, a.from), MeterIntervalKey(a.meter, a.to)};
  // A cut must be at an interval of this meter strictly inside [from, to): any other key would let
  // a node prove a sliver of the range and have the rest called complete.
  if (answer.contains("next_key") && !answer["next_key"].is_null()) {
    auto next = answer["next_key"].is_string() ? HexDecode(answer["next_key"].get<std::string>())
                                               : Result<Bytes>(Error(Code::kMalformed, "not hex"));
    const std::string prefix = MeterIntervalPrefix(a.meter);
    std::string n = next.ok() ? std::string(next->begin(), next->end()) : std::string();
    const bool shaped = next.ok() && n.size() == prefix.size() + 8 && n.starts_with(prefix);
    const int64_t t = shaped ? static_cast<int64_t>(ReadBigEndian64(n.substr(prefix.size()))) : -1;
    if (!shaped || t <= a.from || t >= a.to || MeterIntervalKey(a.meter, t) != n) {
      return Failed(Error(Code::kInvalidArgument,
                          "the node cut the range at a key that is not an interval of meter " +
                              a.meter + " inside it"));
    }
  }
  V2G_ASSIGN_OR_RETURN(entries, ProvenEntries(v, answer, range));
  std::vector<pb::MeterIntervalRecord> recs;
  int64_t import_wh = 0, export_wh = 0;
  for (const auto& [k, val] : entries) {
    pb::MeterIntervalRecord r;
    if (!r.ParseFromString(val))
      return Failed(Error(Code::kMalformed, "a proven interval record does not decode"));
    import_wh += r.import_wh();
    export_wh += r.export_wh();
    recs.push_back(std::move(r));
  }
  // Where the proof ends: `to`, or the first interval it left out.
  const bool cut = range.hi != MeterIntervalKey(a.meter, a.to);
  const int64_t until =
      cut ? static_cast<int64_t>(ReadBigEndian64(range.hi.substr(range.hi.size() - 8))) : a.to;
  if (ctx.json()) {
    json out = VerifiedJson(v);
    json list = json::array();
    for (const auto& r : recs) {
      list.push_back({{"interval_start_s", r.interval_start_s()},
                      {"import_wh", r.import_wh()},
                      {"export_wh", r.export_wh()}});
    }
    out["meter_id"] = a.meter;
    out["from"] = a.from;
    out["complete_until"] = until;
    out["more"] = cut;
    out["intervals"] = list;
    out["import_wh"] = import_wh;
    out["export_wh"] = export_wh;
    PrintJson(out);
    return Status::Ok();
  }
  PrintVerifiedLine(v);
  std::cout << "  meter " << a.meter << ": " << recs.size()
            << " interval(s) with attested energy from " << a.from << " to " << until
            << " (complete: none left out)"
            << (cut ? "; more follow from " + std::to_string(until) : "") << "\n";
  for (const auto& r : recs) {
    std::cout << "  " << r.interval_start_s() << "  import " << r.import_wh() << " Wh  export "
              << r.export_wh() << " Wh\n";
  }
  std::cout << "  total  import " << import_wh << " Wh  export " << export_wh << " Wh\n";
  return Status::Ok();
}

Status CmdSettlement(Context& ctx, const VerifyArgs& a) {
  if (!ValidZone(a.zone)) return Error(Code::kInvalidArgument, "ZONE: not a valid zone");
  if (a.interval < 0 || a.index < 0 || a.index > UINT32_MAX) {
    return Error(Code::kInvalidArgument,
                 "INTERVAL and INDEX: non-negative integers (INDEX below 2^32)");
  }
  V2G_ASSIGN_OR_RETURN(client, ctx.client());
  V2G_ASSIGN_OR_RETURN(v, VerifyHeaderFor(ctx, *client, a.at));
  V2G_ASSIGN_OR_RETURN(
      answer,
      client->GetJson("/v1/proof/trades/" + a.zone + "/" + std::to_string(a.interval) + "/" +
                      std::to_string(a.index) + "?height=" + std::to_string(v.state_height)));
  std::string key = MarketTradesPrefix(a.zone, a.interval);
  for (int sh = 24; sh >= 0; sh -= 8) key.push_back(static_cast<char>((a.index >> sh) & 0xFF));
  TreeRange range = TreeRange::Key(key);
  V2G_ASSIGN_OR_RETURN(entries, ProvenEntries(v, answer, range));
  if (entries.empty()) {
    return Error(Code::kNotFound, "verified: trade " + std::to_string(a.index) + " of market " +
                                      a.zone + " " + std::to_string(a.interval) +
                                      " does not exist at height " +
                                      std::to_string(v.state_height));
  }
  pb::TradeRecord t;
  if (!t.ParseFromString(entries.front().second))
    return Failed(Error(Code::kMalformed, "the proven trade does not decode"));
  // Its amounts are in the market's denomination, as the proven parameters name it.
  V2G_ASSIGN_OR_RETURN(
      params_answer, client->GetJson("/v1/proof/params?height=" + std::to_string(v.state_height)));
  TreeRange params_range = TreeRange::Key(kParamsKey);
  V2G_ASSIGN_OR_RETURN(params_entries, ProvenEntries(v, params_answer, params_range));
  pb::ParamsRecord params;
  if (params_entries.empty() || !params.ParseFromString(params_entries.front().second)) {
    return Failed(Error(Code::kInvalidArgument, "the chain's parameters are not proven"));
  }
  const std::string denom = params.market_denom();
  V2G_ASSIGN_OR_RETURN(decimals, ProvenDecimals(*client, v, denom));
  auto money = [&](int64_t units) { return FormatAmount(units, decimals) + " " + denom; };
  if (ctx.json()) {
    json out = VerifiedJson(v);
    out["zone"] = a.zone;
    out["interval_start_s"] = a.interval;
    out["index"] = a.index;
    out["energy_wh"] = t.energy_wh();
    out["price"] = std::to_string(t.price());
    out["settled"] = t.settled();
    out["delivered_wh"] = t.delivered_wh();
    out["seller_paid"] = std::to_string(t.seller_paid());
    out["buyer_refund"] = std::to_string(t.buyer_refund());
    out["penalty"] = std::to_string(t.penalty());
    out["denom"] = denom;
    PrintJson(out);
    return Status::Ok();
  }
  PrintVerifiedLine(v);
  std::cout << "  trade " << a.index << " of " << a.zone << " " << a.interval << ": "
            << t.energy_wh() << " Wh at " << money(t.price()) << " per kWh\n";
  if (!t.settled()) {
    std::cout << "  not settled yet\n";
  } else {
    std::cout << "  settled: delivered " << t.delivered_wh() << " Wh, seller paid "
              << money(t.seller_paid()) << ", buyer refunded " << money(t.buyer_refund())
              << ", penalty " << money(t.penalty()) << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddVerifyCommands(CLI::App& app, CommandLine& cl) {
  VerifyArgs& a = cl.Keep<VerifyArgs>();
  CLI::App* verify = cl.Group(
      &app, "verify",
      "Check the node's answers without trusting it (light client: signatures and Merkle proofs)");
  auto* trust = cl.Command(
      verify, "trust", "Trust a checkpoint: a block (height and id) you got from someone you trust",
      [&](Context& c) { return CmdTrust(c, a); });
  trust->add_option("HEIGHT", a.height, "Block height")->required();
  trust->add_option("BLOCK_ID", a.block_id, "Its block id (64 hex digits)")->required();
  trust->add_option("--trusting-period-days", a.trusting_period_days,
                    "How long a verified header may vouch for later ones (default 14)");
  auto* balance = cl.Command(verify, "balance",
                             "An account's balances and nonce, proven against a verified header",
                             [&](Context& c) { return CmdBalance(c, a); });
  balance->add_option("ADDRESS", a.address, "Account address (v2g1...)")->required();
  balance->add_option("--height", a.at,
                      "The state after this block (default: the newest provable, tip - 1)");
  auto* meter = cl.Command(
      verify, "meter", "A meter's attested energy per interval in [--from, --to), proven complete",
      [&](Context& c) { return CmdMeter(c, a); });
  meter->add_option("METER", a.meter, "Meter id")->required();
  meter->add_option("--from", a.from, "First interval start (Unix seconds)")->required();
  meter->add_option("--to", a.to, "End, exclusive (Unix seconds)")->required();
  meter->add_option("--height", a.at, "The state after this block (default: tip - 1)");
  auto* settlement =
      cl.Command(verify, "settlement",
                 "A market trade and its settlement (delivered, paid, refunded, penalty)",
                 [&](Context& c) { return CmdSettlement(c, a); });
  settlement->add_option("ZONE", a.zone, "Zone")->required();
  settlement->add_option("INTERVAL", a.interval, "Delivery interval start (Unix seconds)")
      ->required();
  settlement->add_option("INDEX", a.index, "Trade index in the market (v2g market trades shows it)")
      ->required();
  settlement->add_option("--height", a.at, "The state after this block (default: tip - 1)");
}

}  // namespace v2g::cli
