// A small, strict JSON reader (RFC 8259) for signed data that consensus must read the same way on
// every node: OCMF meter records (common/ocmf.h). It exists instead of a general JSON library
// because a signed document must have exactly one meaning:
//   - duplicate keys in an object are refused (another parser could read the other value);
//   - numbers are kept as their exact text and never converted to floating point (the caller
//     parses the digits it needs with integer arithmetic);
//   - strings must be valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
//     and their escapes must decode to valid code points (no lone surrogates);
//   - everything is bounded (nesting depth, string bytes, number characters, members, items).
// No locale, no allocation beyond the value tree, no exceptions. Errors name the byte offset.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace v2g {

struct JsonMember;

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  // kString: the decoded UTF-8 content. kNumber: the number exactly as written ("2935.60").
  std::string text;
  std::vector<JsonValue> items;                            // kArray, in order
  // kObject, in document order. A struct rather than std::pair<std::string, JsonValue>: a pair
  // needs JsonValue complete where it is named, which clang with libstdc++ enforces here.
  std::vector<JsonMember> members;

  // The member named `key` of an object, or null (also when this is not an object).
  const JsonValue* Find(std::string_view key) const;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// "object", "string", ... for error messages.
std::string_view JsonTypeName(JsonValue::Type type);

struct JsonLimits {
  size_t depth_max = 8;            // nested objects and arrays; the root is depth 1
  size_t string_bytes_max = 1024;  // per string or key, decoded
  size_t number_chars_max = 32;    // per number token
  size_t members_max = 64;         // per object
  size_t items_max = 64;           // per array
};

// Parses `text` as exactly one JSON value, optionally surrounded by JSON whitespace. Errors:
// kMalformed (syntax, duplicate key, bad UTF-8; the message names the byte offset), kTooLarge
// (a limit in `limits`).
Result<JsonValue> ParseStrictJson(std::string_view text, const JsonLimits& limits);

}  // namespace v2g
