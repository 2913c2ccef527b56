// The one path every v2g command that writes to the chain takes: fee and memo, the signer's
// passphrase, signature, submission, waiting for the commit and the report (text rows or one JSON
// object). A command only builds its tx body and says in words what it asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/v2g/context.h"
#include "cli/v2g/output.h"
#include "wallet/client.h"
#include "wallet/tx_builder.h"

namespace v2g::cli {

// The options of a tx command (AddTxOptions) and the arguments of send, mint and burn.
struct TxArgs {
  std::string to;
  std::string amount;
  std::string denom;
  std::string from;
  std::string fee;
  std::string memo;
  bool no_wait = false;
};

// What the user asked for, in words and as JSON, for the report after submitting.
struct TxDescription {
  // What is asked, as a command: "Send 12.50 CNY from alice to bob (v2g1...)". The report says
  // whether it happened: "Submitted, not yet committed: ..." with --no-wait.
  std::string summary;
  json op;
  json fee = nullptr;
  Rows details;  // rows printed before the tx's
  // Set once the tx committed successfully: rows after the result, fields added to the JSON.
  Rows results;
  json result_json = json::object();
};

// Adds what a committed, successful tx created (ids, locked amounts) to the report.
using AfterCommit = std::function<void(ApiClient&, const SubmitResult&, TxDescription&)>;

bool ValidUtf8(std::string_view s);
std::string Upper(std::string s);
// "ok", or "failed: <code name>: <log>".
std::string ResultText(uint32_t code, const std::string& code_name, const std::string& log);

// A node's message with each tx field this wallet sets from an option named by the option:
// "battery_capacity_wh must be ..." -> "--capacity-wh [battery_capacity_wh] must be ...".
std::string NameFlags(const std::string& message);

// Sets --fee (parsed against `denoms`, the report's fee too) and --memo on `body`.
Status SetFeeAndMemo(const TxArgs& a, const std::vector<DenomInfo>& denoms, pb::TxBody& body,
                     TxDescription& d);

// Asks for the passphrase of --from, signs `body` with it, submits, waits for the commit unless
// --no-wait, runs `after` (may be null) on a committed successful tx and reports. An error when
// the tx failed or did not commit in time (and was waited for).
Status SignSubmitReport(Context& ctx, ApiClient& client, const TxArgs& a, pb::TxBody body,
                        TxDescription d, const AfterCommit& after);

// The whole path for a body that needs nothing else from the node: checks --from and --memo,
// fetches the denominations only for a --fee, then SignSubmitReport.
Status SubmitTx(Context& ctx, const TxArgs& a, pb::TxBody body, TxDescription d,
                const AfterCommit& after = nullptr);

// An AfterCommit for create txs: the created id as result row `what` (and JSON field
// "<what>_id"), and when `next` is set a row "next" with the command to run next.
AfterCommit CreatedId(const std::string& what, std::function<std::string(const std::string&)> next);

}  // namespace v2g::cli
