// UTF-8 checks for the strings of an event.
#ifndef REBOUND_COMMON_UTF8_H_
#define REBOUND_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace rebound {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF): what protobuf requires of a proto3 string.
bool IsValidUtf8(std::string_view text);

// Number of code points in well-formed UTF-8 `text`.
size_t CountCodePoints(std::string_view text);

// The longest prefix of UTF-8 `text` of at most `max_bytes` that does not
// end inside a character.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace rebound

#endif  // REBOUND_COMMON_UTF8_H_
