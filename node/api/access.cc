// Signed reads and the entitlement checks of the API (access.h).
#include "node/api/access.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/assert.h"
#include "common/bytes.h"
#include "common/checked.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/read_auth.h"
#include "contracts/pools.h"
#include "contracts/state.h"
#include "node/api/render.h"

namespace v2g::api {
namespace {

thread_local const Reader* tl_reader = nullptr;
thread_local ReaderScope* tl_scope = nullptr;

const Reader& Anonymous() {
  static const Reader r;
  return r;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
  });
}

// The one value of header `name`: "" when absent; an error when sent twice.
Result<std::string> OneHeader(const httplib::Request& req, const char* name) {
  const size_t n = req.get_header_value_count(name);
  if (n > 1) return Error(Code::kUnauthenticated, std::string(name) + " is sent " + std::to_string(n) + " times");
  return n == 0 ? std::string() : req.get_header_value(name);
}

std::string AddressListText(const std::vector<std::string>& raw) {
  std::string out;
  for (const std::string& a : ReaderTexts(raw)) out += (out.empty() ? "" : ", ") + a;
  return out.empty() ? "nobody" : out;
}

}  // namespace

std::string ReadClientKey(const std::string& remote) {
  in6_addr v6{};
  if (remote.find(':') != std::string::npos && inet_pton(AF_INET6, remote.c_str(), &v6) == 1) {
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, v6.s6_addr)) return std::string(reinterpret_cast<char*>(v6.s6_addr) + 12, 4);
    return std::string(reinterpret_cast<char*>(v6.s6_addr), 8);
  }
  in_addr v4{};
  if (inet_pton(AF_INET, remote.c_str(), &v4) == 1) return std::string(reinterpret_cast<char*>(&v4), 4);
  return remote;
}

ReadNonces::ReadNonces(int64_t max, int64_t per_client_max)
    : max_(max > 0 ? max : limits::kApiReadNoncesMax),
      per_client_max_(per_client_max > 0 ? per_client_max : limits::kApiReadNoncesPerClientMax) {}

Status ReadNonces::Record(const std::string& key_nonce, const std::string& client, int64_t signed_ms,
                          int64_t now_ms) {
  const Hash256 h = Blake2b256(key_nonce);
  const std::string digest(reinterpret_cast<const char*>(h.data()), 16);
  std::lock_guard<std::mutex> lock(mu_);
  while (!by_until_.empty() && by_until_.begin()->first < now_ms) {
    auto it = seen_.find(by_until_.begin()->second);
    V2G_ASSERT(it != seen_.end());
    if (auto pc = per_client_.find(it->second.client); pc != per_client_.end() && --pc->second == 0) {
      per_client_.erase(pc);
    }
    seen_.erase(it);
    by_until_.erase(by_until_.begin());
  }
  if (seen_.count(digest) > 0) {
    return Error(Code::kUnauthenticated, "signed read replayed: this key already sent nonce " +
                                             key_nonce.substr(64) + "; sign every request with a fresh nonce");
  }
  auto pc = per_client_.find(client);
  const int64_t mine = pc == per_client_.end() ? 0 : pc->second;
  if (mine >= per_client_max_ || static_cast<int64_t>(seen_.size()) >= max_) {
    return Error(Code::kUnavailable, std::string(mine >= per_client_max_ ? "this client has" : "the node has") +
                                         " taken too many signed reads in the last " +
                                         std::to_string(3 * limits::kApiReadWindowMs / 1000) + " s; retry shortly");
  }
  ++per_client_[client];
  const int64_t until = signed_ms + 2 * limits::kApiReadWindowMs;
  seen_.emplace(digest, Entry{until, client});
  by_until_.emplace(until, digest);
  return Status::Ok();
}

size_t ReadNonces::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_.size();
}

Result<Reader> AuthenticateRead(const ApiContext& c, ReadNonces& nonces, const httplib::Request& req,
                                int64_t wall_ms) {
  const char* names[] = {kReadKeyHeader, kReadTimeHeader, kReadNonceHeader, kReadSignatureHeader};
  std::string values[4];
  int present = 0;
  for (int i = 0; i < 4; ++i) {
    auto v = OneHeader(req, names[i]);
    if (!v.ok()) return v.status();
    values[i] = std::move(v).value();
    if (!values[i].empty()) ++present;
  }
  if (present == 0) return Reader{};
  for (int i = 0; i < 4; ++i) {
    if (values[i].empty()) {
      return Error(Code::kUnauthenticated, std::string("a signed read needs ") + names[i] + " too (" + kReadKeyHeader +
                                               ", " + kReadTimeHeader + ", " + kReadNonceHeader + ", " +
                                               kReadSignatureHeader + ")");
    }
  }
  const std::string& key_hex = values[0];
  const std::string& time_text = values[1];
  const std::string& nonce = values[2];
  const std::string& sig_hex = values[3];
  if (key_hex.size() != 2 * kPublicKeyBytes || !IsHex(key_hex)) {
    return Error(Code::kUnauthenticated, std::string(kReadKeyHeader) + " must be the reader's Ed25519 public key, " +
                                             std::to_string(2 * kPublicKeyBytes) + " hex digits");
  }
  if (sig_hex.size() != 2 * kSignatureBytes || !IsHex(sig_hex)) {
    return Error(Code::kUnauthenticated,
                 std::string(kReadSignatureHeader) + " must be " + std::to_string(2 * kSignatureBytes) + " hex digits");
  }
  if (nonce.size() < 16 || nonce.size() > 64 || !IsHex(nonce)) {
    return Error(Code::kUnauthenticated, std::string(kReadNonceHeader) + " must be 16 to 64 hex digits");
  }
  int64_t t = 0;
  if (time_text.empty() || time_text.size() > 15 ||
      !std::all_of(time_text.begin(), time_text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return Error(Code::kUnauthenticated, std::string(kReadTimeHeader) + " must be Unix milliseconds");
  }
  t = std::stoll(time_text);
  if (t < wall_ms - limits::kApiReadWindowMs || t > wall_ms + limits::kApiReadWindowMs) {
    return Error(Code::kUnauthenticated,
                 "signed read expired or from the future: signed at " + time_text + " ms, this node's clock is " +
                     std::to_string(wall_ms) + " ms (the window is +-" +
                     std::to_string(limits::kApiReadWindowMs / 1000) + " s; check the client's clock)");
  }
  auto key = HexDecode(key_hex);
  auto sig = HexDecode(sig_hex);
  if (!key.ok() || !sig.ok()) return Error(Code::kUnauthenticated, "signed-read headers are not hex");
  PublicKey pk{};
  Signature s{};
  std::copy(key->begin(), key->end(), pk.begin());
  std::copy(sig->begin(), sig->end(), s.begin());
  const std::string message = ReadAuthMessage(c.chain_id, req.method, req.target, t, nonce);
  if (!Verify(pk, AsBytes(message), s)) {
    return Error(Code::kUnauthenticated, "the signature of this read is not valid for " + std::string(kReadKeyHeader) +
                                             " " + key_hex + " (it signs: v2g-read-v1, the chain id " + c.chain_id +
                                             ", method, path with query as sent, time, nonce)");
  }
  // Nonces are case-folded so "AB" and "ab" are one nonce.
  std::string lower = nonce;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char ch) { return static_cast<char>(std::tolower(ch)); });
  std::string key_lower = key_hex;
  std::transform(key_lower.begin(), key_lower.end(), key_lower.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  if (auto st = nonces.Record(key_lower + lower, ReadClientKey(req.remote_addr), t, wall_ms); !st.ok()) return st;
  Reader r;
  r.authenticated = true;
  r.address = AddressFromPublicKey(pk);
  return r;
}

const Reader& CurrentReader() { return tl_reader != nullptr ? *tl_reader : Anonymous(); }

ReaderScope::ReaderScope(const Reader& r) : previous_(tl_reader), previous_scope_(tl_scope) {
  tl_reader = &r;
  tl_scope = this;
}
ReaderScope::~ReaderScope() {
  tl_reader = previous_;
  tl_scope = previous_scope_;
}

bool MayRead(const ApiContext& c, const std::vector<std::string>& entitled) {
  if (!c.private_reads) return true;
  const Reader& r = CurrentReader();
  if (!r.authenticated) return false;
  if (std::find(c.full_readers.begin(), c.full_readers.end(), r.address) != c.full_readers.end()) return true;
  const std::string raw = AddressBytes(r.address);
  return std::find(entitled.begin(), entitled.end(), raw) != entitled.end();
}

Status RequireReader(const ApiContext& c, const std::vector<std::string>& entitled, const std::string& what,
                     bool reveal, const std::string& hidden_who, const std::vector<std::string>& named) {
  if (MayRead(c, entitled)) return Status::Ok();
  const Reader& r = CurrentReader();
  const std::vector<std::string>& shown = named.empty() ? entitled : named;
  if (reveal && tl_scope != nullptr) tl_scope->refused_readers_ = ReaderTexts(shown);
  const std::string who = reveal ? AddressListText(shown) : hidden_who;
  if (!r.authenticated) {
    return Error(Code::kPermissionDenied, what + " is personal data: sign the request as " +
                                              (reveal ? "one of " : "") + who + " (docs/API.md \"Signed reads\")");
  }
  return Error(Code::kPermissionDenied, EncodeAddress(r.address) + " may not read " + what + "; only " + who +
                                            (reveal ? " may" : " may (and the node's full readers)"));
}

bool ShowTxToReader(const ApiContext& c, nlohmann::json& tx) {
  if (!c.private_reads || !tx.is_object()) return false;
  std::string signer;
  if (auto it = tx.find("signer"); it != tx.end() && it->is_string()) {
    if (auto a = DecodeAddress(it->get<std::string>()); a.ok()) signer = AddressBytes(*a);
  }
  if (!signer.empty() && MayRead(c, {signer})) return false;
  nlohmann::json out = nlohmann::json::object();
  for (const char* k : {"hash", "status", "height", "index"}) {
    if (auto it = tx.find(k); it != tx.end()) out[k] = *it;
  }
  out["private"] = true;
  tx = std::move(out);
  return true;
}

bool ShowPartiesToReader(const ApiContext& c, nlohmann::json& obj, const std::vector<std::string>& also) {
  if (!c.private_reads || !obj.is_object()) return false;
  static constexpr const char* kParties[] = {"buyer", "seller", "proposer", "counterparty", "owner"};
  std::vector<std::string> entitled = also;
  for (const char* k : kParties) {
    auto it = obj.find(k);
    if (it == obj.end() || !it->is_string()) continue;
    if (auto a = DecodeAddress(it->get<std::string>()); a.ok()) entitled.push_back(AddressBytes(*a));
  }
  if (!MayRead(c, entitled)) {
    for (const char* k : kParties) {
      if (obj.contains(k)) obj[k] = nullptr;
    }
  } else if (MayRead(c, also) || !obj.contains("buy_order_id") || !CurrentReader().authenticated) {
    return false;  // the zone's company or a full reader; a contract's parties know each other
  } else {
    // A trade of the auction: each party sees its own side, not who it was matched with.
    const std::string me = EncodeAddress(CurrentReader().address);
    const bool buyer = obj.value("buyer", nlohmann::json()) == me;
    const bool seller = obj.value("seller", nlohmann::json()) == me;
    if (buyer && seller) return false;
    if (buyer) {
      for (const char* k : {"seller", "sell_order_id", "meter_id", "pool_id"}) obj[k] = nullptr;
    } else {
      for (const char* k : {"buyer", "buy_order_id"}) obj[k] = nullptr;
    }
    obj["private"] = true;
    return true;
  }
  for (const char* k : {"buy_order_id", "sell_order_id", "meter_id", "pool_id"}) {
    if (obj.contains(k)) obj[k] = nullptr;
  }
  obj["private"] = true;
  return true;
}

std::vector<std::string> ReaderTexts(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& a : raw) {
    if (a.empty()) continue;
    std::string text = AddressText(a);
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(std::move(text));
  }
  return out;
}

std::string ZoneGridCompany(const KvReader& st, const std::string& zone) {
  auto z = LoadZone(st, zone);
  return z ? z->grid_company() : std::string();
}

std::string SmallTotalsReason(const OwnerShares& shares, int64_t total) {
  if (total <= 0) return "";  // nothing earned: the totals say nothing of anyone
  // What the rows read do not account for (rows past the bound, members who left, a meter's
  // earlier owners) is weighed as one more owner's: it may well be one.
  const int64_t unaccounted = total > shares.sum ? total - shares.sum : 0;
  const int64_t largest = std::max(shares.largest, unaccounted);
  if (shares.owners < kPublicTotalsOwnersMin) {
    return "fewer than " + std::to_string(kPublicTotalsOwnersMin) +
           " owners have contributed to it: its totals would say what each of them earned";
  }
  if (static_cast<Int128>(largest) * 2 > static_cast<Int128>(total)) {
    return "one owner holds more than half of it: its totals would say about what that owner "
           "earned";
  }
  return "";
}

std::vector<ReadSpan> MeterReadSpans(const ApiContext& c, const KvReader& st,
                                     const pb::MeterRecord& m, bool with_aggregator) {
  const ReadSpan all;
  if (!c.private_reads) return {all};
  const Reader& r = CurrentReader();
  if (!r.authenticated) return {};
  if (std::find(c.full_readers.begin(), c.full_readers.end(), r.address) != c.full_readers.end())
    return {all};
  const std::string me = AddressBytes(r.address);
  if (me == m.operator_address() || me == ZoneGridCompany(st, m.zone())) return {all};
  std::vector<ReadSpan> spans;
  if (me == m.owner()) spans.push_back({std::max<int64_t>(m.owner_from_s(), 0), INT64_MAX});
  if (with_aggregator) {
    if (auto pool = PoolOfMeter(st, m.meter_id())) {
      auto p = LoadPool(st, *pool);
      auto member = LoadPoolMember(st, *pool, m.meter_id());
      if (p && member && p->aggregator() == me) {
        const int64_t to = member->leave_after_s() != 0 ? member->leave_after_s() : INT64_MAX;
        if (member->from_s() < to) spans.push_back({member->from_s(), to});
      }
    }
  }
  std::sort(spans.begin(), spans.end(), [](const ReadSpan& a, const ReadSpan& b) {
    return a.from_s != b.from_s ? a.from_s < b.from_s : a.to_s < b.to_s;
  });
  std::vector<ReadSpan> merged;
  for (const ReadSpan& s : spans) {
    if (!merged.empty() && s.from_s <= merged.back().to_s) {
      merged.back().to_s = std::max(merged.back().to_s, s.to_s);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

bool InSpans(const std::vector<ReadSpan>& spans, int64_t start_s) {
  return std::any_of(spans.begin(), spans.end(),
                     [&](const ReadSpan& s) { return s.from_s <= start_s && start_s < s.to_s; });
}

nlohmann::json ReadSpansJson(const std::vector<ReadSpan>& spans) {
  if (spans.size() == 1 && spans[0] == ReadSpan{}) return nullptr;
  nlohmann::json out = nlohmann::json::array();
  for (const ReadSpan& s : spans) {
    const bool open = s.to_s == INT64_MAX;
    out.push_back({{"from", Rfc3339S(s.from_s)},
                   {"from_s", s.from_s},
                   {"to", open ? nlohmann::json(nullptr) : nlohmann::json(Rfc3339S(s.to_s))},
                   {"to_s", open ? nlohmann::json(nullptr) : nlohmann::json(s.to_s)}});
  }
  return out;
}

std::vector<std::string> MeterReaders(const KvReader& st, const pb::MeterRecord& m, bool with_aggregator) {
  std::vector<std::string> out = {m.owner(), m.operator_address(), ZoneGridCompany(st, m.zone())};
  if (with_aggregator) {
    if (auto pool = PoolOfMeter(st, m.meter_id())) {
      if (auto p = LoadPool(st, *pool)) out.push_back(p->aggregator());
    }
  }
  return out;
}

}  // namespace v2g::api
