#include "wallet/tx_builder.h"

#include "common/signbytes.h"
#include "contracts/state.h"

namespace v2g {

std::string SignTx(const KeyPair& key, const std::string& chain_id, pb::TxBody body) {
  body.set_chain_id(chain_id);
  pb::Tx tx;
  tx.set_body(Encode(body));
  Signature sig = key.Sign(AsBytes(TxSignBytes(chain_id, tx.body())));
  tx.set_signer_pubkey(std::string(key.public_key().begin(), key.public_key().end()));
  tx.set_signature(std::string(sig.begin(), sig.end()));
  return Encode(tx);
}

pb::TxBody MakeTransfer(uint64_t nonce, const Address& to, const std::string& denom, int64_t amount) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* t = b.mutable_transfer();
  t->set_to(AddressBytes(to));
  t->set_denom(denom);
  t->set_amount(amount);
  return b;
}

pb::TxBody MakeMint(uint64_t nonce, const Address& to, const std::string& denom, int64_t amount) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* m = b.mutable_mint();
  m->set_to(AddressBytes(to));
  m->set_denom(denom);
  m->set_amount(amount);
  return b;
}

pb::TxBody MakeBurn(uint64_t nonce, const std::string& denom, int64_t amount) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* m = b.mutable_burn();
  m->set_denom(denom);
  m->set_amount(amount);
  return b;
}

}  // namespace v2g
