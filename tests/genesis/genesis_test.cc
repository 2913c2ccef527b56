// Unit tests for genesis/: parsing genesis.json, errors that name the offending field, validation,
// writing it back, and the RFC 3339 time helpers. Reference times were computed with Python's
// datetime, not with the code under test.
#include "genesis/genesis.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "contracts/app.h"
#include "contracts/kv.h"

namespace v2g {
namespace {

using json = nlohmann::json;

::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << haystack << "' does not contain '" << needle << "'";
}

KeyPair Key(uint8_t n) { return KeyPair::FromSeed(Bytes(kSeedBytes, n)); }
std::string AddrOf(uint8_t n) { return EncodeAddress(AddressFromPublicKey(Key(n).public_key())); }
std::string PubHex(uint8_t n) { return HexEncode(ByteView(Key(n).public_key())); }

class GenesisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    doc_ = {
        {"chain_id", "v2g-test-1"},
        {"genesis_time", "2026-11-26T02:00:00Z"},
        {"validators", json::array({{{"name", "val-0"},
                                     {"address", AddrOf(1)},
                                     {"consensus_pubkey", PubHex(1)},
                                     {"node_pubkey", PubHex(3)},
                                     {"power", 10}},
                                    {{"name", "val-1"},
                                     {"address", AddrOf(4)},
                                     {"consensus_pubkey", PubHex(4)},
                                     {"node_pubkey", PubHex(6)},
                                     {"power", 20}}})},
        {"denominations", json::array({{{"name", "CNY"}, {"decimals", 2}, {"issuer", AddrOf(7)}},
                                       {{"name", "PTS"}, {"decimals", 0}, {"issuer", AddrOf(8)}}})},
        {"balances", json::array({{{"address", AddrOf(9)}, {"denom", "CNY"}, {"amount", "100000"}},
                                  {{"address", AddrOf(10)}, {"denom", "PTS"}, {"amount", "5"}}})},
        {"roles",
         {{"operator", json::array({AddrOf(1)})},
          {"grid_company", json::array({AddrOf(4), AddrOf(9)})}}},
        {"params",
         {{"tx_bytes_max", 8192},
          {"block_txs_max", 500},
          {"block_bytes_max", 1 << 20},
          {"memo_bytes_max", 128}}},
    };
  }

  // Parses doc_ and expects an error whose message names `field`.
  void ExpectFieldError(const std::string& field, Code code = Code::kInvalidArgument) {
    auto g = ParseGenesis(doc_.dump());
    ASSERT_FALSE(g.ok()) << "accepted: " << doc_.dump();
    EXPECT_EQ(g.status().code(), code) << g.status().ToString();
    EXPECT_TRUE(Contains(g.status().message(), field));
  }

  json doc_;
};

TEST_F(GenesisTest, ValidDocumentParses) {
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->chain_id, "v2g-test-1");
  EXPECT_EQ(g->genesis_time_ms, 1795658400000);
  ASSERT_EQ(g->validators.size(), 2u);
  EXPECT_EQ(g->validators[0].name, "val-0");
  EXPECT_EQ(g->validators[0].address, AddressFromPublicKey(Key(1).public_key()));
  EXPECT_EQ(g->validators[0].consensus_pubkey, Key(1).public_key());
  EXPECT_EQ(g->validators[0].node_pubkey, Key(3).public_key());
  EXPECT_EQ(g->validators[0].power, 10);
  EXPECT_EQ(g->validators[1].power, 20);
  ASSERT_EQ(g->denoms.size(), 2u);
  EXPECT_EQ(g->denoms[0].name, "CNY");
  EXPECT_EQ(g->denoms[0].decimals, 2u);
  EXPECT_EQ(g->denoms[0].issuer, AddressFromPublicKey(Key(7).public_key()));
  EXPECT_EQ(g->denoms[1].decimals, 0u);
  ASSERT_EQ(g->balances.size(), 2u);
  EXPECT_EQ(g->balances[0].amount, 100000);
  EXPECT_EQ(g->balances[0].denom, "CNY");
  EXPECT_EQ(g->balances[1].address, AddressFromPublicKey(Key(10).public_key()));
  EXPECT_EQ(g->roles.size(), 3u);
  EXPECT_EQ(g->params.tx_bytes_max, 8192);
  EXPECT_EQ(g->params.block_txs_max, 500);
  EXPECT_EQ(g->params.block_bytes_max, 1 << 20);
  EXPECT_EQ(g->params.memo_bytes_max, 128);
}

TEST_F(GenesisTest, OptionalSectionsDefault) {
  doc_.erase("balances");
  doc_.erase("roles");
  doc_.erase("params");
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(g->balances.empty());
  EXPECT_TRUE(g->roles.empty());
  EXPECT_EQ(g->params.tx_bytes_max, limits::kTxBytesDefault);
  EXPECT_EQ(g->params.block_txs_max, limits::kBlockTxsDefault);
  EXPECT_EQ(g->params.block_bytes_max, limits::kBlockBytesDefault);
  EXPECT_EQ(g->params.memo_bytes_max, limits::kMemoBytesDefault);
  EXPECT_EQ(g->params.block_units_max, limits::kBlockUnitsDefault);
  // A partial params object keeps the defaults for what it leaves out.
  doc_["params"] = {{"memo_bytes_max", 0}};
  auto p = ParseGenesis(doc_.dump());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->params.memo_bytes_max, 0);
  EXPECT_EQ(p->params.tx_bytes_max, limits::kTxBytesDefault);
}

void ExpectSameGenesis(const GenesisState& a, const GenesisState& b) {
  EXPECT_EQ(a.chain_id, b.chain_id);
  EXPECT_EQ(a.genesis_time_ms, b.genesis_time_ms);
  ASSERT_EQ(a.validators.size(), b.validators.size());
  for (size_t i = 0; i < a.validators.size(); ++i) {
    EXPECT_EQ(a.validators[i].name, b.validators[i].name);
    EXPECT_EQ(a.validators[i].address, b.validators[i].address);
    EXPECT_EQ(a.validators[i].consensus_pubkey, b.validators[i].consensus_pubkey);
    EXPECT_EQ(a.validators[i].node_pubkey, b.validators[i].node_pubkey);
    EXPECT_EQ(a.validators[i].power, b.validators[i].power);
  }
  ASSERT_EQ(a.denoms.size(), b.denoms.size());
  for (size_t i = 0; i < a.denoms.size(); ++i) {
    EXPECT_EQ(a.denoms[i].name, b.denoms[i].name);
    EXPECT_EQ(a.denoms[i].decimals, b.denoms[i].decimals);
    EXPECT_EQ(a.denoms[i].issuer, b.denoms[i].issuer);
  }
  ASSERT_EQ(a.balances.size(), b.balances.size());
  for (size_t i = 0; i < a.balances.size(); ++i) {
    EXPECT_EQ(a.balances[i].address, b.balances[i].address);
    EXPECT_EQ(a.balances[i].denom, b.balances[i].denom);
    EXPECT_EQ(a.balances[i].amount, b.balances[i].amount);
  }
  ASSERT_EQ(a.roles.size(), b.roles.size());
  for (size_t i = 0; i < a.roles.size(); ++i) {
    EXPECT_EQ(a.roles[i].role, b.roles[i].role);
    EXPECT_EQ(a.roles[i].address, b.roles[i].address);
  }
  EXPECT_EQ(a.params.tx_bytes_max, b.params.tx_bytes_max);
  EXPECT_EQ(a.params.block_txs_max, b.params.block_txs_max);
  EXPECT_EQ(a.params.block_bytes_max, b.params.block_bytes_max);
  EXPECT_EQ(a.params.memo_bytes_max, b.params.memo_bytes_max);
}

TEST_F(GenesisTest, GenesisToJsonRoundTrips) {
  doc_["genesis_time"] = "2026-11-26T02:00:00.250Z";
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::string text = GenesisToJson(*g);
  auto back = ParseGenesis(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  ExpectSameGenesis(*g, *back);
  EXPECT_EQ(GenesisToJson(*back), text);  // writing is stable
  EXPECT_EQ(back->genesis_time_ms, 1795658400250);
}

TEST_F(GenesisTest, RoundTripGivesTheSameGenesisState) {
  // The written file must initialise exactly the same chain: same state, same genesis app hash.
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok());
  auto back = ParseGenesis(GenesisToJson(*g));
  ASSERT_TRUE(back.ok());
  MemKv kv1, kv2;
  Overlay s1(&kv1), s2(&kv2);
  auto h1 = InitChain(*g, s1);
  auto h2 = InitChain(*back, s2);
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(*h1, *h2);
  EXPECT_EQ(s1.writes(), s2.writes());
}

TEST_F(GenesisTest, LoadGenesisFileReadsAndNamesThePath) {
  std::string path = ::testing::TempDir() + "/v2g_genesis_test.json";
  {
    std::ofstream out(path, std::ios::binary);
    out << doc_.dump(2);
  }
  auto g = LoadGenesisFile(path);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->chain_id, "v2g-test-1");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "{";
  }
  auto bad = LoadGenesisFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status().message(), path));
  std::remove(path.c_str());
  auto missing = LoadGenesisFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kIo);
}

// ------------------------------------------------------------------------------ document shape

TEST_F(GenesisTest, InvalidJson) {
  for (const char* text : {"", "{", "{\"chain_id\": }", "not json", "{\"a\":1,}"}) {
    auto g = ParseGenesis(text);
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_EQ(g.status().code(), Code::kMalformed) << text;
  }
  auto arr = ParseGenesis("[]");
  ASSERT_FALSE(arr.ok());
  EXPECT_EQ(arr.status().code(), Code::kMalformed);
}

TEST_F(GenesisTest, MissingChainId) {
  doc_.erase("chain_id");
  ExpectFieldError("chain_id: missing");
}

TEST_F(GenesisTest, MissingRequiredFields) {
  for (const char* key : {"genesis_time", "validators", "denominations"}) {
    SetUp();
    doc_.erase(key);
    ExpectFieldError(std::string(key) + ": missing");
  }
  for (const char* key : {"name", "address", "consensus_pubkey", "node_pubkey", "power"}) {
    SetUp();
    doc_["validators"][1].erase(key);
    ExpectFieldError(std::string("validators[1].") + key + ": missing");
  }
  for (const char* key : {"name", "decimals", "issuer"}) {
    SetUp();
    doc_["denominations"][0].erase(key);
    ExpectFieldError(std::string("denominations[0].") + key + ": missing");
  }
  for (const char* key : {"address", "denom", "amount"}) {
    SetUp();
    doc_["balances"][1].erase(key);
    ExpectFieldError(std::string("balances[1].") + key + ": missing");
  }
}

TEST_F(GenesisTest, WrongTypes) {
  struct Case {
    json::json_pointer ptr;
    json value;
    const char* field;
  };
  const Case cases[] = {
      {json::json_pointer("/chain_id"), 5, "chain_id"},
      {json::json_pointer("/genesis_time"), 0, "genesis_time"},
      {json::json_pointer("/validators"), json::object(), "validators"},
      {json::json_pointer("/validators/0"), "val", "validators[0]"},
      {json::json_pointer("/validators/0/power"), "10", "validators[0].power"},
      {json::json_pointer("/validators/0/power"), 10.5, "validators[0].power"},
      {json::json_pointer("/validators/1/name"), json::array(), "validators[1].name"},
      {json::json_pointer("/denominations"), "CNY", "denominations"},
      {json::json_pointer("/denominations/1/decimals"), "0", "denominations[1].decimals"},
      {json::json_pointer("/balances"), 3, "balances"},
      {json::json_pointer("/balances/0"), json::array(), "balances[0]"},
      {json::json_pointer("/balances/0/amount"), 100000, "balances[0].amount"},
      {json::json_pointer("/roles"), json::array(), "roles"},
      {json::json_pointer("/roles/operator"), AddrOf(1), "roles.operator"},
      {json::json_pointer("/roles/operator/0"), 1, "roles.operator[0]"},
      {json::json_pointer("/params"), 1, "params"},
      {json::json_pointer("/params/tx_bytes_max"), "8192", "params.tx_bytes_max"},
      {json::json_pointer("/params/memo_bytes_max"), true, "params.memo_bytes_max"},
  };
  for (const Case& c : cases) {
    SetUp();
    doc_[c.ptr] = c.value;
    SCOPED_TRACE(c.field);
    ExpectFieldError(std::string(c.field) + ": must be");
  }
}

// ---------------------------------------------------------------------------------- validators

TEST_F(GenesisTest, PowerOutOfRange) {
  for (json power : {json(0), json(-1), json((int64_t{1} << 50) + 1), json(INT64_MIN)}) {
    SetUp();
    doc_["validators"][0]["power"] = power;
    SCOPED_TRACE(power.dump());
    ExpectFieldError("validators[0].power");
  }
  doc_["validators"][0]["power"] = UINT64_MAX;
  ExpectFieldError("validators[0].power: out of range");
  doc_["validators"][0]["power"] = int64_t{1} << 50;  // the ceiling itself is fine
  EXPECT_TRUE(ParseGenesis(doc_.dump()).ok());
}

TEST_F(GenesisTest, NoValidators) {
  doc_["validators"] = json::array();
  ExpectFieldError("validators: at least one");
}

TEST_F(GenesisTest, BadValidatorNames) {
  for (const char* name : {"", "has space", "ünïcode", "slash/name"}) {
    SetUp();
    doc_["validators"][0]["name"] = name;
    ExpectFieldError("validators[0].name");
  }
  SetUp();
  doc_["validators"][1]["name"] = std::string(limits::kValidatorNameMax + 1, 'a');
  ExpectFieldError("validators[1].name");
  doc_["validators"][1]["name"] = "val-0";
  ExpectFieldError("validators[1].name: used by another validator");
}

TEST_F(GenesisTest, DuplicateValidatorKeys) {
  doc_["validators"][1]["consensus_pubkey"] = PubHex(1);
  ExpectFieldError("validators[1].consensus_pubkey: used by another validator");
  SetUp();
  doc_["validators"][1]["node_pubkey"] = PubHex(3);
  ExpectFieldError("validators[1].node_pubkey: used by another validator");
}

TEST_F(GenesisTest, DuplicateValidatorAddresses) {
  // The address is given apart from the keys, so two validators with different keys could share
  // it; votes and commit signatures name their validator by address, so one of the two would be
  // looked up with the other's key and power (its votes would never verify).
  doc_["validators"][1]["address"] = AddrOf(1);
  ExpectFieldError("validators[1].address: used by another validator");
}

TEST_F(GenesisTest, ValidatorAddressMustBeItsConsensusKeys) {
  // Issue 12: an address naming another key would have the validator's votes checked against a
  // key it never signs with.
  doc_["validators"][1]["address"] = AddrOf(9);
  ExpectFieldError("validators[1].address: " + AddrOf(9) + " is not the address of consensus_pubkey (" + AddrOf(4) + ")");
}

// Issue 12, class 3: a zone belongs to a grid company, recorded at genesis.
TEST_F(GenesisTest, ZonesBelongToGridCompanies) {
  doc_["zones"] = {{"GD-SZ", AddrOf(4)}, {"GD-GZ", AddrOf(9)}};
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->zones.size(), 2u);
  auto again = ParseGenesis(GenesisToJson(*g));  // they round-trip
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->zones.size(), 2u);
  doc_["zones"] = {{"GD-SZ", AddrOf(1)}};  // the operator, not a grid company
  ExpectFieldError("zones.GD-SZ: its owner " + AddrOf(1) + " does not hold the grid_company role");
  doc_["zones"] = {{"GD SZ", AddrOf(4)}};
  ExpectFieldError("zones.GD SZ: a zone name is 1-32 of");
  doc_["zones"] = {{"GD-SZ", 7}};
  ExpectFieldError("zones.GD-SZ: must be the address");
  doc_["zones"] = json::array();
  ExpectFieldError("zones: must be an object");
}

// Issue 12, class 1: fees are paid in the market denomination, within bounds.
TEST_F(GenesisTest, FeeMinIsBoundedAndNeedsAMarketDenomination) {
  doc_["params"]["fee_min"] = 3;
  ExpectFieldError("params.fee_min: fees are paid in market_denom, and this chain has none");
  doc_["params"]["market_denom"] = "CNY";
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->params.fee_min, 3);
  doc_["params"]["fee_min"] = -1;
  ExpectFieldError("params.fee_min: must be between 0 and");
  doc_["params"]["fee_min"] = limits::kFeeMinMax + 1;
  ExpectFieldError("params.fee_min: must be between 0 and");
}

TEST_F(GenesisTest, BadPubkeyHex) {
  doc_["validators"][0]["consensus_pubkey"] = "zz" + PubHex(1).substr(2);
  ExpectFieldError("validators[0].consensus_pubkey: invalid hex character at position 0");
  SetUp();
  doc_["validators"][0]["node_pubkey"] = PubHex(3).substr(1);
  ExpectFieldError("validators[0].node_pubkey: hex string has odd length");
  SetUp();
  doc_["validators"][0]["node_pubkey"] = PubHex(3).substr(2);  // 31 bytes
  ExpectFieldError("validators[0].node_pubkey: must be 32 bytes");
  SetUp();
  doc_["validators"][0]["consensus_pubkey"] = PubHex(1) + "00";  // 33 bytes
  ExpectFieldError("validators[0].consensus_pubkey: must be 32 bytes");
}

TEST_F(GenesisTest, BadAddresses) {
  const std::string good = AddrOf(1);
  const std::string wrong_prefix = "btc10py6cvzfdq97rmmk9mlq6dhqzueux3jwz6me0s";
  std::string typo = good;
  typo.back() = typo.back() == 'q' ? 'p' : 'q';
  struct Case {
    json::json_pointer ptr;
    const char* field;
  };
  const Case cases[] = {{json::json_pointer("/validators/0/address"), "validators[0].address"},
                        {json::json_pointer("/denominations/1/issuer"), "denominations[1].issuer"},
                        {json::json_pointer("/balances/0/address"), "balances[0].address"},
                        {json::json_pointer("/roles/grid_company/1"), "roles.grid_company[1]"}};
  for (const Case& c : cases) {
    for (const std::string& bad : {wrong_prefix, typo, std::string("v2g1"), std::string("")}) {
      SetUp();
      doc_[c.ptr] = bad;
      SCOPED_TRACE(std::string(c.field) + " = " + bad);
      ExpectFieldError(c.field);
    }
  }
}

// ------------------------------------------------------------------------------- denominations

TEST_F(GenesisTest, DuplicateDenomination) {
  doc_["denominations"][1]["name"] = "CNY";
  ExpectFieldError("denominations[1].name: denomination CNY listed twice");
}

TEST_F(GenesisTest, BadDenominationName) {
  for (const char* name : {"cny", "C", "1CNY", "CN-Y", "ABCDEFGHIJKLMNOPQ", ""}) {
    SetUp();
    doc_["denominations"][1]["name"] = name;
    SCOPED_TRACE(name);
    ExpectFieldError("denominations[1].name");
  }
  SetUp();
  doc_["denominations"][1]["name"] = "ABCDEFGHIJKLMNOP";  // 16 characters: allowed
  doc_["balances"][1]["denom"] = "ABCDEFGHIJKLMNOP";
  EXPECT_TRUE(ParseGenesis(doc_.dump()).ok());
}

TEST_F(GenesisTest, DecimalsOutOfRange) {
  for (int decimals : {-1, 19, 255}) {
    SetUp();
    doc_["denominations"][0]["decimals"] = decimals;
    ExpectFieldError("denominations[0].decimals");
  }
  doc_["denominations"][0]["decimals"] = 18;
  EXPECT_TRUE(ParseGenesis(doc_.dump()).ok());
}

TEST_F(GenesisTest, ValidateChecksDecimalsOfABuiltState) {
  // Genesis states are also built in code (testnet generation); the same ranges must hold.
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok());
  g->denoms[0].decimals = 19;
  Status st = ValidateGenesis(*g);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "denominations[0].decimals"));
}

// ------------------------------------------------------------------------------------ balances

TEST_F(GenesisTest, BalanceInUnknownDenomination) {
  doc_["balances"][0]["denom"] = "USD";
  ExpectFieldError("balances[0].denom: unknown denomination 'USD'");
}

TEST_F(GenesisTest, BadBalanceAmounts) {
  for (const char* amount : {"0", "-5", "1.5", "abc", "", "1e3", "9223372036854775808"}) {
    SetUp();
    doc_["balances"][0]["amount"] = amount;
    SCOPED_TRACE(amount);
    ExpectFieldError("balances[0].amount");
  }
  doc_["balances"][0]["amount"] = "9223372036854775807";
  EXPECT_TRUE(ParseGenesis(doc_.dump()).ok());
}

TEST_F(GenesisTest, BalancesOfOneDenominationMustNotOverflowTheSupply) {
  // Each amount fits in int64 but their sum does not: InitChain could never apply this genesis,
  // so parsing must reject it and name the entry that overflows.
  doc_["balances"] =
      json::array({{{"address", AddrOf(9)}, {"denom", "CNY"}, {"amount", "9223372036854775000"}},
                   {{"address", AddrOf(10)}, {"denom", "PTS"}, {"amount", "9223372036854775807"}},
                   {{"address", AddrOf(11)}, {"denom", "CNY"}, {"amount", "1000"}}});
  ExpectFieldError("balances[2].amount");
  doc_["balances"][2]["amount"] = "807";  // exactly INT64_MAX in total: fine
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  MemKv kv;
  Overlay state(&kv);
  EXPECT_TRUE(InitChain(*g, state).ok());
}

// ---------------------------------------------------------------------------- roles and params

TEST_F(GenesisTest, UnknownRole) {
  doc_["roles"]["badrole"] = json::array({AddrOf(1)});
  ExpectFieldError("roles.badrole: unknown role");
}

TEST_F(GenesisTest, AllKnownRolesAccepted) {
  for (std::string_view role : kKnownRoles) doc_["roles"][std::string(role)].push_back(AddrOf(12));
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->roles.size(), 3u + std::size(kKnownRoles));
}

TEST_F(GenesisTest, UnknownParam) {
  doc_["params"]["unknown_x"] = 1;
  ExpectFieldError("params.unknown_x: unknown parameter");
}

TEST_F(GenesisTest, ParamsOutOfRange) {
  struct Case {
    const char* key;
    int64_t value;
  };
  const Case cases[] = {{"tx_bytes_max", 511},
                        {"tx_bytes_max", limits::kTxBytesCeiling + 1},
                        {"block_txs_max", 0},
                        {"block_txs_max", limits::kBlockTxsCeiling + 1},
                        {"block_bytes_max", 8191},  // smaller than tx_bytes_max
                        {"block_bytes_max", limits::kBlockBytesCeiling + 1},
                        {"memo_bytes_max", -1},
                        {"memo_bytes_max", limits::kMemoBytesCeiling + 1},
                        // the largest readings batch must fit in a block
                        {"block_units_max", limits::kBlockUnitsMin - 1},
                        {"block_units_max", limits::kBlockUnitsCeiling + 1}};
  for (const Case& c : cases) {
    SetUp();
    doc_["params"][c.key] = c.value;
    SCOPED_TRACE(std::string(c.key) + "=" + std::to_string(c.value));
    ExpectFieldError(std::string("params.") + c.key + ": must be between");
  }
  const Case edges[] = {{"tx_bytes_max", 512},
                        {"tx_bytes_max", limits::kTxBytesCeiling},
                        {"block_txs_max", 1},
                        {"block_bytes_max", 8192},
                        {"memo_bytes_max", limits::kMemoBytesCeiling},
                        {"block_units_max", limits::kBlockUnitsMin},
                        {"block_units_max", limits::kBlockUnitsCeiling}};
  for (const Case& c : edges) {
    SetUp();
    doc_["params"][c.key] = c.value;
    EXPECT_TRUE(ParseGenesis(doc_.dump()).ok()) << c.key << "=" << c.value;
  }
}

// --------------------------------------------------------------------------- chain id and time

TEST_F(GenesisTest, BadChainId) {
  for (std::string id : {std::string(""), std::string("has space"), std::string("a/b"),
                         std::string(limits::kChainIdMax + 1, 'x')}) {
    SetUp();
    doc_["chain_id"] = id;
    ExpectFieldError("chain_id");
  }
  doc_["chain_id"] = std::string(limits::kChainIdMax, 'x');
  EXPECT_TRUE(ParseGenesis(doc_.dump()).ok());
}

TEST_F(GenesisTest, BadGenesisTime) {
  for (const char* t : {"2026-11-26", "2026-11-26T02:00:00", "2026-11-26T02:00:00+08:00",
                        "2026-02-30T00:00:00Z", "yesterday"}) {
    SetUp();
    doc_["genesis_time"] = t;
    SCOPED_TRACE(t);
    ExpectFieldError("genesis_time");
  }
}

TEST_F(GenesisTest, ValidateRejectsGenesisTimeThatCannotBeWritten) {
  // A state built in code must survive GenesisToJson -> ParseGenesis.
  auto g = ParseGenesis(doc_.dump());
  ASSERT_TRUE(g.ok());
  g->genesis_time_ms = -1;
  Status st = ValidateGenesis(*g);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "genesis_time"));
  g->genesis_time_ms = 253402300799999 + 1;  // year 10000
  EXPECT_FALSE(ValidateGenesis(*g).ok());
  g->genesis_time_ms = 253402300799999;
  EXPECT_TRUE(ValidateGenesis(*g).ok());
}

}  // namespace
}  // namespace v2g
