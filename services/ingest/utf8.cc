#include "services/ingest/utf8.h"

#include <emmintrin.h>  // SSE2, part of every x86-64.

#include <bit>
#include <cstdint>
#include <cstring>

namespace rebound::ingest {
namespace {

bool Continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

// Well-formed sequences as in the Unicode standard, table 3-7: the second
// byte's range depends on the first so that overlongs, surrogates and code
// points above U+10FFFF are refused.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    // ASCII, the common case, sixteen or eight bytes at a time.
    if (end - p >= 16 && _mm_movemask_epi8(_mm_loadu_si128(
                             reinterpret_cast<const __m128i*>(p))) == 0) {
      p += 16;
      continue;
    }
    if (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, sizeof(word));
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    if (c < 0xC2) return false;  // A continuation byte or an overlong lead.
    if (c < 0xE0) {
      if (end - p < 2 || !Continuation(p[1])) return false;
      p += 2;
      continue;
    }
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0xF0) {
      if (c == 0xE0) lo = 0xA0;  // Overlong below.
      if (c == 0xED) hi = 0x9F;  // Surrogates above.
      if (end - p < 3 || p[1] < lo || p[1] > hi || !Continuation(p[2])) {
        return false;
      }
      p += 3;
      continue;
    }
    if (c > 0xF4) return false;
    if (c == 0xF0) lo = 0x90;  // Overlong below.
    if (c == 0xF4) hi = 0x8F;  // Above U+10FFFF.
    if (end - p < 4 || p[1] < lo || p[1] > hi || !Continuation(p[2]) ||
        !Continuation(p[3])) {
      return false;
    }
    p += 4;
  }
  return true;
}

// Every byte but the continuation bytes (0x80..0xBF) starts a code point.
size_t CountCodePoints(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  size_t continuations = 0;
  // As signed bytes, continuation bytes are exactly those below -64.
  const __m128i below = _mm_set1_epi8(-64);
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    continuations += static_cast<size_t>(std::popcount(
        static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmplt_epi8(v, below)))));
  }
  for (; p < end; ++p) continuations += Continuation(*p);
  return s.size() - continuations;
}

}  // namespace rebound::ingest
