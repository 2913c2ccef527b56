// Building and signing transactions. Shared by the CLI, tests, benchmarks and the load tools so
// there is exactly one way a tx gets its bytes.
#pragma once

#include <string>

#include "common/bech32.h"
#include "common/crypto.h"
#include "proto/v2g.pb.h"

namespace v2g {

// Sets body.chain_id, serializes the body deterministically, signs TxSignBytes and returns the
// encoded Tx (ready for POST /v1/txs as hex).
std::string SignTx(const KeyPair& key, const std::string& chain_id, pb::TxBody body);

pb::TxBody MakeTransfer(uint64_t nonce, const Address& to, const std::string& denom, int64_t amount);
pb::TxBody MakeMint(uint64_t nonce, const Address& to, const std::string& denom, int64_t amount);
pb::TxBody MakeBurn(uint64_t nonce, const std::string& denom, int64_t amount);

}  // namespace v2g
