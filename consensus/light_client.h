// The light client (issue 17): checks what an untrusted node says against a checkpoint the user
// trusts, as CometBFT's light client does. A header is believed only when its commit holds more
// than 2/3 of the power of the set its header names, and that set is tied to the trusted one:
// for the next height, by the trusted header's next_validators_hash; further on ("skipping"), by
// more than 1/3 of the trusted next set's power among the commit's signers (then at least one
// honest validator of a set we trust vouches for it); when that fails, by bisection through
// headers in between. A trusted header older than the trusting period is no longer used: its
// validators may have left, so their signatures would prove nothing.
//
// A value is then proven by a Merkle proof (contracts/state_tree.h) against the app hash of the
// verified header: header H + 1 carries the app hash after block H.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/v2g.pb.h"

namespace v2g {

struct LightBlock {
  pb::Header header;
  pb::Commit commit;
  pb::ValidatorSet validators;       // the set of header.height (header.validators_hash)
  pb::ValidatorSet next_validators;  // the set of height + 1 (header.next_validators_hash)
  std::string block_id;              // BlockId(header), 32 bytes, computed here
};

// A block from its encoded parts (a GET /v1/light/{height} answer, decoded from hex): parsed and of
// `height`, its block id computed; nothing else checked yet.
Result<LightBlock> DecodeLightBlock(int64_t height, const std::string& header,
                                    const std::string& commit, const std::string& validators,
                                    const std::string& next_validators);

struct LightOptions {
  std::string chain_id;
  int64_t now_ms = 0;  // the client's clock (Unix ms)
  // How long a trusted header may be used to verify later ones (CometBFT's default is two weeks;
  // a validator removed longer ago than this cannot vouch for headers).
  int64_t trusting_period_ms = int64_t{14} * 24 * 3600 * 1000;
  // How far ahead of `now_ms` a header's time may be.
  int64_t max_clock_drift_ms = 10'000;
  // Headers fetched at most in one verification (bisection included).
  int64_t max_fetches = 256;
};

// Checks a block on its own: chain id, the block id of its header, the commit for that id and
// height holding more than 2/3 of `validators`, both sets matching the header's hashes.
Status CheckLightBlock(const LightBlock& b, const LightOptions& opts);

// Verifies the header at `target` (> trusted's height) from `trusted` (already checked), fetching
// headers with `fetch`. Returns the verified block; `path` (optional) gets every height verified
// on the way, in order. Errors say which header failed and why.
using LightFetch = std::function<Result<LightBlock>(int64_t height)>;
Result<LightBlock> VerifyLightTo(const LightBlock& trusted, int64_t target, const LightFetch& fetch,
                                 const LightOptions& opts, std::vector<int64_t>* path = nullptr);

// The power of `trusted` whose members signed `commit` (height, block id) with the keys `trusted`
// holds; a signature by anyone else, or one that does not verify under that key, counts nothing.
int64_t TrustedCommitPower(const std::string& chain_id, const pb::ValidatorSet& trusted,
                           const pb::Commit& commit);

}  // namespace v2g
