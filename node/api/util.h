// Helpers shared by the HTTP API's handler files (node/api/api.cc, node/api/market.cc,
// node/api/grid.cc): the error
// shape, strict query-parameter parsing and the JSON renderings every endpoint uses alike.
// Internal to node/; docs/API.md is the contract with clients.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "contracts/kv.h"
#include "node/api/api.h"

namespace v2g::api {

using json = nlohmann::json;

// {"error": {"code": "<name>", "code_num": n, "message": ...}}.
json ErrorBody(Code code, const std::string& message);
void Reply(httplib::Response& res, int status, const json& body);
// The HTTP status that goes with `st`'s code (400 for input errors, 404, 409, ...).
void ReplyError(httplib::Response& res, const Status& st);

// A 20-byte address as bech32m; anything else as hex (never fails).
std::string AddressText(const std::string& raw);

// Strict non-negative integer parsing of a query or path parameter: digits only (at most 18),
// within [lo, hi]. The error names `name`.
Result<int64_t> ParseInt(const std::string& name, const std::string& text, int64_t lo, int64_t hi);

// {"denom", "amount" (string, minimal units), "display" (human units)}.
json AmountJson(const KvReader& state, const std::string& denom, int64_t amount);

// Market routes (node/api/market.cc): /v1/params, /v1/markets..., /v1/orders/{id},
// /v1/contracts/{id}, /v1/accounts/{address}/orders, /v1/trades, /v1/settlements.
void AddMarketRoutes(httplib::Server& s, ApiContext& c);
// The "op" object of a market tx (place_order, cancel_order, propose_contract, accept_contract,
// cancel_contract); prices render in the market denomination read from `state`.
json MarketOpJson(const KvReader& state, const pb::TxBody& body);

// Grid routes (node/api/grid.cc): /v1/tariffs/{zone}, /v1/events..., /v1/pools...,
// /v1/programs..., /v1/accounts/{address}/statement, /v1/accounts/{address}/debts.
void AddGridRoutes(httplib::Server& s, ApiContext& c);
// True for the ops GridOpJson renders (contracts/grid.h and contracts/pools.h txs).
bool IsGridTxOp(pb::TxBody::OpCase op);
// The "op" object of a grid or pool tx (set_tariff, enroll_tariff, pay_debt, create_event,
// enroll_event, create_program, join_program, create_pool, join_pool, leave_pool); tariff and
// event prices render in the market denomination read from `state`.
json GridOpJson(const KvReader& state, const pb::TxBody& body);

}  // namespace v2g::api
