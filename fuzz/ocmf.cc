// Fuzz target: OCMF records (common/ocmf.h). The input is a record's text: ParseOcmf, and when it
// parses, VerifyOcmf against oc-1's registered key with real ECDSA (this target does not skip
// signatures: the strict-DER and curve checks and OpenSSL's verify on hostile input are the
// point). The same bytes also go through the key, energy and time parsers on their own.
#include "common/ocmf.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "fuzz/world.h"

using namespace v2g;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string key_der = fuzz::OcmfMeter().PublicKeyDer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rec = ParseOcmf(text);
  if (rec.ok()) {
    V2G_ASSERT(!rec->readings.empty() && rec->readings.size() <= kOcmfReadingsMax);
    (void)VerifyOcmf(*rec, key_der);
  }
  auto key = ParseOcmfPublicKeyDer(text);
  if (key.ok()) V2G_ASSERT(ParseOcmfPublicKeyDer(key->der).ok());  // canonical is a fixed point
  (void)ParseOcmfPublicKeyHex(text);
  // "<number>|<unit>" and a time, as the record parser's helpers see them.
  const size_t bar = text.find('|');
  if (bar != std::string_view::npos) {
    auto mwh = ParseOcmfEnergyMwh(text.substr(0, bar), text.substr(bar + 1));
    if (mwh.ok()) V2G_ASSERT(*mwh >= 0);
  }
  (void)ParseOcmfTime(text);
  return 0;
}
