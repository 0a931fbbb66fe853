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

}  // namespace rebound

#endif  // REBOUND_COMMON_UTF8_H_
