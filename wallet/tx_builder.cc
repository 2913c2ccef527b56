#include "wallet/tx_builder.h"

#include "common/signbytes.h"
#include "contracts/meters.h"
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

Signature SignMeterKeyProof(const KeyPair& device, const std::string& chain_id, const std::string& meter_id,
                            const Address& owner, const Address& operator_address) {
  return device.Sign(AsBytes(MeterKeySignBytes(chain_id, meter_id, AddressBytes(owner), AddressBytes(operator_address))));
}

pb::TxBody MakeRegisterMeter(uint64_t nonce, const std::string& chain_id, const Address& operator_address,
                             const std::string& meter_id, const KeyPair& device, pb::MeterKind kind,
                             const std::string& zone, const Address& owner, int64_t max_import_w,
                             int64_t max_export_w, int64_t battery_capacity_wh) {
  return MakeRegisterMeterWithProof(nonce, meter_id, device.public_key(),
                                    SignMeterKeyProof(device, chain_id, meter_id, owner, operator_address), kind, zone,
                                    owner, max_import_w, max_export_w, battery_capacity_wh);
}

pb::TxBody MakeRegisterMeters(uint64_t nonce, std::vector<pb::RegisterMeter> meters) {
  pb::TxBody b;
  b.set_nonce(nonce);
  for (auto& m : meters) *b.mutable_register_meters()->add_meters() = std::move(m);
  return b;
}

pb::TxBody MakeRegisterMeterWithProof(uint64_t nonce, const std::string& meter_id, const PublicKey& device_pubkey,
                                      const Signature& device_signature, pb::MeterKind kind, const std::string& zone,
                                      const Address& owner, int64_t max_import_w, int64_t max_export_w,
                                      int64_t battery_capacity_wh) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* r = b.mutable_register_meter();
  r->set_meter_id(meter_id);
  r->set_device_pubkey(std::string(device_pubkey.begin(), device_pubkey.end()));
  r->set_kind(kind);
  r->set_zone(zone);
  r->set_owner(AddressBytes(owner));
  r->set_max_import_w(max_import_w);
  r->set_max_export_w(max_export_w);
  r->set_battery_capacity_wh(battery_capacity_wh);
  r->set_device_signature(std::string(device_signature.begin(), device_signature.end()));
  return b;
}

pb::TxBody MakeRegisterOcmfMeterSigned(uint64_t nonce, const std::string& chain_id, const Address& operator_address,
                                       const std::string& meter_id, const OcmfSigner& meter,
                                       const std::string& meter_serial, pb::MeterKind kind, const std::string& zone,
                                       const Address& owner, int64_t max_import_w, int64_t max_export_w,
                                       int64_t time_ms) {
  const std::string id =
      OcmfRegistrationId(chain_id, meter_id, AddressBytes(owner), AddressBytes(operator_address));
  return MakeRegisterOcmfMeter(nonce, meter_id, meter.PublicKeyDer(), meter_serial,
                               SignOcmfProofRecord(meter, meter_serial, id, time_ms), kind, zone, owner, max_import_w,
                               max_export_w);
}

pb::TxBody MakeRegisterOcmfMeter(uint64_t nonce, const std::string& meter_id, const std::string& ocmf_pubkey_der,
                                 const std::string& meter_serial, const std::string& proof_record, pb::MeterKind kind,
                                 const std::string& zone, const Address& owner, int64_t max_import_w,
                                 int64_t max_export_w) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* r = b.mutable_register_meter();
  r->set_meter_id(meter_id);
  r->set_ocmf_pubkey(ocmf_pubkey_der);
  r->set_ocmf_meter_serial(meter_serial);
  r->set_ocmf_proof_record(proof_record);
  r->set_kind(kind);
  r->set_zone(zone);
  r->set_owner(AddressBytes(owner));
  r->set_max_import_w(max_import_w);
  r->set_max_export_w(max_export_w);
  return b;
}

pb::TxBody MakeSubmitOcmf(uint64_t nonce, const std::string& meter_id, const std::vector<std::string>& records) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* s = b.mutable_submit_ocmf();
  for (const auto& text : records) {
    auto* sub = s->add_records();
    sub->set_meter_id(meter_id);
    sub->set_record(text);
  }
  return b;
}

pb::TxBody MakeRotateMeterKey(uint64_t nonce, const std::string& chain_id, const Address& operator_address,
                              const std::string& meter_id, const Address& owner, const KeyPair& new_device) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* r = b.mutable_rotate_meter_key();
  r->set_meter_id(meter_id);
  const PublicKey& pk = new_device.public_key();
  r->set_new_device_pubkey(std::string(pk.begin(), pk.end()));
  const Signature sig = SignMeterKeyProof(new_device, chain_id, meter_id, owner, operator_address);
  r->set_new_device_signature(std::string(sig.begin(), sig.end()));
  return b;
}

pb::TxBody MakeTransferMeter(uint64_t nonce, const std::string& chain_id, const std::string& meter_id,
                             const Address& from, const KeyPair& new_owner) {
  const Address to = AddressFromPublicKey(new_owner.public_key());
  Signature sig = new_owner.Sign(
      AsBytes(MeterTransferSignBytes(chain_id, meter_id, AddressBytes(from), AddressBytes(to), nonce)));
  return MakeTransferMeterWithSignature(nonce, meter_id, new_owner.public_key(), sig);
}

pb::TxBody MakeTransferMeterWithSignature(uint64_t nonce, const std::string& meter_id,
                                          const PublicKey& new_owner_pubkey, const Signature& new_owner_signature) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* t = b.mutable_transfer_meter();
  t->set_meter_id(meter_id);
  t->set_new_owner_pubkey(std::string(new_owner_pubkey.begin(), new_owner_pubkey.end()));
  t->set_new_owner_signature(std::string(new_owner_signature.begin(), new_owner_signature.end()));
  return b;
}

pb::TxBody MakeDeactivateMeter(uint64_t nonce, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_deactivate_meter()->set_meter_id(meter_id);
  return b;
}

void SignReading(const KeyPair& device, const std::string& chain_id, pb::MeterReading& r) {
  Signature sig = device.Sign(AsBytes(ReadingSignBytes(chain_id, ReadingFieldsOf(r))));
  r.set_signature(std::string(sig.begin(), sig.end()));
}

pb::TxBody MakeSubmitReadings(uint64_t nonce, std::vector<pb::MeterReading> readings) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* s = b.mutable_submit_readings();
  for (auto& r : readings) *s->add_readings() = std::move(r);
  return b;
}

pb::TxBody MakePlaceOrder(uint64_t nonce, pb::Side side, const std::string& zone, int64_t interval_start_s,
                          int64_t energy_wh, int64_t limit_price, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* o = b.mutable_place_order();
  o->set_side(side);
  o->set_zone(zone);
  o->set_interval_start_s(interval_start_s);
  o->set_energy_wh(energy_wh);
  o->set_limit_price(limit_price);
  o->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakeCancelOrder(uint64_t nonce, uint64_t order_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_cancel_order()->set_order_id(order_id);
  return b;
}

pb::TxBody MakeProposeContract(uint64_t nonce, const Address& counterparty, pb::Side side, const std::string& zone,
                               int64_t interval_start_s, int64_t energy_wh, int64_t price, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* p = b.mutable_propose_contract();
  p->set_counterparty(AddressBytes(counterparty));
  p->set_side(side);
  p->set_zone(zone);
  p->set_interval_start_s(interval_start_s);
  p->set_energy_wh(energy_wh);
  p->set_price(price);
  p->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakeAcceptContract(uint64_t nonce, uint64_t contract_id, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_accept_contract()->set_contract_id(contract_id);
  b.mutable_accept_contract()->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakeCancelContract(uint64_t nonce, uint64_t contract_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_cancel_contract()->set_contract_id(contract_id);
  return b;
}

pb::TxBody MakeSetTariff(uint64_t nonce, const std::string& zone, int64_t effective_from_s,
                         const std::vector<int64_t>& import_prices, int64_t export_price) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* t = b.mutable_set_tariff();
  t->set_zone(zone);
  t->set_effective_from_s(effective_from_s);
  for (int64_t p : import_prices) t->add_import_prices(p);
  t->set_export_price(export_price);
  return b;
}

pb::TxBody MakeEnrollTariff(uint64_t nonce, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_enroll_tariff()->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakePayDebt(uint64_t nonce, const std::string& denom) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_pay_debt()->set_denom(denom);
  return b;
}

pb::TxBody MakeCreateEvent(uint64_t nonce, pb::EventKind kind, const std::string& zone, int64_t start_s, int64_t end_s,
                           int64_t target_power_w, int64_t price, int64_t budget, int64_t enrollment_deadline_s,
                           pb::BaselineMethod baseline) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* e = b.mutable_create_event();
  e->set_kind(kind);
  e->set_zone(zone);
  e->set_start_s(start_s);
  e->set_end_s(end_s);
  e->set_target_power_w(target_power_w);
  e->set_price(price);
  e->set_budget(budget);
  e->set_enrollment_deadline_s(enrollment_deadline_s);
  e->set_baseline(baseline);
  return b;
}

pb::TxBody MakeEnrollEvent(uint64_t nonce, uint64_t event_id, const std::string& meter_id, int64_t committed_power_w,
                           int64_t declared_baseline_wh, uint64_t pool_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* e = b.mutable_enroll_event();
  e->set_event_id(event_id);
  e->set_meter_id(meter_id);
  e->set_committed_power_w(committed_power_w);
  e->set_declared_baseline_wh(declared_baseline_wh);
  e->set_pool_id(pool_id);
  return b;
}

pb::TxBody MakeCreateProgram(uint64_t nonce, pb::ProgramKind kind, const std::string& denom, int64_t rate,
                             uint32_t hours_mask, const std::string& zone, int64_t budget, int64_t end_s) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* p = b.mutable_create_program();
  p->set_kind(kind);
  p->set_denom(denom);
  p->set_rate(rate);
  p->set_hours_mask(hours_mask);
  p->set_zone(zone);
  p->set_budget(budget);
  p->set_end_s(end_s);
  return b;
}

pb::TxBody MakeJoinProgram(uint64_t nonce, uint64_t program_id, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_join_program()->set_program_id(program_id);
  b.mutable_join_program()->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakeCreatePool(uint64_t nonce, const std::string& name, int64_t fee_bps) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_create_pool()->set_name(name);
  b.mutable_create_pool()->set_fee_bps(fee_bps);
  return b;
}

pb::TxBody MakeJoinPool(uint64_t nonce, uint64_t pool_id, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_join_pool()->set_pool_id(pool_id);
  b.mutable_join_pool()->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakeLeavePool(uint64_t nonce, uint64_t pool_id, const std::string& meter_id) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_leave_pool()->set_pool_id(pool_id);
  b.mutable_leave_pool()->set_meter_id(meter_id);
  return b;
}

pb::TxBody MakePoolSell(uint64_t nonce, uint64_t pool_id, const std::string& zone, int64_t interval_start_s,
                        int64_t energy_wh, int64_t limit_price) {
  pb::TxBody b = MakePlaceOrder(nonce, pb::SIDE_SELL, zone, interval_start_s, energy_wh, limit_price);
  b.mutable_place_order()->set_pool_id(pool_id);
  return b;
}

pb::TxBody MakeSubmitProposal(uint64_t nonce, const std::string& title,
                              const std::string& description, const pb::GovAction& action) {
  pb::TxBody b;
  b.set_nonce(nonce);
  auto* s = b.mutable_submit_proposal();
  s->set_title(title);
  s->set_description(description);
  if (action.action_case() != pb::GovAction::ACTION_NOT_SET) *s->mutable_action() = action;
  return b;
}

pb::TxBody MakeVoteProposal(uint64_t nonce, uint64_t proposal_id, pb::GovVoteOption option) {
  pb::TxBody b;
  b.set_nonce(nonce);
  b.mutable_vote_proposal()->set_proposal_id(proposal_id);
  b.mutable_vote_proposal()->set_option(option);
  return b;
}

pb::RotateValidatorKey SignValidatorKeyRotation(const std::string& chain_id, const KeyPair& current,
                                                const KeyPair* next, const KeyPair* next_node) {
  auto raw = [](const PublicKey& k) { return std::string(k.begin(), k.end()); };
  auto sig = [](const Signature& s) { return std::string(s.begin(), s.end()); };
  pb::RotateValidatorKey r;
  if (next) r.set_new_consensus_pubkey(raw(next->public_key()));
  if (next_node) r.set_new_node_pubkey(raw(next_node->public_key()));
  const std::string msg = ValidatorKeySignBytes(chain_id, raw(current.public_key()),
                                                r.new_consensus_pubkey(), r.new_node_pubkey());
  r.set_old_consensus_signature(sig(current.Sign(AsBytes(msg))));
  if (next) r.set_new_consensus_signature(sig(next->Sign(AsBytes(msg))));
  if (next_node) r.set_new_node_signature(sig(next_node->Sign(AsBytes(msg))));
  return r;
}

pb::TxBody MakeRotateValidatorKey(uint64_t nonce, const pb::RotateValidatorKey& rotation) {
  pb::TxBody b;
  b.set_nonce(nonce);
  *b.mutable_rotate_validator_key() = rotation;
  return b;
}

pb::GovAction GovRoleAction(const std::string& role, const Address& who, bool revoke) {
  pb::GovAction a;
  a.mutable_role()->set_role(role);
  a.mutable_role()->set_address(AddressBytes(who));
  a.mutable_role()->set_revoke(revoke);
  return a;
}

pb::GovAction GovIssuerAction(const std::string& denom, const std::optional<Address>& issuer) {
  pb::GovAction a;
  a.mutable_issuer()->set_denom(denom);
  if (issuer) a.mutable_issuer()->set_issuer(AddressBytes(*issuer));
  return a;
}

pb::GovAction GovZoneAction(const std::string& zone, const Address& grid_company) {
  pb::GovAction a;
  a.mutable_zone()->set_zone(zone);
  a.mutable_zone()->set_grid_company(AddressBytes(grid_company));
  return a;
}

pb::GovAction GovParamAction(const std::string& name, int64_t value) {
  pb::GovAction a;
  a.mutable_param()->set_name(name);
  a.mutable_param()->set_value(value);
  return a;
}

pb::GovAction GovMarketAction(const std::string& zone, bool suspend) {
  pb::GovAction a;
  a.mutable_market()->set_zone(zone);
  a.mutable_market()->set_suspend(suspend);
  return a;
}

pb::GovAction GovUpgradeAction(const std::string& name, int64_t height,
                               const std::string& version) {
  pb::GovAction a;
  a.mutable_upgrade()->set_name(name);
  a.mutable_upgrade()->set_height(height);
  a.mutable_upgrade()->set_version(version);
  return a;
}

pb::GovAction GovCancelUpgradeAction(const std::string& name) {
  pb::GovAction a;
  a.mutable_upgrade()->set_name(name);
  a.mutable_upgrade()->set_cancel(true);
  return a;
}

pb::GovAction GovAddValidatorAction(const std::string& name, const PublicKey& consensus_key,
                                    const PublicKey& node_key, int64_t power) {
  pb::GovAction a;
  pb::ValidatorChange* v = a.mutable_validator();
  v->set_address(AddressBytes(AddressFromPublicKey(consensus_key)));
  v->set_power(power);
  v->set_name(name);
  v->set_consensus_pubkey(std::string(consensus_key.begin(), consensus_key.end()));
  v->set_node_pubkey(std::string(node_key.begin(), node_key.end()));
  return a;
}

pb::GovAction GovValidatorPowerAction(const Address& validator, int64_t power) {
  pb::GovAction a;
  a.mutable_validator()->set_address(AddressBytes(validator));
  a.mutable_validator()->set_power(power);
  return a;
}

}  // namespace v2g
