// How the v2g CLI prints: JSON as is, "key  value" rows, tables, and the text of the fields of a
// node's JSON answer (money, energy, times). Every reader of an answer's field tolerates a missing
// or mistyped field ("?", "-", "" or 0) rather than failing: the node is not trusted to be perfect.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "wallet/client.h"
#include "wallet/market.h"

namespace v2g::cli {

using json = nlohmann::json;
using Rows = std::vector<std::pair<std::string, std::string>>;

class Context;

// `j` on stdout, indented by two.
void PrintJson(const json& j);
// Whether PrintJson ran in this process: a command that printed its result object (a tx that
// committed but failed) has said it all, and main prints no second object for its error.
bool PrintedJson();
// "key  value" rows with the values in one column.
void PrintRows(const Rows& rows);
// A table (wallet/market.h FormatTable) with the columns in `right` right-aligned.
void PrintTable(const std::vector<std::vector<std::string>>& rows,
                const std::vector<size_t>& right);

// Lines "12.50 CNY" of {display, denom} with the decimal points of all amounts in one column.
std::vector<std::string> AlignAmounts(const Rows& amounts);
// "name (address)", or the address alone when `key_name` is empty.
std::string AccountLabel(const std::string& address, const std::string& key_name);

// Reads the market's time zone from the node once (GET /v1/params), so times print in it
// (wallet/market.h FormatTimeS); a node that does not say keeps UTC.
void LoadDisplayZone(ApiClient& client);

// GETs `path` from the node and prints the answer: as is with --output json, else through
// `print_text` (which may fail, e.g. on a further request).
Status ShowAnswer(Context& ctx, const std::string& path,
                  const std::function<Status(const json&)>& print_text);

// ---- fields of a node's JSON answer

// A string field as is, any other value as JSON text, "" when missing or null.
std::string JsonText(const json& j, const char* key);
// An integer field, 0 when missing or not an integer.
int64_t JsonInt(const json& j, const char* key);
// Minimal units of a money field {"amount": "123", ...} (or a bare amount), 0 when missing.
int64_t MoneyUnits(const json& j, const char* key);
// Minimal units as the node sends them (an integer, or a decimal string of one): anything else,
// including a number past int64, is an error naming `what` (a node's answer is not trusted).
Result<int64_t> ParseUnits(const json& v, const std::string& what);
// A money field {"denom", "amount", "display"} as "12.50 CNY" ("?" when missing).
std::string MoneyText(const json& j, const char* key);
// As MoneyText, per kWh: "0.85 CNY/kWh".
std::string PriceText(const json& j, const char* key);
// An integer Wh field as "1.500 kWh" ("?" when missing); KwhText as FormatKwh (0 when missing).
std::string Wh(const json& j, const char* key);
std::string KwhText(const json& j, const char* key);
// What MoneyText, KwhText and Wh print for a total the node hid from this reader (the key is
// there, null, and the object says "private": true).
inline constexpr const char* kHiddenText = "hidden";
// "(totals hidden: <the node's reason>)" when the node hid an event's, program's or pool's
// totals from this reader (docs/API.md "Totals over few owners"), else "".
std::string HiddenTotalsNote(const json& j);
// "interval_start_s" as an RFC 3339 time; TimeText any Unix-seconds field ("-" when missing).
std::string IntervalText(const json& j);
std::string TimeText(const json& j, const char* key_s);
// An RFC 3339 text field (as the API writes times: UTC) in the market's time zone, to the second;
// the text as it is when it is not a time, "-" when missing.
std::string LocalTimeText(const json& j, const char* key);
std::string LocalTime(const std::string& rfc3339);

// `units` of the market denomination as {"denom", "amount", "display"}.
json MoneyJson(int64_t units, const MarketParams& p);

}  // namespace v2g::cli
