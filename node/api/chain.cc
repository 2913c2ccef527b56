// HTTP API of the chain itself (docs/API.md "Endpoints"): health and status, the chain
// parameters, blocks and commits, validators, peers, the consensus round in progress and
// double-sign evidence.
#include <map>
#include <string>

#include "common/limits.h"
#include "common/time.h"
#include "common/version.h"
#include "consensus/block.h"
#include "consensus/tendermint.h"
#include "contracts/state.h"
#include "node/api/access.h"
#include "node/api/paging.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "node/p2p/p2p.h"
#include "node/store/index.h"
#include "proto/encode.h"

namespace v2g::api {
namespace {

// Heights the API reads: far above any chain, and height + limit cannot overflow.
constexpr int64_t kHeightMax = INT64_MAX / 2;

// This node's P2P identity now (it changes when the node key rotates).
std::string NodeId(const ApiContext& c) { return c.p2p ? HexEncode(c.p2p->NodeKey()) : c.node_id; }
constexpr int64_t kBlocksPageDefault = 20;
// How far back GET /v1/validators looks for each validator's last signature: at most this many
// commits read per request.
constexpr int64_t kValidatorsSignedScan = 100;

// The block at `height` with its txs and results, or 404.
void ReplyBlock(ApiContext& c, int64_t height, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  auto block = c.store->LoadBlock(height);
  auto results = c.store->LoadResults(height);
  if (!block || !results) {
    return ReplyError(res, Error(Code::kNotFound, "no block at height " + std::to_string(height)));
  }
  json body = BlockJson(StateView(snap->reader()), height, *block, *results);
  int64_t reduced = 0;
  for (json& tx : body["txs"]) reduced += ShowTxToReader(c, tx) ? 1 : 0;
  body["private_items"] = reduced;
  Reply(res, 200, body);
}

}  // namespace

void GetHealth(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  Reply(res, 200, {{"status", "ok"}, {"height", c.chain->Tip().height}});
}

void GetStatus(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  const ChainTip tip = c.chain->Tip();
  const MempoolStats ms = c.mempool->Stats();
  const int64_t fee_per_unit = c.mempool->SuggestedFeePerUnit(c.chain->Params());
  Reply(
      res, 200,
      {{"chain_id", c.chain_id},
       {"moniker", c.moniker},
       {"node_id", NodeId(c)},
       {"validator_address", c.validator_address},
       {"latest_height", tip.height},
       {"latest_block_id", HexEncode(tip.block_id)},
       {"latest_app_hash", HexEncode(tip.app_hash)},
       {"latest_block_time", FormatRfc3339Ms(tip.time_ms)},
       {"latest_block_time_ms", tip.time_ms},
       {"earliest_height", 1},
       // (Not while halted for an upgrade: it stopped on purpose, and says so in "halted".)
       {"catching_up",
        c.bft && c.bft->MaxPeerHeight() > tip.height + 1 && c.bft->HaltReason().empty()},
       // The consensus WAL failed: this validator signs nothing until restarted on a working disk.
       {"signing_stopped", c.bft && c.bft->SigningStopped()},
       // Stopped before a software upgrade's height: why (GET /v1/upgrade has the plan).
       {"halted",
        c.bft && !c.bft->HaltReason().empty() ? json(c.bft->HaltReason()) : json(nullptr)},
       // fee_per_unit: what a new tx should pay per fee unit (minimal units of the market
       // denomination) to be admitted and make the next block: fee_min unless the pool is busy.
       {"mempool",
        {{"txs", ms.txs},
         {"bytes", ms.bytes},
         {"units", ms.units},
         {"fee_per_unit", fee_per_unit}}},
       {"version", SoftwareVersion()}});
}

void GetParams(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  Reply(res, 200, ParamsJson(StateView(snap->reader())));
}

void GetLatestBlock(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  const int64_t h = c.chain->Tip().height;
  if (h == 0) return ReplyError(res, Error(Code::kNotFound, "no block committed yet"));
  ReplyBlock(c, h, res);
}

void GetBlock(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto h = ParseInt("height", req.matches[1], 1, kHeightMax);
  if (!h.ok()) return ReplyError(res, h.status());
  ReplyBlock(c, *h, res);
}

void GetCommit(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  const std::string which = req.matches[1];
  // "latest", as /v1/blocks/latest: the commit of the newest block.
  auto h = which == "latest" ? Result<int64_t>(c.chain->Tip().height) : ParseInt("height", which, 1, kHeightMax);
  if (!h.ok()) return ReplyError(res, h.status());
  if (*h == 0) return ReplyError(res, Error(Code::kNotFound, "no block committed yet"));
  auto commit = c.store->LoadCommit(*h);
  if (!commit) {
    return ReplyError(res, Error(Code::kNotFound, "no commit for height " + std::to_string(*h)));
  }
  Reply(res, 200, CommitJson(*commit));
}

void ListBlocks(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  const int64_t tip = c.chain->Tip().height;
  auto limit = LimitParam(req, kBlocksPageDefault, limits::kBlocksPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  json blocks = json::array();
  // The summary the store keeps per block (node/store/index.h): a page of blocks decodes no tx,
  // so it costs ~100 small reads however large the blocks are.
  auto add = [&](int64_t h) {
    if (auto v = snap->reader().Get(index::BlockSummaryKey(h))) {
      const index::BlockSummary s = index::DecodeBlockSummary(*v);
      blocks.push_back(BlockSummaryJson(s.header, s.num_txs));
    }
  };
  if (req.has_param("from")) {
    auto from = ParseInt("from", req.get_param_value("from"), 1, kHeightMax);
    if (!from.ok()) return ReplyError(res, from.status());
    for (int64_t h = *from; h <= tip && h < *from + *limit; ++h) add(h);
  } else {
    for (int64_t h = tip; h >= 1 && h > tip - *limit; --h) add(h);
  }
  Reply(res, 200, {{"blocks", blocks}, {"latest_height", tip}});
}

// ?height=H: the set that signs block H (known up to two heights past the tip: a governance change
// takes effect two heights after its block); default the set that signs the next block.
void GetValidators(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  const int64_t known = c.chain->Tip().height + 2;
  int64_t at = known - 1;
  if (req.has_param("height")) {
    auto h = ParseInt("height", req.get_param_value("height"), 1, known);
    if (!h.ok()) {
      return ReplyError(
          res, Error(Code::kInvalidArgument,
                     h.status().message() +
                         " (the chain knows the validator sets up to two heights past its tip)"));
    }
    at = *h;
  }
  const pb::ValidatorSet vals = c.chain->ValidatorsAt(at);
  // Each validator's last signed height: the newest commit holding its precommit, looked for in
  // the last kValidatorsSignedScan commits (usually the tip's alone holds every one); null when
  // it signed none of them.
  std::map<std::string, int64_t> last_signed;  // address bytes -> height, of current members only
  for (const pb::ValidatorRecord& v : vals.validators()) last_signed.emplace(v.address(), 0);
  size_t missing = last_signed.size();
  const int64_t newest = std::min(at, known - 2);  // the newest committed height at or below `at`
  for (int64_t h = newest; h >= 1 && h > newest - kValidatorsSignedScan && missing > 0; --h) {
    auto commit = c.store->LoadCommit(h);
    if (!commit) continue;
    for (const pb::CommitSig& s : commit->signatures()) {
      auto it = last_signed.find(s.validator_address());
      if (it != last_signed.end() && it->second == 0) {
        it->second = h;
        --missing;
      }
    }
  }
  json list = json::array();
  for (const pb::ValidatorRecord& v : vals.validators()) {
    json j = ValidatorJson(v);
    const int64_t h = last_signed[v.address()];
    j["last_signed_height"] = h == 0 ? json(nullptr) : json(h);
    list.push_back(std::move(j));
  }
  Reply(res, 200,
        {{"height", at},
         {"validators", std::move(list)},
         {"total_power", TotalPower(vals)},
         {"validators_hash", HexEncode(ValidatorSetHash(vals))}});
}

void GetNetInfo(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  json peers = json::array();
  if (c.p2p) {
    peers = JsonList(c.p2p->Peers(), [](const PeerInfo& p) {
      return json{{"node_id", p.node_id},
                  {"address", p.address},
                  {"inbound", p.inbound},
                  {"connected_since", FormatRfc3339Ms(p.connected_since_ms)}};
    });
  }
  Reply(res, 200,
        {{"node_id", NodeId(c)},
         {"listen_port", c.p2p ? c.p2p->listen_port() : 0},
         {"n_peers", peers.size()},
         {"peers", peers}});
}

void GetConsensusState(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  if (!c.bft) return ReplyError(res, Error(Code::kUnavailable, "no consensus engine"));
  const EngineInfo info = c.bft->Detail();
  json rounds = json::array();
  for (const auto& [r, t] : info.rounds) {
    rounds.push_back(
        {{"round", r}, {"prevote_power", t.prevote_power}, {"precommit_power", t.precommit_power}});
  }
  Reply(res, 200,
        {{"height", info.height},
         {"round", info.round},
         {"step", std::string(StepName(info.step))},
         {"decided", info.decided},
         {"locked_round", info.locked_round},
         {"locked_block_id", HexEncode(info.locked_block_id)},
         {"valid_round", info.valid_round},
         {"total_power", TotalPower(c.chain->Validators())},
         {"rounds", rounds}});
}

void GetMetrics(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  (void)req;
  if (!c.metrics) {
    return Reply(res, 404,
                 ErrorBody(Code::kNotFound,
                           "metrics are not served on this address ([instrumentation] in "
                           "config.toml)"));
  }
  res.status = 200;
  res.set_content(c.metrics(), "text/plain; version=0.0.4; charset=utf-8");
}

void GetEvidence(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto render = [](const pb::DuplicateVoteEvidence& ev) {
    return EvidenceJson(ev, /*with_votes=*/true);
  };
  auto limit = LimitParam(req, limits::kEvidencePageMax, limits::kEvidencePageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  std::string after;  // an equivocation id (EquivocationId), hex
  if (req.has_param("after")) {
    auto id = HexDecode(req.get_param_value("after"));
    if (!id.ok() || id->empty()) {
      return ReplyError(res,
                        Error(Code::kInvalidArgument,
                              "after must be the hex equivocation id a page's next_after gave"));
    }
    after = ToString(*id);
  }
  auto snap = c.store->Snapshot();
  const Page<json> page =
      FirstAfter<json>(snap->reader(), kEvidencePrefix, after, *limit,
                       [&](std::string_view, std::string_view v) -> std::optional<json> {
                         return render(DecodeRecord<pb::DuplicateVoteEvidence>(std::string(v)));
                       });
  json pending = json::array();
  if (c.bft) pending = JsonList(c.bft->PendingEvidence(), render);
  Reply(res, 200,
        {{"committed", page.items},
         {"next_after",
          page.next.is_null() ? page.next : json(HexEncode(page.next.get<std::string>()))},
         {"pending", pending}});
}

}  // namespace v2g::api
