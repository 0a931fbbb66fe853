// What works: a member's (and a tenant's) answered and accepted requests
// by approach — the note's style, the channel, and the hour it was sent in
// the recipient's local time — so Insights can show which approach gets
// accepted, with intervals. Kept as 2 x kCells unsigned 32-bit big-endian
// counters in one string (BITFIELD u32 #i, saturating), written with one
// BITFIELD per key when a request gets its first answer (accepted or
// declined), read with one GET.
//   cell 0..4    note style (NoteStyle)
//   cell 5..11   channel (rebound.v1.Channel value, 0 = unspecified)
//   cell 12..35  local hour of day at the send
// Counter 2*cell is answered, 2*cell+1 accepted.
#ifndef REBOUND_STATE_WORKS_H_
#define REBOUND_STATE_WORKS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/intervals.h"

namespace rebound::state {

enum class NoteStyle { kNone = 0, kPitch, kValueFirst, kPersonal, kPlain };
inline constexpr int kNoteStyles = 5;
inline constexpr int kChannels = 7;
inline constexpr int kWorksCells = kNoteStyles + kChannels + 24;

// "none", "pitch", "value_first", "personal", "plain".
std::string_view NoteStyleName(NoteStyle style);
// The inverse; nullopt for any other text.
std::optional<NoteStyle> ParseNoteStyle(std::string_view name);

struct Approach {
  std::optional<NoteStyle> style;  // Unknown: not counted by style.
  int channel = 0;                 // rebound.v1.Channel (others: 0).
  std::optional<int> local_hour;   // 0..23 at the recipient; unknown: none.
};

// BITFIELD `key` OVERFLOW SAT INCRBY u32 #answered 1 [INCRBY #accepted 1]
// for each cell of `approach`.
std::vector<std::string> WorksIncrement(const std::string& key,
                                        const Approach& approach,
                                        bool accepted);

struct Tally {
  int64_t answered = 0, accepted = 0;
};
// The cells of a GET of the key (nil or short: zeros).
std::array<Tally, kWorksCells> DecodeWorks(std::string_view bytes);

// 95% Wilson score interval of accepted of answered ({0, 1} when nothing
// was answered).
using ::rebound::WilsonInterval;

}  // namespace rebound::state

#endif  // REBOUND_STATE_WORKS_H_
