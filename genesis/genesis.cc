#include "genesis/genesis.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/amount.h"
#include "common/checked.h"
#include "common/limits.h"
#include "common/time.h"
#include "contracts/meters.h"
#include "contracts/params.h"
#include "contracts/state.h"

namespace v2g {
namespace {

using json = nlohmann::json;

// 9999-12-31T23:59:59.999Z: the last instant a 4-digit RFC 3339 year can name, so a genesis time
// beyond it could be written by GenesisToJson but never read back.
constexpr int64_t kGenesisTimeMsMax = 253402300799999;

Status FieldError(const std::string& field, const std::string& what) {
  return Error(Code::kInvalidArgument, "genesis: " + field + ": " + what);
}

Result<const json*> Member(const json& obj, const std::string& path, const char* key, bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (!required) return static_cast<const json*>(nullptr);
    return FieldError(path.empty() ? key : path + "." + key, "missing");
  }
  return &*it;
}

std::string Path(const std::string& parent, const char* key) { return parent.empty() ? key : parent + "." + key; }

Result<std::string> GetString(const json& obj, const std::string& parent, const char* key) {
  auto m = Member(obj, parent, key);
  if (!m.ok()) return m.status();
  if (!(*m)->is_string()) return FieldError(Path(parent, key), "must be a string");
  return (*m)->get<std::string>();
}

Result<int64_t> GetInt(const json& obj, const std::string& parent, const char* key) {
  auto m = Member(obj, parent, key);
  if (!m.ok()) return m.status();
  if (!(*m)->is_number_integer()) return FieldError(Path(parent, key), "must be an integer");
  if ((*m)->is_number_unsigned() && (*m)->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return FieldError(Path(parent, key), "out of range");
  }
  return (*m)->get<int64_t>();
}

Result<Address> GetAddress(const json& obj, const std::string& parent, const char* key) {
  auto s = GetString(obj, parent, key);
  if (!s.ok()) return s.status();
  auto a = DecodeAddress(*s);
  if (!a.ok()) return FieldError(Path(parent, key), a.status().message());
  return *a;
}

Result<PublicKey> GetPubkey(const json& obj, const std::string& parent, const char* key) {
  auto s = GetString(obj, parent, key);
  if (!s.ok()) return s.status();
  auto b = HexDecode(*s);
  if (!b.ok()) return FieldError(Path(parent, key), b.status().message());
  if (b->size() != kPublicKeyBytes) return FieldError(Path(parent, key), "must be 32 bytes of hex");
  PublicKey pk;
  std::copy(b->begin(), b->end(), pk.begin());
  return pk;
}

Result<const json*> GetArray(const json& doc, const char* key, bool required) {
  auto m = Member(doc, "", key, required);
  if (!m.ok()) return m.status();
  if (*m && !(*m)->is_array()) return FieldError(key, "must be an array");
  return *m;
}

#define V2G_ASSIGN(lhs, expr)          \
  do {                                 \
    auto _r = (expr);                  \
    if (!_r.ok()) return _r.status();  \
    lhs = std::move(*_r);              \
  } while (0)

Status ParseValidators(const json& doc, GenesisState& g) {
  const json* arr;
  V2G_ASSIGN(arr, GetArray(doc, "validators", true));
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& v = (*arr)[i];
    std::string p = "validators[" + std::to_string(i) + "]";
    if (!v.is_object()) return FieldError(p, "must be an object");
    GenesisValidator gv;
    V2G_ASSIGN(gv.name, GetString(v, p, "name"));
    V2G_ASSIGN(gv.address, GetAddress(v, p, "address"));
    V2G_ASSIGN(gv.consensus_pubkey, GetPubkey(v, p, "consensus_pubkey"));
    V2G_ASSIGN(gv.node_pubkey, GetPubkey(v, p, "node_pubkey"));
    V2G_ASSIGN(gv.power, GetInt(v, p, "power"));
    g.validators.push_back(gv);
  }
  return Status::Ok();
}

Status ParseDenoms(const json& doc, GenesisState& g) {
  const json* arr;
  V2G_ASSIGN(arr, GetArray(doc, "denominations", true));
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& d = (*arr)[i];
    std::string p = "denominations[" + std::to_string(i) + "]";
    if (!d.is_object()) return FieldError(p, "must be an object");
    GenesisDenom gd;
    int64_t decimals;
    V2G_ASSIGN(gd.name, GetString(d, p, "name"));
    V2G_ASSIGN(decimals, GetInt(d, p, "decimals"));
    if (decimals < 0 || decimals > static_cast<int64_t>(kDecimalsMax)) {
      return FieldError(p + ".decimals", "must be between 0 and 18");
    }
    gd.decimals = static_cast<uint32_t>(decimals);
    V2G_ASSIGN(gd.issuer, GetAddress(d, p, "issuer"));
    g.denoms.push_back(gd);
  }
  return Status::Ok();
}

Status ParseBalances(const json& doc, GenesisState& g) {
  const json* arr;
  V2G_ASSIGN(arr, GetArray(doc, "balances", false));
  if (!arr) return Status::Ok();
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& b = (*arr)[i];
    std::string p = "balances[" + std::to_string(i) + "]";
    if (!b.is_object()) return FieldError(p, "must be an object");
    GenesisBalance gb;
    std::string amount;
    V2G_ASSIGN(gb.address, GetAddress(b, p, "address"));
    V2G_ASSIGN(gb.denom, GetString(b, p, "denom"));
    V2G_ASSIGN(amount, GetString(b, p, "amount"));
    auto parsed = ParseAmount(amount, 0);
    if (!parsed.ok()) return FieldError(p + ".amount", "must be a decimal string of minimal units: " + parsed.status().message());
    gb.amount = *parsed;
    g.balances.push_back(gb);
  }
  return Status::Ok();
}

Status ParseRoles(const json& doc, GenesisState& g) {
  const json* roles;
  V2G_ASSIGN(roles, Member(doc, "", "roles", false));
  if (!roles) return Status::Ok();
  if (!roles->is_object()) return FieldError("roles", "must be an object of role -> [addresses]");
  for (const auto& [role, list] : roles->items()) {
    std::string p = "roles." + role;
    if (!list.is_array()) return FieldError(p, "must be an array of addresses");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string pi = p + "[" + std::to_string(i) + "]";
      if (!list[i].is_string()) return FieldError(pi, "must be a string");
      auto a = DecodeAddress(list[i].get<std::string>());
      if (!a.ok()) return FieldError(pi, a.status().message());
      g.roles.push_back({role, *a});
    }
  }
  return Status::Ok();
}

Status ParseZones(const json& doc, GenesisState& g) {
  const json* zones;
  V2G_ASSIGN(zones, Member(doc, "", "zones", false));
  if (!zones) return Status::Ok();
  if (!zones->is_object()) return FieldError("zones", "must be an object of zone -> owning grid company address");
  for (const auto& [name, owner] : zones->items()) {
    std::string p = "zones." + name;
    if (!owner.is_string()) return FieldError(p, "must be the address (a string) of the grid company that owns the zone");
    auto a = DecodeAddress(owner.get<std::string>());
    if (!a.ok()) return FieldError(p, a.status().message());
    g.zones.push_back({name, *a});
  }
  return Status::Ok();
}

Status ParseParams(const json& doc, GenesisState& g) {
  g.params = DefaultParams();
  const json* params;
  V2G_ASSIGN(params, Member(doc, "", "params", false));
  if (!params) return Status::Ok();
  if (!params->is_object()) return FieldError("params", "must be an object");
  static const std::set<std::string> kKnown = {"tx_bytes_max",
                                               "block_txs_max",
                                               "block_bytes_max",
                                               "memo_bytes_max",
                                               "settlement_interval_s",
                                               "reading_future_skew_s",
                                               "reading_energy_tolerance_permille",
                                               "reading_energy_tolerance_wh",
                                               "market_denom",
                                               "market_gate_closure_s",
                                               "market_horizon_s",
                                               "market_grace_s",
                                               "market_collateral_bps",
                                               "market_penalty_bps",
                                               "baseline_days",
                                               "grid_horizon_s",
                                               "fee_min",
                                               "block_units_max",
                                               "utc_offset",
                                               "gov_voting_period_s"};
  for (const auto& [k, v] : params->items()) {
    if (!kKnown.count(k)) return FieldError("params." + k, "unknown parameter");
  }
  auto take = [&](const char* key, int64_t& out) -> Status {
    if (!params->contains(key)) return Status::Ok();
    V2G_ASSIGN(out, GetInt(*params, "params", key));
    return Status::Ok();
  };
  V2G_RETURN_IF_ERROR(take("tx_bytes_max", g.params.tx_bytes_max));
  V2G_RETURN_IF_ERROR(take("block_txs_max", g.params.block_txs_max));
  V2G_RETURN_IF_ERROR(take("block_bytes_max", g.params.block_bytes_max));
  V2G_RETURN_IF_ERROR(take("memo_bytes_max", g.params.memo_bytes_max));
  V2G_RETURN_IF_ERROR(take("settlement_interval_s", g.params.settlement_interval_s));
  V2G_RETURN_IF_ERROR(take("reading_future_skew_s", g.params.reading_future_skew_s));
  V2G_RETURN_IF_ERROR(take("reading_energy_tolerance_permille", g.params.reading_energy_tolerance_permille));
  V2G_RETURN_IF_ERROR(take("reading_energy_tolerance_wh", g.params.reading_energy_tolerance_wh));
  if (params->contains("market_denom")) {
    const json& d = (*params)["market_denom"];
    if (!d.is_string()) return FieldError("params.market_denom", "must be a string (a denomination name, or \"\" for no market)");
    g.params.market_denom = d.get<std::string>();
  }
  V2G_RETURN_IF_ERROR(take("market_gate_closure_s", g.params.market_gate_closure_s));
  V2G_RETURN_IF_ERROR(take("market_horizon_s", g.params.market_horizon_s));
  V2G_RETURN_IF_ERROR(take("market_grace_s", g.params.market_grace_s));
  V2G_RETURN_IF_ERROR(take("market_collateral_bps", g.params.market_collateral_bps));
  V2G_RETURN_IF_ERROR(take("market_penalty_bps", g.params.market_penalty_bps));
  V2G_RETURN_IF_ERROR(take("baseline_days", g.params.baseline_days));
  V2G_RETURN_IF_ERROR(take("grid_horizon_s", g.params.grid_horizon_s));
  V2G_RETURN_IF_ERROR(take("fee_min", g.params.fee_min));
  V2G_RETURN_IF_ERROR(take("block_units_max", g.params.block_units_max));
  V2G_RETURN_IF_ERROR(take("gov_voting_period_s", g.params.gov_voting_period_s));
  if (params->contains("utc_offset")) {
    const json& o = (*params)["utc_offset"];
    if (!o.is_string()) return FieldError("params.utc_offset", "must be a string like \"+08:00\" (the market's time zone)");
    auto off = ParseUtcOffset(o.get<std::string>());
    if (!off.ok()) return FieldError("params.utc_offset", off.status().message());
    g.params.utc_offset_min = *off;
  }
  return Status::Ok();
}

Status CheckRange(const std::string& field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return FieldError(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                 ", got " + std::to_string(v));
  }
  return Status::Ok();
}

}  // namespace

GenesisParams DefaultParams() {
  GenesisParams p;
  p.tx_bytes_max = limits::kTxBytesDefault;
  p.block_txs_max = limits::kBlockTxsDefault;
  p.block_bytes_max = limits::kBlockBytesDefault;
  p.memo_bytes_max = limits::kMemoBytesDefault;
  p.settlement_interval_s = limits::kSettlementIntervalSDefault;
  p.reading_future_skew_s = limits::kReadingFutureSkewSDefault;
  p.reading_energy_tolerance_permille = limits::kReadingEnergyTolerancePermilleDefault;
  p.reading_energy_tolerance_wh = limits::kReadingEnergyToleranceWhDefault;
  p.market_denom = "";
  p.market_gate_closure_s = limits::kGateClosureSDefault;
  p.market_horizon_s = limits::kMarketHorizonSDefault;
  p.market_grace_s = limits::kMarketGraceSDefault;
  p.market_collateral_bps = limits::kCollateralBpsDefault;
  p.market_penalty_bps = limits::kPenaltyBpsDefault;
  p.baseline_days = limits::kBaselineDaysDefault;
  p.grid_horizon_s = limits::kGridHorizonSDefault;
  p.fee_min = 0;
  p.block_units_max = limits::kBlockUnitsDefault;
  return p;
}

namespace {

Status ValidateValidators(const GenesisState& g) {
  if (g.validators.empty()) return FieldError("validators", "at least one validator is required");
  if (g.validators.size() > limits::kValidatorsMax) return FieldError("validators", "more than 150 validators");
  std::set<std::string> seen;
  for (size_t i = 0; i < g.validators.size(); ++i) {
    const auto& v = g.validators[i];
    std::string p = "validators[" + std::to_string(i) + "]";
    if (!ValidRecordName(v.name, limits::kValidatorNameMax))
      return FieldError(p + ".name", "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_', '.'");
    // Total power must stay far from overflow when summed and multiplied by 3 in quorum checks.
    V2G_RETURN_IF_ERROR(CheckRange(p + ".power", v.power, 1, int64_t{1} << 50));
    std::string ck(v.consensus_pubkey.begin(), v.consensus_pubkey.end());
    if (!seen.insert("c" + ck).second) return FieldError(p + ".consensus_pubkey", "used by another validator");
    std::string nk(v.node_pubkey.begin(), v.node_pubkey.end());
    if (!seen.insert("n" + nk).second) return FieldError(p + ".node_pubkey", "used by another validator");
    if (!seen.insert("v" + v.name).second) return FieldError(p + ".name", "used by another validator");
    // Given apart from the keys, so it could collide; votes and commit signatures name their
    // validator by address, so a shared one would check one validator's votes with the other's key.
    std::string ad(v.address.begin(), v.address.end());
    if (!seen.insert("a" + ad).second) return FieldError(p + ".address", "used by another validator");
    // And it must be the consensus key's: an address naming another key (another validator's
    // account, say) would have its votes checked against a key its holder never signs with.
    if (v.address != AddressFromPublicKey(v.consensus_pubkey)) {
      return FieldError(p + ".address", EncodeAddress(v.address) + " is not the address of consensus_pubkey (" +
                                            EncodeAddress(AddressFromPublicKey(v.consensus_pubkey)) + ")");
    }
  }
  return Status::Ok();
}

// The denominations (names, decimals, no duplicates) into `denoms`, then the balances in them.
Status ValidateDenomsAndBalances(const GenesisState& g, std::set<std::string>& denoms) {
  for (size_t i = 0; i < g.denoms.size(); ++i) {
    const auto& d = g.denoms[i];
    std::string p = "denominations[" + std::to_string(i) + "]";
    bool ok = d.name.size() >= limits::kDenomNameMin && d.name.size() <= limits::kDenomNameMax &&
              d.name[0] >= 'A' && d.name[0] <= 'Z' &&
              std::all_of(d.name.begin(), d.name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
    if (!ok) return FieldError(p + ".name", "must be 2-16 characters of A-Z, 0-9, starting with a letter");
    // Also checked while parsing; repeated here for states built in code (FormatAmount asserts it).
    if (d.decimals > kDecimalsMax) return FieldError(p + ".decimals", "must be between 0 and 18");
    if (!denoms.insert(d.name).second) return FieldError(p + ".name", "denomination " + d.name + " listed twice");
  }
  // InitChain records each denomination's genesis total as its minted supply, an int64: a genesis
  // whose balances sum past that could never start, so it is rejected here, naming the entry.
  std::map<std::string, int64_t> supply;
  for (size_t i = 0; i < g.balances.size(); ++i) {
    const auto& b = g.balances[i];
    std::string p = "balances[" + std::to_string(i) + "]";
    if (!denoms.count(b.denom)) return FieldError(p + ".denom", "unknown denomination '" + b.denom + "'");
    if (b.amount <= 0) return FieldError(p + ".amount", "must be positive");
    auto total = CheckedAdd(supply[b.denom], b.amount);
    if (!total) {
      return FieldError(p + ".amount", "total genesis supply of " + b.denom +
                                           " would exceed 9223372036854775807 minimal units");
    }
    supply[b.denom] = *total;
  }
  return Status::Ok();
}

// Every param within its range (common/limits.h ceilings; contracts/params.h, the rule governance
// applies too); `denoms` are the chain's denominations.
Status ValidateParams(const GenesisParams& p, const std::set<std::string>& denoms) {
  Status st = CheckParamsRecord(
      ParamsRecordOf(p), [&](std::string_view d) { return denoms.count(std::string(d)) > 0; });
  if (!st.ok()) return Error(st.code(), "genesis: " + st.message());
  return Status::Ok();
}

}  // namespace

Status ValidateGenesis(const GenesisState& g) {
  if (!ValidRecordName(g.chain_id, limits::kChainIdMax)) {
    return FieldError("chain_id", "must be 1-50 characters of a-z, A-Z, 0-9, '-', '_', '.'");
  }
  if (g.genesis_time_ms < 0 || g.genesis_time_ms > kGenesisTimeMsMax) {
    return FieldError("genesis_time",
                      "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z");
  }
  V2G_RETURN_IF_ERROR(ValidateValidators(g));
  std::set<std::string> denoms;
  V2G_RETURN_IF_ERROR(ValidateDenomsAndBalances(g, denoms));
  for (const auto& r : g.roles) {
    if (std::find(std::begin(kKnownRoles), std::end(kKnownRoles), r.role) == std::end(kKnownRoles)) {
      return FieldError("roles." + r.role, "unknown role (known: " + RoleNamesText() + ")");
    }
  }
  if (static_cast<int64_t>(g.zones.size()) > limits::kZonesMax) {
    return FieldError("zones", "at most " + std::to_string(limits::kZonesMax) + " zones, got " + std::to_string(g.zones.size()));
  }
  std::set<std::string> zones;
  for (const auto& z : g.zones) {
    const std::string p = "zones." + z.name;
    if (!ValidZone(z.name)) return FieldError(p, "a zone name is 1-32 of A-Z a-z 0-9 . _ -");
    if (!zones.insert(z.name).second) return FieldError(p, "listed twice");
    const bool grid_company = std::any_of(g.roles.begin(), g.roles.end(), [&](const GenesisRole& r) {
      return r.role == "grid_company" && r.address == z.grid_company;
    });
    if (!grid_company) return FieldError(p, "its owner " + EncodeAddress(z.grid_company) + " does not hold the grid_company role");
  }
  return ValidateParams(g.params, denoms);
}

Result<GenesisState> ParseGenesis(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Error(Code::kMalformed, "genesis: not valid JSON");
  if (!doc.is_object()) return Error(Code::kMalformed, "genesis: top level must be an object");
  GenesisState g;
  V2G_ASSIGN(g.chain_id, GetString(doc, "", "chain_id"));
  std::string time;
  V2G_ASSIGN(time, GetString(doc, "", "genesis_time"));
  // One spelling per instant in the chain's founding document: UTC, as the hash is over the text.
  if (time.empty() || time.back() != 'Z') {
    return FieldError("genesis_time", "'" + time.substr(0, 40) + "' must be an RFC 3339 UTC time like 2026-01-01T00:00:00Z");
  }
  auto ms = ParseRfc3339Ms(time);
  if (!ms.ok()) return FieldError("genesis_time", ms.status().message());
  g.genesis_time_ms = *ms;
  V2G_RETURN_IF_ERROR(ParseValidators(doc, g));
  V2G_RETURN_IF_ERROR(ParseDenoms(doc, g));
  V2G_RETURN_IF_ERROR(ParseBalances(doc, g));
  V2G_RETURN_IF_ERROR(ParseRoles(doc, g));
  V2G_RETURN_IF_ERROR(ParseZones(doc, g));
  V2G_RETURN_IF_ERROR(ParseParams(doc, g));
  V2G_RETURN_IF_ERROR(ValidateGenesis(g));
  return g;
}

Result<GenesisState> LoadGenesisFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Code::kIo, "cannot read genesis file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto g = ParseGenesis(ss.str());
  if (!g.ok()) return Error(g.status().code(), path + ": " + g.status().message());
  return g;
}

std::string GenesisToJson(const GenesisState& g) {
  json doc;
  doc["chain_id"] = g.chain_id;
  doc["genesis_time"] = FormatRfc3339Ms(g.genesis_time_ms);
  doc["validators"] = json::array();
  for (const auto& v : g.validators) {
    doc["validators"].push_back({{"name", v.name},
                                 {"address", EncodeAddress(v.address)},
                                 {"consensus_pubkey", HexEncode(v.consensus_pubkey)},
                                 {"node_pubkey", HexEncode(v.node_pubkey)},
                                 {"power", v.power}});
  }
  doc["denominations"] = json::array();
  for (const auto& d : g.denoms) {
    doc["denominations"].push_back({{"name", d.name}, {"decimals", d.decimals}, {"issuer", EncodeAddress(d.issuer)}});
  }
  doc["balances"] = json::array();
  for (const auto& b : g.balances) {
    doc["balances"].push_back({{"address", EncodeAddress(b.address)}, {"denom", b.denom}, {"amount", std::to_string(b.amount)}});
  }
  doc["roles"] = json::object();
  for (const auto& r : g.roles) doc["roles"][r.role].push_back(EncodeAddress(r.address));
  doc["zones"] = json::object();
  for (const auto& z : g.zones) doc["zones"][z.name] = EncodeAddress(z.grid_company);
  doc["params"] = {{"tx_bytes_max", g.params.tx_bytes_max},
                   {"block_txs_max", g.params.block_txs_max},
                   {"block_bytes_max", g.params.block_bytes_max},
                   {"memo_bytes_max", g.params.memo_bytes_max},
                   {"settlement_interval_s", g.params.settlement_interval_s},
                   {"reading_future_skew_s", g.params.reading_future_skew_s},
                   {"reading_energy_tolerance_permille", g.params.reading_energy_tolerance_permille},
                   {"reading_energy_tolerance_wh", g.params.reading_energy_tolerance_wh},
                   {"market_denom", g.params.market_denom},
                   {"market_gate_closure_s", g.params.market_gate_closure_s},
                   {"market_horizon_s", g.params.market_horizon_s},
                   {"market_grace_s", g.params.market_grace_s},
                   {"market_collateral_bps", g.params.market_collateral_bps},
                   {"market_penalty_bps", g.params.market_penalty_bps},
                   {"baseline_days", g.params.baseline_days},
                   {"grid_horizon_s", g.params.grid_horizon_s},
                   {"fee_min", g.params.fee_min},
                   {"block_units_max", g.params.block_units_max}};
  // Only when set: the genesis hash is taken over this text, so a genesis written before the
  // parameter existed keeps its hash.
  if (g.params.utc_offset_min != 0) doc["params"]["utc_offset"] = FormatUtcOffset(g.params.utc_offset_min);
  if (g.params.gov_voting_period_s != limits::kGovVotingPeriodSDefault) {
    doc["params"]["gov_voting_period_s"] = g.params.gov_voting_period_s;
  }
  return doc.dump(2) + "\n";
}

}  // namespace v2g
