#include "common/ids.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace rebound {
namespace {

// The next code point of well-formed UTF-8 at `s[*i]`, advancing `*i`.
uint32_t Next(std::string_view s, size_t* i) {
  const auto b = [&](size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(s[k]));
  };
  const uint32_t c = b(*i);
  if (c < 0x80) {
    *i += 1;
    return c;
  }
  if (c < 0xE0) {
    const uint32_t cp = (c & 0x1F) << 6 | (b(*i + 1) & 0x3F);
    *i += 2;
    return cp;
  }
  if (c < 0xF0) {
    const uint32_t cp =
        (c & 0x0F) << 12 | (b(*i + 1) & 0x3F) << 6 | (b(*i + 2) & 0x3F);
    *i += 3;
    return cp;
  }
  const uint32_t cp = (c & 0x07) << 18 | (b(*i + 1) & 0x3F) << 12 |
                      (b(*i + 2) & 0x3F) << 6 | (b(*i + 3) & 0x3F);
  *i += 4;
  return cp;
}

bool IsControl(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

// White space and the invisible characters that pass for it.
bool IsBlank(uint32_t cp) {
  return cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

}  // namespace

std::optional<std::string> IdProblem(std::string_view id, bool allow_slash,
                                     bool utf8_checked) {
  if (id.empty()) return "is required";
  if (!utf8_checked && !IsValidUtf8(id)) return "is not valid UTF-8";
  size_t chars = 0;
  bool blank = true;
  for (size_t i = 0; i < id.size();) {
    const uint32_t cp = Next(id, &i);
    ++chars;
    if (IsControl(cp)) return "may not contain control characters";
    if (cp == '/' && !allow_slash) return "may not contain '/'";
    blank = blank && IsBlank(cp);
  }
  if (chars > kMaxIdChars) {
    return absl::StrCat("is ", chars, " characters, at most ", kMaxIdChars);
  }
  if (blank) return "may not be only white space";
  return std::nullopt;
}

std::optional<std::string> TenantIdProblem(std::string_view t) {
  if (t.empty()) return "is required";
  bool ok = t.size() >= 2 && t.size() <= 63;
  for (size_t i = 0; ok && i < t.size(); ++i) {
    const char c = t[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = alnum || (c == '-' && i > 0);
  }
  if (!ok) {
    return "must be 2..63 characters of lowercase letters, digits and '-', "
           "starting with a letter or digit";
  }
  return std::nullopt;
}

}  // namespace rebound
