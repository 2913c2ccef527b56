// Every endpoint of the HTTP API /v1 and the handler that answers it, by the file that holds it;
// server.cc's route table binds them (docs/API.md is the contract with clients). A handler
// validates every parameter with an error that names it (a 400; unknown records are 404s), reads
// the state through one store snapshot, and answers with Reply or ReplyError (reply.h); all but
// POST /v1/txs and /v1/txs/batch only read. Handlers run on the server's thread pool, many at
// once. Pages take `limit` (default kPageDefault, paging.h) and return the cursor of the next
// page, null on the last. Internal to node/api/.
//
// Shared by the handlers: reply.h (answers, errors, lookups), params.h (parameter parsing),
// paging.h (pages and cursors), render.h (the JSON of every object, one renderer each).
#pragma once

#include <httplib.h>

#include "node/api/api.h"

namespace v2g::api {

// ---- chain.cc

// GET /v1/health: answers as long as the node serves; the height shows it is not stuck.
void GetHealth(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/status: chain id, this node, the tip, whether it is catching up, its mempool.
void GetStatus(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/params: the chain parameters and the module accounts.
void GetParams(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/blocks/latest, GET /v1/blocks/{height}: a block with its txs and their results.
void GetLatestBlock(ApiContext& c, const httplib::Request& req, httplib::Response& res);
void GetBlock(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/blocks/{height}/commit: the precommits that committed the block.
void GetCommit(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/blocks?from=&limit=: `limit` block summaries from `from` up, or the newest `limit`
// down from the tip when `from` is absent.
void ListBlocks(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/validators?height=H: the set that signs H (default the next block), its power and hash.
void GetValidators(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/net_info: this node's peer connections (none without p2p).
void GetNetInfo(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/consensus_state: the height and round in progress and the voting power seen per round
// (503 without a consensus engine).
void GetConsensusState(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/evidence: double-signs committed to the chain and those waiting for a block.
void GetEvidence(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/stream[?account=&meter=&types=&from=] (Server-Sent Events, with Last-Event-ID): every
// block from a height on, the txs naming an account or meter that the reader may read, the
// markets each block cleared and settled; served by a stream thread (http_server.h) until the
// client goes. stream.cc.
void GetStream(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /metrics: the node's metrics in the Prometheus text format 0.0.4 (node/node_metrics.h),
// or 404 when they are off here ([instrumentation] in config.toml).
void GetMetrics(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- explorer.cc

// GET /: the block explorer page (node/explorer/), with a strict Content-Security-Policy; 404
// when [api] explorer = false.
void GetExplorer(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /explorer/{name}: the page's script and style sheet (only the names built in).
void GetExplorerAsset(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- txs.cc

// POST /v1/txs[?wait=commit&timeout_ms=] with {"tx": "<hex>"}: admits the tx to the mempool
// (202 {"hash", "status": "pending"}); with wait=commit, 200 and its result when it commits
// within timeout_ms (else still 202). With /v1/txs/batch, the only endpoints that change anything.
void PostTx(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// POST /v1/txs/batch with {"txs": ["<hex>", ...]}: admits each tx as POST /v1/txs would, in
// order, each on its own (a refused tx does not stop the rest; no lock is held across the
// batch). 200 {"admitted", "refused", "results": [...]}, one verdict per tx in order:
// {"index", "hash", "status": "pending"} or {"index", "hash", "code", "code_num", "message"}
// (hash null when the entry is not a hex string). At most kApiBatchTxsMax txs (413 naming it)
// and kHttpBodyBytesMax bytes; no wait=commit (poll GET /v1/txs/{hash}). Served by the batch
// threads (http_server.h), never by the workers that single txs and reads use.
void PostTxBatch(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/txs/{hash}: a committed tx with its result, {"status": "pending"} while in the
// mempool, else 404.
void GetTx(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- accounts.cc

// GET /v1/accounts/{address}: balances, the last nonce used and the next one to sign with
// (counting the account's txs waiting in this node's mempool).
void GetAccount(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/denoms: every denomination with its supply.
void ListDenoms(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- meters.cc (contracts/meters.h)

// GET /v1/meters?zone=&owner=&kind=&after=&limit=: by meter id; next_after is the last id shown
// when more match.
void ListMeters(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/meters/{id}: a registry entry.
void GetMeter(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/meters/{id}/readings?from=&to=&limit=: attested energy per settlement interval with
// start in [from, to); next_from is the first interval start not shown.
void GetReadings(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/meters/{id}/battery: a vehicle's battery totals and its daily health history.
void GetBattery(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/meters/{id}/ocmf?context=T|F&from=N&limit=: an OCMF meter's accepted records of one
// pagination context (text, PG, height, tx) from counter N; next_from is the next counter when
// more remain.
void ListOcmfRecords(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/meters/{id}/ocmf/{pg}: one accepted record ("T17": context letter and counter).
void GetOcmfRecord(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- market.cc (contracts/market.h); amounts in the market denomination

// GET /v1/markets?zone=&from=&to=&limit=: by interval, then zone. A page ends at an interval
// boundary (so next_from resumes exactly) unless one interval alone has more than `limit`.
void ListMarkets(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/markets/{zone}/{interval}?limit=: the market with its book depth (`limit` price levels
// a side).
void GetMarket(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/orders/{id}, GET /v1/contracts/{id}. Orders and contracts share one id sequence: a
// miss says when the id is the other kind.
void GetOrder(ApiContext& c, const httplib::Request& req, httplib::Response& res);
void GetContract(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/accounts/{address}/orders?kind=&before=&limit=: orders and contracts, newest first.
void AccountOrders(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- market_trades.cc

// GET /v1/trades?zone=&interval=&after=&limit= (one market's, by index) |
// ?account=&before=&limit= (an account's, newest interval first).
void ListTrades(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/settlements?zone=&interval=[&account=] | ?account=: settled trades and contracts with
// their totals.
void ListSettlements(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- grid.cc (contracts/grid.h, contracts/pools.h)

// GET /v1/zones: every zone (at most kZonesMax) and the grid company that owns it, by name, and
// whether governance suspended its market.
void ListZones(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/tariffs/{zone}: every tariff set for the zone and the one in effect at the latest
// block time.
void GetTariffs(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/events?zone=&status=&before=&limit=: newest first.
void ListEvents(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/events/{id}: the event with its enrollments. Events and programs share one id
// sequence: a miss says when the id is the other kind.
void GetEvent(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/programs?status=&before=&limit=: newest first.
void ListPrograms(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/programs/{id}: the program with its members.
void GetProgram(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/pools?before=&limit=: newest first.
void ListPools(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/pools/{id}: the pool with its members.
void GetPool(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- gov.cc (contracts/gov.h)

// GET /v1/proposals?before=&limit=: governance proposals, newest first, with their tally.
void ListProposals(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/proposals/{id}: the proposal with every vote (voter, validator name, option, power).
void GetProposal(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/roles?role=&after=&limit=: who holds each role, in role and address order.
void ListRoles(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/upgrade: the version this node runs, the pending software upgrade, the upgrades done,
// and why this node stopped (an upgrade it is too old for), if it did.
void GetUpgrade(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- statement.cc

// GET /v1/accounts/{address}/statement?from=&to=: what the owner earned and paid in the period
// (default the 24 h up to the latest block; at most 31 days), its debts and vehicles.
void AccountStatement(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/accounts/{address}/debts
void AccountDebts(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- proof.cc (contracts/state_tree.h)

// GET /v1/proof/accounts/{address}?height=H: the account record (balances, nonce) after block H
// (default tip - 1) or its absence, with a Merkle proof against the app hash after H, which
// header H + 1 carries (its commit: GET /v1/blocks/{H+1}/commit). Readers as GET /v1/accounts.
void GetAccountProof(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/proof/meters/{id}/energy?from=&to=&limit=&height=H: the meter's attested energy records
// (s/meter_e/) with interval start in [from, to), proven complete (a range proof), cut at `limit`
// (next_key: the first left out). Readers as the meter's readings; [from, to) must lie within one
// span the reader may read.
void GetMeterEnergyProof(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/proof/trades/{zone}/{interval}/{index}?height=H: a trade of a market and its settlement
// (delivered, paid, refunded, penalty). The record names both parties, so the zone's grid company
// and full readers only (an auction trade's parties see their own side alone).
void GetTradeProof(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/proof/denoms/{name}?height=H: a denomination's record (its decimals: how its amounts
// read), public.
void GetDenomProof(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/proof/params?height=H: the chain's parameters record (the market's denomination, fees,
// limits), public.
void GetParamsProof(ApiContext& c, const httplib::Request& req, httplib::Response& res);
// GET /v1/light/{height}: what a light client checks a header with, as the bytes that are hashed
// and signed (protobuf, hex): the header, its commit, the validator set that signs it and the set
// that signs the next height (their hashes are in the header). Public, as headers are.
void GetLightBlock(ApiContext& c, const httplib::Request& req, httplib::Response& res);

// ---- the route table (server.cc serves it; fuzz/api.cc drives the same table in-process)

struct Route {
  const char* method;   // "GET" or "POST"
  const char* pattern;  // a regex over the whole path; captures go to req.matches
  void (*handler)(ApiContext& c, const httplib::Request& req, httplib::Response& res);
};

// Every route, by the file that answers it. Serve tries them in this order and the first
// pattern that matches the whole path answers; only /v1/blocks/latest and /v1/txs/batch are also
// matched by another pattern (/v1/blocks/{height}, /v1/txs/{hash}), so they come first (a GET of
// /v1/txs/batch is a lookup of a malformed hash: 400). The declarations above say what each
// answers.
inline constexpr Route kRoutes[] = {
    // chain.cc
    {"GET", "/v1/health", GetHealth},
    {"GET", "/v1/status", GetStatus},
    {"GET", "/v1/params", GetParams},
    {"GET", "/v1/blocks/latest", GetLatestBlock},
    {"GET", R"(/v1/blocks/([^/]+)/commit)", GetCommit},
    {"GET", R"(/v1/blocks/([^/]+))", GetBlock},
    {"GET", "/v1/blocks", ListBlocks},
    {"GET", "/v1/validators", GetValidators},
    {"GET", "/v1/net_info", GetNetInfo},
    {"GET", "/v1/consensus_state", GetConsensusState},
    {"GET", "/v1/evidence", GetEvidence},
    {"GET", "/metrics", GetMetrics},
    {"GET", "/v1/stream", GetStream},
    {"GET", "/", GetExplorer},
    {"GET", R"(/explorer/([^/]+))", GetExplorerAsset},
    // txs.cc
    {"POST", "/v1/txs", PostTx},
    {"POST", "/v1/txs/batch", PostTxBatch},  // before GET /v1/txs/{hash}, which also matches
    {"GET", R"(/v1/txs/([^/]+))", GetTx},
    // accounts.cc
    {"GET", R"(/v1/accounts/([^/]+))", GetAccount},
    {"GET", "/v1/denoms", ListDenoms},
    // meters.cc
    {"GET", "/v1/meters", ListMeters},
    {"GET", R"(/v1/meters/([^/]+))", GetMeter},
    {"GET", R"(/v1/meters/([^/]+)/readings)", GetReadings},
    {"GET", R"(/v1/meters/([^/]+)/battery)", GetBattery},
    {"GET", R"(/v1/meters/([^/]+)/ocmf)", ListOcmfRecords},
    {"GET", R"(/v1/meters/([^/]+)/ocmf/([^/]+))", GetOcmfRecord},
    // market.cc, market_trades.cc
    {"GET", "/v1/markets", ListMarkets},
    {"GET", R"(/v1/markets/([^/]+)/([^/]+))", GetMarket},
    {"GET", R"(/v1/orders/([^/]+))", GetOrder},
    {"GET", R"(/v1/contracts/([^/]+))", GetContract},
    {"GET", R"(/v1/accounts/([^/]+)/orders)", AccountOrders},
    {"GET", "/v1/trades", ListTrades},
    {"GET", "/v1/settlements", ListSettlements},
    // grid.cc, statement.cc
    {"GET", "/v1/zones", ListZones},
    {"GET", R"(/v1/tariffs/([^/]+))", GetTariffs},
    {"GET", "/v1/events", ListEvents},
    {"GET", R"(/v1/events/([^/]+))", GetEvent},
    {"GET", "/v1/programs", ListPrograms},
    {"GET", R"(/v1/programs/([^/]+))", GetProgram},
    {"GET", "/v1/pools", ListPools},
    {"GET", R"(/v1/pools/([^/]+))", GetPool},
    {"GET", R"(/v1/accounts/([^/]+)/statement)", AccountStatement},
    {"GET", R"(/v1/accounts/([^/]+)/debts)", AccountDebts},
    // gov.cc
    {"GET", "/v1/proposals", ListProposals},
    {"GET", R"(/v1/proposals/([^/]+))", GetProposal},
    {"GET", "/v1/roles", ListRoles},
    {"GET", "/v1/upgrade", GetUpgrade},
    // proof.cc
    {"GET", R"(/v1/proof/accounts/([^/]+))", GetAccountProof},
    {"GET", R"(/v1/proof/meters/([^/]+)/energy)", GetMeterEnergyProof},
    {"GET", R"(/v1/proof/trades/([^/]+)/([^/]+)/([^/]+))", GetTradeProof},
    {"GET", R"(/v1/proof/denoms/([^/]+))", GetDenomProof},
    {"GET", "/v1/proof/params", GetParamsProof},
    {"GET", R"(/v1/light/([^/]+))", GetLightBlock},
};

}  // namespace v2g::api
