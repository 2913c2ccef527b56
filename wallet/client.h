// A client for the node's HTTP API (docs/API.md), for the wallet CLI and tools.
//
// Every failure comes back as a Status whose message says what happened, ready to show a user:
//  - transport: kUnavailable, "cannot reach node at http://127.0.0.1:26657: connection refused",
//    "node at ... did not answer GET /v1/status within 30000 ms", ...
//  - an API error object {"error": {"code", "code_num", "message"}}: code() is the Code with
//    that number (kInternal if this build does not know the number) and message() is
//    "<code>: <message>" exactly as the node sent them, e.g. "nonce_gap: nonce 5 skips ahead".
//  - a body that is not JSON or lacks a field we need: kMalformed naming the request.
// One ApiClient is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/status.h"

namespace httplib {
class Client;
}

namespace v2g {

struct ClientOptions {
  int64_t connect_timeout_ms = 5000;
  int64_t read_timeout_ms = 30000;  // for requests that do not wait for a commit
};

// GET /v1/status. Only chain_id and latest_height are required of the node; the rest default.
struct NodeStatus {
  std::string chain_id;
  std::string moniker;
  std::string node_id;
  std::string validator_address;
  int64_t latest_height = 0;
  std::string latest_block_id;
  std::string latest_app_hash;
  std::string latest_block_time;
  int64_t latest_block_time_ms = 0;  // from latest_block_time_ms, else parsed from latest_block_time
  int64_t earliest_height = 0;
  bool catching_up = false;
  int64_t mempool_txs = 0;
  int64_t mempool_bytes = 0;
  // What the node suggests a new tx pay per fee unit (0 from a node without the field).
  int64_t mempool_fee_per_unit = 0;
  std::string version;
  nlohmann::json raw;  // the whole response
};

struct Balance {
  std::string denom;
  int64_t amount = 0;   // minimal units
  std::string display;  // human units as the node formats them, e.g. "12.50"
};

// GET /v1/accounts/{address}. An address the chain has never seen is an empty account.
struct AccountInfo {
  std::string address;
  uint64_t nonce = 0;       // last used
  uint64_t next_nonce = 1;  // the nonce the next tx must carry
  std::vector<Balance> balances;
  nlohmann::json raw;
};

// One entry of GET /v1/denoms.
struct DenomInfo {
  std::string name;
  uint32_t decimals = 0;
  std::string issuer;
  int64_t minted = 0;
  int64_t burned = 0;
  int64_t supply = 0;
};

// POST /v1/txs. `status` is "pending" (in the mempool) or "committed"; height/index/code/log are
// meaningful once committed. A committed tx may still have failed: code != 0.
struct SubmitResult {
  std::string hash;
  std::string status;
  int64_t height = 0;
  int64_t index = 0;
  uint32_t code = 0;
  std::string code_name;
  std::string log;
  uint64_t created_id = 0;  // a committed PlaceOrder / ProposeContract: the new order's or contract's id
  nlohmann::json raw;
  bool committed() const { return status == "committed"; }
};

// One tx's verdict in a POST /v1/txs/batch answer, in the order the txs were sent.
struct BatchVerdict {
  int64_t index = 0;
  std::string hash;       // "" when the node could not read the entry as hex
  bool admitted = false;  // in the mempool ("pending")
  uint32_t code = 0;      // a refusal: the API error, as POST /v1/txs would answer it
  std::string code_name;
  std::string message;
};

// GET /v1/txs/{hash}: the typed fields every tx object has; the rest (signer, nonce, fee, memo,
// op, tx) stays in `raw`.
struct TxInfo {
  // The node showed only that it is there (docs/API.md "Signed reads": it is its signer's):
  // code, log and the rest are unknown, not ok.
  bool reduced = false;
  std::string hash;
  std::string status;
  int64_t height = 0;
  int64_t index = 0;
  uint32_t code = 0;
  std::string code_name;
  std::string log;
  uint64_t created_id = 0;
  nlohmann::json raw;
  bool committed() const { return status == "committed"; }
};

class ApiClient {
 public:
  // `base_url` is "http://host:port" or "https://host[:port]", optionally with a path prefix
  // ("https://example.org/v2g"). kInvalidArgument if it is not such a URL.
  static Result<ApiClient> Create(std::string_view base_url, ClientOptions options = {});
  ApiClient(ApiClient&&) noexcept;
  ApiClient& operator=(ApiClient&&) noexcept;
  ~ApiClient();

  const std::string& base_url() const { return base_url_; }

  Result<NodeStatus> GetStatus();
  Result<AccountInfo> GetAccount(std::string_view address);  // address: v2g1...
  Result<std::vector<DenomInfo>> GetDenoms();
  // Submits an encoded Tx. With wait_commit the node holds the answer until the tx is in a
  // committed block or timeout_ms (1..60000) passes, then answers "pending".
  Result<SubmitResult> SubmitTx(std::string_view tx_bytes, bool wait_commit, int64_t timeout_ms);
  // Submits 1..kApiBatchTxsMax encoded txs in one request (POST /v1/txs/batch; all of them
  // within the node's body limit), each admitted or refused on its own: one verdict per tx, in
  // order. An error only when the request as a whole was refused (busy, too large) or failed.
  Result<std::vector<BatchVerdict>> SubmitTxBatch(const std::vector<std::string>& txs);
  // `hash_hex`: 64 hex digits. kNotFound (from the node) for an unknown tx.
  Result<TxInfo> GetTx(std::string_view hash_hex);
  // GET `path_and_query` (e.g. "/v1/meters/CH-1", already URL-safe) and return the JSON answer;
  // errors as described at the top of this file. For endpoints without a typed wrapper.
  Result<nlohmann::json> GetJson(const std::string& path_and_query);

  // GET `path_and_query` (/v1/stream?...) as Server-Sent Events, signed like every GET, resumed
  // after `last_event_id` when it is not empty: calls `on_event(id, event, data)` for each event
  // until it returns false (then Ok), or the stream ends (kUnavailable: the node closed it, or
  // nothing came for `idle_timeout_ms`, twice its keep-alive), or the node refused it (its API
  // error). An event over kEventBytesMax fails the stream (kMalformed).
  using EventHandler = std::function<bool(const std::string& id, const std::string& event,
                                          const nlohmann::json& data)>;
  static constexpr size_t kEventBytesMax = size_t{16} << 20;
  Status Follow(const std::string& path_and_query, const std::string& last_event_id,
                int64_t idle_timeout_ms, const EventHandler& on_event);

  // Signed reads (docs/API.md "Signed reads"): every GET from now on is signed as the account of
  // `key` (nothing: unsigned). The chain id they sign is read from GET /v1/status once.
  void SetReader(std::optional<KeyPair> key);
  // Asked when a GET is refused with permission_denied (`readers`: the error's "readers", the
  // accounts that may read it, bech32m; empty when the node does not say), or answered with less
  // than all (a top-level "private": true, "hidden_rows" > 0 or "private_items" > 0; `readers`
  // its "readers", if any). Returns the key to sign with and try the GET once more (it stays the
  // reader for the next GETs unless the node refuses its signature), or nothing to keep the
  // answer.
  using ReaderSource = std::function<std::optional<KeyPair>(const std::vector<std::string>& readers)>;
  void SetReaderSource(ReaderSource source) { reader_source_ = std::move(source); }

 private:
  ApiClient() = default;
  Result<nlohmann::json> CallOnce(std::string_view method, const std::string& path, const std::string* body,
                                  int64_t read_timeout_ms);
  // The signed-read headers of GET `sent` (the encoded target), none when there is no reader.
  Result<std::vector<std::pair<std::string, std::string>>> ReadHeaders(std::string_view method,
                                                                       const std::string& path,
                                                                       const std::string& sent);
  // The JSON of a 2xx answer to `what`, else its API error (a 403's readers kept).
  Result<nlohmann::json> AnswerOf(int http_status, const std::string& body,
                                  const std::string& what);
  // A connection failure of `what` as the error the callers return.
  // `error`: an httplib::Error.
  Status ConnectionError(int error, const std::string& what, int64_t read_timeout_ms) const;
  // Sends the request and returns the parsed JSON body of a 2xx answer; everything else becomes
  // a Status as described at the top of this file.
  Result<nlohmann::json> Call(std::string_view method, const std::string& path,
                              const std::string* body, int64_t read_timeout_ms);

  std::string base_url_;  // as given, without a trailing '/'
  std::string host_;      // for diagnosing connection failures
  int port_ = 0;
  std::string path_prefix_;  // "" or "/prefix"
  ClientOptions options_;
  std::unique_ptr<httplib::Client> http_;
  std::optional<KeyPair> reader_;
  ReaderSource reader_source_;
  std::string chain_id_;                     // for signing reads, from /v1/status
  std::vector<std::string> refused_readers_;  // the last 403's error.readers
};

// A ReaderSource that signs with whichever of `keys` is an account the node names (tools that
// hold many accounts' keys: the load generator, the meter simulator).
ApiClient::ReaderSource ReaderSourceOf(std::vector<KeyPair> keys);

}  // namespace v2g
