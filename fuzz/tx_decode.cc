// Fuzz target: tx decoding and the stateless checks (contracts/app.h CheckTxStateless) on raw
// bytes as a client or peer sends them: protobuf decoding, canonical encoding, chain id, every
// op's field checks. Signatures are skipped (fuzz/README: docs/DESIGN.md "Fuzzing") so a mutated
// body still reaches the op checks. A tx that passes must re-encode to its own bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "common/fuzz_switch.h"
#include "contracts/app.h"
#include "contracts/state.h"
#include "fuzz/world.h"
#include "proto/encode.h"

using namespace v2g;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  FuzzSkipSignatureChecks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pb::ParamsRecord params = [] {
    fuzz::MemWorld w = fuzz::BuildMemWorld();
    return LoadParams(*w.kv);
  }();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto checked = CheckTxStateless(bytes, fuzz::kChainId, params, true);
  if (checked.ok()) {
    // Accepted txs are canonical: the bytes the hash covers are the bytes a node re-encodes.
    V2G_ASSERT(Encode(checked->tx) == bytes);
    V2G_ASSERT(checked->hash == Blake2b256(bytes));
  }
  return 0;
}
