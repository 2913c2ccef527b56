// Unit tests for contracts/: the stateless tx checks, tx and block execution, the app hash, genesis
// initialisation, conservation of supply, and the key-value overlay. Every rejection test checks
// the exact code and that nothing in the state changed (a rejected tx must be a no-op).
#include "contracts/app.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "contracts/escrow.h"
#include "contracts/grid.h"
#include "contracts/kv.h"
#include "contracts/market.h"
#include "contracts/state.h"
#include "contracts/state_tree.h"
#include "wallet/tx_builder.h"

namespace v2g {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr char kChainId[] = "v2g-test-1";

::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << haystack << "' does not contain '" << needle << "'";
}

KeyPair Key(uint8_t n) {
  InitCrypto();  // keys are made in fixture constructors, before SetUp
  return KeyPair::FromSeed(Bytes(kSeedBytes, n));
}
Address AddrOf(const KeyPair& k) { return AddressFromPublicKey(k.public_key()); }

// A chain initialised from a genesis: committed state is an empty MemKv, everything InitChain and
// the txs write lives in `state` (so `state.writes()` is the whole state).
class Chain {
 public:
  explicit Chain(const GenesisState& g) : state(&base) {
    auto h = InitChain(g, state);
    V2G_ASSERT(h.ok());
    genesis_hash = *h;
    params = LoadParams(state);
    ctx.chain_id = g.chain_id;
    ctx.height = 1;
    ctx.time_ms = g.genesis_time_ms + 1000;
    ctx.proposer = g.validators.at(0).address;
  }
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  Status Apply(const std::string& bytes) {
    auto checked = CheckTxStateless(bytes, ctx.chain_id, params, /*verify_signature=*/true);
    if (!checked.ok()) return checked.status();
    return ApplyTx(*checked, ctx, state);
  }
  int64_t Balance(const Address& a, std::string_view denom) const {
    return BalanceOf(LoadAccount(state, a), denom);
  }
  uint64_t Nonce(const Address& a) const { return LoadAccount(state, a).nonce(); }
  pb::SupplyRecord Supply(std::string_view denom) const { return LoadSupply(state, denom); }

  MemKv base;
  Overlay state;
  Hash256 genesis_hash{};
  pb::ParamsRecord params;
  BlockContext ctx;
};

// ----------------------------------------------------------------------------------- fixture

class AppTest : public ::testing::Test {
 protected:
  AppTest()
      : validator_(Key(1)),
        cny_issuer_(Key(2)),
        pts_issuer_(Key(3)),
        alice_(Key(10)),
        bob_(Key(11)),
        carol_(Key(12)) {}

  void SetUp() override {
    InitCrypto();
    chain_ = std::make_unique<Chain>(MakeGenesis());
    // Every state check below compares against this; make sure it is consistent to begin with.
    ASSERT_TRUE(CheckConservation(chain_->state).ok());
  }

  GenesisState MakeGenesis() const {
    GenesisState g;
    g.chain_id = kChainId;
    g.genesis_time_ms = 1795658400000;
    GenesisValidator v;
    v.name = "val-0";
    v.address = AddrOf(validator_);
    v.consensus_pubkey = validator_.public_key();  // the address is derived from it
    v.node_pubkey = Key(5).public_key();
    v.power = 10;
    g.validators.push_back(v);
    g.denoms.push_back({"CNY", 2, AddrOf(cny_issuer_)});
    g.denoms.push_back({"PTS", 0, AddrOf(pts_issuer_)});
    g.balances.push_back({AddrOf(alice_), "CNY", 100000});  // 1000.00 CNY
    g.balances.push_back({AddrOf(alice_), "PTS", 50});
    g.balances.push_back({AddrOf(bob_), "CNY", 2000});
    g.balances.push_back({AddrOf(cny_issuer_), "CNY", 500000});
    g.balances.push_back({AddrOf(pts_issuer_), "PTS", 1000});
    g.params = GenesisParams{};
    g.params.tx_bytes_max = limits::kTxBytesDefault;
    g.params.block_txs_max = limits::kBlockTxsDefault;
    g.params.block_bytes_max = limits::kBlockBytesDefault;
    g.params.memo_bytes_max = limits::kMemoBytesDefault;
    return g;
  }

  std::string Sign(const KeyPair& k, pb::TxBody body) {
    return SignTx(k, kChainId, std::move(body));
  }
  Status Apply(const std::string& bytes) { return chain_->Apply(bytes); }
  int64_t Balance(const KeyPair& k, std::string_view denom) const {
    return chain_->Balance(AddrOf(k), denom);
  }
  uint64_t Nonce(const KeyPair& k) const { return chain_->Nonce(AddrOf(k)); }
  Overlay& state() { return chain_->state; }
  const BlockContext& ctx() const { return chain_->ctx; }

  void ExpectConserved() {
    Status st = CheckConservation(state());
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  // Asserts that `bytes` is rejected with `code`, both by CheckTxStateless + ApplyTx and inside
  // ExecuteBlock, and that neither path changed anything, except that in a block a tx whose fee
  // `payer` can pay is charged `fee` (issue 12: failing txs are not free block space). Keeps the
  // status in last_ for message checks.
  void ExpectRejected(const std::string& bytes, Code code, const KeyPair* payer = nullptr, int64_t fee = 0) {
    const Overlay::Writes before = state().writes();
    const uint64_t alice_nonce = Nonce(alice_);
    const int64_t alice_cny = Balance(alice_, "CNY");
    Status st = Apply(bytes);
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_FALSE(st.message().empty());
    EXPECT_TRUE(state().writes() == before) << "a rejected tx changed the state";
    EXPECT_EQ(Nonce(alice_), alice_nonce);
    EXPECT_EQ(Balance(alice_, "CNY"), alice_cny);

    Overlay block(&state());
    BlockOutcome out = ExecuteBlock(ctx(), {bytes}, nullptr, block);
    EXPECT_EQ(out.results.size(), 1u);
    EXPECT_EQ(out.tx_hashes.size(), 1u);
    if (out.results.size() == 1) {
      EXPECT_EQ(out.results[0].code(), static_cast<uint32_t>(code)) << out.results[0].log();
      EXPECT_FALSE(out.results[0].log().empty());
      EXPECT_EQ(out.results[0].log().ends_with("(the fee was charged)"), payer != nullptr) << out.results[0].log();
    }
    if (payer) {
      EXPECT_EQ(BalanceOf(LoadAccount(block, AddrOf(*payer)), "CNY"), Balance(*payer, "CNY") - fee);
      EXPECT_EQ(LoadAccount(block, AddrOf(*payer)).nonce(), Nonce(*payer) + 1);
      EXPECT_TRUE(CheckConservation(block).ok());
    } else {
      EXPECT_TRUE(block.writes().empty()) << "a rejected tx wrote into the block overlay";
    }
    EXPECT_TRUE(state().writes() == before);
    ExpectConserved();
    last_ = st;
  }

  KeyPair validator_, cny_issuer_, pts_issuer_, alice_, bob_, carol_;
  std::unique_ptr<Chain> chain_;
  Status last_;
};

#define EXPECT_REJECTED(bytes, code) \
  do {                               \
    SCOPED_TRACE(#code);             \
    ExpectRejected(bytes, code);     \
  } while (0)

pb::Tx DecodeTx(const std::string& bytes) {
  pb::Tx tx;
  EXPECT_TRUE(tx.ParseFromString(bytes));
  return tx;
}

// ------------------------------------------------------------------------------ positive paths

TEST_F(AppTest, GenesisStateIsWritten) {
  EXPECT_EQ(Balance(alice_, "CNY"), 100000);
  EXPECT_EQ(Balance(alice_, "PTS"), 50);
  EXPECT_EQ(Balance(bob_, "PTS"), 0);
  EXPECT_EQ(Nonce(alice_), 0u);
  EXPECT_EQ(chain_->Supply("CNY").minted(), 602000);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 0);
  EXPECT_EQ(chain_->Supply("PTS").minted(), 1050);
  auto denom = LoadDenom(state(), "CNY");
  ASSERT_TRUE(denom.has_value());
  EXPECT_EQ(denom->decimals(), 2u);
  EXPECT_EQ(denom->issuer(), AddressBytes(AddrOf(cny_issuer_)));
  EXPECT_FALSE(LoadDenom(state(), "XYZ").has_value());
  EXPECT_EQ(chain_->params.tx_bytes_max(), limits::kTxBytesDefault);
  EXPECT_EQ(chain_->params.memo_bytes_max(), limits::kMemoBytesDefault);
  pb::ValidatorSet vs = LoadValidators(state());
  ASSERT_EQ(vs.validators_size(), 1);
  EXPECT_EQ(vs.validators(0).power(), 10);
  EXPECT_EQ(vs.validators(0).address(), AddressBytes(AddrOf(validator_)));
}

TEST_F(AppTest, Transfer) {
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1250))).ok());
  EXPECT_EQ(Balance(alice_, "CNY"), 100000 - 1250);
  EXPECT_EQ(Balance(bob_, "CNY"), 2000 + 1250);
  EXPECT_EQ(Nonce(alice_), 1u);
  EXPECT_EQ(Nonce(bob_), 0u);  // receiving does not use a nonce
  EXPECT_EQ(Balance(alice_, "PTS"), 50);
  ExpectConserved();
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(2, AddrOf(bob_), "PTS", 50))).ok());
  EXPECT_EQ(Balance(alice_, "PTS"), 0);
  EXPECT_EQ(Balance(bob_, "PTS"), 50);
  EXPECT_EQ(Nonce(alice_), 2u);
  ExpectConserved();
}

TEST_F(AppTest, TransferOfWholeBalanceRemovesTheEntry) {
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "PTS", 50))).ok());
  pb::AccountRecord rec = LoadAccount(state(), AddrOf(alice_));
  ASSERT_EQ(rec.balances_size(), 1);  // no zero entries are stored
  EXPECT_EQ(rec.balances(0).denom(), "CNY");
}

TEST_F(AppTest, TransferToFreshAccountCreatesIt) {
  ASSERT_FALSE(state().Get(AccountKey(AddrOf(carol_))).has_value());
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(carol_), "CNY", 1))).ok());
  EXPECT_EQ(Balance(carol_, "CNY"), 1);
  EXPECT_EQ(Nonce(carol_), 0u);
  // The fresh account can spend what it received, starting at nonce 1.
  ASSERT_TRUE(Apply(Sign(carol_, MakeTransfer(1, AddrOf(bob_), "CNY", 1))).ok());
  EXPECT_EQ(Balance(carol_, "CNY"), 0);
  EXPECT_EQ(Nonce(carol_), 1u);
  ExpectConserved();
}

TEST_F(AppTest, BalancesStaySortedByDenomination) {
  // Bob holds CNY; PTS must be appended after it. StoreAccount asserts the order, so a wrong
  // insert would abort here.
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "PTS", 5))).ok());
  pb::AccountRecord rec = LoadAccount(state(), AddrOf(bob_));
  ASSERT_EQ(rec.balances_size(), 2);
  EXPECT_EQ(rec.balances(0).denom(), "CNY");
  EXPECT_EQ(rec.balances(1).denom(), "PTS");
  // Carol receives PTS first, then CNY: CNY must be inserted before PTS.
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(2, AddrOf(carol_), "PTS", 5))).ok());
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(3, AddrOf(carol_), "CNY", 5))).ok());
  pb::AccountRecord c = LoadAccount(state(), AddrOf(carol_));
  ASSERT_EQ(c.balances_size(), 2);
  EXPECT_EQ(c.balances(0).denom(), "CNY");
  EXPECT_EQ(c.balances(1).denom(), "PTS");
}

TEST_F(AppTest, SelfTransferKeepsTheBalance) {
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(alice_), "CNY", 100000))).ok());
  EXPECT_EQ(Balance(alice_, "CNY"), 100000);
  EXPECT_EQ(Nonce(alice_), 1u);
  ExpectConserved();
  // With a fee, only the fee leaves.
  pb::TxBody body = MakeTransfer(2, AddrOf(alice_), "CNY", 40000);
  body.mutable_fee()->set_denom("CNY");
  body.mutable_fee()->set_amount(30);
  ASSERT_TRUE(Apply(Sign(alice_, body)).ok());
  EXPECT_EQ(Balance(alice_, "CNY"), 100000 - 30);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 30);
  ExpectConserved();
}

TEST_F(AppTest, FeeIsBurned) {
  const int64_t minted = chain_->Supply("CNY").minted();
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 100);
  body.mutable_fee()->set_denom("CNY");
  body.mutable_fee()->set_amount(7);
  ASSERT_TRUE(Apply(Sign(alice_, body)).ok());
  EXPECT_EQ(Balance(alice_, "CNY"), 100000 - 107);
  EXPECT_EQ(Balance(bob_, "CNY"), 2100);
  EXPECT_EQ(Balance(validator_, "CNY"), 0);  // the proposer is paid nothing
  EXPECT_EQ(chain_->Supply("CNY").burned(), 7);
  EXPECT_EQ(chain_->Supply("CNY").minted(), minted);
  ExpectConserved();
  // A fee in another denomination than the transfer: burned in its own supply.
  pb::TxBody b2 = MakeTransfer(2, AddrOf(bob_), "CNY", 100);
  b2.mutable_fee()->set_denom("PTS");
  b2.mutable_fee()->set_amount(3);
  ASSERT_TRUE(Apply(Sign(alice_, b2)).ok());
  EXPECT_EQ(Balance(alice_, "PTS"), 47);
  EXPECT_EQ(Balance(validator_, "PTS"), 0);
  EXPECT_EQ(chain_->Supply("PTS").burned(), 3);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 7);
  EXPECT_EQ(Balance(alice_, "CNY"), 100000 - 207);
  ExpectConserved();
  // Another proposer changes nothing: still burned, nobody credited.
  chain_->ctx.proposer = AddrOf(carol_);
  pb::TxBody b3 = MakeTransfer(3, AddrOf(bob_), "CNY", 1);
  b3.mutable_fee()->set_denom("CNY");
  b3.mutable_fee()->set_amount(2);
  ASSERT_TRUE(Apply(Sign(alice_, b3)).ok());
  EXPECT_EQ(Balance(carol_, "CNY"), 0);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 9);
  ExpectConserved();
  // The issuer burning coins in a tx whose fee is in the same denomination: both add up.
  pb::TxBody b4 = MakeBurn(1, "CNY", 500);
  b4.mutable_fee()->set_denom("CNY");
  b4.mutable_fee()->set_amount(5);
  ASSERT_TRUE(Apply(Sign(cny_issuer_, b4)).ok());
  EXPECT_EQ(Balance(cny_issuer_, "CNY"), 500000 - 505);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 9 + 505);
  EXPECT_EQ(chain_->Supply("CNY").minted(), minted);
  ExpectConserved();
}

// Issue 12: while fees went to the block's proposer, a validator's own txs in its own blocks cost
// it nothing (the fee came back), so its spam was free. Burned, they cost it the full fee, like
// anyone's, and which validator proposes the block changes nothing in the state.
TEST_F(AppTest, ValidatorProposingItsOwnTxsPaysTheFullFee) {
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(validator_), "CNY", 1000))).ok());
  const int64_t burned = chain_->Supply("CNY").burned();
  auto with_fee = [](pb::TxBody body, int64_t fee) {
    body.mutable_fee()->set_denom("CNY");
    body.mutable_fee()->set_amount(fee);
    return body;
  };
  const std::vector<std::string> txs = {
      Sign(validator_, with_fee(MakeTransfer(1, AddrOf(bob_), "CNY", 100), 7)),
      // 884 left after the fee: fails in the block, still pays its fee and uses its nonce.
      Sign(validator_, with_fee(MakeTransfer(2, AddrOf(bob_), "CNY", 1000), 9)),
      // Spends all that is left: the fee does not come back to the proposer.
      Sign(validator_, with_fee(MakeTransfer(3, AddrOf(bob_), "CNY", 884 - 11), 11)),
  };
  auto run = [&](const Address& proposer, Overlay& block) {
    BlockContext ctx = chain_->ctx;
    ctx.height = 2;
    ctx.proposer = proposer;
    BlockOutcome out = ExecuteBlock(ctx, txs, nullptr, block);
    std::vector<uint32_t> codes;
    for (const auto& r : out.results) codes.push_back(r.code());
    EXPECT_EQ(codes, (std::vector<uint32_t>{0, static_cast<uint32_t>(Code::kInsufficientFunds), 0}));
  };
  Overlay own(&state());
  run(AddrOf(validator_), own);
  pb::AccountRecord v = LoadAccount(own, AddrOf(validator_));
  EXPECT_EQ(BalanceOf(v, "CNY"), 0);  // 1000 - 100 - 873 - the fees 7 + 9 + 11
  EXPECT_EQ(v.nonce(), 3u);
  EXPECT_EQ(BalanceOf(LoadAccount(own, AddrOf(bob_)), "CNY"), 2000 + 100 + 873);
  EXPECT_EQ(LoadSupply(own, "CNY").burned(), burned + 7 + 9 + 11);
  Status cons = CheckConservation(own);
  EXPECT_TRUE(cons.ok()) << cons.ToString();
  // The same block proposed by someone else writes exactly the same state.
  Overlay other(&state());
  run(AddrOf(carol_), other);
  EXPECT_TRUE(own.writes() == other.writes());
}

TEST_F(AppTest, MintUpdatesSupplyAndRecipient) {
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", 12345))).ok());
  EXPECT_EQ(Balance(carol_, "CNY"), 12345);
  EXPECT_EQ(chain_->Supply("CNY").minted(), 602000 + 12345);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 0);
  EXPECT_EQ(Nonce(cny_issuer_), 1u);
  EXPECT_EQ(chain_->Supply("PTS").minted(), 1050);  // other denominations untouched
  ExpectConserved();
  // Minting to itself keeps the issuer's nonce update (the credit reads the stored record).
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeMint(2, AddrOf(cny_issuer_), "CNY", 5))).ok());
  EXPECT_EQ(Balance(cny_issuer_, "CNY"), 500005);
  EXPECT_EQ(Nonce(cny_issuer_), 2u);
  ExpectConserved();
}

TEST_F(AppTest, MintUpToTheInt64Limit) {
  int64_t room = kMax - chain_->Supply("CNY").minted();
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", room))).ok());
  EXPECT_EQ(chain_->Supply("CNY").minted(), kMax);
  EXPECT_EQ(Balance(carol_, "CNY"), room);
  ExpectConserved();
}

TEST_F(AppTest, BurnUpdatesSupplyAndIssuer) {
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeBurn(1, "CNY", 200000))).ok());
  EXPECT_EQ(Balance(cny_issuer_, "CNY"), 300000);
  EXPECT_EQ(chain_->Supply("CNY").minted(), 602000);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 200000);
  ExpectConserved();
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeBurn(2, "CNY", 300000))).ok());  // all of it
  EXPECT_EQ(Balance(cny_issuer_, "CNY"), 0);
  EXPECT_EQ(chain_->Supply("CNY").burned(), 500000);
  EXPECT_EQ(Nonce(cny_issuer_), 2u);
  ExpectConserved();
}

TEST_F(AppTest, MemoUpToTheLimitIsAccepted) {
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.set_memo(std::string(static_cast<size_t>(limits::kMemoBytesDefault), 'm'));
  EXPECT_TRUE(Apply(Sign(alice_, body)).ok());
}

TEST_F(AppTest, CheckedTxFields) {
  std::string bytes = Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 5));
  auto c = CheckTxStateless(bytes, kChainId, chain_->params, true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bytes, bytes);
  EXPECT_EQ(c->hash, Blake2b256(bytes));
  EXPECT_EQ(c->signer, AddrOf(alice_));
  EXPECT_EQ(c->signer_pubkey, alice_.public_key());
  EXPECT_EQ(c->body.chain_id(), kChainId);
  EXPECT_EQ(c->body.nonce(), 1u);
  EXPECT_EQ(c->body.transfer().amount(), 5);
  EXPECT_EQ(TxHashHex(c->hash).size(), 64u);
}

TEST_F(AppTest, TxBuilderSignsTheExactBodyBytes) {
  std::string bytes = Sign(alice_, MakeMint(7, AddrOf(bob_), "PTS", 9));
  pb::Tx tx = DecodeTx(bytes);
  pb::TxBody body;
  ASSERT_TRUE(body.ParseFromString(tx.body()));
  EXPECT_EQ(body.chain_id(), kChainId);
  EXPECT_EQ(body.nonce(), 7u);
  EXPECT_EQ(body.mint().to(), AddressBytes(AddrOf(bob_)));
  EXPECT_EQ(tx.signer_pubkey(),
            std::string(alice_.public_key().begin(), alice_.public_key().end()));
  EXPECT_TRUE(VerifyRaw(tx.signer_pubkey(), TxSignBytes(kChainId, tx.body()), tx.signature()));
  EXPECT_EQ(Encode(tx), bytes);                                         // canonical
  EXPECT_EQ(Sign(alice_, MakeMint(7, AddrOf(bob_), "PTS", 9)), bytes);  // deterministic
}

// -------------------------------------------------------------------------------- rejections

TEST_F(AppTest, RejectsWrongChainId) {
  std::string bytes = SignTx(alice_, "v2g-other", MakeTransfer(1, AddrOf(bob_), "CNY", 1));
  EXPECT_REJECTED(bytes, Code::kWrongChainId);
  EXPECT_TRUE(Contains(last_.message(), "v2g-other"));
}

TEST_F(AppTest, RejectsFlippedSignatureByte) {
  std::string good = Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1));
  for (size_t i : {0u, 31u, 32u, 63u}) {
    pb::Tx tx = DecodeTx(good);
    std::string sig = tx.signature();
    sig[i] = static_cast<char>(sig[i] ^ 0x01);
    tx.set_signature(sig);
    EXPECT_REJECTED(Encode(tx), Code::kBadSignature);
  }
  EXPECT_TRUE(Apply(good).ok());  // the unmodified tx was valid all along
}

TEST_F(AppTest, RejectsSignatureByAnotherKey) {
  // Bob signs a body and claims to be Alice: he must not be able to spend her funds.
  std::string by_bob = Sign(bob_, MakeTransfer(1, AddrOf(bob_), "CNY", 50000));
  pb::Tx tx = DecodeTx(by_bob);
  tx.set_signer_pubkey(std::string(alice_.public_key().begin(), alice_.public_key().end()));
  EXPECT_REJECTED(Encode(tx), Code::kBadSignature);
  EXPECT_EQ(Balance(bob_, "CNY"), 2000);
}

TEST_F(AppTest, RejectsSignatureOverAnotherChainsSignBytes) {
  // The body names this chain, but the signature covers the sign-bytes of another chain.
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.set_chain_id(kChainId);
  pb::Tx tx;
  tx.set_body(Encode(body));
  Signature sig = alice_.Sign(AsBytes(TxSignBytes("v2g-other", tx.body())));
  tx.set_signer_pubkey(std::string(alice_.public_key().begin(), alice_.public_key().end()));
  tx.set_signature(std::string(sig.begin(), sig.end()));
  EXPECT_REJECTED(Encode(tx), Code::kBadSignature);
}

TEST_F(AppTest, RejectsTamperedBody) {
  // Change the amount after signing: the signature covers the body bytes.
  pb::Tx tx = DecodeTx(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1)));
  pb::TxBody body;
  ASSERT_TRUE(body.ParseFromString(tx.body()));
  body.mutable_transfer()->set_amount(99999);
  tx.set_body(Encode(body));
  EXPECT_REJECTED(Encode(tx), Code::kBadSignature);
}

TEST_F(AppTest, RejectsMalleatedSignature) {
  // (R, S + L) verifies under a lax verifier and gives a different tx hash for the same
  // authorisation; it must be rejected so a relayer cannot mint "new" txs from a signed one.
  static constexpr uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                     0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
  pb::Tx tx = DecodeTx(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1)));
  std::string sig = tx.signature();
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {  // little-endian S += L
    unsigned sum = static_cast<uint8_t>(sig[32 + i]) + kL[i] + carry;
    sig[32 + i] = static_cast<char>(sum & 0xff);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u);  // S < L < 2^253, so S + L fits in 32 bytes
  tx.set_signature(sig);
  EXPECT_REJECTED(Encode(tx), Code::kBadSignature);
}

TEST_F(AppTest, RejectsInvalidUtf8InSignedBody) {
  google::protobuf::LogSilencer quiet;  // protobuf logs the bad UTF-8 it is asked to handle
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.set_memo(std::string("\xff\xfe", 2));  // proto3 strings must be UTF-8
  EXPECT_REJECTED(Sign(alice_, body), Code::kMalformed);
}

TEST_F(AppTest, RejectsBadKeyAndSignatureLengths) {
  pb::Tx tx = DecodeTx(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1)));
  pb::Tx short_key = tx;
  short_key.set_signer_pubkey(tx.signer_pubkey().substr(1));
  EXPECT_REJECTED(Encode(short_key), Code::kMalformed);
  pb::Tx long_sig = tx;
  long_sig.set_signature(tx.signature() + "x");
  EXPECT_REJECTED(Encode(long_sig), Code::kMalformed);
  pb::Tx no_sig = tx;
  no_sig.clear_signature();
  EXPECT_REJECTED(Encode(no_sig), Code::kMalformed);
}

TEST_F(AppTest, RejectsReplayedNonce) {
  std::string tx1 = Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 10));
  ASSERT_TRUE(Apply(tx1).ok());
  EXPECT_REJECTED(tx1, Code::kNonceReplayed);  // the very same bytes
  EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, AddrOf(carol_), "CNY", 20)), Code::kNonceReplayed);
  ASSERT_TRUE(Apply(Sign(alice_, MakeTransfer(2, AddrOf(bob_), "CNY", 10))).ok());
  EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 10)), Code::kNonceReplayed);
  EXPECT_EQ(Nonce(alice_), 2u);
  EXPECT_EQ(Balance(bob_, "CNY"), 2020);
}

TEST_F(AppTest, RejectsSkippedNonce) {
  EXPECT_REJECTED(Sign(alice_, MakeTransfer(2, AddrOf(bob_), "CNY", 1)), Code::kNonceGap);
  EXPECT_TRUE(Contains(last_.message(), "next is 1"));
  EXPECT_REJECTED(
      Sign(alice_, MakeTransfer(std::numeric_limits<uint64_t>::max(), AddrOf(bob_), "CNY", 1)),
      Code::kNonceGap);
  EXPECT_EQ(Nonce(alice_), 0u);
  EXPECT_TRUE(Apply(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1))).ok());
}

TEST_F(AppTest, RejectsNonceZero) {
  EXPECT_REJECTED(Sign(alice_, MakeTransfer(0, AddrOf(bob_), "CNY", 1)), Code::kInvalidArgument);
}

TEST_F(AppTest, RejectsOverspend) {
  EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 100001)),
                  Code::kInsufficientFunds);
  EXPECT_REJECTED(Sign(bob_, MakeTransfer(1, AddrOf(alice_), "PTS", 1)),
                  Code::kInsufficientFunds);  // holds none
  EXPECT_REJECTED(Sign(carol_, MakeTransfer(1, AddrOf(alice_), "CNY", 1)),
                  Code::kInsufficientFunds);  // no account
  // The fee counts: the whole balance plus a fee of 1 is too much. Refused at admission; in a block
  // (a faulty proposer's) the fee alone is charged.
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 100000);
  body.mutable_fee()->set_denom("CNY");
  body.mutable_fee()->set_amount(1);
  ExpectRejected(Sign(alice_, body), Code::kInsufficientFunds, &alice_, 1);
  // A fee the signer cannot pay, in a denomination the transfer does not use.
  pb::TxBody b2 = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  b2.mutable_fee()->set_denom("PTS");
  b2.mutable_fee()->set_amount(51);
  EXPECT_REJECTED(Sign(alice_, b2), Code::kInsufficientFunds);
  // Burning more than the issuer holds.
  EXPECT_REJECTED(Sign(cny_issuer_, MakeBurn(1, "CNY", 500001)), Code::kInsufficientFunds);
}

TEST_F(AppTest, RejectsMintThatWouldOverflowTheSupply) {
  EXPECT_REJECTED(Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", kMax)), Code::kOverflow);
  EXPECT_TRUE(Contains(last_.message(), "overflow"));
  int64_t room = kMax - chain_->Supply("CNY").minted();
  EXPECT_REJECTED(Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", room + 1)), Code::kOverflow);
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", room))).ok());
  EXPECT_REJECTED(Sign(cny_issuer_, MakeMint(2, AddrOf(carol_), "CNY", 1)), Code::kOverflow);
  EXPECT_EQ(chain_->Supply("CNY").minted(), kMax);
}

TEST_F(AppTest, FeePlusAmountPastInt64IsRejectedWithoutWrapping) {
  // Give Carol a balance B > 2^62 so that fee + amount = 2B does not fit in int64. The two debits
  // are checked one after the other against the balance, so no sum is ever formed: the second
  // debit finds too little and the tx is rejected as insufficient funds, not wrapped around.
  int64_t big = kMax - chain_->Supply("CNY").minted();
  ASSERT_GT(big, int64_t{1} << 62);
  ASSERT_TRUE(Apply(Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", big))).ok());
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", big);
  body.mutable_fee()->set_denom("CNY");
  body.mutable_fee()->set_amount(big);
  ExpectRejected(Sign(carol_, body), Code::kInsufficientFunds, &carol_, big);  // in a block, the fee is paid
  body.mutable_fee()->set_amount(kMax);
  body.mutable_transfer()->set_amount(kMax);
  EXPECT_REJECTED(Sign(carol_, body), Code::kInsufficientFunds);
  EXPECT_EQ(Balance(carol_, "CNY"), big);
  // Fee + amount exactly equal to the balance is fine.
  body.mutable_fee()->set_amount(big / 2);
  body.mutable_transfer()->set_amount(big - big / 2);
  ASSERT_TRUE(Apply(Sign(carol_, body)).ok());
  EXPECT_EQ(Balance(carol_, "CNY"), 0);
  ExpectConserved();
}

TEST_F(AppTest, RejectsUnknownDenomination) {
  EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "USD", 1)), Code::kUnknownDenom);
  EXPECT_REJECTED(Sign(cny_issuer_, MakeMint(1, AddrOf(bob_), "USD", 1)), Code::kUnknownDenom);
  EXPECT_REJECTED(Sign(cny_issuer_, MakeBurn(1, "USD", 1)), Code::kUnknownDenom);
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.mutable_fee()->set_denom("USD");
  body.mutable_fee()->set_amount(1);
  EXPECT_REJECTED(Sign(alice_, body), Code::kUnknownDenom);
}

TEST_F(AppTest, RejectsInvalidDenominationNames) {
  for (const char* d : {"", "c", "cny", "1CNY", "CN-Y", "ABCDEFGHIJKLMNOPQ"}) {
    SCOPED_TRACE(d);
    EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, AddrOf(bob_), d, 1)), Code::kInvalidArgument);
  }
}

TEST_F(AppTest, RejectsMintAndBurnByNonIssuer) {
  EXPECT_REJECTED(Sign(alice_, MakeMint(1, AddrOf(alice_), "CNY", 1)), Code::kUnauthorized);
  EXPECT_TRUE(Contains(last_.message(), "not the issuer"));
  EXPECT_REJECTED(Sign(alice_, MakeBurn(1, "CNY", 1)), Code::kUnauthorized);  // holds CNY, still no
  // The issuer of one denomination is not the issuer of another.
  EXPECT_REJECTED(Sign(pts_issuer_, MakeMint(1, AddrOf(bob_), "CNY", 1)), Code::kUnauthorized);
  EXPECT_REJECTED(Sign(cny_issuer_, MakeBurn(1, "PTS", 1)), Code::kUnauthorized);
  EXPECT_EQ(chain_->Supply("CNY").minted(), 602000);
}

TEST_F(AppTest, RejectsGarbageAndTruncatedBytes) {
  for (const std::string& bytes :
       {std::string("\xff\xff\xff\xff", 4), std::string("\x0a\x05\x01", 3), std::string(1, '\x80'),
        std::string("hello world")}) {
    EXPECT_REJECTED(bytes, Code::kMalformed);
  }
  EXPECT_REJECTED("", Code::kMalformed);  // an empty Tx has no key or signature
  std::string good = Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1));
  for (size_t cut : {size_t{1}, size_t{10}, good.size() / 2, good.size() - 1}) {
    SCOPED_TRACE(cut);
    EXPECT_REJECTED(good.substr(0, good.size() - cut), Code::kMalformed);
  }
}

TEST_F(AppTest, RejectsUndecodableBody) {
  pb::Tx tx;
  tx.set_body(std::string("\xff\xff\xff", 3));
  Signature sig = alice_.Sign(AsBytes(TxSignBytes(kChainId, tx.body())));
  tx.set_signer_pubkey(std::string(alice_.public_key().begin(), alice_.public_key().end()));
  tx.set_signature(std::string(sig.begin(), sig.end()));
  EXPECT_REJECTED(Encode(tx), Code::kMalformed);
}

TEST_F(AppTest, RejectsUnknownFieldAppendedToTx) {
  std::string good = Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1));
  // Field 15, varint 1: a valid protobuf that a lenient decoder would accept, with the same
  // signature but a different hash.
  EXPECT_REJECTED(good + std::string("\x78\x01", 2), Code::kMalformed);
  // Field 16, length-delimited "x".
  EXPECT_REJECTED(good + std::string("\x82\x01\x01x", 4), Code::kMalformed);
  EXPECT_TRUE(Apply(good).ok());
}

TEST_F(AppTest, RejectsUnknownFieldInSignedBody) {
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.set_chain_id(kChainId);
  pb::Tx tx;
  tx.set_body(Encode(body) + std::string("\x78\x01", 2));
  Signature sig = alice_.Sign(AsBytes(TxSignBytes(kChainId, tx.body())));
  tx.set_signer_pubkey(std::string(alice_.public_key().begin(), alice_.public_key().end()));
  tx.set_signature(std::string(sig.begin(), sig.end()));
  EXPECT_REJECTED(Encode(tx), Code::kMalformed);
}

TEST_F(AppTest, RejectsReorderedAndDuplicatedFields) {
  pb::Tx tx = DecodeTx(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1)));
  auto field = [](int number, const std::string& value) {
    std::string out(1, static_cast<char>(number << 3 | 2));
    V2G_ASSERT(value.size() < 128);
    out.push_back(static_cast<char>(value.size()));
    return out + value;
  };
  ASSERT_LT(tx.body().size(), 128u);
  std::string in_order =
      field(1, tx.body()) + field(2, tx.signer_pubkey()) + field(3, tx.signature());
  ASSERT_EQ(in_order, Encode(tx));  // the helper matches the canonical encoding
  std::string reordered =
      field(2, tx.signer_pubkey()) + field(1, tx.body()) + field(3, tx.signature());
  EXPECT_REJECTED(reordered, Code::kMalformed);
  std::string duplicated = in_order + field(3, tx.signature());  // last one wins in protobuf
  EXPECT_REJECTED(duplicated, Code::kMalformed);
}

TEST_F(AppTest, RejectsOversizedTx) {
  const size_t limit = static_cast<size_t>(chain_->params.tx_bytes_max());
  EXPECT_REJECTED(std::string(limit + 1, '\0'), Code::kTooLarge);
  EXPECT_TRUE(Contains(last_.message(), std::to_string(limit)));
  // A signed tx over the limit (its memo would be rejected too, but size is checked first).
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.set_memo(std::string(limit, 'm'));
  std::string big = Sign(alice_, body);
  ASSERT_GT(big.size(), limit);
  EXPECT_REJECTED(big, Code::kTooLarge);
  EXPECT_TRUE(Contains(last_.message(), "tx is"));
}

TEST_F(AppTest, RejectsOversizedMemo) {
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.set_memo(std::string(static_cast<size_t>(limits::kMemoBytesDefault) + 1, 'm'));
  EXPECT_REJECTED(Sign(alice_, body), Code::kTooLarge);
  EXPECT_TRUE(Contains(last_.message(), "memo"));
}

TEST_F(AppTest, RejectsZeroAndNegativeAmounts) {
  for (int64_t amount : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    SCOPED_TRACE(amount);
    EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", amount)),
                    Code::kInvalidArgument);
    EXPECT_REJECTED(Sign(cny_issuer_, MakeMint(1, AddrOf(bob_), "CNY", amount)),
                    Code::kInvalidArgument);
    EXPECT_REJECTED(Sign(cny_issuer_, MakeBurn(1, "CNY", amount)), Code::kInvalidArgument);
    pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
    body.mutable_fee()->set_denom("CNY");
    body.mutable_fee()->set_amount(amount);
    EXPECT_REJECTED(Sign(alice_, body), Code::kInvalidArgument);
  }
  // A fee message present but empty (no denom, no amount) is not "no fee".
  pb::TxBody body = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
  body.mutable_fee();
  EXPECT_REJECTED(Sign(alice_, body), Code::kInvalidArgument);
}

TEST_F(AppTest, RejectsMissingOperation) {
  pb::TxBody body;
  body.set_nonce(1);
  EXPECT_REJECTED(Sign(alice_, body), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(last_.message(), "no operation"));
}

TEST_F(AppTest, RejectsBadRecipientLength) {
  for (size_t len : {size_t{0}, size_t{19}, size_t{21}, size_t{32}}) {
    SCOPED_TRACE(len);
    pb::TxBody t = MakeTransfer(1, AddrOf(bob_), "CNY", 1);
    t.mutable_transfer()->set_to(std::string(len, 'a'));
    EXPECT_REJECTED(Sign(alice_, t), Code::kInvalidArgument);
    pb::TxBody m = MakeMint(1, AddrOf(bob_), "CNY", 1);
    m.mutable_mint()->set_to(std::string(len, 'a'));
    EXPECT_REJECTED(Sign(cny_issuer_, m), Code::kInvalidArgument);
  }
}

TEST(ModuleAccountTest, EveryFundHoldingModuleIsAModuleAddress) {
  // The market and grid accounts are among them, and a module added to kModuleLabels is covered
  // by IsModuleAddress without touching the places that check it.
  EXPECT_TRUE(IsModuleAddress(MarketModuleAddress()));
  EXPECT_TRUE(IsModuleAddress(GridModuleAddress()));
  for (std::string_view label : kModuleLabels) EXPECT_TRUE(IsModuleAddress(ModuleAddress(label))) << label;
  EXPECT_FALSE(IsModuleAddress(ModuleAddress("not-a-module")));
  EXPECT_FALSE(IsModuleAddress(AddressFromPublicKey(KeyPair::Generate().public_key())));
}

TEST_F(AppTest, RefusesTransfersAndMintsIntoEveryModuleAccount) {
  for (std::string_view label : kModuleLabels) {
    SCOPED_TRACE(label);
    const Address module = ModuleAddress(label);
    EXPECT_REJECTED(Sign(alice_, MakeTransfer(1, module, "CNY", 1)), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(last_.message(), "module account")) << last_.message();
    EXPECT_REJECTED(Sign(cny_issuer_, MakeMint(1, module, "CNY", 1)), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(last_.message(), "module account")) << last_.message();
  }
}

TEST_F(AppTest, RejectsCreditPastTheDenominationLimitPerAccount) {
  // A genesis with one more denomination than an account may hold; Alice holds all but one.
  GenesisState g = MakeGenesis();
  g.balances.clear();
  for (size_t i = 0; i <= limits::kAccountDenomsMax; ++i) {
    std::string name = "D" + std::to_string(100 + i);
    g.denoms.push_back({name, 0, AddrOf(cny_issuer_)});
    g.balances.push_back({i < limits::kAccountDenomsMax ? AddrOf(alice_) : AddrOf(bob_), name, 10});
  }
  chain_ = std::make_unique<Chain>(g);
  ASSERT_EQ(LoadAccount(state(), AddrOf(alice_)).balances_size(),
            static_cast<int>(limits::kAccountDenomsMax));
  std::string last = "D" + std::to_string(100 + limits::kAccountDenomsMax);
  EXPECT_REJECTED(Sign(bob_, MakeTransfer(1, AddrOf(alice_), last, 1)), Code::kInvalidArgument);
  // Topping up a denomination Alice already holds is fine.
  EXPECT_TRUE(Apply(Sign(cny_issuer_, MakeMint(1, AddrOf(alice_), "D100", 1))).ok());
}

// ------------------------------------------------------------------------------- ExecuteBlock

TEST_F(AppTest, ExecuteBlockRecordsFailuresAndAppliesTheRest) {
  const std::vector<std::string> txs = {
      Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 100)),        // ok
      Sign(bob_, MakeTransfer(1, AddrOf(alice_), "CNY", 1'000'000)),  // insufficient funds
      Sign(bob_, MakeTransfer(1, AddrOf(carol_), "CNY", 50)),         // ok: nonce 1 still free
      std::string("garbage"),                                         // malformed
      Sign(alice_, MakeTransfer(3, AddrOf(bob_), "CNY", 1)),          // nonce gap
      Sign(alice_, MakeTransfer(2, AddrOf(carol_), "CNY", 25)),       // ok
      Sign(alice_, MakeMint(3, AddrOf(alice_), "CNY", 1)),            // unauthorized
      Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1)),          // replayed
  };
  Overlay block(&state());
  BlockOutcome out = ExecuteBlock(ctx(), txs, nullptr, block);
  const std::vector<Code> want = {Code::kOk,           Code::kInsufficientFunds, Code::kOk,
                                  Code::kMalformed,    Code::kNonceGap,          Code::kOk,
                                  Code::kUnauthorized, Code::kNonceReplayed};
  ASSERT_EQ(out.results.size(), txs.size());
  ASSERT_EQ(out.tx_hashes.size(), txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    EXPECT_EQ(out.results[i].code(), static_cast<uint32_t>(want[i]))
        << "tx " << i << ": " << out.results[i].log();
    EXPECT_EQ(out.results[i].log().empty(), want[i] == Code::kOk) << "tx " << i;
    EXPECT_EQ(out.tx_hashes[i], Blake2b256(txs[i])) << "tx " << i;
  }
  EXPECT_EQ(BalanceOf(LoadAccount(block, AddrOf(alice_)), "CNY"), 100000 - 125);
  EXPECT_EQ(BalanceOf(LoadAccount(block, AddrOf(bob_)), "CNY"), 2000 + 100 - 50);
  EXPECT_EQ(BalanceOf(LoadAccount(block, AddrOf(carol_)), "CNY"), 75);
  EXPECT_EQ(LoadAccount(block, AddrOf(alice_)).nonce(), 2u);
  EXPECT_EQ(LoadAccount(block, AddrOf(bob_)).nonce(), 1u);
  Status st = CheckConservation(block);
  EXPECT_TRUE(st.ok()) << st.ToString();
  // The block's writes stay in its overlay until merged.
  EXPECT_EQ(Balance(alice_, "CNY"), 100000);
  block.MergeInto(state());
  EXPECT_EQ(Balance(alice_, "CNY"), 100000 - 125);
  ExpectConserved();
}

TEST_F(AppTest, ExecuteBlockEmpty) {
  Overlay block(&state());
  BlockOutcome out = ExecuteBlock(ctx(), {}, nullptr, block);
  EXPECT_TRUE(out.results.empty());
  EXPECT_TRUE(out.tx_hashes.empty());
  EXPECT_TRUE(block.writes().empty());
}

TEST_F(AppTest, ExecuteBlockSkipsSignatureCheckOnlyForVerifiedHashes) {
  pb::Tx tx = DecodeTx(Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 1)));
  std::string sig = tx.signature();
  sig[0] = static_cast<char>(sig[0] ^ 1);
  tx.set_signature(sig);
  const std::string bad_sig = Encode(tx);
  std::vector<Hash256> asked;
  auto verified = [&](const Hash256& h) {
    asked.push_back(h);
    return false;
  };
  Overlay block(&state());
  BlockOutcome out = ExecuteBlock(ctx(), {bad_sig}, verified, block);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], Blake2b256(bad_sig));
  EXPECT_EQ(out.results[0].code(), static_cast<uint32_t>(Code::kBadSignature));
  // When the caller vouches for exactly this hash, the (expensive) check is skipped; everything
  // else still runs.
  Overlay block2(&state());
  const Hash256 vouched = Blake2b256(bad_sig);
  BlockOutcome out2 = ExecuteBlock(
      ctx(), {bad_sig}, [&](const Hash256& h) { return h == vouched; }, block2);
  EXPECT_EQ(out2.results[0].code(), 0u);
}

TEST_F(AppTest, SequentialNoncesWithinOneBlock) {
  std::vector<std::string> txs;
  for (uint64_t n = 1; n <= 20; ++n)
    txs.push_back(Sign(alice_, MakeTransfer(n, AddrOf(bob_), "CNY", 10)));
  Overlay block(&state());
  BlockOutcome out = ExecuteBlock(ctx(), txs, nullptr, block);
  for (const auto& r : out.results) EXPECT_EQ(r.code(), 0u) << r.log();
  EXPECT_EQ(LoadAccount(block, AddrOf(alice_)).nonce(), 20u);
  EXPECT_EQ(BalanceOf(LoadAccount(block, AddrOf(bob_)), "CNY"), 2200);
}

// ------------------------------------------------------------------------------------ app hash

TEST_F(AppTest, GenesisAppHashIsDeterministic) {
  Chain again(MakeGenesis());
  EXPECT_EQ(again.genesis_hash, chain_->genesis_hash);
  EXPECT_TRUE(again.state.writes() == state().writes());
  GenesisState g = MakeGenesis();
  g.balances[0].amount += 1;
  Chain different(g);
  EXPECT_NE(different.genesis_hash, chain_->genesis_hash);
}

TEST_F(AppTest, IdenticalBlocksGiveTheSameAppHash) {
  auto run = [&](Chain& c, const std::vector<std::string>& txs, std::vector<uint32_t>& codes) {
    Overlay block(&c.state);
    BlockOutcome out = ExecuteBlock(c.ctx, txs, nullptr, block);
    for (const auto& r : out.results) codes.push_back(r.code());
    block.MergeInto(c.state);
    // The app hash: the state tree's root over the whole state (c.state holds all of it).
    MemKv tree;
    auto root = UpdateStateTree(tree, 0, c.state.writes());
    V2G_ASSERT(root.ok());
    return root->root;
  };
  pb::TxBody with_fee = MakeTransfer(1, AddrOf(bob_), "CNY", 100);
  with_fee.mutable_fee()->set_denom("PTS");
  with_fee.mutable_fee()->set_amount(2);
  const std::vector<std::string> txs = {
      Sign(alice_, with_fee),
      Sign(cny_issuer_, MakeMint(1, AddrOf(carol_), "CNY", 5)),
      Sign(bob_, MakeTransfer(1, AddrOf(carol_), "CNY", 999999)),  // fails; still deterministic
      Sign(cny_issuer_, MakeBurn(2, "CNY", 7)),
  };
  Chain a(MakeGenesis()), b(MakeGenesis());
  std::vector<uint32_t> codes_a, codes_b;
  Hash256 ha = run(a, txs, codes_a);
  Hash256 hb = run(b, txs, codes_b);
  EXPECT_EQ(ha, hb);
  EXPECT_EQ(codes_a, codes_b);
  EXPECT_EQ(codes_a, (std::vector<uint32_t>{0, 0, 22, 0}));
  EXPECT_TRUE(a.state.writes() == b.state.writes());
  // A block differing in one tx gives a different hash.
  Chain c(MakeGenesis());
  std::vector<std::string> other = txs;
  other[0] = Sign(alice_, MakeTransfer(1, AddrOf(bob_), "CNY", 101));
  std::vector<uint32_t> codes_c;
  EXPECT_NE(run(c, other, codes_c), ha);
  // The same block under another proposer gives the same hash: fees are burned, so the proposer
  // is paid nothing and no state depends on it.
  Chain d(MakeGenesis());
  d.ctx.proposer = AddrOf(carol_);
  std::vector<uint32_t> codes_d;
  EXPECT_EQ(run(d, txs, codes_d), ha);
  EXPECT_EQ(codes_d, codes_a);
  EXPECT_TRUE(d.state.writes() == a.state.writes());
}

// ---------------------------------------------------------------------------------- InitChain

TEST_F(AppTest, InitChainWritesRolesAndZeroSupplies) {
  GenesisState g = MakeGenesis();
  g.denoms.push_back({"NEW", 3, AddrOf(carol_)});
  g.roles.push_back({"operator", AddrOf(bob_)});
  g.roles.push_back({"grid_company", AddrOf(carol_)});
  Chain c(g);
  EXPECT_TRUE(HasRole(c.state, "operator", AddrOf(bob_)));
  EXPECT_TRUE(HasRole(c.state, "grid_company", AddrOf(carol_)));
  EXPECT_FALSE(HasRole(c.state, "operator", AddrOf(carol_)));
  EXPECT_FALSE(HasRole(c.state, "aggregator", AddrOf(bob_)));
  // A denomination without genesis balances still has a supply record (at zero).
  ASSERT_TRUE(c.state.Get(SupplyKey("NEW")).has_value());
  EXPECT_EQ(c.Supply("NEW").minted(), 0);
  EXPECT_TRUE(CheckConservation(c.state).ok());
  // Its issuer can mint it from nothing.
  ASSERT_TRUE(c.Apply(SignTx(carol_, kChainId, MakeMint(1, AddrOf(alice_), "NEW", 5))).ok());
  EXPECT_EQ(c.Balance(AddrOf(alice_), "NEW"), 5);
  EXPECT_TRUE(CheckConservation(c.state).ok());
}

TEST_F(AppTest, InitChainRejectsInconsistentGenesis) {
  {
    GenesisState g = MakeGenesis();
    g.denoms.push_back({"CNY", 0, AddrOf(bob_)});
    MemKv kv;
    Overlay s(&kv);
    auto r = InitChain(g, s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kAlreadyExists);
  }
  {
    GenesisState g = MakeGenesis();
    g.balances.push_back({AddrOf(bob_), "USD", 1});
    MemKv kv;
    Overlay s(&kv);
    auto r = InitChain(g, s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kUnknownDenom);
  }
  {
    GenesisState g = MakeGenesis();
    g.balances.push_back({AddrOf(carol_), "CNY", kMax});
    MemKv kv;
    Overlay s(&kv);
    auto r = InitChain(g, s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kOverflow);
  }
}

// -------------------------------------------------------------------------------- state helpers

TEST(StateTest, KeyLayout) {
  Address a;
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i + 1);
  const std::string raw(reinterpret_cast<const char*>(a.data()), a.size());
  EXPECT_EQ(AccountKey(a), "s/acct/" + raw);
  EXPECT_EQ(DenomKey("CNY"), "s/denom/CNY");
  EXPECT_EQ(SupplyKey("CNY"), "s/supply/CNY");
  EXPECT_EQ(RoleKey("operator", a), "s/role/operator/" + raw);
  // Every state key lives under "s/" so scans and app-hash changes can tell state from the rest.
  for (const std::string& k : {AccountKey(a), DenomKey("X"), SupplyKey("X"), RoleKey("r", a),
                               std::string(kParamsKey), std::string(kValidatorsKey)}) {
    EXPECT_EQ(k.substr(0, kStatePrefix.size()), kStatePrefix) << k;
  }
}

TEST(StateTest, SetBalanceKeepsDenominationsSortedAndDropsZeros) {
  pb::AccountRecord rec;
  EXPECT_EQ(BalanceOf(rec, "CNY"), 0);
  SetBalance(rec, "PTS", 5);
  SetBalance(rec, "CNY", 7);
  SetBalance(rec, "ZZZ", 1);
  SetBalance(rec, "AAA", 2);
  SetBalance(rec, "MMM", 3);
  ASSERT_EQ(rec.balances_size(), 5);
  const char* order[] = {"AAA", "CNY", "MMM", "PTS", "ZZZ"};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rec.balances(i).denom(), order[i]);
  EXPECT_EQ(BalanceOf(rec, "MMM"), 3);
  SetBalance(rec, "MMM", 30);  // update in place
  EXPECT_EQ(BalanceOf(rec, "MMM"), 30);
  EXPECT_EQ(rec.balances_size(), 5);
  SetBalance(rec, "CNY", 0);  // zero removes the entry
  EXPECT_EQ(rec.balances_size(), 4);
  EXPECT_EQ(BalanceOf(rec, "CNY"), 0);
  SetBalance(rec, "NONE", 0);  // zero for an absent entry adds nothing
  EXPECT_EQ(rec.balances_size(), 4);
  EXPECT_EQ(rec.balances(1).denom(), "MMM");
}

TEST(StateTest, EncodeIsDeterministicAndRecordsRoundTrip) {
  pb::AccountRecord rec;
  rec.set_nonce(42);
  SetBalance(rec, "CNY", 1250);
  const std::string bytes = Encode(rec);
  EXPECT_EQ(Encode(rec), bytes);
  auto back = DecodeRecord<pb::AccountRecord>(bytes);
  EXPECT_EQ(back.nonce(), 42u);
  EXPECT_EQ(BalanceOf(back, "CNY"), 1250);
  EXPECT_EQ(Encode(pb::AccountRecord()), "");  // defaults are not written out
}

// ------------------------------------------------------------------------------------- overlay

TEST(MemKvTest, GetPutDeleteAndScanInByteOrder) {
  MemKv kv;
  kv.Put("p/b", "2");
  kv.Put(std::string("p/\xff", 3), "ff");
  kv.Put("p/a", "1");
  kv.Put(std::string("p/\0", 3), "zero");
  kv.Put("q/a", "q");
  kv.Put("p", "bare");
  EXPECT_EQ(kv.Get("p/a"), "1");
  EXPECT_FALSE(kv.Get("p/c").has_value());
  std::vector<std::string> keys;
  kv.Scan("p/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  EXPECT_EQ(keys, (std::vector<std::string>{std::string("p/\0", 3), "p/a", "p/b",
                                            std::string("p/\xff", 3)}));
  kv.Delete("p/a");
  EXPECT_FALSE(kv.Get("p/a").has_value());
  int calls = 0;
  kv.Scan("p/", [&](std::string_view, std::string_view) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);  // stops when fn returns false
}

TEST(OverlayTest, GetPutDeleteOverBase) {
  MemKv base;
  base.Put("a", "1");
  base.Put("b", "2");
  Overlay o(&base);
  EXPECT_EQ(o.Get("a"), "1");
  EXPECT_FALSE(o.Get("z").has_value());
  o.Put("a", "10");
  EXPECT_EQ(o.Get("a"), "10");
  EXPECT_EQ(base.Get("a"), "1");  // the base is never written
  o.Delete("b");
  EXPECT_FALSE(o.Get("b").has_value());
  EXPECT_EQ(base.Get("b"), "2");
  o.Put("b", "");  // an empty value is a value, not a deletion
  ASSERT_TRUE(o.Get("b").has_value());
  EXPECT_EQ(*o.Get("b"), "");
  o.Delete("new");  // deleting an absent key is recorded (it may exist in a lower layer later)
  EXPECT_FALSE(o.Get("new").has_value());
  ASSERT_EQ(o.writes().count("new"), 1u);
  EXPECT_FALSE(o.writes().at("new").has_value());
  EXPECT_EQ(o.writes().size(), 3u);
  o.Clear();
  EXPECT_TRUE(o.writes().empty());
  EXPECT_EQ(o.Get("a"), "1");
  EXPECT_EQ(o.Get("b"), "2");
}

std::vector<std::pair<std::string, std::string>> ScanAll(const KvReader& kv,
                                                         std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  kv.Scan(prefix, [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  });
  return out;
}

TEST(OverlayTest, ScanMergesBaseAndWritesWithDeletions) {
  MemKv base;
  base.Put("o/z", "outside");
  base.Put("p", "bare prefix");
  base.Put("p/a", "1");
  base.Put("p/b", "2");
  base.Put("p/d", "4");
  base.Put("q/x", "9");
  Overlay o(&base);
  o.Put("p/c", "3");        // new key between base keys
  o.Put("p/b", "20");       // overrides the base
  o.Delete("p/d");          // hides a base key
  o.Delete("p/zz");         // deletion of a key the base does not have
  o.Put("q/y", "outside");  // other prefix
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(ScanAll(o, "p/"), (KV{{"p/a", "1"}, {"p/b", "20"}, {"p/c", "3"}}));
  EXPECT_EQ(ScanAll(o, "p/d"), KV{});
  EXPECT_EQ(ScanAll(o, "q/"), (KV{{"q/x", "9"}, {"q/y", "outside"}}));
  EXPECT_EQ(ScanAll(o, "").size(), 7u);  // o/z, p, p/a, p/b, p/c, q/x, q/y
  int calls = 0;
  o.Scan("p/", [&](std::string_view, std::string_view) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);
  // Deleted then re-put: visible again.
  o.Put("p/d", "40");
  EXPECT_EQ(ScanAll(o, "p/d"), (KV{{"p/d", "40"}}));
}

TEST(OverlayTest, NestedOverlaysAndMergeInto) {
  MemKv base;
  base.Put("k/1", "base1");
  base.Put("k/2", "base2");
  Overlay parent(&base);
  parent.Put("k/3", "parent3");
  parent.Delete("k/2");
  Overlay child(&parent);
  EXPECT_EQ(child.Get("k/3"), "parent3");
  EXPECT_FALSE(child.Get("k/2").has_value());
  child.Put("k/2", "child2");  // revives a key the parent deleted
  child.Delete("k/1");         // deletes a base key
  child.Put("k/4", "child4");
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(ScanAll(child, "k/"), (KV{{"k/2", "child2"}, {"k/3", "parent3"}, {"k/4", "child4"}}));
  // Nothing reaches the parent until MergeInto.
  EXPECT_EQ(ScanAll(parent, "k/"), (KV{{"k/1", "base1"}, {"k/3", "parent3"}}));
  child.MergeInto(parent);
  EXPECT_EQ(ScanAll(parent, "k/"), (KV{{"k/2", "child2"}, {"k/3", "parent3"}, {"k/4", "child4"}}));
  EXPECT_FALSE(parent.writes().at("k/1").has_value());  // the deletion itself was merged
  EXPECT_EQ(base.data().size(), 2u);                    // the base is untouched
  EXPECT_EQ(base.Get("k/1"), "base1");
}

TEST(OverlayTest, WithoutBase) {
  Overlay o(nullptr);
  EXPECT_FALSE(o.Get("x").has_value());
  o.Put("x/1", "a");
  o.Delete("x/2");
  EXPECT_EQ(o.Get("x/1"), "a");
  EXPECT_EQ(ScanAll(o, "x/").size(), 1u);
}

TEST(OverlayDeathTest, MergeIntoAnOverlayThatIsNotTheBaseAborts) {
  MemKv base;
  Overlay a(&base), b(&base);
  Overlay child(&a);
  child.Put("k", "v");
  EXPECT_DEATH(child.MergeInto(b), "assertion failed");
}

// ------------------------------------------------------------------------------- conservation

TEST_F(AppTest, CheckConservationDetectsCorruption) {
  // Credit an account without minting: the check must notice.
  pb::AccountRecord rec = LoadAccount(state(), AddrOf(bob_));
  SetBalance(rec, "CNY", BalanceOf(rec, "CNY") + 1);
  Overlay corrupt(&state());
  StoreAccount(corrupt, AddrOf(bob_), rec);
  Status st = CheckConservation(corrupt);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_TRUE(Contains(st.message(), "CNY"));
  // Supply changed without balances.
  Overlay corrupt2(&state());
  pb::SupplyRecord s = LoadSupply(state(), "PTS");
  s.set_burned(s.burned() + 1);
  corrupt2.Put(SupplyKey("PTS"), Encode(s));
  EXPECT_EQ(CheckConservation(corrupt2).code(), Code::kCorruption);
  // A balance in a denomination that has no supply record.
  Overlay corrupt3(&state());
  pb::AccountRecord r3;
  SetBalance(r3, "ZZZ", 5);
  StoreAccount(corrupt3, AddrOf(carol_), r3);
  EXPECT_EQ(CheckConservation(corrupt3).code(), Code::kCorruption);
}

// A model of the ledger written from the rules, used as the oracle for random sequences.
struct Model {
  std::map<std::pair<size_t, std::string>, int64_t> balance;
  std::vector<uint64_t> nonce;
  std::map<std::string, std::pair<int64_t, int64_t>> supply;  // minted, burned
  std::map<std::string, size_t> issuer;
};

struct RandomTx {
  std::string bytes;
  Code expected;
  size_t signer;
};

class RandomSequence {
 public:
  static constexpr size_t kAccounts = 10;
  static constexpr size_t kProposer = 2;

  explicit RandomSequence(uint64_t seed) : rng_(seed) {
    for (size_t i = 0; i < kAccounts; ++i) keys_.push_back(Key(static_cast<uint8_t>(100 + i)));
    model_.nonce.assign(kAccounts, 0);
    model_.issuer = {{"CNY", 0}, {"PTS", 1}};
    model_.supply = {{"CNY", {0, 0}}, {"PTS", {0, 0}}};
  }

  GenesisState Genesis() {
    GenesisState g;
    g.chain_id = kChainId;
    GenesisValidator v;
    v.name = "v";
    v.address = Addr(kProposer);
    v.power = 1;
    g.validators.push_back(v);
    g.denoms = {{"CNY", 2, Addr(0)}, {"PTS", 0, Addr(1)}};
    for (size_t i = 0; i < kAccounts; ++i) {
      for (const char* d : {"CNY", "PTS"}) {
        int64_t amount = Uniform(0, 1'000'000);
        if (amount == 0) continue;
        g.balances.push_back({Addr(i), d, amount});
        model_.balance[{i, d}] += amount;
        model_.supply[d].first += amount;
      }
    }
    g.params = GenesisParams{};
    g.params.tx_bytes_max = limits::kTxBytesDefault;
    g.params.block_txs_max = limits::kBlockTxsDefault;
    g.params.block_bytes_max = limits::kBlockBytesDefault;
    g.params.memo_bytes_max = limits::kMemoBytesDefault;
    return g;
  }

  // Builds a random tx (valid or not) and the code the model expects; updates the model as if
  // the tx were applied.
  RandomTx Next() {
    size_t s = static_cast<size_t>(Uniform(0, kAccounts - 1));
    uint64_t nonce = model_.nonce[s] + 1;
    int64_t roll = Uniform(0, 99);
    if (roll < 4 && model_.nonce[s] > 0)
      nonce = static_cast<uint64_t>(Uniform(1, static_cast<int64_t>(model_.nonce[s])));
    if (roll >= 4 && roll < 8) nonce = model_.nonce[s] + 2 + static_cast<uint64_t>(Uniform(0, 3));

    const char* denoms[] = {"CNY", "PTS", "XYZ"};
    std::string denom = denoms[Uniform(0, 19) < 19 ? Uniform(0, 1) : 2];
    size_t to = static_cast<size_t>(Uniform(0, kAccounts - 1));
    int64_t amount = RandomAmount(s, denom);
    pb::TxBody body;
    int64_t op = Uniform(0, 9);
    if (op < 6) {
      body = MakeTransfer(nonce, Addr(to), denom, amount);
    } else if (op < 8) {
      body = MakeMint(nonce, Addr(to), denom, amount);
    } else {
      body = MakeBurn(nonce, denom, amount);
    }
    std::string fee_denom;
    int64_t fee = 0;
    if (Uniform(0, 9) < 3) {
      fee_denom = Uniform(0, 1) ? "CNY" : "PTS";
      fee = Uniform(0, 19) == 0 ? -Uniform(0, 5) : Uniform(1, 50);
      body.mutable_fee()->set_denom(fee_denom);
      body.mutable_fee()->set_amount(fee);
    }
    std::string bytes = SignTx(keys_[s], kChainId, body);
    bool bad_sig = Uniform(0, 49) == 0;
    if (bad_sig) {
      pb::Tx tx;
      V2G_ASSERT(tx.ParseFromString(bytes));
      std::string sig = tx.signature();
      sig[5] = static_cast<char>(sig[5] ^ 0x40);
      tx.set_signature(sig);
      bytes = Encode(tx);
    }
    bool fee_payable = false;
    Code expected = Predict(s, nonce, body, bad_sig, &fee_payable);
    if (expected == Code::kOk) {
      Commit(s, to, body);
    } else if (fee_payable && in_blocks_) {
      ChargeFee(s, body);  // failed in a block after its fee check: it pays and uses its nonce
    }
    return {bytes, expected, s};
  }

  Address Addr(size_t i) const { return AddrOf(keys_[i]); }
  const Model& model() const { return model_; }
  // The txs run in blocks (ExecuteBlock), where a failed tx that could pay its fee pays it, not
  // one by one through ApplyTx (admission), where it changes nothing.
  void RunInBlocks() { in_blocks_ = true; }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  int64_t RandomAmount(size_t s, const std::string& denom) {
    int64_t have = Bal(s, denom);
    int64_t roll = Uniform(0, 99);
    if (roll < 5) return -Uniform(0, 3);     // zero or negative
    if (roll < 12) return Uniform(1, kMax);  // huge: mints that may overflow the supply
    if (roll < 20 && have <= kMax - 100) return have + Uniform(1, 100);  // just too much
    return Uniform(1, std::max<int64_t>(1, have));                       // usually affordable
  }

  int64_t Bal(size_t i, const std::string& d) const {
    auto it = model_.balance.find({i, d});
    return it == model_.balance.end() ? 0 : it->second;
  }

  // `fee_payable` is set when the tx carries a fee and passed every check up to paying it: if its
  // operation then fails, a block still charges the fee (contracts/app.h ExecuteBlock).
  Code Predict(size_t s, uint64_t nonce, const pb::TxBody& body, bool bad_sig, bool* fee_payable) const {
    // Stateless checks, in CheckTxStateless order: body fields, then the signature.
    if (body.has_fee() && body.fee().amount() <= 0) return Code::kInvalidArgument;
    int64_t amount = body.has_transfer() ? body.transfer().amount()
                     : body.has_mint()   ? body.mint().amount()
                                         : body.burn().amount();
    if (amount <= 0) return Code::kInvalidArgument;
    if (bad_sig) return Code::kBadSignature;
    // Against state, in ApplyTx order: nonce, fee, operation.
    if (nonce <= model_.nonce[s]) return Code::kNonceReplayed;
    if (nonce != model_.nonce[s] + 1) return Code::kNonceGap;
    std::map<std::string, int64_t> spend;
    if (body.has_fee()) {
      if (Bal(s, body.fee().denom()) < body.fee().amount()) return Code::kInsufficientFunds;
      spend[body.fee().denom()] += body.fee().amount();
      *fee_payable = true;
    }
    const std::string& denom = body.has_transfer() ? body.transfer().denom()
                               : body.has_mint()   ? body.mint().denom()
                                                   : body.burn().denom();
    if (!model_.issuer.count(denom)) return Code::kUnknownDenom;
    if (body.has_mint() || body.has_burn()) {
      if (model_.issuer.at(denom) != s) return Code::kUnauthorized;
    }
    if (body.has_mint()) {
      if (model_.supply.at(denom).first > kMax - amount) return Code::kOverflow;
      return Code::kOk;
    }
    if (Bal(s, denom) - spend[denom] < amount) return Code::kInsufficientFunds;
    return Code::kOk;
  }

  // The fee is burned (never paid to kProposer, who also sends txs: its own fees cost it too).
  void ChargeFee(size_t s, const pb::TxBody& body) {
    model_.nonce[s] += 1;
    model_.balance[{s, body.fee().denom()}] -= body.fee().amount();
    model_.supply[body.fee().denom()].second += body.fee().amount();
  }

  void Commit(size_t s, size_t to, const pb::TxBody& body) {
    if (body.has_fee()) {
      ChargeFee(s, body);
    } else {
      model_.nonce[s] += 1;
    }
    if (body.has_transfer()) {
      model_.balance[{s, body.transfer().denom()}] -= body.transfer().amount();
      model_.balance[{to, body.transfer().denom()}] += body.transfer().amount();
    } else if (body.has_mint()) {
      model_.balance[{to, body.mint().denom()}] += body.mint().amount();
      model_.supply[body.mint().denom()].first += body.mint().amount();
    } else {
      model_.balance[{s, body.burn().denom()}] -= body.burn().amount();
      model_.supply[body.burn().denom()].second += body.burn().amount();
    }
  }

  std::mt19937_64 rng_;
  std::vector<KeyPair> keys_;
  Model model_;
  bool in_blocks_ = false;
};

void ExpectMatchesModel(const RandomSequence& seq, const KvReader& state) {
  const Model& m = seq.model();
  for (size_t i = 0; i < RandomSequence::kAccounts; ++i) {
    pb::AccountRecord rec = LoadAccount(state, seq.Addr(i));
    ASSERT_EQ(rec.nonce(), m.nonce[i]) << "account " << i;
    for (const char* d : {"CNY", "PTS"}) {
      auto it = m.balance.find({i, d});
      ASSERT_EQ(BalanceOf(rec, d), it == m.balance.end() ? 0 : it->second)
          << "account " << i << " " << d;
    }
  }
  for (const char* d : {"CNY", "PTS"}) {
    pb::SupplyRecord s = LoadSupply(state, d);
    ASSERT_EQ(s.minted(), m.supply.at(d).first) << d;
    ASSERT_EQ(s.burned(), m.supply.at(d).second) << d;
  }
}

TEST(AppRandomTest, RandomTxsKeepConservationAndSequentialNonces) {
  InitCrypto();
  constexpr uint64_t kSeed = 0x5eed2026;
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  RandomSequence seq(kSeed);
  Chain chain(seq.Genesis());
  std::map<Code, int> seen;
  // Phase 1: one tx at a time through CheckTxStateless + ApplyTx.
  for (int i = 0; i < 2500; ++i) {
    RandomTx tx = seq.Next();
    uint64_t nonce_before = chain.Nonce(seq.Addr(tx.signer));
    Status st = chain.Apply(tx.bytes);
    ASSERT_EQ(st.code(), tx.expected) << "tx " << i << ": " << st.ToString();
    seen[st.code()]++;
    uint64_t nonce_after = chain.Nonce(seq.Addr(tx.signer));
    ASSERT_EQ(nonce_after, st.ok() ? nonce_before + 1 : nonce_before) << "tx " << i;
    Status cons = CheckConservation(chain.state);
    ASSERT_TRUE(cons.ok()) << "tx " << i << ": " << cons.ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectMatchesModel(seq, chain.state)) << "tx " << i;
  }
  // Every kind of outcome the generator aims for actually happened.
  for (Code c : {Code::kOk, Code::kInvalidArgument, Code::kBadSignature, Code::kNonceReplayed,
                 Code::kNonceGap, Code::kInsufficientFunds, Code::kUnknownDenom,
                 Code::kUnauthorized, Code::kOverflow}) {
    EXPECT_GT(seen[c], 0) << CodeName(c);
  }
  EXPECT_GT(seen[Code::kOk], 500);
}

// The state tree of a chain, block after block, as a node keeps it (contracts/state_tree.h).
struct TreeOfChain {
  MemKv kv;
  int64_t version = -1;
  Hash256 Next(const Overlay::Writes& changes) {
    auto up = UpdateStateTree(kv, ++version, changes);
    V2G_ASSERT(up.ok());
    for (const auto& [k, v] : up->writes) {
      if (v)
        kv.Put(k, *v);
      else
        kv.Delete(k);
    }
    return up->root;
  }
};

TEST(AppRandomTest, RandomBlocksMatchTheModelAndReplayToTheSameAppHash) {
  InitCrypto();
  constexpr uint64_t kSeed = 0xb10c5eed;
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  RandomSequence seq(kSeed);
  seq.RunInBlocks();
  const GenesisState g = seq.Genesis();
  Chain chain(g);
  std::vector<std::vector<std::string>> blocks;
  std::vector<Hash256> app_hashes;
  TreeOfChain tree;
  Hash256 app = tree.Next(chain.state.writes());
  ASSERT_EQ(app, chain.genesis_hash);
  for (size_t b = 0; b < 100; ++b) {
    std::vector<std::string> txs;
    std::vector<Code> want;
    for (size_t i = 0; i < 1 + b % 40; ++i) {
      RandomTx tx = seq.Next();
      txs.push_back(tx.bytes);
      want.push_back(tx.expected);
    }
    Overlay block(&chain.state);
    BlockOutcome out = ExecuteBlock(chain.ctx, txs, nullptr, block);
    ASSERT_EQ(out.results.size(), txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      ASSERT_EQ(out.results[i].code(), static_cast<uint32_t>(want[i]))
          << "block " << b << " tx " << i << ": " << out.results[i].log();
    }
    app = tree.Next(block.writes());
    block.MergeInto(chain.state);
    Status cons = CheckConservation(chain.state);
    ASSERT_TRUE(cons.ok()) << "block " << b << ": " << cons.ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectMatchesModel(seq, chain.state)) << "block " << b;
    blocks.push_back(std::move(txs));
    app_hashes.push_back(app);
    // The tree holds exactly the state: a proof of every key shows each record as execution left
    // it.
    {
      auto all = ProveStateRange(tree.kv, tree.version, TreeRange::Prefix(""), 1'000'000);
      ASSERT_TRUE(all.ok()) << all.status().ToString();
      std::vector<std::pair<std::string, std::string>> state_now;
      for (const auto& [k, v] : chain.state.writes()) {
        if (v) state_now.emplace_back(k, *v);
      }
      ASSERT_EQ(all->entries, state_now) << "block " << b;
      ASSERT_TRUE(VerifyStateProof(app, all->proof, TreeRange::Prefix("")).ok()) << "block " << b;
    }
  }
  // An independent replica executing the same blocks reaches the same app hash after every block.
  Chain replica(g);
  ASSERT_EQ(replica.genesis_hash, chain.genesis_hash);
  TreeOfChain replica_tree;
  Hash256 replica_app = replica_tree.Next(replica.state.writes());
  for (size_t b = 0; b < blocks.size(); ++b) {
    Overlay block(&replica.state);
    (void)ExecuteBlock(replica.ctx, blocks[b], nullptr, block);
    replica_app = replica_tree.Next(block.writes());
    block.MergeInto(replica.state);
    ASSERT_EQ(replica_app, app_hashes[b]) << "block " << b;
  }
  EXPECT_TRUE(replica.state.writes() == chain.state.writes());
}

}  // namespace
}  // namespace v2g
