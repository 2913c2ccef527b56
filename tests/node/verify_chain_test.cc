// verify-chain: a real node (InitHome + Node::Open/Start, 50 ms blocks, API on a free loopback
// port) commits blocks with transfers; after it stops, VerifyChain replays everything and returns
// the height. Any change to the stored data afterwards (state, tx index, results, blocks,
// commits) is reported as corruption at the height where it shows.
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <filesystem>
#include <functional>

#include "common/fsutil.h"
#include "node/config.h"
#include "node/keys.h"
#include "node/node.h"
#include "tests/node/node_test_util.h"
#include "tests/node/real_node.h"

namespace v2g::nodetest {
namespace {

struct BuiltChain {
  std::unique_ptr<TempDir> dir;
  std::string home;
  int64_t height = 0;
  std::string mint, t_alice_bob, t_bob_carol;  // committed txs
  int64_t t_bob_carol_height = 0;
  Status verify_while_running;
};

Result<std::unique_ptr<Node>> StartNode(const std::string& home) { return StartRealNode(home); }

void Build(BuiltChain& c) {
  c.dir = std::make_unique<TempDir>();
  c.home = c.dir->path() + "/node0";
  InitOptions o;
  o.home = c.home;
  o.chain_id = "v2g-verify-test";
  o.moniker = "verify0";
  o.genesis_time_ms = kGenesisTimeMs;
  o.fee_min = 0;  // the txs below carry no fee: this suite is about verify-chain, not fees
  Status init = InitHome(o);
  ASSERT_TRUE(init.ok()) << init.ToString();
  // The validator's own account issues CNY and PTS (InitHome with no --issuer).
  auto vkey = LoadNodeKey(HomePaths{c.home}.validator_key());
  ASSERT_TRUE(vkey.ok()) << vkey.status().ToString();
  TestKeys k;

  auto started = StartNode(c.home);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Node> node = std::move(*started);
  auto cli = MakeClient(node->api_port());
  auto submit = [&](const std::string& tx) {
    HttpReply r = HttpPost(*cli, "/v1/txs?wait=commit", TxBody(tx));
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body.value("code", -1), 0) << r.raw;
    return r.body.value("height", int64_t{0});
  };
  c.mint = SignTx(*vkey, o.chain_id, MakeMint(1, AddrOf(k.alice), "CNY", 10000));
  c.t_alice_bob = SignTx(k.alice, o.chain_id, MakeTransfer(1, AddrOf(k.bob), "CNY", 1250));
  c.t_bob_carol = SignTx(k.bob, o.chain_id, MakeTransfer(1, AddrOf(k.carol), "CNY", 250));
  submit(c.mint);
  submit(c.t_alice_bob);
  c.t_bob_carol_height = submit(c.t_bob_carol);
  ASSERT_GT(c.t_bob_carol_height, 0);
  // A few empty blocks after the last tx.
  const int64_t target = c.t_bob_carol_height + 2;
  ASSERT_GE(node->chain().WaitForHeightAbove(target - 1, 10000), target);

  // The database is locked while the node runs: verify-chain says so instead of reading it.
  auto busy = VerifyChain(c.home);
  c.verify_while_running = busy.ok() ? Status::Ok() : busy.status();

  node->Stop();
  c.height = node->store().Height();
  node.reset();
}

class VerifyChainTest : public ::testing::Test {
 protected:
  // Built by the first test of the process, in SetUp and not SetUpTestSuite: a fatal failure in
  // SetUpTestSuite makes gtest print every test as skipped, which ctest counts as not failed (the
  // whole suite once checked nothing because its txs were refused for want of a fee).
  static void TearDownTestSuite() {
    delete chain_;
    chain_ = nullptr;
  }
  void SetUp() override {
    if (chain_ == nullptr) {
      chain_ = new BuiltChain();
      Build(*chain_);
    }
    ASSERT_FALSE(HasFailure()) << "building the chain failed";
    ASSERT_GT(chain_->height, 0) << "building the chain failed";
  }

  // A copy of the stopped node's home, with `fn` applied to its database.
  std::string TamperedCopy(const std::function<void(leveldb::DB&)>& fn) {
    std::string home = copy_.path() + "/node" + std::to_string(copies_++);
    std::filesystem::copy(chain_->home, home, std::filesystem::copy_options::recursive);
    leveldb::DB* raw = nullptr;
    leveldb::Status st = leveldb::DB::Open(leveldb::Options(), HomePaths{home}.db(), &raw);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return home;
    std::unique_ptr<leveldb::DB> db(raw);
    fn(*db);
    return home;
  }
  static std::string MustGet(leveldb::DB& db, const std::string& key) {
    std::string v;
    leveldb::Status st = db.Get(leveldb::ReadOptions(), key, &v);
    EXPECT_TRUE(st.ok()) << "missing key: " << st.ToString();
    return v;
  }
  static void Put(leveldb::DB& db, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db.Put(leveldb::WriteOptions(), key, value).ok());
  }
  static void ExpectCorruption(const std::string& home, const std::string& message_part) {
    auto r = VerifyChain(home);
    ASSERT_FALSE(r.ok()) << "tampering went unnoticed; verified height " << *r;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_TRUE(Contains(r.status().message(), message_part));
  }
  std::string TxKey(const std::string& tx) { return "t/" + HashString(TxHash(tx)); }

  static BuiltChain* chain_;
  TempDir copy_;
  int copies_ = 0;
  TestKeys k_;
};
BuiltChain* VerifyChainTest::chain_ = nullptr;

TEST_F(VerifyChainTest, UntouchedChainVerifiesToItsHeight) {
  auto r = VerifyChain(chain_->home);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, chain_->height);
  EXPECT_GE(*r, chain_->t_bob_carol_height + 2);
  // Verifying reads only: a second run agrees.
  auto again = VerifyChain(chain_->home);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *r);
  // An unchanged copy verifies too (the tamper tests below start from such copies).
  auto copy = VerifyChain(TamperedCopy([](leveldb::DB&) {}));
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(*copy, chain_->height);
}

TEST_F(VerifyChainTest, RefusesADatabaseInUse) {
  EXPECT_FALSE(chain_->verify_while_running.ok());
  EXPECT_EQ(chain_->verify_while_running.code(), Code::kIo);
  EXPECT_TRUE(Contains(chain_->verify_while_running.message(), "chain.db"));
}

TEST_F(VerifyChainTest, MissingHomeIsAnError) {
  auto r = VerifyChain(copy_.path() + "/nothing-here");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "genesis.json"));
}

TEST_F(VerifyChainTest, DetectsAChangedBalance) {
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    const std::string key = AccountKey(AddrOf(k_.bob));
    auto rec = DecodeRecord<pb::AccountRecord>(MustGet(db, key));
    SetBalance(rec, "CNY", BalanceOf(rec, "CNY") + 100);
    Put(db, key, Encode(rec));
  });
  ExpectCorruption(home, "stored state differs from the replayed state");
}

TEST_F(VerifyChainTest, DetectsABalanceMovedBetweenAccountsEvenWhenSupplyStillAddsUp) {
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    const std::string from = AccountKey(AddrOf(k_.alice));
    const std::string to = AccountKey(AddrOf(k_.carol));
    auto a = DecodeRecord<pb::AccountRecord>(MustGet(db, from));
    auto c = DecodeRecord<pb::AccountRecord>(MustGet(db, to));
    SetBalance(a, "CNY", BalanceOf(a, "CNY") - 1);
    SetBalance(c, "CNY", BalanceOf(c, "CNY") + 1);
    Put(db, from, Encode(a));
    Put(db, to, Encode(c));
  });
  ExpectCorruption(home, "stored state differs");
}

TEST_F(VerifyChainTest, DetectsAnAddedAccount) {
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    pb::AccountRecord rec;
    SetBalance(rec, "CNY", 1);
    Put(db, AccountKey(AddrOf(k_.stranger)), Encode(rec));
  });
  ExpectCorruption(home, "stored state differs");
}

TEST_F(VerifyChainTest, DetectsADeletedTxIndexEntry) {
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    ASSERT_TRUE(db.Delete(leveldb::WriteOptions(), TxKey(chain_->t_bob_carol)).ok());
  });
  ExpectCorruption(home, "height " + std::to_string(chain_->t_bob_carol_height) + ": tx 0 missing from the tx index");
}

TEST_F(VerifyChainTest, DetectsATamperedTxIndexEntry) {
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    std::string raw;
    ASSERT_TRUE(db.Get(leveldb::ReadOptions(), TxKey(chain_->t_bob_carol), &raw).ok());
    pb::TxLocation loc;
    ASSERT_TRUE(loc.ParseFromString(raw));
    loc.mutable_result()->set_code(static_cast<uint32_t>(Code::kInsufficientFunds));  // a lie about the result
    ASSERT_TRUE(db.Put(leveldb::WriteOptions(), TxKey(chain_->t_bob_carol), Encode(loc)).ok());
  });
  ExpectCorruption(home, "height " + std::to_string(chain_->t_bob_carol_height) + ": tx 0 has a wrong tx index entry");
}

// A result is served as stored (tx results are under no hash): every part of it is checked, in the
// tx index and in the block's results, and a change of words is told apart from a change of outcome.
TEST_F(VerifyChainTest, DetectsAnyChangeToAStoredResult) {
  const std::string at = "height " + std::to_string(chain_->t_bob_carol_height) + ": tx 0 ";
  auto in_index = [&](const std::function<void(pb::TxResult&)>& change) {
    return TamperedCopy([&](leveldb::DB& db) {
      auto loc = DecodeRecord<pb::TxLocation>(MustGet(db, TxKey(chain_->t_bob_carol)));
      change(*loc.mutable_result());
      Put(db, TxKey(chain_->t_bob_carol), Encode(loc));
    });
  };
  auto in_block = [&](const std::function<void(pb::TxResult&)>& change) {
    return TamperedCopy([&](leveldb::DB& db) {
      const std::string key = Store::HeightKey('r', chain_->t_bob_carol_height);
      auto results = DecodeRecord<pb::BlockResults>(MustGet(db, key));
      ASSERT_EQ(results.tx_results_size(), 1);
      change(*results.mutable_tx_results(0));
      Put(db, key, Encode(results));
    });
  };
  auto field = [](pb::TxResult& r, const std::string& name, int64_t value) {
    pb::TextField* f = r.add_log_fields();
    f->set_name(name);
    f->set_kind(1);
    f->set_value(value);
    f->set_denom("CNY");
  };
  const std::string index = at + "has a wrong tx index entry: its result ";
  ExpectCorruption(in_index([](pb::TxResult& r) { r.set_log("send your funds to v2g1..."); }),
                   index + "text differs on re-execution (changed, or written by a version");
  ExpectCorruption(in_index([](pb::TxResult& r) { r.set_log_template("{amount} sent"); }),
                   index + "text differs");
  ExpectCorruption(in_index([&](pb::TxResult& r) { field(r, "amount", 250); }), index + "differs on re-execution");
  ExpectCorruption(in_index([](pb::TxResult& r) { r.set_created_id(7); }), index + "differs on re-execution");
  ExpectCorruption(in_index([](pb::TxResult& r) { r.add_rejected_readings()->set_index(0); }),
                   index + "differs on re-execution");
  ExpectCorruption(in_block([](pb::TxResult& r) { r.set_log("reworded"); }), at + "result text differs");
  ExpectCorruption(in_block([&](pb::TxResult& r) { field(r, "amount", 250); }), at + "result differs");
}

// SameTxOutcome compares each field's name and value: two results of the same shape that name or
// carry them otherwise differ.
TEST(SameTxOutcomeTest, FieldsAreComparedByNameKindValueAndDenom) {
  auto result = [](const std::string& name, int64_t value, const std::string& denom) {
    pb::TxResult r;
    r.set_code(22);
    pb::TextField* f = r.add_log_fields();
    f->set_name(name);
    f->set_kind(1);
    f->set_value(value);
    f->set_denom(denom);
    return r;
  };
  const pb::TxResult base = result("need", 100, "CNY");
  EXPECT_TRUE(SameTxOutcome(base, result("need", 100, "CNY")));
  EXPECT_FALSE(SameTxOutcome(base, result("have", 100, "CNY")));
  EXPECT_FALSE(SameTxOutcome(base, result("need", 101, "CNY")));
  EXPECT_FALSE(SameTxOutcome(base, result("need", 100, "PTS")));
  pb::TxResult rejected = base, other = base;
  rejected.add_rejected_readings()->set_code(104);
  other.add_rejected_readings()->set_code(105);
  EXPECT_FALSE(SameTxOutcome(rejected, other));
}

TEST_F(VerifyChainTest, DetectsAChangedTxResult) {
  const int64_t h = chain_->t_bob_carol_height;
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    const std::string key = Store::HeightKey('r', h);
    auto results = DecodeRecord<pb::BlockResults>(MustGet(db, key));
    ASSERT_EQ(results.tx_results_size(), 1);
    results.mutable_tx_results(0)->set_code(static_cast<uint32_t>(Code::kInsufficientFunds));
    Put(db, key, Encode(results));
  });
  ExpectCorruption(home, "height " + std::to_string(h) + ": tx 0 result differs on re-execution");
}

TEST_F(VerifyChainTest, DetectsAChangedAppHash) {
  const int64_t h = chain_->t_bob_carol_height;
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    const std::string key = Store::HeightKey('r', h);
    auto results = DecodeRecord<pb::BlockResults>(MustGet(db, key));
    results.set_app_hash(std::string(32, '\x07'));
    Put(db, key, Encode(results));
  });
  ExpectCorruption(home, "height " + std::to_string(h) + ": app hash differs on re-execution");
}

TEST_F(VerifyChainTest, DetectsATxRemovedFromABlock) {
  const int64_t h = chain_->t_bob_carol_height;
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    const std::string key = Store::HeightKey('b', h);
    auto block = DecodeRecord<pb::Block>(MustGet(db, key));
    ASSERT_EQ(block.txs_size(), 1);
    block.clear_txs();
    Put(db, key, Encode(block));
  });
  ExpectCorruption(home, "height " + std::to_string(h) + ": block " + std::to_string(h) + ": data_hash");
}

TEST_F(VerifyChainTest, DetectsAForgedCommitSignature) {
  const int64_t h = chain_->t_bob_carol_height;
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    const std::string key = Store::HeightKey('c', h);
    auto commit = DecodeRecord<pb::Commit>(MustGet(db, key));
    ASSERT_EQ(commit.signatures_size(), 1);
    std::string sig = commit.signatures(0).signature();
    sig[0] = static_cast<char>(sig[0] ^ 0x01);
    commit.mutable_signatures(0)->set_signature(sig);
    Put(db, key, Encode(commit));
  });
  ExpectCorruption(home, "height " + std::to_string(h) + ": commit:");
}

TEST_F(VerifyChainTest, DetectsAMissingBlock) {
  std::string home = TamperedCopy([&](leveldb::DB& db) {
    ASSERT_TRUE(db.Delete(leveldb::WriteOptions(), Store::HeightKey('b', 2)).ok());
  });
  ExpectCorruption(home, "height 2: block, commit or results missing");
}

}  // namespace
}  // namespace v2g::nodetest
