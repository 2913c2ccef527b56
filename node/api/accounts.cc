// HTTP API of accounts and denominations (docs/API.md "Endpoints"): balances and nonces, and the
// denominations with their supply. An account's orders, statement and debts are served by the
// market and grid files (market.cc, statement.cc).
#include <algorithm>

#include "contracts/escrow.h"
#include "contracts/grid.h"
#include "contracts/state.h"
#include "node/api/access.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "proto/encode.h"

namespace v2g::api {

void GetAccount(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto addr = DecodeAddress(std::string(req.matches[1]));
  if (!addr.ok()) return ReplyError(res, addr.status());
  // The market's module account (escrow) is the ledger's, public: its changes are the markets'
  // settlements, public anyway. The grid module's holds programs' and events' budgets: with one
  // program in a denomination its balance is that program's `remaining`, and its changes what the
  // program paid, which over few owners is theirs (docs/DESIGN.md "Totals over few owners"), so it
  // is the node's full readers' only. Any other account is its owner's.
  if (*addr == GridModuleAddress()) {
    if (!MayRead(c, {})) {
      return ReplyError(
          res,
          Error(Code::kPermissionDenied,
                "the balances of the grid module " + EncodeAddress(*addr) +
                    " are served to the node's full readers only: they hold programs' budgets, "
                    "and with one program in a denomination they would say what it paid"));
    }
  } else if (!IsModuleAddress(*addr)) {
    if (auto st = RequireReader(c, {AddressBytes(*addr)}, "the balances of " + EncodeAddress(*addr)); !st.ok()) {
      return ReplyError(res, st);
    }
  }
  auto snap = c.store->Snapshot();
  const KvReader& st = snap->reader();
  const pb::AccountRecord rec = LoadAccount(st, *addr);
  const uint64_t next_nonce =
      std::max(rec.nonce() + 1, c.mempool->NextNonce(*addr, c.store->state()));
  Reply(res, 200,
        {{"address", EncodeAddress(*addr)},
         {"nonce", std::to_string(rec.nonce())},
         {"next_nonce", std::to_string(next_nonce)},
         {"balances", JsonList(rec.balances(), [&](const pb::Coin& coin) {
            return AmountJson(st, coin.denom(), coin.amount());
          })}});
}

void ListDenoms(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  json list = json::array();
  snap->reader().Scan(kDenomPrefix, [&](std::string_view, std::string_view v) {
    list.push_back(DenomJson(snap->reader(), DecodeRecord<pb::DenomRecord>(std::string(v))));
    return true;
  });
  Reply(res, 200, {{"denominations", list}});
}

}  // namespace v2g::api
