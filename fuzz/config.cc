// Fuzz target: the files an operator hands a node. The first byte picks the parser, the rest is
// the file: 0 genesis JSON (ParseGenesis, then ValidateGenesis and InitChain on what parses),
// 1 config.toml (ParseConfig), 2 a host:port (SplitHostPort). What parses must survive its own
// round trip: GenesisToJson / ConfigToToml parse back to the same text.
#include "node/config.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "contracts/app.h"
#include "contracts/kv.h"
#include "genesis/genesis.h"

using namespace v2g;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  InitCrypto();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto g = ParseGenesis(text);
      if (!g.ok()) break;
      const std::string json = GenesisToJson(*g);
      auto again = ParseGenesis(json);
      V2G_ASSERT(again.ok() && GenesisToJson(*again) == json);
      if (ValidateGenesis(*g).ok()) {
        MemKv kv;
        Overlay o(&kv);
        (void)InitChain(*g, o);
      }
      break;
    }
    case 1: {
      auto c = ParseConfig(text, "config.toml");
      if (!c.ok()) break;
      const std::string toml = ConfigToToml(*c);
      auto again = ParseConfig(toml, "config.toml");
      V2G_ASSERT(again.ok() && ConfigToToml(*again) == toml);
      break;
    }
    default: {
      std::string host;
      int port = 0;
      if (SplitHostPort(std::string(text), &host, &port).ok())
        V2G_ASSERT(port >= 1 && port <= 65535);
      break;
    }
  }
  return 0;
}
