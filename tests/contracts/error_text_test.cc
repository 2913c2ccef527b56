// What a person reads when the ledger refuses something or reports what a tx did (issue 20): money
// in display units with its denomination, times as RFC 3339 in the market's time zone, never
// "minimal units" or a bare Unix time. The contracts write messages as templates with typed
// values (common/status.h Text); common/display.h renders them. Two checks:
// - a scan of every message the contracts can write (each Error(...), SetLog and set_log call in
//   contracts/*.cc) for wording that puts money or a time into the text as a raw number;
// - real refusals and logs from the contracts, rendered as the API renders them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/display.h"
#include "common/time.h"
#include "tests/contracts/ledger_fixture.h"

namespace v2g {
namespace {

using namespace testing_ledger;

// ------------------------------------------------------------------ the scan

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The argument text of the call whose '(' is at `open`, up to its matching ')' (string literals
// and character literals skipped).
std::string CallArguments(const std::string& src, size_t open) {
  int depth = 0;
  for (size_t i = open; i < src.size(); ++i) {
    const char c = src[i];
    if (c == '"' || c == '\'') {
      for (++i; i < src.size() && src[i] != c; ++i) {
        if (src[i] == '\\') ++i;
      }
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) return src.substr(open + 1, i - open - 1);
  }
  return src.substr(open);
}

struct Message {
  std::string file;
  int line;
  std::string text;  // the call's arguments
};

// Every message the contracts write: Error(Code::..., ...), SetLog(..., ...), ->set_log(...).
std::vector<Message> ContractMessages() {
  std::vector<Message> out;
  const std::filesystem::path dir = std::filesystem::path(V2G_SOURCE_DIR) / "contracts";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".cc") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    const std::string src = ReadFile(p);
    // Messages, logs, and the pieces of a message built as a list (open.push_back("...")).
    for (const std::string needle : {"Error(Code::", "SetLog(", "set_log(", "push_back(\""}) {
      for (size_t at = src.find(needle); at != std::string::npos; at = src.find(needle, at + 1)) {
        const size_t open = at + needle.find('(');
        const int line = static_cast<int>(std::count(src.begin(), src.begin() + static_cast<long>(at), '\n')) + 1;
        out.push_back({p.filename().string(), line, CallArguments(src, open)});
      }
    }
  }
  return out;
}

// The first number conversion (Num, UNum, std::to_string) in `text` of something named like money
// or a time, e.g. "Num(gate_s)", or "" when there is none: those go into a message as Text fields.
// Names of counts, ids and energy (Wh) are not matched.
std::string RawMoneyOrTime(const std::string& text) {
  static const std::regex kName(
      R"(\b\w+_s\b|_s\(\)|time_ms|\w+_ms\b|price|amount|budget|locked|escrow|collateral|refund|paid|balance|\bhave\b|\bneed\b|\bleft\b|\binterval\b|deadline|settled|\bt\b|\bnow\b|IntervalStart|\bstart\b|\bend\b|\bfrom\b|\bto\b)");
  for (const std::string conv : {"UNum(", "Num(", "std::to_string("}) {
    for (size_t at = text.find(conv); at != std::string::npos; at = text.find(conv, at + 1)) {
      // "Num(" inside "UNum(" or another name.
      if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_')) continue;
      const std::string args = CallArguments(text, at + conv.size() - 1);
      if (std::regex_search(args, kName)) return conv + args + ")";
    }
  }
  return "";
}

TEST(ContractMessages, NoneShowsMoneyOrTimeAsARawNumber) {
  const std::vector<Message> messages = ContractMessages();
  // The scan sees the contracts' messages: hundreds of them (a broken scan would pass vacuously).
  ASSERT_GT(messages.size(), 200u);
  int checked = 0;
  for (const Message& m : messages) {
    // Invariant breaches (kCorruption) are for the operator's log and the test that caught them,
    // never a person's tx; internal errors likewise.
    if (m.text.rfind("Code::kCorruption", 0) == 0 || m.text.rfind("Code::kInternal", 0) == 0) continue;
    ++checked;
    EXPECT_EQ(m.text.find("minimal unit"), std::string::npos)
        << m.file << ":" << m.line << " says 'minimal units': " << m.text;
    const std::string hit = RawMoneyOrTime(m.text);
    EXPECT_EQ(hit, "") << m.file << ":" << m.line << " writes " << hit
                       << " into the text; pass it as a Text field: " << m.text;
  }
  EXPECT_GT(checked, 150);
}

// The string literals of a C++ source line, outside its // comment. A ' after a letter or digit is
// a digit separator (1'000), not a character literal.
std::vector<std::string> StringLiterals(const std::string& line) {
  std::vector<std::string> out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '/' && i + 1 < line.size() && line[i + 1] == '/') break;
    if (line[i] == '\'') {
      if (i > 0 && std::isalnum(static_cast<unsigned char>(line[i - 1]))) continue;
      for (++i; i < line.size() && line[i] != '\''; ++i) {  // a character literal, e.g. '"'
        if (line[i] == '\\') ++i;
      }
      continue;
    }
    if (line[i] != '"') continue;
    std::string lit;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\') ++i;
      if (i < line.size()) lit += line[i];
    }
    out.push_back(lit);
  }
  return out;
}

// A file's string literals joined in order, lower case, runs of white space folded to one space:
// a phrase split over adjacent literals ("minimal " "units") reads whole.
std::string JoinedLiterals(const std::string& src, const std::vector<std::string>& allowed) {
  std::string all;
  std::istringstream in(src);
  for (std::string line; std::getline(in, line);) {
    for (const std::string& lit : StringLiterals(line)) {
      if (std::find(allowed.begin(), allowed.end(), lit) != allowed.end()) continue;
      for (char c : lit) {
        const char low = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (std::isspace(static_cast<unsigned char>(low))) {
          if (all.empty() || all.back() != ' ') all += ' ';
        } else {
          all += low;
        }
      }
    }
  }
  return all;
}

// What the wallet and the CLI print is rendered there: no string of theirs says "minimal units"
// (amounts go through FormatMoney / FormatCoin with the denomination's decimals).
TEST(WalletMessages, NoneSaysMinimalUnits) {
  // A battery profile file keeps its replacement cost in minimal units: a broken file says so
  // (the CLI checks what a person types in display units first, cli/v2g/battery.cc).
  const std::vector<std::string> allowed = {" minimal units"};
  int files = 0;
  size_t chars = 0;
  for (const char* sub : {"wallet", "cli/v2g"}) {
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(V2G_SOURCE_DIR) / sub)) {
      if (e.path().extension() != ".cc" && e.path().extension() != ".h") continue;
      ++files;
      const std::string rel = std::string(sub) + "/" + e.path().filename().string();
      const std::string text =
          JoinedLiterals(ReadFile(e.path()), rel == "wallet/battery_wear.cc" ? allowed : std::vector<std::string>{});
      chars += text.size();
      const size_t at = text.find("minimal unit");
      EXPECT_EQ(at, std::string::npos) << rel << " says: "
                                       << text.substr(at == std::string::npos ? 0 : at - std::min<size_t>(at, 60), 120);
    }
  }
  EXPECT_GE(files, 40);  // 48 files, ~44,000 characters of literals when written
  EXPECT_GT(chars, 30'000u);
  // The scan sees literals, skips comments and digit separators, and reads split phrases whole.
  EXPECT_EQ(StringLiterals(R"(f("a \" b", '"', "c"); // "minimal units")"), (std::vector<std::string>{"a \" b", "c"}));
  EXPECT_EQ(StringLiterals(R"(Num(1'000) + " Minimal units")"), (std::vector<std::string>{" Minimal units"}));
  EXPECT_EQ(JoinedLiterals("x = \"needs 5 Minimal  \"\n    \"units\";", {}), "needs 5 minimal units");
}

// The scan itself catches what it is for.
TEST(ContractMessages, TheScanCatchesRawMoneyAndTimes) {
  EXPECT_EQ(RawMoneyOrTime("\"gate at \" + Num(gate_s)"), "Num(gate_s)");
  EXPECT_EQ(RawMoneyOrTime("\"closed at \" + Num(ev->enrollment_deadline_s())"), "Num(ev->enrollment_deadline_s())");
  EXPECT_EQ(RawMoneyOrTime("Num(locked) + \" CNY locked\""), "Num(locked)");
  EXPECT_EQ(RawMoneyOrTime("std::to_string(body.fee().amount())"), "std::to_string(body.fee().amount())");
  EXPECT_EQ(RawMoneyOrTime("Num(static_cast<int64_t>(settles_ms / 1000))"), "Num(static_cast<int64_t>(settles_ms / 1000))");
  EXPECT_EQ(RawMoneyOrTime("\"order \" + UNum(id) + \" is \""), "");
  EXPECT_EQ(RawMoneyOrTime("Num(energy_wh) + \" Wh\""), "");
  EXPECT_EQ(RawMoneyOrTime("\"next start \" + Num(NextIntervalStart(ctx, len))"), "Num(NextIntervalStart(ctx, len))");
  EXPECT_EQ(RawMoneyOrTime("\"from \" + Num(settled_before)"), "Num(settled_before)");
}

// ------------------------------------------------------------------ real messages, rendered

// As the API renders them for a chain whose CNY has 2 decimals, in China's time zone.
DisplayUnits ChinaUnits() {
  DisplayUnits u;
  u.decimals = [](const std::string& denom) -> std::optional<uint32_t> {
    if (denom == "CNY") return 2;
    if (denom == "PTS") return 0;
    return std::nullopt;
  };
  u.utc_offset_min = 8 * 60;
  return u;
}

std::string Shown(const pb::TxResult& r) {
  std::vector<TextField> fields;
  for (const pb::TextField& f : r.log_fields()) {
    fields.push_back({f.name(), static_cast<TextField::Kind>(f.kind()), f.value(), f.denom()});
  }
  return DisplayText(r.log_fields().empty() ? r.log() : r.log_template(), fields, ChinaUnits());
}

// No "minimal units", no run of 9 or more digits (a Unix time, or money in minimal units).
void ExpectReadable(const std::string& shown) {
  EXPECT_EQ(shown.find("minimal unit"), std::string::npos) << shown;
  EXPECT_FALSE(std::regex_search(shown, std::regex(R"(\d{9,})"))) << shown;
}

class ErrorTextTest : public LedgerFixture {};

TEST_F(ErrorTextTest, InsufficientCollateralSaysWhatForInYuan) {
  RegisterMeter("ev-c", 32, AddrOf(carol_), 20000);
  // 5 kWh at 1.00 CNY/kWh: 0.50 CNY of collateral at 10 %; carol has 0.03 CNY.
  const pb::TxResult r = Run(carol_, MakePlaceOrder(0, pb::SIDE_SELL, "GD-SZ", kS, 5000, 100, "ev-c"));
  ASSERT_EQ(CodeOf(r), Code::kInsufficientFunds) << r.log();
  EXPECT_EQ(Shown(r), EncodeAddress(AddrOf(carol_)) + " needs 0.50 CNY of collateral for this sell and has 0.03 CNY");
  ExpectReadable(Shown(r));
  // Machines keep minimal units: the values travel beside the text.
  ASSERT_EQ(r.log_fields_size(), 2);
  EXPECT_EQ(r.log_fields(0).name(), "need");
  EXPECT_EQ(r.log_fields(0).value(), 50);
  EXPECT_EQ(r.log_fields(0).denom(), "CNY");
  EXPECT_EQ(r.log_fields(1).value(), 3);
}

TEST_F(ErrorTextTest, GateClosedSaysWhenAndTheNextOpenInterval) {
  At(kS - 200);  // 100 s past gate closure of kS (300 s before it)
  const pb::TxResult r = Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 100));
  ASSERT_EQ(CodeOf(r), Code::kGateClosed) << r.log();
  const std::string local = [](int64_t s) { return FormatRfc3339LocalMs(s * 1000, 480); }(kS);
  EXPECT_NE(Shown(r).find("orders for the interval starting " + local + " closed at " +
                          FormatRfc3339LocalMs((kS - kGate) * 1000, 480) + ", 5 minutes before it"),
            std::string::npos)
      << Shown(r);
  // The next interval whose gate is still open: kS + 900 (its gate is at kS + 600 > now).
  EXPECT_NE(Shown(r).find("the next interval still open starts at " + FormatRfc3339LocalMs((kS + kLen) * 1000, 480)),
            std::string::npos)
      << Shown(r);
  EXPECT_NE(Shown(r).find("+08:00"), std::string::npos);
  ExpectReadable(Shown(r));
}

TEST_F(ErrorTextTest, MarketNotOpenSaysWhenItOpens) {
  const int64_t far = kT0 + 2 * 86400;
  const pb::TxResult r = Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", far, 1000, 100));
  ASSERT_EQ(CodeOf(r), Code::kMarketNotOpen) << r.log();
  EXPECT_NE(Shown(r).find("open at " + FormatRfc3339LocalMs((far - 86400) * 1000, 480) + ", 24 hours before it"),
            std::string::npos)
      << Shown(r);
  EXPECT_NE(Shown(r).find("the latest interval open now starts at " + FormatRfc3339LocalMs((kT0 + 86400) * 1000, 480)),
            std::string::npos)
      << Shown(r);
  ExpectReadable(Shown(r));
}

TEST_F(ErrorTextTest, SuccessLogsShowLockedAndRefundedMoneyInYuan) {
  const pb::TxResult placed = Run(alice_, MakePlaceOrder(0, pb::SIDE_BUY, "GD-SZ", kS, 1000, 5));
  ASSERT_EQ(CodeOf(placed), Code::kOk) << placed.log();
  // 1 kWh at 0.05 CNY/kWh locks 0.05 CNY (5 minimal units): the issue's "5 CNY locked".
  EXPECT_EQ(Shown(placed), "buy order " + std::to_string(placed.created_id()) + " placed; 0.05 CNY locked");
  const pb::TxResult cancelled = Run(alice_, MakeCancelOrder(0, placed.created_id()));
  ASSERT_EQ(CodeOf(cancelled), Code::kOk) << cancelled.log();
  EXPECT_EQ(Shown(cancelled), "order " + std::to_string(placed.created_id()) + " cancelled; 0.05 CNY refunded");
}

TEST_F(ErrorTextTest, AcceptingAContractTheProposerCannotCoverNamesNoAmountsOfTheProposer) {
  RegisterMeter("ev-c", 32, AddrOf(carol_), 20000);
  // carol (0.03 CNY) proposes to sell 5 kWh at 1.00 CNY to alice: 0.50 CNY of collateral she
  // cannot cover. alice's accept is refused without showing carol's balance.
  const pb::TxResult proposed =
      Run(carol_, MakeProposeContract(0, AddrOf(alice_), pb::SIDE_SELL, "GD-SZ", kS, 5000, 100, "ev-c"));
  ASSERT_EQ(CodeOf(proposed), Code::kOk) << proposed.log();
  const pb::TxResult r = Run(alice_, MakeAcceptContract(0, proposed.created_id()));
  ASSERT_EQ(CodeOf(r), Code::kInsufficientFunds) << r.log();
  EXPECT_EQ(r.log_fields_size(), 0) << r.log();
  EXPECT_EQ(r.log().find(EncodeAddress(AddrOf(carol_))), std::string::npos) << r.log();
  EXPECT_NE(r.log().find("the seller of contract"), std::string::npos) << r.log();
}

TEST(DisplayText, RendersEachKindAndLeavesUnknownPlaceholders) {
  const Text t = Text("{a} at {t} ({ms}); {unknown} stays; {a} twice")
                     .Amount("a", "CNY", 79992)
                     .Time("t", 1795658400)
                     .TimeMs("ms", int64_t{1795658400} * 1000 + 5);
  EXPECT_EQ(DisplayText(t, ChinaUnits()),
            "799.92 CNY at 2026-11-26T10:00:00+08:00 (2026-11-26T10:00:00.005+08:00); {unknown} stays; 799.92 CNY twice");
  EXPECT_EQ(t.plain(),
            "79992 CNY (minimal units) at 2026-11-26T02:00:00Z (2026-11-26T02:00:00.005Z); {unknown} stays; 79992 CNY "
            "(minimal units) twice");
  // A denomination nobody defined, a time outside what a date shows: said as what they are.
  EXPECT_EQ(DisplayField({"x", TextField::Kind::kAmount, 12, "XYZ"}, ChinaUnits()), "12 units of XYZ");
  EXPECT_EQ(DisplayField({"x", TextField::Kind::kTime, -5, ""}, ChinaUnits()), "Unix time -5");
  // A value that looks like a placeholder is not filled again.
  EXPECT_EQ(FillText("{a}{b}", {{"a", TextField::Kind::kAmount, 1, "{b}"}, {"b", TextField::Kind::kAmount, 2, "X"}},
                     [](const TextField& f) { return f.denom; }),
            "{b}X");
}

}  // namespace
}  // namespace v2g
