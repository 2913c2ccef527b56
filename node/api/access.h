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

#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/bech32.h"
#include "common/status.h"
#include "contracts/kv.h"
#include "contracts/state.h"
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
// What a meter measured is read over time, not only as things are now (docs/DESIGN.md "Who may
// read what"): its owner reads the intervals from when it became the owner (MeterRecord
// owner_from_s: the first interval it is billed and paid for), its pool's aggregator those its
// membership counts for ([from_s, leave_after_s)), its operator, its zone's grid company and full
// readers all of them. One span of interval starts, [from_s, to_s).
struct ReadSpan {
  int64_t from_s = 0;
  int64_t to_s = INT64_MAX;
  bool operator==(const ReadSpan&) const = default;
};
// The spans of the meter's intervals the current reader may read (with its pool's aggregator when
// `with_aggregator`), sorted and disjoint; empty when it may read none. Reads open to all (private
// reads off) read everything: one span {0, INT64_MAX}.
std::vector<ReadSpan> MeterReadSpans(const ApiContext& c, const KvReader& st,
                                     const pb::MeterRecord& m, bool with_aggregator);
// Whether an interval (or a sample, a record) starting at `start_s` is inside one of `spans`.
bool InSpans(const std::vector<ReadSpan>& spans, int64_t start_s);
// `spans` as JSON for an answer cut to them: null when they are all of time, else a list of
// {"from", "from_s", "to", "to_s"} (to null when open).
nlohmann::json ReadSpansJson(const std::vector<ReadSpan>& spans);

// Raw addresses as bech32m, without empties and duplicates, in order: a redacted answer's
// "readers" (who would see it all), so a wallet knows which key to sign with.
std::vector<std::string> ReaderTexts(const std::vector<std::string>& raw);

// An event's, program's or pool's totals of money and energy are public only when at least
// kPublicTotalsOwnersMin distinct owners contributed to them (more than 0: an owner who joined and
// earned nothing does not hide the others) and no one owner holds more than half of them (the
// dominance rule of statistical disclosure control: three owners of whom one earned nearly all
// would show that one's earnings). Over fewer, a participant's total is what that owner earned, or
// is learned by subtracting one's own. Totals of 0 are public: they say nothing of anyone. Their
// manager (the event's grid company, the program's sponsor, the pool's aggregator) and full readers
// see them always. The rows are read up to kPublicTotalsRowsScanned per record (a page of 500
// records reads at most 128,000); for a record with more, the owners and shares are those of its
// first rows, and what the rows read do not account for (later rows, members who left, a meter's
// earlier owners) is weighed as one more owner's share (docs/DESIGN.md "Totals over few owners").
inline constexpr int64_t kPublicTotalsOwnersMin = 3;
inline constexpr int64_t kPublicTotalsRowsScanned = 256;
// Why totals with `shares` out of `total` are not public, or "" when they are.
std::string SmallTotalsReason(const OwnerShares& shares, int64_t total);
// Hides `keys` of `j` (null), with "private": true, the reason ("private_reason") and "readers"
// (the manager), unless the current reader may read `manager`'s records or the totals are public
// by `shares()` (an OwnerShares, asked only when it matters) out of `total`. Returns whether it
// hid.
template <typename Shares>
bool HideSmallTotals(const ApiContext& c, nlohmann::json& j, const std::string& manager,
                     std::initializer_list<const char*> keys, int64_t total, Shares&& shares) {
  if (MayRead(c, {manager})) return false;
  const std::string reason = SmallTotalsReason(shares(), total);
  if (reason.empty()) return false;
  for (const char* k : keys) j[k] = nullptr;
  j["private"] = true;
  j["private_reason"] = reason;
  j["readers"] = ReaderTexts({manager});
  return true;
}

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
bool ShowPartiesToReader(const ApiContext& c, nlohmann::json& obj,
                         const std::vector<std::string>& also);
// A zone's grid company (raw address), or "" for an unknown zone.
std::string ZoneGridCompany(const KvReader& st, const std::string& zone);

}  // namespace v2g::api
