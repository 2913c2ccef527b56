// Fuzz target: meter reading admission on the small world of fuzz/world.h. The first byte picks
// the form; the rest is a protobuf message that is wrapped in a tx and applied:
//   0: SubmitReadings (Ed25519 readings of ev-a, ch-ev-a, ev-b, ch-ev-b, ...), sent by bob;
//   1: SubmitOcmf (OCMF records of oc-1, ...), sent by the operator;
//   2: a MeterReading, checked with CheckReading against each registered meter's record.
// Signatures are skipped (docs/DESIGN.md "Fuzzing") so the checks behind them are reached.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "common/fuzz_switch.h"
#include "contracts/app.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "fuzz/world.h"

using namespace v2g;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  FuzzSkipSignatureChecks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::MemWorld world = fuzz::BuildMemWorld();
  if (size < 1) return 0;
  Overlay state(world.kv.get());
  BlockContext ctx = world.ctx;
  const uint8_t form = data[0] % 3;
  const uint8_t* msg = data + 1;
  const int len = static_cast<int>(size - 1);
  pb::TxBody body;
  if (form == 0) {
    if (!body.mutable_submit_readings()->ParseFromArray(msg, len)) return 0;
    fuzz::RunTx(&ctx, state, 4, std::move(body));
  } else if (form == 1) {
    if (!body.mutable_submit_ocmf()->ParseFromArray(msg, len)) return 0;
    fuzz::RunTx(&ctx, state, 1, std::move(body));
  } else {
    pb::MeterReading r;
    if (!r.ParseFromArray(msg, len)) return 0;
    static const pb::ParamsRecord params = LoadParams(*world.kv);
    for (const char* id : {"ev-a", "ch-ev-a", "ev-b", "oc-1", "none"}) {
      (void)CheckReading(r, LoadMeter(state, id), fuzz::kChainId, params, ctx.time_ms);
    }
  }
  Status st = CheckConservation(state);
  if (!st.ok()) {
    fprintf(stderr, "ledger invariant broken: %s\n", st.ToString().c_str());
    abort();
  }
  return 0;
}
