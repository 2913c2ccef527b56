// Who may read what through the API (docs/DESIGN.md "Who may read what"; docs/API.md "Signed
// reads"). Public data (the chain's headers, the validator set, markets' prices and volumes,
// zones, tariffs, the meter registry without its readings) is served to anyone. Personal data (a
// meter's readings, battery and register state; an account's balances, orders, trades, statement
// and debts; who enrolled what in an event, a pool's or program's members and what they earned;
// the ops of a tx) only to the accounts entitled to it, which prove who they are by signing the
// request (common/read_auth.h), and to the node operator's full readers. A node whose config
// turns private reads off serves everything to everyone (one only its operator's tools reach).
//
// Serve (server.cc) authenticates a signed request before the handler runs and records its nonce
// (a replay is refused); the handler asks MayRead / RequireReader with the accounts entitled to
// the thing it answers. Internal to node/api/.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/bech32.h"
#include "common/status.h"
#include "contracts/kv.h"
#include "node/api/api.h"
#include "proto/v2g.pb.h"

namespace v2g::api {

// Who is asking: nobody in particular, or the account whose key signed the request.
struct Reader {
  bool authenticated = false;
  Address address{};
};

// The (key, nonce) pairs of signed reads taken, each until its signed time + 2 x
// kApiReadWindowMs by the node's clock: at most `max` (kApiReadNoncesMax), `per_client_max`
// (kApiReadNoncesPerClientMax) of one client address. Thread-safe.
class ReadNonces {
 public:
  explicit ReadNonces(int64_t max = 0, int64_t per_client_max = 0);
  // Records the pair (`key_nonce`, kept as a 16-byte digest) from `client` signed at `signed_ms`,
  // first dropping what the node's clock `now_ms` has passed: kUnauthenticated when it is
  // recorded already (a replay), kUnavailable when the client's share or the record is full.
  Status Record(const std::string& key_nonce, const std::string& client, int64_t signed_ms, int64_t now_ms);
  size_t size();

 private:
  struct Entry {
    int64_t until_ms;
    std::string client;
  };
  std::mutex mu_;
  int64_t max_, per_client_max_;
  std::map<std::string, Entry> seen_;                   // digest -> entry
  std::set<std::pair<int64_t, std::string>> by_until_;  // (until_ms, digest), soonest first
  std::map<std::string, int64_t> per_client_;           // client -> entries
};

// Whose share of the nonce record a request from `remote_addr` counts against: an IPv4 address
// (an IPv4-mapped IPv6 one too), an IPv6 address's /64 (one subscriber's usual allocation), as
// the per-address connection cap counts; anything else as it is.
std::string ReadClientKey(const std::string& remote_addr);

// Checks the signed-read headers of `req` (none: an anonymous reader). `wall_ms` is the node's
// clock (Unix ms). kUnauthenticated naming what is wrong (a header missing or malformed, the time
// outside the window, the signature not valid, a replay), kUnavailable when the nonce record or
// the client's share of it (by req.remote_addr: an IPv4 address, an IPv6 one's /64) is full.
Result<Reader> AuthenticateRead(const ApiContext& c, ReadNonces& nonces, const httplib::Request& req,
                                int64_t wall_ms);

// The reader of the request this thread is serving (anonymous outside one). Set by Serve.
const Reader& CurrentReader();
// Serve's scope for one request: sets CurrentReader, and collects the accounts a refused read
// names (RequireReader with reveal) for the 403's "readers" field, so a wallet knows which of its
// keys to sign with.
class ReaderScope {
 public:
  explicit ReaderScope(const Reader& r);
  ~ReaderScope();
  ReaderScope(const ReaderScope&) = delete;
  ReaderScope& operator=(const ReaderScope&) = delete;
  // bech32m, in the order named, without duplicates.
  const std::vector<std::string>& refused_readers() const { return refused_readers_; }

 private:
  friend Status RequireReader(const ApiContext&, const std::vector<std::string>&, const std::string&, bool,
                              const std::string&, const std::vector<std::string>&);
  const Reader* previous_;
  ReaderScope* previous_scope_;
  std::vector<std::string> refused_readers_;
};

// True when the current request may see data whose entitled readers are `entitled` (raw 20-byte
// address strings as stored in records): reads are open (private_reads off), the reader is one of
// the node's full readers, or it is one of `entitled`.
bool MayRead(const ApiContext& c, const std::vector<std::string>& entitled);
// Ok when MayRead, else kPermissionDenied (403) naming `what`, and with `reveal` who may read it
// (in the message and the error's "readers"). `reveal` only where those accounts are public
// anyway (a meter's owner, operator, zone company and aggregator are in the registry, zones and
// pools; an account is its own address); never where the answer would link a record to its owner
// (an order, a contract).
// `hidden_who` says who may read it when they are not revealed ("its owner", "its parties").
// `named`, when not empty, are the accounts to name instead of all of `entitled` (a meter's
// aggregator may read its delivery, but naming it would say the meter is in its pool).
Status RequireReader(const ApiContext& c, const std::vector<std::string>& entitled, const std::string& what,
                     bool reveal = true, const std::string& hidden_who = "its owner",
                     const std::vector<std::string>& named = {});

// Who may read a meter's personal data: its owner, its operator, the grid company of its zone
// and, when `with_aggregator`, the aggregator of the pool it is in (delivery: readings, not the
// battery).
std::vector<std::string> MeterReaders(const KvReader& st, const pb::MeterRecord& m, bool with_aggregator);
// Reduces a tx's JSON (render.h TxJson) to what is public unless the reader may read its
// signer's data: its hash and where it is (status, height, index) stay, and "private": true says
// the rest went. Not its signer, op type, code or created id: together they say who placed which
// order, when a car was online (its owner's readings), who is in debt.
// Returns whether it reduced it.
bool ShowTxToReader(const ApiContext& c, nlohmann::json& tx);
// Shows a trade or contract (render.h TradeJson, ContractJson) of a market's public list whole to
// its parties (the addresses in its buyer, seller, proposer and counterparty fields), to `also`
// (raw addresses, e.g. the zone's grid company) and to full readers; to anyone else without who
// took part: those fields, the order ids, the meter and the pool become null and "private": true
// is added. Prices, energy and amounts stay (the market's public record, no longer anyone's).
// Returns whether it reduced it.
bool ShowPartiesToReader(const ApiContext& c, nlohmann::json& obj, const std::vector<std::string>& also);
// Raw addresses as bech32m, without empties and duplicates, in order: a redacted answer's
// "readers" (who would see it all), so a wallet knows which key to sign with.
std::vector<std::string> ReaderTexts(const std::vector<std::string>& raw);
// A zone's grid company (raw address), or "" for an unknown zone.
std::string ZoneGridCompany(const KvReader& st, const std::string& zone);

}  // namespace v2g::api
