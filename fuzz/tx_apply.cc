// Fuzz target: full tx application (contracts/app.h ExecuteBlock) on the small world of
// fuzz/world.h. The input is a sequence of txs, each
//   u8 signer (mod fuzz::kAccounts) | u8 time step (x 30 s) | u16 little-endian length | TxBody
// The harness sets chain id and the signer's next nonce and signs (signatures are skipped anyway),
// so every mutation of a body reaches the contracts; blocks advance time so markets clear and
// intervals settle. After the input the ledger invariants must hold: conservation per denomination
// and the market and grid escrow accounts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/assert.h"
#include "common/fuzz_switch.h"
#include "contracts/app.h"
#include "contracts/grid.h"
#include "contracts/market.h"
#include "fuzz/world.h"

using namespace v2g;

namespace {
constexpr size_t kTxsPerInputMax = 64;  // bounds one input's cost
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  FuzzSkipSignatureChecks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::MemWorld world = fuzz::BuildMemWorld();
  static const bool verbose =
      getenv("V2G_FUZZ_VERBOSE") != nullptr;  // each tx's result, to read a reproducer
  Overlay state(world.kv.get());
  BlockContext ctx = world.ctx;
  size_t pos = 0;
  for (size_t n = 0; n < kTxsPerInputMax && pos + 4 <= size; ++n) {
    const size_t signer = data[pos] % fuzz::kAccounts;
    const int64_t step_s = int64_t{data[pos + 1]} * 30;
    const size_t len = size_t{data[pos + 2]} | (size_t{data[pos + 3]} << 8);
    pos += 4;
    if (len > size - pos) break;
    pb::TxBody body;
    const bool parsed = body.ParseFromArray(data + pos, static_cast<int>(len));
    pos += len;
    if (!parsed) continue;
    ctx.time_ms += step_s * 1000;
    const pb::TxResult r = fuzz::RunTx(&ctx, state, signer, std::move(body));
    if (verbose)
      fprintf(stderr, "tx %zu at %lld ms: code %u %s\n", n, static_cast<long long>(ctx.time_ms),
              r.code(), r.log().c_str());
    if (verbose) {
      for (const auto& rr : r.rejected_readings())
        fprintf(stderr, "  rejected: %s\n", rr.message().c_str());
    }
  }
  Status st = CheckConservation(state);
  if (st.ok()) st = CheckMarketEscrow(state);
  if (st.ok()) st = CheckGridEscrow(state);
  if (!st.ok()) {
    fprintf(stderr, "ledger invariant broken: %s\n", st.ToString().c_str());
    abort();
  }
  return 0;
}
