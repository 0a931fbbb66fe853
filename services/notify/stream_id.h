// Redis stream entry ids ("<ms>-<seq>"), which notify hands out as watch
// resume tokens: strict parsing (a token with a space, a sign or a missing
// part is not one this service issued) and their order.
#ifndef REBOUND_SERVICES_NOTIFY_STREAM_ID_H_
#define REBOUND_SERVICES_NOTIFY_STREAM_ID_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace rebound::notify {

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  friend bool operator<(const StreamId& a, const StreamId& b) {
    return std::pair(a.ms, a.seq) < std::pair(b.ms, b.seq);
  }
  friend bool operator==(const StreamId&, const StreamId&) = default;
};

namespace stream_id_internal {
// Decimal digits only, no sign or space, fitting 64 bits.
inline std::optional<uint64_t> Digits(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}
}  // namespace stream_id_internal

// "<ms>-<seq>", both decimal digits only; nullopt for anything else.
inline std::optional<StreamId> ParseStreamId(std::string_view id) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto ms = stream_id_internal::Digits(id.substr(0, dash));
  auto seq = stream_id_internal::Digits(id.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return StreamId{*ms, *seq};
}

inline bool IsStreamId(std::string_view id) {
  return ParseStreamId(id).has_value();
}

// Orders two stream ids; an id that does not parse orders first.
inline bool StreamIdLess(std::string_view x, std::string_view y) {
  return ParseStreamId(x).value_or(StreamId{}) <
         ParseStreamId(y).value_or(StreamId{});
}

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_STREAM_ID_H_
