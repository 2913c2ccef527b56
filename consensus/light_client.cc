#include "consensus/light_client.h"

#include <set>

#include "common/checked.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/signbytes.h"
#include "consensus/block.h"
#include "proto/encode.h"

namespace v2g {
namespace {

// Only the canonical encoding of a message (what Encode writes, unknown fields last): other bytes
// that parse to the same message are refused, so no byte of what the node sends can change
// without failing or leaving the same signed header.
template <typename M>
Result<M> Parse(const std::string& bytes, const char* what) {
  M m;
  if (!m.ParseFromString(bytes)) {
    return Error(Code::kMalformed, std::string("light block: ") + what + " does not decode");
  }
  // Unknown fields stay: the chain hashes a header with them (its block id is over Encode, which
  // keeps them), so a header a Byzantine proposer padded and the validators committed is still
  // the committed header; refusing it would leave that height unverifiable for good.
  if (Encode(m) != bytes) {
    return Error(Code::kMalformed,
                 std::string("light block: ") + what + " is not a canonical encoding");
  }
  return m;
}

std::string At(int64_t height) { return "header " + std::to_string(height) + ": "; }

// Whether more than num/den of `total` is `part`, in 128 bits.
bool MoreThan(int64_t part, int64_t total, int64_t num, int64_t den) {
  return static_cast<Int128>(part) * den > static_cast<Int128>(total) * num;
}

// The untrusted block against the trusted one, given that both check on their own.
Status CheckAgainstTrusted(const LightBlock& trusted, const LightBlock& b, const LightOptions& opts,
                           bool* not_enough_trust) {
  *not_enough_trust = false;
  const int64_t h = b.header.height();
  if (b.header.time_ms() <= trusted.header.time_ms()) {
    return Error(Code::kInvalidArgument, At(h) + "its time is not after the trusted header's");
  }
  if (b.header.time_ms() > opts.now_ms + opts.max_clock_drift_ms) {
    return Error(Code::kInvalidArgument,
                 At(h) + "its time is in the future by this client's clock");
  }
  if (h == trusted.header.height() + 1) {
    if (b.header.validators_hash() != trusted.header.next_validators_hash()) {
      return Error(Code::kInvalidArgument,
                   At(h) + "its validator set is not the one the trusted header names for it");
    }
    return Status::Ok();
  }
  const int64_t power = TrustedCommitPower(opts.chain_id, trusted.next_validators, b.commit);
  const int64_t total = TotalPower(trusted.next_validators);
  if (!MoreThan(power, total, 1, 3)) {
    *not_enough_trust = true;
    return Error(Code::kInvalidArgument, At(h) + "signed by " + std::to_string(power) +
                                             " of the trusted set's " + std::to_string(total) +
                                             " power, needs more than 1/3");
  }
  return Status::Ok();
}

class Verifier {
 public:
  Verifier(const LightFetch& fetch, const LightOptions& opts, std::vector<int64_t>* path)
      : fetch_(fetch), opts_(opts), path_(path) {}

  Result<LightBlock> Verify(const LightBlock& trusted, int64_t target, int depth) {
    if (depth > 64) return Error(Code::kInternal, "light client: bisection too deep");
    if (++fetches_ > opts_.max_fetches) {
      return Error(Code::kUnavailable, "light client: more than " +
                                           std::to_string(opts_.max_fetches) +
                                           " headers needed; trust a newer checkpoint");
    }
    auto b = fetch_(target);
    if (!b.ok()) return Error(b.status().code(), At(target) + b.status().message());
    if (b->header.height() != target)
      return Error(Code::kInvalidArgument, At(target) + "the node sent another height");
    V2G_RETURN_IF_ERROR(CheckLightBlock(*b, opts_));
    bool not_enough_trust = false;
    Status st = CheckAgainstTrusted(trusted, *b, opts_, &not_enough_trust);
    if (st.ok()) {
      if (path_) path_->push_back(target);
      return b;
    }
    if (!not_enough_trust) return st;
    // The set changed too much since the trusted header: verify a header half way first.
    const int64_t pivot = trusted.header.height() + (target - trusted.header.height()) / 2;
    auto mid = Verify(trusted, pivot, depth + 1);
    if (!mid.ok()) return mid.status();
    return Verify(*mid, target, depth + 1);
  }

 private:
  const LightFetch& fetch_;
  const LightOptions& opts_;
  std::vector<int64_t>* path_;
  int64_t fetches_ = 0;
};

}  // namespace

Result<LightBlock> DecodeLightBlock(int64_t height, const std::string& header,
                                    const std::string& commit, const std::string& validators,
                                    const std::string& next_validators) {
  LightBlock b;
  auto h = Parse<pb::Header>(header, "header");
  if (!h.ok()) return h.status();
  auto c = Parse<pb::Commit>(commit, "commit");
  if (!c.ok()) return c.status();
  auto v = Parse<pb::ValidatorSet>(validators, "validators");
  if (!v.ok()) return v.status();
  auto n = Parse<pb::ValidatorSet>(next_validators, "next_validators");
  if (!n.ok()) return n.status();
  b.header = std::move(*h);
  b.commit = std::move(*c);
  b.validators = std::move(*v);
  b.next_validators = std::move(*n);
  if (b.header.height() != height) {
    return Error(Code::kInvalidArgument,
                 At(height) + "the node sent height " + std::to_string(b.header.height()));
  }
  b.block_id = HashString(BlockId(b.header));
  return b;
}

namespace {

// A set the node sent, within what a chain's sets can be (so that summing its power cannot
// overflow and checking a commit against it stays bounded): at most kValidatorsMax members, each
// with power in (0, kValidatorPowerMax], a 32-byte key and its own address.
Status CheckSetShape(const pb::ValidatorSet& set, int64_t h, const char* which) {
  if (set.validators_size() == 0 ||
      static_cast<size_t>(set.validators_size()) > limits::kValidatorsMax) {
    return Error(Code::kInvalidArgument, At(h) + "the " + which + " set sent has " +
                                             std::to_string(set.validators_size()) + " members");
  }
  std::set<std::string> addresses;
  for (const auto& v : set.validators()) {
    if (v.power() <= 0 || v.power() > limits::kValidatorPowerMax ||
        v.consensus_pubkey().size() != 32 || !addresses.insert(v.address()).second) {
      return Error(Code::kInvalidArgument,
                   At(h) + "the " + which + " set sent has a member no chain can have");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckLightBlock(const LightBlock& b, const LightOptions& opts) {
  const int64_t h = b.header.height();
  V2G_RETURN_IF_ERROR(CheckSetShape(b.validators, h, "validator"));
  V2G_RETURN_IF_ERROR(CheckSetShape(b.next_validators, h, "next validator"));
  if (b.header.chain_id() != opts.chain_id) {
    return Error(Code::kWrongChainId,
                 At(h) + "of chain " + b.header.chain_id() + ", not " + opts.chain_id);
  }
  if (b.block_id != HashString(BlockId(b.header))) {
    return Error(Code::kInvalidArgument, At(h) + "its block id is not its header's hash");
  }
  if (HashString(ValidatorSetHash(b.validators)) != b.header.validators_hash()) {
    return Error(Code::kInvalidArgument,
                 At(h) + "the validator set sent is not the one the header names");
  }
  if (HashString(ValidatorSetHash(b.next_validators)) != b.header.next_validators_hash()) {
    return Error(Code::kInvalidArgument,
                 At(h) + "the next validator set sent is not the one the header names");
  }
  if (Status st = VerifyCommit(opts.chain_id, b.validators, h, b.block_id, b.commit); !st.ok()) {
    return Error(st.code(), At(h) + "its commit: " + st.message());
  }
  return Status::Ok();
}

Result<LightBlock> VerifyLightTo(const LightBlock& trusted, int64_t target, const LightFetch& fetch,
                                 const LightOptions& opts, std::vector<int64_t>* path) {
  if (target <= trusted.header.height()) {
    return Error(Code::kInvalidArgument, "height " + std::to_string(target) +
                                             " is not after the trusted header " +
                                             std::to_string(trusted.header.height()));
  }
  if (trusted.header.time_ms() + opts.trusting_period_ms <= opts.now_ms) {
    return Error(
        Code::kInvalidArgument,
        "the trusted header " + std::to_string(trusted.header.height()) +
            " is older than the trusting period: trust a newer checkpoint (v2g verify trust)");
  }
  Verifier v(fetch, opts, path);
  return v.Verify(trusted, target, 0);
}

int64_t TrustedCommitPower(const std::string& chain_id, const pb::ValidatorSet& trusted,
                           const pb::Commit& commit) {
  int64_t power = 0;
  std::set<std::string> counted;
  for (const pb::CommitSig& sig : commit.signatures()) {
    const pb::ValidatorRecord* val = nullptr;
    for (const auto& v : trusted.validators()) {
      if (v.address() == sig.validator_address()) val = &v;
    }
    if (!val || !counted.insert(sig.validator_address()).second) continue;
    const std::string msg = VoteSignBytes(chain_id, VoteType::kPrecommit, commit.height(),
                                          commit.round(), commit.block_id(), sig.timestamp_ms());
    if (!VerifyRaw(val->consensus_pubkey(), msg, sig.signature())) continue;
    power += val->power();
  }
  return power;
}

}  // namespace v2g
