#include "common/utf8.h"

#include <emmintrin.h>  // SSE2, part of every x86-64.

#include <cstdint>
#include <cstring>

namespace rebound {
namespace {

bool Continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// No byte of p[0..n) is above 0x7F. Most strings of an event are short ASCII:
// a short one is read in two overlapping words, a long one sixteen bytes at a
// time, with no loop over its tail.
bool AllAscii(const unsigned char* p, size_t n) {
  if (n >= 16) {
    __m128i any = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
    for (size_t i = 0; i + 16 <= n; i += 16) {
      any = _mm_or_si128(
          any, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    }
    return _mm_movemask_epi8(any) == 0;
  }
  uint64_t bits = 0;
  if (n >= 8) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
    bits = a | b;
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    bits = a | b;
  } else {
    for (size_t i = 0; i < n; ++i) bits |= p[i];
  }
  return (bits & 0x8080808080808080ULL) == 0;
}

}  // namespace

// Well-formed sequences as in the Unicode standard, table 3-7: the second
// byte's range depends on the first so that overlongs, surrogates and code
// points above U+10FFFF are refused.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  if (AllAscii(p, s.size())) return true;
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
  if (AllAscii(p, s.size())) return s.size();
  const auto* const end = p + s.size();
  // As signed bytes, continuation bytes are exactly those below -64; each
  // one's 0xFF & 1 is summed by psadbw into two 64-bit lanes (no popcount
  // instruction is assumed).
  const __m128i below = _mm_set1_epi8(-64);
  const __m128i one = _mm_set1_epi8(1);
  const __m128i zero = _mm_setzero_si128();
  __m128i sums = zero;
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    sums = _mm_add_epi64(
        sums, _mm_sad_epu8(_mm_and_si128(_mm_cmplt_epi8(v, below), one), zero));
  }
  uint64_t lanes[2];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes), sums);
  size_t continuations = static_cast<size_t>(lanes[0] + lanes[1]);
  for (; p < end; ++p) continuations += Continuation(*p);
  return s.size() - continuations;
}

std::string_view Utf8Prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && Continuation(static_cast<unsigned char>(text[cut]))) --cut;
  return text.substr(0, cut);
}

}  // namespace rebound
