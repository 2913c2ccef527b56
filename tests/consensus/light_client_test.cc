// The light client (consensus/light_client.h) over a made-up chain whose sets change: skipping when
// more than 1/3 of a trusted set still signs, bisection when not, and every way a lying node could
// try to pass a header: another block under a valid commit, a set of its own, a commit short of
// 2/3, another chain, a trusted header too old.
#include "consensus/light_client.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "proto/encode.h"

namespace v2g {
namespace {

constexpr char kChain[] = "light-test";
constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

KeyPair Key(int i) {
  std::array<uint8_t, 32> seed{};
  seed[0] = static_cast<uint8_t>(i);
  seed[1] = static_cast<uint8_t>(i >> 8);
  seed[31] = 0x5a;
  return KeyPair::FromSeed(ByteView(seed.data(), seed.size()));
}

// A chain of `heights` blocks, one per second, whose set at height h is `members(h)` (key
// indexes, power 10 each).
class FakeChain {
 public:
  FakeChain(int64_t heights, std::function<std::vector<int>(int64_t)> members)
      : members_(std::move(members)) {
    for (int64_t h = 1; h <= heights; ++h)
      blocks_[h] = Make(h, kChain, members_(h), "app" + std::to_string(h));
  }

  pb::ValidatorSet Set(const std::vector<int>& keys) const {
    pb::ValidatorSet s;
    for (int k : keys) {
      auto* v = s.add_validators();
      const KeyPair kp = Key(k);
      v->set_name("val" + std::to_string(k));
      v->set_address(AddressBytes(AddressFromPublicKey(kp.public_key())));
      v->set_consensus_pubkey(std::string(kp.public_key().begin(), kp.public_key().end()));
      v->set_power(10);
    }
    return s;
  }

  // Block h signed by `signers` (default: every member of its set).
  LightBlock Make(int64_t h, const std::string& chain, const std::vector<int>& signers,
                  const std::string& app,
                  std::optional<std::vector<int>> set = std::nullopt) const {
    LightBlock b;
    b.validators = Set(set ? *set : members_(h));
    b.next_validators = Set(members_(h + 1));
    b.header.set_chain_id(chain);
    b.header.set_height(h);
    b.header.set_time_ms(1'700'000'000'000 + h * 1000);
    b.header.set_app_hash(app);
    b.header.set_validators_hash(HashString(ValidatorSetHash(b.validators)));
    b.header.set_next_validators_hash(HashString(ValidatorSetHash(b.next_validators)));
    Sign(b, chain, signers);
    return b;
  }

  static void Sign(LightBlock& b, const std::string& chain, const std::vector<int>& signers) {
    b.block_id = HashString(BlockId(b.header));
    b.commit.Clear();
    b.commit.set_height(b.header.height());
    b.commit.set_round(0);
    b.commit.set_block_id(b.block_id);
    for (int k : signers) {
      const KeyPair kp = Key(k);
      auto* sig = b.commit.add_signatures();
      sig->set_validator_address(AddressBytes(AddressFromPublicKey(kp.public_key())));
      sig->set_timestamp_ms(b.header.time_ms() + 500);
      const std::string msg = VoteSignBytes(chain, VoteType::kPrecommit, b.header.height(), 0,
                                            b.block_id, sig->timestamp_ms());
      const Signature s = kp.Sign(AsBytes(msg));
      sig->set_signature(std::string(s.begin(), s.end()));
    }
  }

  LightFetch Fetcher(std::vector<int64_t>* fetched = nullptr) {
    return [this, fetched](int64_t h) -> Result<LightBlock> {
      if (fetched) fetched->push_back(h);
      auto it = blocks_.find(h);
      if (it == blocks_.end()) return Error(Code::kNotFound, "no such block");
      return it->second;
    };
  }

  LightOptions Options() const {
    LightOptions o;
    o.chain_id = kChain;
    o.now_ms = 1'700'000'000'000 + 1'000'000;
    return o;
  }

  std::map<int64_t, LightBlock> blocks_;
  std::function<std::vector<int>(int64_t)> members_;
};

std::vector<int> Static(int64_t) { return {1, 2, 3, 4}; }

// Every 10 heights one member is replaced by a new key: after 40 heights none of the first four
// is left.
std::vector<int> Rotating(int64_t h) {
  const int shift = static_cast<int>((h - 1) / 10);
  return {1 + shift, 2 + shift, 3 + shift, 4 + shift};
}

TEST(LightClientTest, AStaticSetIsSkippedToTheTargetInOneStep) {
  FakeChain chain(200, Static);
  ASSERT_TRUE(CheckLightBlock(chain.blocks_[1], chain.Options()).ok());
  std::vector<int64_t> path, fetched;
  auto v = VerifyLightTo(chain.blocks_[1], 200, chain.Fetcher(&fetched), chain.Options(), &path);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->header.app_hash(), "app200");
  EXPECT_EQ(path, (std::vector<int64_t>{200}));
  EXPECT_EQ(fetched, (std::vector<int64_t>{200}));
  // The next height is checked against the trusted header's next set.
  auto next = VerifyLightTo(chain.blocks_[7], 8, chain.Fetcher(), chain.Options());
  ASSERT_TRUE(next.ok()) << next.status().ToString();
}

TEST(LightClientTest, ASetThatChangedPastATrustedThirdIsBisected) {
  FakeChain chain(100, Rotating);
  std::vector<int64_t> path;
  auto v = VerifyLightTo(chain.blocks_[1], 100, chain.Fetcher(), chain.Options(), &path);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->header.app_hash(), "app100");
  ASSERT_GT(path.size(), 2u);  // no member of set 1 signs 100: it took headers in between
  EXPECT_EQ(path.back(), 100);
  for (size_t i = 1; i < path.size(); ++i) EXPECT_LT(path[i - 1], path[i]);
  // Each step was vouched for by more than a third of the set trusted before it.
  int64_t from = 1;
  for (int64_t h : path) {
    const pb::ValidatorSet& trusted_next = chain.blocks_[from].next_validators;
    EXPECT_GT(3 * TrustedCommitPower(kChain, trusted_next, chain.blocks_[h].commit),
              TotalPower(trusted_next))
        << "step " << from << " -> " << h;
    from = h;
  }
}

TEST(LightClientTest, ALyingNodesHeadersAreRefusedWithTheReason) {
  FakeChain chain(60, Static);
  const LightOptions opts = chain.Options();
  const LightBlock trusted = chain.blocks_[1];
  auto verify_with = [&](int64_t target, const LightBlock& lie) {
    LightFetch fetch = [&](int64_t h) -> Result<LightBlock> {
      if (h == target) return lie;
      return chain.blocks_[h];
    };
    return VerifyLightTo(trusted, target, fetch, opts);
  };
  auto expect_refused = [](const Result<LightBlock>& r, const std::string& why) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  // Another app hash under the real commit: the commit is for another block.
  LightBlock lie = chain.blocks_[50];
  lie.header.set_app_hash("a lie");
  lie.block_id = HashString(BlockId(lie.header));
  expect_refused(verify_with(50, lie), "commit");
  // The header's block id claimed without recomputing it.
  lie = chain.blocks_[50];
  lie.header.set_app_hash("a lie");
  expect_refused(verify_with(50, lie), "block id");
  // A set of the liar's own keys, named by the header and signing it: none of the trusted set
  // signs, so bisection reaches a next height, whose set the trusted chain names otherwise.
  const std::vector<int> evil = {101, 102, 103, 104};
  std::map<int64_t, LightBlock> forged;
  LightFetch forged_fetch = [&](int64_t h) -> Result<LightBlock> {
    LightBlock b = chain.Make(h, kChain, evil, "forged", evil);
    return b;
  };
  auto r = VerifyLightTo(trusted, 50, forged_fetch, opts);
  expect_refused(r, "not the one the trusted header names");
  // The set sent is not the one the header names.
  lie = chain.blocks_[50];
  lie.validators = chain.Set(evil);
  expect_refused(verify_with(50, lie), "validator set sent is not the one the header names");
  // A commit with exactly 2/3 of the power (3 of 4 is more; 2 of 4 is not).
  lie = chain.blocks_[50];
  FakeChain::Sign(lie, kChain, {1, 2});
  expect_refused(verify_with(50, lie), "needs more than 2/3");
  lie = chain.blocks_[50];
  FakeChain::Sign(lie, kChain, {1, 2, 3});
  EXPECT_TRUE(verify_with(50, lie).ok());
  // A signature that does not verify.
  lie = chain.blocks_[50];
  std::string sig = lie.commit.signatures(0).signature();
  sig[5] ^= 1;
  lie.commit.mutable_signatures(0)->set_signature(sig);
  expect_refused(verify_with(50, lie), "does not verify");
  // Another chain's header.
  lie = chain.Make(50, "other-chain", {1, 2, 3, 4}, "app50");
  expect_refused(verify_with(50, lie), "of chain other-chain");
  // A height other than asked.
  expect_refused(verify_with(50, chain.blocks_[49]), "another height");
  // A time not after the trusted header's, or ahead of the client's clock.
  lie = chain.blocks_[50];
  lie.header.set_time_ms(trusted.header.time_ms());
  FakeChain::Sign(lie, kChain, {1, 2, 3, 4});
  expect_refused(verify_with(50, lie), "not after the trusted header");
  LightOptions early = opts;
  early.now_ms = chain.blocks_[50].header.time_ms() - 60'000;
  auto future = VerifyLightTo(trusted, 50, chain.Fetcher(), early);
  expect_refused(future, "in the future");
}

TEST(LightClientTest, ATrustedHeaderOlderThanTheTrustingPeriodIsNotUsed) {
  FakeChain chain(20, Static);
  LightOptions opts = chain.Options();
  opts.now_ms = chain.blocks_[1].header.time_ms() + 15 * kDayMs;
  auto r = VerifyLightTo(chain.blocks_[1], 20, chain.Fetcher(), opts);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("trusting period"), std::string::npos)
      << r.status().message();
  opts.trusting_period_ms = 16 * kDayMs;
  opts.now_ms = chain.blocks_[20].header.time_ms() + 1000;
  EXPECT_TRUE(VerifyLightTo(chain.blocks_[1], 20, chain.Fetcher(), opts).ok());
}

TEST(LightClientTest, AnyChangedByteOfTheHeaderCommitOrSetsFails) {
  FakeChain chain(12, Static);
  const LightBlock& trusted = chain.blocks_[1];
  const LightBlock& b = chain.blocks_[10];
  const std::string parts[4] = {Encode(b.header), Encode(b.commit), Encode(b.validators),
                                Encode(b.next_validators)};
  for (int which = 0; which < 4; ++which) {
    for (size_t i = 0; i < parts[which].size(); ++i) {
      for (int flip : {0x01, 0x20, 0x80}) {
        std::string p[4] = {parts[0], parts[1], parts[2], parts[3]};
        p[which][i] = static_cast<char>(static_cast<uint8_t>(p[which][i]) ^ flip);
        auto d = DecodeLightBlock(10, p[0], p[1], p[2], p[3]);
        if (!d.ok()) continue;
        LightFetch fetch = [&](int64_t h) -> Result<LightBlock> {
          if (h == 10) return *d;
          return chain.blocks_[h];
        };
        // A change fails, or (a signature turned into an unknown field, the commit still over
        // 2/3) leaves the very header that was signed: never another one.
        auto v = VerifyLightTo(trusted, 10, fetch, chain.Options());
        if (v.ok()) {
          EXPECT_EQ(v->block_id, b.block_id) << "part " << which << " byte " << i << " ^ " << flip;
          EXPECT_EQ(Encode(v->header), Encode(b.header));
        }
      }
    }
  }
  // Bytes appended to the header (an unknown field) make another block id: its commit fails.
  auto padded =
      DecodeLightBlock(10, parts[0] + std::string("\xf8\x01\x01", 3), parts[1], parts[2], parts[3]);
  ASSERT_TRUE(padded.ok());
  LightFetch fetch_padded = [&](int64_t h) -> Result<LightBlock> {
    if (h == 10) return *padded;
    return chain.blocks_[h];
  };
  EXPECT_FALSE(VerifyLightTo(trusted, 10, fetch_padded, chain.Options()).ok());
}

TEST(LightClientTest, ASetNoChainCanHaveIsRefusedWithoutOverflow) {
  FakeChain chain(3, Static);
  LightBlock lie = chain.blocks_[2];
  lie.validators.mutable_validators(0)->set_power(INT64_MAX);
  lie.validators.mutable_validators(1)->set_power(INT64_MAX);
  lie.header.set_validators_hash(HashString(ValidatorSetHash(lie.validators)));
  FakeChain::Sign(lie, kChain, {});
  Status st = CheckLightBlock(lie, chain.Options());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no chain can have"), std::string::npos) << st.message();
  lie = chain.blocks_[2];
  *lie.next_validators.add_validators() = lie.next_validators.validators(0);  // a member twice
  lie.header.set_next_validators_hash(HashString(ValidatorSetHash(lie.next_validators)));
  FakeChain::Sign(lie, kChain, {1, 2, 3, 4});
  EXPECT_FALSE(CheckLightBlock(lie, chain.Options()).ok());
}

TEST(LightClientTest, ABlockRoundTripsThroughItsEncodedParts) {
  FakeChain chain(3, Static);
  const LightBlock& b = chain.blocks_[2];
  auto d = DecodeLightBlock(2, Encode(b.header), Encode(b.commit), Encode(b.validators),
                            Encode(b.next_validators));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->block_id, b.block_id);
  EXPECT_TRUE(CheckLightBlock(*d, chain.Options()).ok());
  EXPECT_FALSE(DecodeLightBlock(3, Encode(b.header), Encode(b.commit), Encode(b.validators),
                                Encode(b.next_validators))
                   .ok());
  EXPECT_FALSE(DecodeLightBlock(2, "\xff\xff", Encode(b.commit), Encode(b.validators),
                                Encode(b.next_validators))
                   .ok());
}

}  // namespace
}  // namespace v2g
