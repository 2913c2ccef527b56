// The strict JSON reader (common/strict_json.h): one meaning per document, exact numbers, bounds.

#include "common/strict_json.h"

#include <gtest/gtest.h>

#include <string>

namespace v2g {
namespace {

Result<JsonValue> Parse(std::string_view text) { return ParseStrictJson(text, JsonLimits{}); }

TEST(StrictJsonTest, ReadsValuesAndKeepsNumbersAsWritten) {
  auto v = Parse(" {\"a\": [1, -0.50, 2E+3, true, false, null], \"b\": \"x\\u00e9\\n\"} ");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->type, JsonValue::Type::kObject);
  const JsonValue* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items.size(), 6u);
  EXPECT_EQ(a->items[0].text, "1");
  EXPECT_EQ(a->items[1].text, "-0.50");
  EXPECT_EQ(a->items[2].text, "2E+3");
  EXPECT_TRUE(a->items[3].boolean);
  EXPECT_EQ(a->items[5].type, JsonValue::Type::kNull);
  EXPECT_EQ(v->Find("b")->text, "x\xc3\xa9\n");
  EXPECT_EQ(v->Find("c"), nullptr);
  auto pair = Parse("\"\\ud83d\\ude00\"");  // a surrogate pair -> U+1F600
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->text, "\xf0\x9f\x98\x80");
}

TEST(StrictJsonTest, RefusesWhatAnotherParserMightReadDifferently) {
  for (const char* bad : {
           "{\"a\":1,\"a\":2}",        // duplicate key
           "{\"a\":1,\"\\u0061\":2}",  // the same key, escaped
           "{\"a\":1,}",               // trailing comma
           "[1,]",
           "01",  // leading zero
           "1.",  // no fraction digits
           ".5",
           "+1",
           "1e",
           "NaN",
           "\"\\ud800\"",           // lone high surrogate
           "\"\\udc00\"",           // lone low surrogate
           "\"\xc0\xaf\"",          // overlong UTF-8
           "\"\xed\xa0\x80\"",      // UTF-8 encoded surrogate
           "\"\xf4\x90\x80\x80\"",  // past U+10FFFF
           "\"a\tb\"",              // raw control character
           "\"\\x41\"",             // not a JSON escape
           "{\"a\":1} {}",          // two values
           "{'a':1}",
           "tru",
           "",
       }) {
    auto v = Parse(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), Code::kMalformed) << bad;
    }
  }
}

TEST(StrictJsonTest, EveryLimitHolds) {
  JsonLimits l;
  l.depth_max = 2;
  l.string_bytes_max = 4;
  l.number_chars_max = 3;
  l.members_max = 2;
  l.items_max = 2;
  EXPECT_TRUE(ParseStrictJson("[[1]]", l).ok());
  EXPECT_EQ(ParseStrictJson("[[[1]]]", l).status().code(), Code::kTooLarge);
  EXPECT_TRUE(ParseStrictJson("\"abcd\"", l).ok());
  EXPECT_EQ(ParseStrictJson("\"abcde\"", l).status().code(), Code::kTooLarge);
  EXPECT_EQ(ParseStrictJson("\"\\u00e9\\u00e9\\u00e9\"", l).status().code(), Code::kTooLarge);
  EXPECT_TRUE(ParseStrictJson("123", l).ok());
  EXPECT_EQ(ParseStrictJson("1234", l).status().code(), Code::kTooLarge);
  EXPECT_EQ(ParseStrictJson("{\"a\":1,\"b\":2,\"c\":3}", l).status().code(), Code::kTooLarge);
  EXPECT_EQ(ParseStrictJson("[1,2,3]", l).status().code(), Code::kTooLarge);
  // Deep nesting costs nothing: refused at the limit, never recursed into.
  EXPECT_EQ(Parse(std::string(100000, '[')).status().code(), Code::kTooLarge);
}

}  // namespace
}  // namespace v2g
