#include "common/strict_json.h"

#include <cstdint>

#include "common/assert.h"

namespace v2g {

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (type != Type::kObject) return nullptr;
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view JsonTypeName(JsonValue::Type type) {
  switch (type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return "boolean";
    case JsonValue::Type::kNumber:
      return "number";
    case JsonValue::Type::kString:
      return "string";
    case JsonValue::Type::kArray:
      return "array";
    case JsonValue::Type::kObject:
      return "object";
  }
  return "?";
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  V2G_ASSERT(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  Parser(std::string_view text, const JsonLimits& limits) : t_(text), limits_(limits) {}

  Result<JsonValue> ParseDocument() {
    JsonValue root;
    SkipSpace();
    V2G_RETURN_IF_ERROR(ParseValue(root, 1));
    SkipSpace();
    if (pos_ != t_.size()) return Bad("unexpected text after the JSON value");
    return root;
  }

 private:
  Status Bad(const std::string& what) const {
    return Error(Code::kMalformed, "JSON: " + what + " at byte " + std::to_string(pos_));
  }
  Status Large(const std::string& what) const {
    return Error(Code::kTooLarge, "JSON: " + what + " at byte " + std::to_string(pos_));
  }
  bool AtEnd() const { return pos_ >= t_.size(); }
  char Peek() const { return AtEnd() ? '\0' : t_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() &&
           (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r'))
      ++pos_;
  }
  bool Literal(std::string_view word) {
    if (t_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status ParseValue(JsonValue& out, size_t depth) {
    switch (Peek()) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"':
        out.type = JsonValue::Type::kString;
        return ParseString(out.text);
      case 't':
      case 'f':
        out.type = JsonValue::Type::kBool;
        out.boolean = Peek() == 't';
        return Literal(out.boolean ? "true" : "false") ? Status::Ok() : Bad("invalid literal");
      case 'n':
        out.type = JsonValue::Type::kNull;
        return Literal("null") ? Status::Ok() : Bad("invalid literal");
      default:
        if (Peek() == '-' || IsDigit(Peek())) return ParseNumber(out);
        return AtEnd() ? Bad("unexpected end of text") : Bad("unexpected character");
    }
  }

  Status ParseObject(JsonValue& out, size_t depth) {
    if (depth > limits_.depth_max)
      return Large("nesting deeper than " + std::to_string(limits_.depth_max));
    out.type = JsonValue::Type::kObject;
    ++pos_;  // '{'
    SkipSpace();
    if (Peek() == '}') {
      ++pos_;
      return Status::Ok();
    }
    for (;;) {
      if (Peek() != '"') return Bad("expected a key string");
      const size_t key_pos = pos_;
      std::string key;
      V2G_RETURN_IF_ERROR(ParseString(key));
      for (const auto& m : out.members) {
        // Another parser might keep the other value: a signed document must have one meaning.
        if (m.key == key) {
          pos_ = key_pos;
          return Bad("duplicate key \"" + key + "\"");
        }
      }
      if (out.members.size() == limits_.members_max)
        return Large("more than " + std::to_string(limits_.members_max) + " members in an object");
      SkipSpace();
      if (Peek() != ':') return Bad("expected ':'");
      ++pos_;
      SkipSpace();
      out.members.push_back(JsonMember{std::move(key), JsonValue{}});
      V2G_RETURN_IF_ERROR(ParseValue(out.members.back().value, depth + 1));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return Status::Ok();
      }
      return Bad("expected ',' or '}'");
    }
  }

  Status ParseArray(JsonValue& out, size_t depth) {
    if (depth > limits_.depth_max)
      return Large("nesting deeper than " + std::to_string(limits_.depth_max));
    out.type = JsonValue::Type::kArray;
    ++pos_;  // '['
    SkipSpace();
    if (Peek() == ']') {
      ++pos_;
      return Status::Ok();
    }
    for (;;) {
      if (out.items.size() == limits_.items_max)
        return Large("more than " + std::to_string(limits_.items_max) + " items in an array");
      out.items.emplace_back();
      V2G_RETURN_IF_ERROR(ParseValue(out.items.back(), depth + 1));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return Status::Ok();
      }
      return Bad("expected ',' or ']'");
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, kept as text.
  Status ParseNumber(JsonValue& out) {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (IsDigit(Peek())) {
      while (IsDigit(Peek())) ++pos_;
    } else {
      return Bad("invalid number");
    }
    if (Peek() == '.') {
      ++pos_;
      if (!IsDigit(Peek())) return Bad("invalid number: no digit after '.'");
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) return Bad("invalid number: no digit in the exponent");
      while (IsDigit(Peek())) ++pos_;
    }
    if (IsDigit(Peek())) return Bad("invalid number: leading zero");
    if (pos_ - start > limits_.number_chars_max) {
      pos_ = start;
      return Large("number longer than " + std::to_string(limits_.number_chars_max) +
                   " characters");
    }
    out.type = JsonValue::Type::kNumber;
    out.text = std::string(t_.substr(start, pos_ - start));
    return Status::Ok();
  }

  // Four hex digits after "\u".
  bool ReadHex4(uint32_t& out) {
    if (t_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int v = HexValue(t_[pos_ + i]);
      if (v < 0) return false;
      out = out * 16 + static_cast<uint32_t>(v);
    }
    pos_ += 4;
    return true;
  }

  Status ParseEscape(std::string& out) {
    ++pos_;  // '\'
    const char c = Peek();
    ++pos_;
    switch (c) {
      case '"':
        out += '"';
        return Status::Ok();
      case '\\':
        out += '\\';
        return Status::Ok();
      case '/':
        out += '/';
        return Status::Ok();
      case 'b':
        out += '\b';
        return Status::Ok();
      case 'f':
        out += '\f';
        return Status::Ok();
      case 'n':
        out += '\n';
        return Status::Ok();
      case 'r':
        out += '\r';
        return Status::Ok();
      case 't':
        out += '\t';
        return Status::Ok();
      case 'u':
        break;
      default:
        --pos_;
        return Bad("invalid escape");
    }
    uint32_t cp = 0;
    if (!ReadHex4(cp)) return Bad("invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Bad("lone low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = 0;
      if (!Literal("\\u") || !ReadHex4(low) || low < 0xDC00 || low > 0xDFFF)
        return Bad("high surrogate not followed by a low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(out, cp);
    return Status::Ok();
  }

  // One UTF-8 sequence starting at pos_ (first byte >= 0x80), validated and copied.
  Status CopyUtf8(std::string& out) {
    const auto b0 = static_cast<uint8_t>(t_[pos_]);
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return Bad("invalid UTF-8");
    }
    if (t_.size() - pos_ < len) return Bad("truncated UTF-8");
    for (size_t i = 1; i < len; ++i) {
      const auto b = static_cast<uint8_t>(t_[pos_ + i]);
      if ((b & 0xC0) != 0x80) return Bad("invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return Bad("invalid UTF-8 (overlong, surrogate or past U+10FFFF)");
    out.append(t_.substr(pos_, len));
    pos_ += len;
    return Status::Ok();
  }

  Status ParseString(std::string& out) {
    V2G_ASSERT(Peek() == '"');
    ++pos_;
    out.clear();
    for (;;) {
      if (AtEnd()) return Bad("unterminated string");
      if (out.size() > limits_.string_bytes_max)
        return Large("string longer than " + std::to_string(limits_.string_bytes_max) + " bytes");
      const auto c = static_cast<uint8_t>(t_[pos_]);
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c < 0x20) return Bad("control character in a string");
      if (c == '\\') {
        V2G_RETURN_IF_ERROR(ParseEscape(out));
      } else if (c >= 0x80) {
        V2G_RETURN_IF_ERROR(CopyUtf8(out));
      } else {
        out += static_cast<char>(c);
        ++pos_;
      }
    }
    if (out.size() > limits_.string_bytes_max)
      return Large("string longer than " + std::to_string(limits_.string_bytes_max) + " bytes");
    return Status::Ok();
  }

  std::string_view t_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
};

}  // namespace

Result<JsonValue> ParseStrictJson(std::string_view text, const JsonLimits& limits) {
  V2G_ASSERT(limits.depth_max >= 1);
  return Parser(text, limits).ParseDocument();
}

}  // namespace v2g
