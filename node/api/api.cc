#include "node/api/api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "common/amount.h"
#include "common/limits.h"
#include "contracts/market.h"
#include "contracts/meters.h"
#include "contracts/state.h"
#include "common/time.h"
#include "node/api/util.h"
#include "node/p2p/p2p.h"

namespace v2g {
namespace api {

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kNotFound: return 404;
    case Code::kDuplicate:
    case Code::kAlreadyExists: return 409;
    case Code::kTooLarge: return 413;
    case Code::kMempoolFull:
    case Code::kSenderLimit: return 429;
    case Code::kUnavailable: return 503;
    case Code::kTimeout: return 504;
    case Code::kInternal:
    case Code::kIo:
    case Code::kCorruption: return 500;
    default: return 400;
  }
}

json ErrorBody(Code code, const std::string& message) {
  return {{"error", {{"code", std::string(CodeName(code))}, {"code_num", static_cast<uint32_t>(code)}, {"message", message}}}};
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Replace, not throw: an error message may echo request bytes that are not valid UTF-8.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void ReplyError(httplib::Response& res, const Status& st) {
  Reply(res, HttpStatusFor(st.code()), ErrorBody(st.code(), st.message()));
}

std::string AddressText(const std::string& raw) {
  auto a = AddressFromBytes(raw);
  return a.ok() ? EncodeAddress(*a) : HexEncode(raw);
}

Result<int64_t> ParseInt(const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Error(Code::kInvalidArgument, name + " must be a non-negative integer, got '" + text + "'");
  }
  int64_t v = std::stoll(text);
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument, name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v;
}

json AmountJson(const KvReader& state, const std::string& denom, int64_t amount) {
  json j = {{"denom", denom}, {"amount", std::to_string(amount)}};
  auto d = LoadDenom(state, denom);
  j["display"] = d ? FormatAmount(amount, d->decimals()) : std::to_string(amount);
  return j;
}

}  // namespace api

namespace {

using api::AddressText;
using api::AmountJson;
using api::ErrorBody;
using api::json;
using api::ParseInt;
using api::Reply;
using api::ReplyError;
constexpr const char* kVersion = "0.1.0";

std::string Hex(const std::string& raw) { return HexEncode(raw); }

json ReadingJson(const pb::MeterReading& r) {
  return {{"meter_id", r.meter_id()},
          {"seq", r.seq()},
          {"interval_start", FormatRfc3339Ms(r.interval_start_s() * 1000)},
          {"interval_start_s", r.interval_start_s()},
          {"interval_end_s", r.interval_end_s()},
          {"import_wh_total", r.import_wh_total()},
          {"export_wh_total", r.export_wh_total()},
          {"soc_permille", r.soc_permille()},
          {"soh_permille", r.soh_permille()},
          {"signature", Hex(r.signature())}};
}

json RejectedReadingsJson(const pb::TxResult& r) {
  json list = json::array();
  for (const auto& rej : r.rejected_readings()) {
    list.push_back({{"index", rej.index()},
                    {"code", rej.code()},
                    {"code_name", std::string(CodeName(static_cast<Code>(rej.code())))},
                    {"message", rej.message()}});
  }
  return list;
}

// The op object of a meter tx (contracts/meters.h).
json MeterOpJson(const pb::TxBody& body) {
  switch (body.op_case()) {
    case pb::TxBody::kRegisterMeter: {
      const auto& r = body.register_meter();
      return {{"type", "register_meter"},
              {"meter_id", r.meter_id()},
              {"device_pubkey", Hex(r.device_pubkey())},
              {"kind", std::string(MeterKindName(r.kind()))},
              {"zone", r.zone()},
              {"owner", AddressText(r.owner())},
              {"max_import_w", r.max_import_w()},
              {"max_export_w", r.max_export_w()},
              {"battery_capacity_wh", r.battery_capacity_wh()}};
    }
    case pb::TxBody::kRotateMeterKey:
      return {{"type", "rotate_meter_key"},
              {"meter_id", body.rotate_meter_key().meter_id()},
              {"new_device_pubkey", Hex(body.rotate_meter_key().new_device_pubkey())}};
    case pb::TxBody::kTransferMeter: {
      const auto& t = body.transfer_meter();
      json j = {{"type", "transfer_meter"}, {"meter_id", t.meter_id()}, {"new_owner_pubkey", Hex(t.new_owner_pubkey())}};
      if (t.new_owner_pubkey().size() == kPublicKeyBytes) {
        PublicKey pk;
        std::copy(t.new_owner_pubkey().begin(), t.new_owner_pubkey().end(), pk.begin());
        j["new_owner"] = EncodeAddress(AddressFromPublicKey(pk));
      }
      return j;
    }
    case pb::TxBody::kDeactivateMeter:
      return {{"type", "deactivate_meter"}, {"meter_id", body.deactivate_meter().meter_id()}};
    case pb::TxBody::kSubmitReadings: {
      json list = json::array();
      for (const auto& r : body.submit_readings().readings()) list.push_back(ReadingJson(r));
      return {{"type", "submit_readings"}, {"count", list.size()}, {"readings", list}};
    }
    default:
      return {{"type", "none"}};
  }
}

json MeterJson(const KvReader& state, const pb::MeterRecord& m) {
  json j = {{"meter_id", m.meter_id()},
            {"device_pubkey", Hex(m.device_pubkey())},
            {"kind", std::string(MeterKindName(m.kind()))},
            {"zone", m.zone()},
            {"owner", AddressText(m.owner())},
            {"operator", AddressText(m.operator_address())},
            {"max_import_w", m.max_import_w()},
            {"max_export_w", m.max_export_w()},
            {"battery_capacity_wh", m.battery_capacity_wh()},
            {"active", m.active()},
            {"registered_height", m.registered_height()},
            {"registered_time", FormatRfc3339Ms(m.registered_time_ms())},
            {"deactivated_height", m.deactivated_height()},
            {"key_rotations", m.key_rotations()},
            {"readings_accepted", m.readings_accepted()},
            {"unattributed_import_wh", m.unattributed_import_wh()},
            {"unattributed_export_wh", m.unattributed_export_wh()},
            {"last_reading", m.has_last_reading() ? ReadingJson(m.last_reading()) : json(nullptr)}};
  if (m.kind() == pb::METER_KIND_VEHICLE) {
    if (auto b = LoadBattery(state, m.meter_id())) {
      j["battery"] = {{"import_wh", b->import_wh()},
                      {"export_wh", b->export_wh()},
                      {"cycles_milli", b->cycles_milli()},
                      {"soc_permille", b->last_soc_permille()},
                      {"soh_permille", b->last_soh_permille()}};
    }
  }
  return j;
}

json TxJson(const KvReader& state, const std::string& tx_bytes, const pb::TxLocation* loc) {
  Hash256 hash = Blake2b256(tx_bytes);
  json j = {{"hash", TxHashHex(hash)}, {"tx", HexEncode(tx_bytes)}};
  if (loc) {
    j["status"] = "committed";
    j["height"] = loc->height();
    j["index"] = loc->index();
    j["code"] = loc->result().code();
    j["code_name"] = std::string(CodeName(static_cast<Code>(loc->result().code())));
    j["log"] = loc->result().log();
    if (loc->result().rejected_readings_size() > 0) j["rejected_readings"] = RejectedReadingsJson(loc->result());
    if (loc->result().created_id() != 0) j["created_id"] = loc->result().created_id();
  }
  pb::Tx tx;
  pb::TxBody body;
  if (!tx.ParseFromString(tx_bytes) || !body.ParseFromString(tx.body()) || tx.signer_pubkey().size() != kPublicKeyBytes) {
    j["decode_error"] = "tx bytes do not decode";
    return j;
  }
  PublicKey pk;
  std::copy(tx.signer_pubkey().begin(), tx.signer_pubkey().end(), pk.begin());
  j["signer"] = EncodeAddress(AddressFromPublicKey(pk));
  j["nonce"] = std::to_string(body.nonce());
  j["memo"] = body.memo();
  j["fee"] = body.has_fee() ? AmountJson(state, body.fee().denom(), body.fee().amount()) : json(nullptr);
  json op;
  switch (body.op_case()) {
    case pb::TxBody::kTransfer:
      op = AmountJson(state, body.transfer().denom(), body.transfer().amount());
      op["type"] = "transfer";
      op["to"] = AddressText(body.transfer().to());
      break;
    case pb::TxBody::kMint:
      op = AmountJson(state, body.mint().denom(), body.mint().amount());
      op["type"] = "mint";
      op["to"] = AddressText(body.mint().to());
      break;
    case pb::TxBody::kBurn:
      op = AmountJson(state, body.burn().denom(), body.burn().amount());
      op["type"] = "burn";
      break;
    case pb::TxBody::kRegisterMeter:
    case pb::TxBody::kRotateMeterKey:
    case pb::TxBody::kTransferMeter:
    case pb::TxBody::kDeactivateMeter:
    case pb::TxBody::kSubmitReadings:
      op = MeterOpJson(body);
      break;
    case pb::TxBody::kPlaceOrder:
    case pb::TxBody::kCancelOrder:
    case pb::TxBody::kProposeContract:
    case pb::TxBody::kAcceptContract:
    case pb::TxBody::kCancelContract:
      op = api::MarketOpJson(state, body);
      break;
    case pb::TxBody::OP_NOT_SET:
      op = {{"type", "none"}};
      break;
    default:  // grid services and pools (node/api/grid.cc); later modules render their own fields
      op = api::IsGridTxOp(body.op_case())
               ? api::GridOpJson(state, body)
               : json{{"type", "other"}, {"op_case", static_cast<int>(body.op_case())}};
      break;
  }
  j["op"] = op;
  return j;
}

json HeaderJson(const pb::Header& h) {
  return {{"chain_id", h.chain_id()},
          {"height", h.height()},
          {"time", FormatRfc3339Ms(h.time_ms())},
          {"time_ms", h.time_ms()},
          {"last_block_id", Hex(h.last_block_id())},
          {"last_commit_hash", Hex(h.last_commit_hash())},
          {"data_hash", Hex(h.data_hash())},
          {"app_hash", Hex(h.app_hash())},
          {"validators_hash", Hex(h.validators_hash())},
          {"proposer_address", AddressText(h.proposer_address())}};
}

json CommitJson(const pb::Commit& c) {
  json sigs = json::array();
  for (const auto& s : c.signatures()) {
    sigs.push_back({{"validator_address", AddressText(s.validator_address())},
                    {"timestamp_ms", s.timestamp_ms()},
                    {"signature", Hex(s.signature())}});
  }
  return {{"height", c.height()}, {"round", c.round()}, {"block_id", Hex(c.block_id())}, {"signatures", sigs}};
}

}  // namespace

ApiServer::ApiServer(ApiContext ctx) : ctx_(std::move(ctx)), server_(std::make_unique<httplib::Server>()) {}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start(const std::string& host, int port) {
  Routes();
  const size_t threads = static_cast<size_t>(ctx_.threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(limits::kHttpBodyBytesMax);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_keep_alive_max_count(1000);
  server_->set_tcp_nodelay(true);  // small JSON replies: don't wait for Nagle on keep-alive connections
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ <= 0) return Error(Code::kIo, "cannot bind the API to " + host);
  } else {
    if (!server_->bind_to_port(host, port)) {
      return Error(Code::kIo, "cannot bind the API to " + host + ":" + std::to_string(port) + " (in use?)");
    }
    port_ = port;
  }
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() does nothing until the listener thread has marked itself running; a Stop()
  // right after Start() would be lost and join() would wait forever on accept(). Wait for it.
  while (!server_->is_running() && !listen_returned_) std::this_thread::yield();
  return Status::Ok();
}

void ApiServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void ApiServer::Routes() {
  httplib::Server& s = *server_;
  ApiContext& c = ctx_;

  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("api: {} {}: {}", req.method, req.path, what);
    Reply(res, 500, ErrorBody(Code::kInternal, "internal error handling the request"));
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      Reply(res, 404, ErrorBody(Code::kNotFound, "no route " + req.method + " " + req.path));
    } else if (res.status == 413) {
      Reply(res, 413, ErrorBody(Code::kTooLarge, "request body too large"));
    } else {
      Reply(res, res.status, ErrorBody(Code::kInvalidArgument, "bad request (HTTP " + std::to_string(res.status) + ")"));
    }
  });

  s.Post("/v1/txs", [&c](const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return ReplyError(res, Error(Code::kMalformed, "request body must be a JSON object {\"tx\": \"<hex>\"}"));
    }
    if (!body.contains("tx") || !body["tx"].is_string()) {
      return ReplyError(res, Error(Code::kInvalidArgument, "field \"tx\" (hex string) is missing"));
    }
    auto bytes = HexDecode(body["tx"].get<std::string>());
    if (!bytes.ok()) return ReplyError(res, Error(Code::kMalformed, "field \"tx\": " + bytes.status().message()));
    bool wait = false;
    if (req.has_param("wait")) {
      std::string w = req.get_param_value("wait");
      if (w != "commit" && w != "none") {
        return ReplyError(res, Error(Code::kInvalidArgument, "wait must be \"commit\" or \"none\", got '" + w + "'"));
      }
      wait = w == "commit";
    }
    int64_t timeout_ms = limits::kWaitCommitMsDefault;
    if (req.has_param("timeout_ms")) {
      auto t = ParseInt("timeout_ms", req.get_param_value("timeout_ms"), 0, limits::kWaitCommitMsMax);
      if (!t.ok()) return ReplyError(res, t.status());
      timeout_ms = *t;
    }
    std::string tx = ToString(*bytes);
    auto added = c.mempool->Add(tx, c.store->state());
    if (!added.ok()) return ReplyError(res, added.status());
    if (c.on_tx_admitted) c.on_tx_admitted(tx);
    json out = {{"hash", TxHashHex(*added)}, {"status", "pending"}};
    if (!wait) return Reply(res, 202, out);
    auto loc = c.chain->WaitForTx(*added, timeout_ms);
    if (!loc) return Reply(res, 202, out);
    out["status"] = "committed";
    out["height"] = loc->height();
    out["index"] = loc->index();
    out["code"] = loc->result().code();
    out["code_name"] = std::string(CodeName(static_cast<Code>(loc->result().code())));
    out["log"] = loc->result().log();
    if (loc->result().rejected_readings_size() > 0) out["rejected_readings"] = RejectedReadingsJson(loc->result());
    if (loc->result().created_id() != 0) out["created_id"] = loc->result().created_id();
    Reply(res, 200, out);
  });

  s.Get("/v1/health", [&c](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, {{"status", "ok"}, {"height", c.chain->Tip().height}});
  });

  s.Get("/v1/status", [&c](const httplib::Request&, httplib::Response& res) {
    ChainTip tip = c.chain->Tip();
    MempoolStats ms = c.mempool->Stats();
    int64_t time_ms = tip.time_ms;
    Reply(res, 200,
          {{"chain_id", c.chain_id},
           {"moniker", c.moniker},
           {"node_id", c.node_id},
           {"validator_address", c.validator_address},
           {"latest_height", tip.height},
           {"latest_block_id", Hex(tip.block_id)},
           {"latest_app_hash", Hex(tip.app_hash)},
           {"latest_block_time", FormatRfc3339Ms(time_ms)},
           {"latest_block_time_ms", time_ms},
           {"earliest_height", 1},
           {"catching_up", c.bft && c.bft->MaxPeerHeight() > tip.height + 1},
           {"mempool", {{"txs", ms.txs}, {"bytes", ms.bytes}}},
           {"version", kVersion}});
  });

  s.Get("/v1/denoms", [&c](const httplib::Request&, httplib::Response& res) {
    auto snap = c.store->Snapshot();
    json list = json::array();
    snap->reader().Scan(kDenomPrefix, [&](std::string_view, std::string_view v) {
      auto d = DecodeRecord<pb::DenomRecord>(std::string(v));
      auto sup = LoadSupply(snap->reader(), d.name());
      list.push_back({{"name", d.name()},
                      {"decimals", d.decimals()},
                      {"issuer", AddressText(d.issuer())},
                      {"minted", std::to_string(sup.minted())},
                      {"burned", std::to_string(sup.burned())},
                      {"supply", std::to_string(sup.minted() - sup.burned())}});
      return true;
    });
    Reply(res, 200, {{"denominations", list}});
  });

  auto block_handler = [&c](int64_t height, httplib::Response& res) {
    auto snap = c.store->Snapshot();
    auto block = c.store->LoadBlock(height);
    auto results = c.store->LoadResults(height);
    if (!block || !results) {
      return ReplyError(res, Error(Code::kNotFound, "no block at height " + std::to_string(height)));
    }
    json txs = json::array();
    for (int i = 0; i < block->txs_size(); ++i) {
      pb::TxLocation loc;
      loc.set_height(height);
      loc.set_index(static_cast<uint32_t>(i));
      *loc.mutable_result() = results->tx_results(i);
      txs.push_back(TxJson(snap->reader(), block->txs(i), &loc));
    }
    Reply(res, 200,
          {{"block_id", HexEncode(BlockId(block->header()))},
           {"header", HeaderJson(block->header())},
           {"txs", txs},
           {"last_commit", CommitJson(block->last_commit())},
           {"evidence", [&] {
              json ev = json::array();
              for (const auto& e : block->evidence()) {
                ev.push_back({{"validator_address", AddressText(e.vote_a().validator_address())},
                              {"height", e.vote_a().height()},
                              {"round", e.vote_a().round()},
                              {"type", e.vote_a().type()}});
              }
              return ev;
            }()},
           {"app_hash_after", Hex(results->app_hash())}});
  };

  s.Get("/v1/blocks/latest", [&c, block_handler](const httplib::Request&, httplib::Response& res) {
    int64_t h = c.chain->Tip().height;
    if (h == 0) return ReplyError(res, Error(Code::kNotFound, "no block committed yet"));
    block_handler(h, res);
  });

  s.Get(R"(/v1/blocks/([^/]+)/commit)", [&c](const httplib::Request& req, httplib::Response& res) {
    auto h = ParseInt("height", req.matches[1], 1, INT64_MAX / 2);
    if (!h.ok()) return ReplyError(res, h.status());
    auto commit = c.store->LoadCommit(*h);
    if (!commit) return ReplyError(res, Error(Code::kNotFound, "no commit for height " + std::to_string(*h)));
    Reply(res, 200, CommitJson(*commit));
  });

  s.Get("/v1/validators", [&c](const httplib::Request&, httplib::Response& res) {
    pb::ValidatorSet vals = c.chain->Validators();
    json list = json::array();
    for (const auto& v : vals.validators()) {
      list.push_back({{"name", v.name()},
                      {"address", AddressText(v.address())},
                      {"consensus_pubkey", Hex(v.consensus_pubkey())},
                      {"node_id", Hex(v.node_pubkey())},
                      {"power", v.power()}});
    }
    Reply(res, 200, {{"validators", list}, {"total_power", TotalPower(vals)}, {"validators_hash", HexEncode(ValidatorSetHash(vals))}});
  });

  s.Get("/v1/net_info", [&c](const httplib::Request&, httplib::Response& res) {
    json peers = json::array();
    if (c.p2p) {
      for (const auto& p : c.p2p->Peers()) {
        peers.push_back({{"node_id", p.node_id},
                         {"address", p.address},
                         {"inbound", p.inbound},
                         {"connected_since", FormatRfc3339Ms(p.connected_since_ms)}});
      }
    }
    Reply(res, 200, {{"node_id", c.node_id},
                     {"listen_port", c.p2p ? c.p2p->listen_port() : 0},
                     {"n_peers", peers.size()},
                     {"peers", peers}});
  });

  s.Get("/v1/consensus_state", [&c](const httplib::Request&, httplib::Response& res) {
    if (!c.bft) return ReplyError(res, Error(Code::kUnavailable, "no consensus engine"));
    EngineInfo info = c.bft->Detail();
    json rounds = json::array();
    for (const auto& [r, t] : info.rounds) {
      rounds.push_back({{"round", r}, {"prevote_power", t.prevote_power}, {"precommit_power", t.precommit_power}});
    }
    Reply(res, 200, {{"height", info.height},
                     {"round", info.round},
                     {"step", std::string(StepName(info.step))},
                     {"decided", info.decided},
                     {"locked_round", info.locked_round},
                     {"locked_block_id", Hex(info.locked_block_id)},
                     {"valid_round", info.valid_round},
                     {"total_power", TotalPower(c.chain->Validators())},
                     {"rounds", rounds}});
  });

  s.Get("/v1/evidence", [&c](const httplib::Request&, httplib::Response& res) {
    auto vote_json = [](const pb::Vote& v) {
      return json{{"type", v.type() == static_cast<int32_t>(VoteType::kPrevote) ? "prevote" : "precommit"},
                  {"height", v.height()},
                  {"round", v.round()},
                  {"block_id", Hex(v.block_id())},
                  {"timestamp_ms", v.timestamp_ms()},
                  {"signature", Hex(v.signature())}};
    };
    auto ev_json = [&](const pb::DuplicateVoteEvidence& ev) {
      return json{{"validator_address", AddressText(ev.vote_a().validator_address())},
                  {"height", ev.vote_a().height()},
                  {"round", ev.vote_a().round()},
                  {"vote_a", vote_json(ev.vote_a())},
                  {"vote_b", vote_json(ev.vote_b())}};
    };
    auto snap = c.store->Snapshot();
    json committed = json::array();
    snap->reader().Scan(kEvidencePrefix, [&](std::string_view, std::string_view v) {
      committed.push_back(ev_json(DecodeRecord<pb::DuplicateVoteEvidence>(std::string(v))));
      return true;
    });
    json pending = json::array();
    if (c.bft) {
      for (const auto& ev : c.bft->PendingEvidence()) pending.push_back(ev_json(ev));
    }
    Reply(res, 200, {{"committed", committed}, {"pending", pending}});
  });

  s.Get(R"(/v1/blocks/([^/]+))", [block_handler](const httplib::Request& req, httplib::Response& res) {
    auto h = ParseInt("height", req.matches[1], 1, INT64_MAX / 2);
    if (!h.ok()) return ReplyError(res, h.status());
    block_handler(*h, res);
  });

  s.Get("/v1/blocks", [&c](const httplib::Request& req, httplib::Response& res) {
    int64_t tip = c.chain->Tip().height;
    int64_t limit = 20;
    if (req.has_param("limit")) {
      auto l = ParseInt("limit", req.get_param_value("limit"), 1, limits::kBlocksPageMax);
      if (!l.ok()) return ReplyError(res, l.status());
      limit = *l;
    }
    json blocks = json::array();
    auto summary = [&](const pb::Block& b) {
      blocks.push_back({{"height", b.header().height()},
                        {"block_id", HexEncode(BlockId(b.header()))},
                        {"time", FormatRfc3339Ms(b.header().time_ms())},
                        {"num_txs", b.txs_size()},
                        {"proposer_address", AddressText(b.header().proposer_address())}});
    };
    if (req.has_param("from")) {
      auto from = ParseInt("from", req.get_param_value("from"), 1, INT64_MAX / 2);
      if (!from.ok()) return ReplyError(res, from.status());
      for (int64_t h = *from; h <= tip && h < *from + limit; ++h) {
        if (auto b = c.store->LoadBlock(h)) summary(*b);
      }
    } else {
      for (int64_t h = tip; h >= 1 && h > tip - limit; --h) {
        if (auto b = c.store->LoadBlock(h)) summary(*b);
      }
    }
    Reply(res, 200, {{"blocks", blocks}, {"latest_height", tip}});
  });

  s.Get(R"(/v1/txs/([^/]+))", [&c](const httplib::Request& req, httplib::Response& res) {
    std::string text = req.matches[1];
    auto raw = HexDecode(text);
    if (!raw.ok() || raw->size() != 32) {
      return ReplyError(res, Error(Code::kInvalidArgument, "tx hash must be 64 hex characters, got '" + text + "'"));
    }
    Hash256 hash;
    std::copy(raw->begin(), raw->end(), hash.begin());
    auto loc = c.store->LoadTxLocation(hash);
    if (!loc) {
      if (c.mempool->Contains(hash)) return Reply(res, 200, {{"hash", TxHashHex(hash)}, {"status", "pending"}});
      return ReplyError(res, Error(Code::kNotFound, "tx " + TxHashHex(hash) + " not found"));
    }
    auto block = c.store->LoadBlock(loc->height());
    V2G_ASSERT(block && static_cast<int>(loc->index()) < block->txs_size());
    Reply(res, 200, TxJson(c.store->state(), block->txs(static_cast<int>(loc->index())), &*loc));
  });

  // ---- meters (contracts/meters.h)
  s.Get("/v1/meters", [&c](const httplib::Request& req, httplib::Response& res) {
    std::string zone = req.has_param("zone") ? req.get_param_value("zone") : "";
    std::string owner;
    if (req.has_param("owner")) {
      auto a = DecodeAddress(req.get_param_value("owner"));
      if (!a.ok()) return ReplyError(res, Error(Code::kInvalidArgument, "owner: " + a.status().message()));
      owner = AddressBytes(*a);
    }
    std::optional<pb::MeterKind> kind;
    if (req.has_param("kind")) {
      kind = ParseMeterKind(req.get_param_value("kind"));
      if (!kind) return ReplyError(res, Error(Code::kInvalidArgument, "kind must be charger, vehicle or site"));
    }
    std::string after = req.has_param("after") ? req.get_param_value("after") : "";
    int64_t limit = 100;
    if (req.has_param("limit")) {
      auto l = ParseInt("limit", req.get_param_value("limit"), 1, limits::kMetersPageMax);
      if (!l.ok()) return ReplyError(res, l.status());
      limit = *l;
    }
    auto snap = c.store->Snapshot();
    json list = json::array();
    std::string next;
    // A scan of the registry filtered here: fine while meters number in the thousands; zone and
    // owner indexes come when a list needs them.
    snap->reader().Scan(kMeterPrefix, [&](std::string_view k, std::string_view v) {
      std::string id(k.substr(kMeterPrefix.size()));
      if (!after.empty() && id <= after) return true;
      auto m = DecodeRecord<pb::MeterRecord>(std::string(v));
      if ((!zone.empty() && m.zone() != zone) || (!owner.empty() && m.owner() != owner) || (kind && m.kind() != *kind)) {
        return true;
      }
      if (static_cast<int64_t>(list.size()) == limit) {
        next = list.back()["meter_id"].get<std::string>();
        return false;
      }
      list.push_back(MeterJson(snap->reader(), m));
      return true;
    });
    Reply(res, 200, {{"meters", list}, {"next_after", next.empty() ? json(nullptr) : json(next)}});
  });

  s.Get(R"(/v1/meters/([^/]+)/readings)", [&c](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!ValidMeterId(id)) return ReplyError(res, Error(Code::kInvalidArgument, "not a valid meter id"));
    int64_t from = 0, to = INT64_MAX / 2, limit = 100;
    for (auto [name, out, hi] : {std::tuple<const char*, int64_t*, int64_t>{"from", &from, INT64_MAX / 2},
                                 {"to", &to, INT64_MAX / 2},
                                 {"limit", &limit, limits::kMetersPageMax}}) {
      if (!req.has_param(name)) continue;
      auto v = ParseInt(name, req.get_param_value(name), name == std::string("limit") ? 1 : 0, hi);
      if (!v.ok()) return ReplyError(res, v.status());
      *out = *v;
    }
    auto snap = c.store->Snapshot();
    auto m = LoadMeter(snap->reader(), id);
    if (!m) return ReplyError(res, Error(Code::kNotFound, "no meter '" + id + "' is registered"));
    const int64_t interval_s = LoadParams(snap->reader()).settlement_interval_s();
    json list = json::array();
    json next = nullptr;
    snap->reader().Scan(MeterIntervalPrefix(id), [&](std::string_view, std::string_view v) {
      auto rec = DecodeRecord<pb::MeterIntervalRecord>(std::string(v));
      if (rec.interval_start_s() < from) return true;
      if (rec.interval_start_s() >= to) return false;
      if (static_cast<int64_t>(list.size()) == limit) {
        next = rec.interval_start_s();
        return false;
      }
      list.push_back({{"interval_start", FormatRfc3339Ms(rec.interval_start_s() * 1000)},
                      {"interval_start_s", rec.interval_start_s()},
                      {"interval_end_s", rec.interval_start_s() + interval_s},
                      {"import_wh", rec.import_wh()},
                      {"export_wh", rec.export_wh()},
                      {"readings", rec.readings()}});
      return true;
    });
    Reply(res, 200, {{"meter_id", id},
                     {"settlement_interval_s", interval_s},
                     {"intervals", list},
                     {"next_from", next},
                     {"last_reading", m->has_last_reading() ? ReadingJson(m->last_reading()) : json(nullptr)}});
  });

  s.Get(R"(/v1/meters/([^/]+)/battery)", [&c](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!ValidMeterId(id)) return ReplyError(res, Error(Code::kInvalidArgument, "not a valid meter id"));
    auto snap = c.store->Snapshot();
    auto m = LoadMeter(snap->reader(), id);
    if (!m) return ReplyError(res, Error(Code::kNotFound, "no meter '" + id + "' is registered"));
    auto b = LoadBattery(snap->reader(), id);
    if (!b) return ReplyError(res, Error(Code::kNotFound, "meter '" + id + "' is a " + std::string(MeterKindName(m->kind())) + ", not a vehicle: it has no battery"));
    json samples = json::array();
    const pb::BatteryHistory history = LoadBatteryHistory(snap->reader(), id);
    for (const auto& sample : history.samples()) {
      samples.push_back({{"day", sample.day()},
                         {"date", FormatRfc3339Ms(sample.day() * 86400000).substr(0, 10)},
                         {"soh_permille", sample.soh_permille()},
                         {"soc_permille", sample.soc_permille()},
                         {"export_wh", sample.export_wh()},
                         {"cycles_milli", sample.cycles_milli()}});
    }
    Reply(res, 200, {{"meter_id", id},
                     {"capacity_wh", b->capacity_wh()},
                     {"import_wh", b->import_wh()},
                     {"export_wh", b->export_wh()},
                     {"cycles_milli", b->cycles_milli()},
                     {"soc_permille", b->last_soc_permille()},
                     {"soh_permille", b->last_soh_permille()},
                     {"history", samples}});
  });

  s.Get(R"(/v1/meters/([^/]+))", [&c](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    if (!ValidMeterId(id)) return ReplyError(res, Error(Code::kInvalidArgument, "not a valid meter id"));
    auto snap = c.store->Snapshot();
    auto m = LoadMeter(snap->reader(), id);
    if (!m) return ReplyError(res, Error(Code::kNotFound, "no meter '" + id + "' is registered"));
    Reply(res, 200, MeterJson(snap->reader(), *m));
  });

  s.Get(R"(/v1/accounts/([^/]+))", [&c](const httplib::Request& req, httplib::Response& res) {
    std::string text = req.matches[1];
    auto addr = DecodeAddress(text);
    if (!addr.ok()) return ReplyError(res, addr.status());
    auto snap = c.store->Snapshot();
    pb::AccountRecord rec = LoadAccount(snap->reader(), *addr);
    json balances = json::array();
    for (const auto& coin : rec.balances()) balances.push_back(AmountJson(snap->reader(), coin.denom(), coin.amount()));
    Reply(res, 200,
          {{"address", EncodeAddress(*addr)},
           {"nonce", std::to_string(rec.nonce())},
           {"next_nonce", std::to_string(std::max(rec.nonce() + 1, c.mempool->NextNonce(*addr, c.store->state())))},
           {"balances", balances}});
  });

  // ---- energy market (contracts/market.h), node/api/market.cc
  api::AddMarketRoutes(s, c);
  // ---- grid services and aggregators (contracts/grid.h, contracts/pools.h), node/api/grid.cc
  api::AddGridRoutes(s, c);
}

}  // namespace v2g
