// Building and signing transactions. Shared by the CLI, tests, benchmarks and the load tools so
// there is exactly one way a tx gets its bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/crypto.h"
#include "proto/v2g.pb.h"
#include "wallet/ocmf_signer.h"

namespace v2g {

// Sets body.chain_id, serializes the body deterministically, signs TxSignBytes and returns the
// encoded Tx (ready for POST /v1/txs as hex).
std::string SignTx(const KeyPair& key, const std::string& chain_id, pb::TxBody body);

pb::TxBody MakeTransfer(uint64_t nonce, const Address& to, const std::string& denom, int64_t amount);
pb::TxBody MakeMint(uint64_t nonce, const Address& to, const std::string& denom, int64_t amount);
pb::TxBody MakeBurn(uint64_t nonce, const std::string& denom, int64_t amount);

// Meters (contracts/meters.h).
// The device's proof that it holds its key for this meter, owner and registering operator: its
// signature over MeterKeySignBytes (common/signbytes.h). Made on the device.
Signature SignMeterKeyProof(const KeyPair& device, const std::string& chain_id, const std::string& meter_id,
                            const Address& owner, const Address& operator_address);
// Registered by `operator_address` (the tx signer); `device` signs its proof of possession here.
pb::TxBody MakeRegisterMeter(uint64_t nonce, const std::string& chain_id, const Address& operator_address,
                             const std::string& meter_id, const KeyPair& device, pb::MeterKind kind,
                             const std::string& zone, const Address& owner, int64_t max_import_w,
                             int64_t max_export_w, int64_t battery_capacity_wh);
// The same with a proof the device made elsewhere (SignMeterKeyProof).
pb::TxBody MakeRegisterMeterWithProof(uint64_t nonce, const std::string& meter_id, const PublicKey& device_pubkey,
                                      const Signature& device_signature, pb::MeterKind kind, const std::string& zone,
                                      const Address& owner, int64_t max_import_w, int64_t max_export_w,
                                      int64_t battery_capacity_wh);
// Many meters in one tx (RegisterMeters: each registered or refused on its own), e.g. the
// register_meter of MakeRegisterMeter bodies.
pb::TxBody MakeRegisterMeters(uint64_t nonce, std::vector<pb::RegisterMeter> meters);
// An OCMF meter (a certified charger or site meter): its DER SubjectPublicKeyInfo, serial (MS) and
// proof record (a record it signed with ID = OcmfRegistrationId(chain, meter, owner, operator)).
pb::TxBody MakeRegisterOcmfMeter(uint64_t nonce, const std::string& meter_id, const std::string& ocmf_pubkey_der,
                                 const std::string& meter_serial, const std::string& proof_record, pb::MeterKind kind,
                                 const std::string& zone, const Address& owner, int64_t max_import_w,
                                 int64_t max_export_w);
// The same with `meter` signing its proof here, at `time_ms` (for tests and simulators: a real
// meter signs its proof itself).
pb::TxBody MakeRegisterOcmfMeterSigned(uint64_t nonce, const std::string& chain_id, const Address& operator_address,
                                       const std::string& meter_id, const OcmfSigner& meter,
                                       const std::string& meter_serial, pb::MeterKind kind, const std::string& zone,
                                       const Address& owner, int64_t max_import_w, int64_t max_export_w,
                                       int64_t time_ms);
// OCMF records (each "OCMF|...|...") of one meter.
pb::TxBody MakeSubmitOcmf(uint64_t nonce, const std::string& meter_id, const std::vector<std::string>& records);
// Signed by the meter's operator; the new device proves its key for the meter's current owner.
pb::TxBody MakeRotateMeterKey(uint64_t nonce, const std::string& chain_id, const Address& operator_address,
                              const std::string& meter_id, const Address& owner, const KeyPair& new_device);
// Signed by the current owner `from` at `nonce`; `new_owner` co-signs here (both keys are needed:
// in a real transfer the new owner signs MeterTransferSignBytes on their own machine and hands
// over the signature; see MakeTransferMeterWithSignature).
pb::TxBody MakeTransferMeter(uint64_t nonce, const std::string& chain_id, const std::string& meter_id,
                             const Address& from, const KeyPair& new_owner);
pb::TxBody MakeTransferMeterWithSignature(uint64_t nonce, const std::string& meter_id,
                                          const PublicKey& new_owner_pubkey, const Signature& new_owner_signature);
pb::TxBody MakeDeactivateMeter(uint64_t nonce, const std::string& meter_id);
// Signs `r` (all fields but the signature set) with the device key and stores the signature in it.
void SignReading(const KeyPair& device, const std::string& chain_id, pb::MeterReading& r);
pb::TxBody MakeSubmitReadings(uint64_t nonce, std::vector<pb::MeterReading> readings);

// Energy market (contracts/market.h). Prices are minimal units per kWh; meter_id only for sells.
pb::TxBody MakePlaceOrder(uint64_t nonce, pb::Side side, const std::string& zone, int64_t interval_start_s,
                          int64_t energy_wh, int64_t limit_price, const std::string& meter_id = "");
pb::TxBody MakeCancelOrder(uint64_t nonce, uint64_t order_id);
pb::TxBody MakeProposeContract(uint64_t nonce, const Address& counterparty, pb::Side side, const std::string& zone,
                               int64_t interval_start_s, int64_t energy_wh, int64_t price,
                               const std::string& meter_id = "");
pb::TxBody MakeAcceptContract(uint64_t nonce, uint64_t contract_id, const std::string& meter_id = "");
pb::TxBody MakeCancelContract(uint64_t nonce, uint64_t contract_id);

// Grid services (contracts/grid.h) and aggregators (contracts/pools.h).
pb::TxBody MakeSetTariff(uint64_t nonce, const std::string& zone, int64_t effective_from_s,
                         const std::vector<int64_t>& import_prices, int64_t export_price);
pb::TxBody MakeEnrollTariff(uint64_t nonce, const std::string& meter_id);
pb::TxBody MakePayDebt(uint64_t nonce, const std::string& denom);
pb::TxBody MakeCreateEvent(uint64_t nonce, pb::EventKind kind, const std::string& zone, int64_t start_s, int64_t end_s,
                           int64_t target_power_w, int64_t price, int64_t budget, int64_t enrollment_deadline_s,
                           pb::BaselineMethod baseline);
// A meter's enrollment (pool_id 0) or a pool's (meter_id empty).
pb::TxBody MakeEnrollEvent(uint64_t nonce, uint64_t event_id, const std::string& meter_id, int64_t committed_power_w,
                           int64_t declared_baseline_wh = 0, uint64_t pool_id = 0);
pb::TxBody MakeCreateProgram(uint64_t nonce, pb::ProgramKind kind, const std::string& denom, int64_t rate,
                             uint32_t hours_mask, const std::string& zone, int64_t budget, int64_t end_s);
pb::TxBody MakeJoinProgram(uint64_t nonce, uint64_t program_id, const std::string& meter_id);
pb::TxBody MakeCreatePool(uint64_t nonce, const std::string& name, int64_t fee_bps);
pb::TxBody MakeJoinPool(uint64_t nonce, uint64_t pool_id, const std::string& meter_id);
pb::TxBody MakeLeavePool(uint64_t nonce, uint64_t pool_id, const std::string& meter_id);
// A pool's sell order, placed by its aggregator.
pb::TxBody MakePoolSell(uint64_t nonce, uint64_t pool_id, const std::string& zone, int64_t interval_start_s,
                        int64_t energy_wh, int64_t limit_price);
// Governance (contracts/gov.h): a proposal with `action` (none: a text proposal), and a vote.
pb::TxBody MakeSubmitProposal(uint64_t nonce, const std::string& title,
                              const std::string& description, const pb::GovAction& action);
pb::TxBody MakeVoteProposal(uint64_t nonce, uint64_t proposal_id, pb::GovVoteOption option);
// A validator's key rotation signed by its current consensus key and by each new key given (a new
// consensus key, a new node key or both; common/signbytes.h ValidatorKeySignBytes); the
// validator's account signs the tx.
pb::RotateValidatorKey SignValidatorKeyRotation(const std::string& chain_id, const KeyPair& current,
                                                const KeyPair* next,
                                                const KeyPair* next_node = nullptr);
pb::TxBody MakeRotateValidatorKey(uint64_t nonce, const pb::RotateValidatorKey& rotation);
pb::GovAction GovRoleAction(const std::string& role, const Address& who, bool revoke);
pb::GovAction GovIssuerAction(const std::string& denom, const std::optional<Address>& issuer);
pb::GovAction GovZoneAction(const std::string& zone, const Address& grid_company);
pb::GovAction GovParamAction(const std::string& name, int64_t value);
pb::GovAction GovMarketAction(const std::string& zone, bool suspend);
// Adds a validator (its address is its consensus key's), from two heights after execution.
pb::GovAction GovAddValidatorAction(const std::string& name, const PublicKey& consensus_key,
                                    const PublicKey& node_key, int64_t power);
// Re-weights a validator, or removes it (power 0).
pb::GovAction GovValidatorPowerAction(const Address& validator, int64_t power);
// Plans software upgrade `name`: from `height` on, nodes run `version` or later.
pb::GovAction GovUpgradeAction(const std::string& name, int64_t height, const std::string& version);
// Cancels the pending upgrade `name`.
pb::GovAction GovCancelUpgradeAction(const std::string& name);

}  // namespace v2g
