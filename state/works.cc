#include "state/works.h"

#include <algorithm>
#include <cmath>

namespace rebound::state {

std::string_view NoteStyleName(NoteStyle style) {
  switch (style) {
    case NoteStyle::kNone:
      return "none";
    case NoteStyle::kPitch:
      return "pitch";
    case NoteStyle::kValueFirst:
      return "value_first";
    case NoteStyle::kPersonal:
      return "personal";
    case NoteStyle::kPlain:
      return "plain";
  }
  return "plain";
}

std::optional<NoteStyle> ParseNoteStyle(std::string_view name) {
  for (int i = 0; i < kNoteStyles; ++i) {
    if (NoteStyleName(static_cast<NoteStyle>(i)) == name) {
      return static_cast<NoteStyle>(i);
    }
  }
  return std::nullopt;
}

std::vector<std::string> WorksIncrement(const std::string& key,
                                        const Approach& a, bool accepted) {
  std::vector<int> cells;
  if (a.style) cells.push_back(static_cast<int>(*a.style));
  cells.push_back(kNoteStyles +
                  (a.channel >= 0 && a.channel < kChannels ? a.channel : 0));
  if (a.local_hour && *a.local_hour >= 0 && *a.local_hour < 24) {
    cells.push_back(kNoteStyles + kChannels + *a.local_hour);
  }
  std::vector<std::string> out = {"BITFIELD", key, "OVERFLOW", "SAT"};
  for (int cell : cells) {
    for (int counter : {2 * cell, 2 * cell + 1}) {
      if (counter % 2 == 1 && !accepted) continue;
      out.insert(out.end(),
                 {"INCRBY", "u32", "#" + std::to_string(counter), "1"});
    }
  }
  return out;
}

std::array<Tally, kWorksCells> DecodeWorks(std::string_view bytes) {
  std::array<Tally, kWorksCells> out{};
  auto u32 = [&](size_t i) -> int64_t {
    if (4 * i + 4 > bytes.size()) return 0;
    const auto* p =
        reinterpret_cast<const unsigned char*>(bytes.data()) + 4 * i;
    return (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) |
           (int64_t{p[2]} << 8) | int64_t{p[3]};
  };
  for (int c = 0; c < kWorksCells; ++c) {
    out[c].answered = u32(2 * c);
    out[c].accepted = std::min(u32(2 * c + 1), out[c].answered);
  }
  return out;
}

}  // namespace rebound::state
