// The PostgreSQL indexer (docs/INDEXER.md): follows a node's API and writes what each block did
// into PostgreSQL tables (schema.cc), one transaction per block with the height watermark, so
// it restarts exactly where it stopped and indexing a block twice is impossible.
//
// It reads blocks as GET /v1/stream?types=block,market&from=<watermark+1> serves them (a
// catch-up from any height, then live), fetches a block's txs (GET /v1/blocks/{h}) when it has
// any, and what the block's events point at: a cleared market's trades, a settled market's
// settlement, the attested energy of the meters whose readings it carried, the events it
// created or settled. A block is written when the stream reaches the next one (its events are
// complete then). The node must serve everything to it: run it as one of the node's
// [api] full_readers (--as) or against a node with private_reads = false.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "wallet/client.h"

namespace v2g::indexer {

struct Options {
  // Stop once this height is written (0: follow the chain until stopped).
  int64_t stop_at = 0;
  // Called after each block is written (tests, progress); return false to stop.
  std::function<bool(int64_t height)> on_block;
  // A dropped stream is reconnected from the watermark this many times in a row before Run
  // gives up (a node that refuses the indexer is an error at once).
  int reconnects_max = 30;
};

class Indexer {
 public:
  // `stream` follows /v1/stream; `api` answers the reads made while a block is written (two
  // clients: the stream holds its connection). Both sign as the same reader, if any.
  Indexer(ApiClient& stream, ApiClient& api, pqxx::connection& db);

  // Applies the migrations not yet applied (schema.h), each in its own transaction. Returns
  // the schema version now in force. Refuses a database whose schema is newer than this build.
  Result<int> Migrate();
  // Writes the balances of a genesis.json (genesis_balances), once: its chain id must be the
  // node's. Money the chain started with is in no block.
  Status ImportGenesis(const std::string& path);
  // The last height written (0: none).
  Result<int64_t> Watermark();
  // Indexes from the watermark on until Options say stop. Refuses a database indexed from
  // another chain (its chain id is kept in indexer_state).
  Status Run(const Options& options);

 private:
  struct Block {
    int64_t height = 0;
    nlohmann::json summary;               // the stream's block event
    std::vector<nlohmann::json> markets;  // market_cleared / market_settled events, in order
    std::vector<std::string> market_kinds;
    int64_t market_events = -1;  // as the block event announced them (-1: not said)
  };
  Status CheckChain();
  Status Write(const Block& b);
  Status WriteTxs(pqxx::work& w, const Block& b, const nlohmann::json& block,
                  std::map<std::string, std::pair<int64_t, int64_t>>& touched_meters,
                  std::set<int64_t>& new_events);
  Status WriteMarket(pqxx::work& w, const Block& b, const std::string& kind,
                     const nlohmann::json& m);
  Status WriteMeterIntervals(pqxx::work& w, int64_t height, const std::string& meter, int64_t from,
                             int64_t to);
  Status WriteEvent(pqxx::work& w, int64_t created_height, int64_t id);
  // The statements of every interval grid services settled by this block (block time in s).
  Status WriteStatements(pqxx::work& w, int64_t height, int64_t block_s,
                         const std::string& proposer);
  Status WriteStatementsOf(pqxx::work& w, int64_t interval_start_s);
  Result<nlohmann::json> Get(const std::string& path);

  ApiClient& stream_;
  ApiClient& api_;
  pqxx::connection& db_;
  std::string chain_id_;
  int64_t interval_s_ = 0;  // settlement_interval_s
  int64_t grace_s_ = 0;     // market_grace_s: an interval settles this long after its end
};

}  // namespace v2g::indexer
