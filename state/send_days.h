// The send-day ring: how many requests a member sent per UTC day, for the
// last few distinct days, in a fixed number of slots. The Redis sender hash
// keeps it as fields d0..d15 (state::SenderCache writes them, the same
// rule as Add below); the offline replay keeps it in memory, so both count a
// sender's recent sends the same way. Header-only, no dependencies.
//
// Slot (day mod kSlots) holds day * 2^24 + count. A send on a newer day than
// the slot's resets it; a send on an older day is not counted there (it is
// kSlots or more days behind the slot's day).
#ifndef REBOUND_STATE_SEND_DAYS_H_
#define REBOUND_STATE_SEND_DAYS_H_

#include <array>
#include <cstdint>

namespace rebound::state {

struct SendDayRing {
  static constexpr int kSlots = 16;
  static constexpr int64_t kShift = int64_t{1} << 24;

  std::array<int64_t, kSlots> slots{};

  static int Slot(int64_t day) {
    int64_t s = day % kSlots;
    return static_cast<int>(s < 0 ? s + kSlots : s);
  }

  void Add(int64_t day) {
    int64_t& packed = slots[Slot(day)];
    const int64_t slot_day = FloorDiv(packed, kShift);
    if (packed != 0 && slot_day == day) {
      if (packed - day * kShift < kShift - 1) ++packed;  // Saturates.
    } else if (packed == 0 || slot_day < day) {
      packed = day * kShift + 1;
    }
  }

  // Sends on days first_day..last_day (inclusive) the ring still holds.
  int64_t SentInDays(int64_t first_day, int64_t last_day) const {
    int64_t n = 0;
    for (int64_t packed : slots) {
      if (packed == 0) continue;
      const int64_t day = FloorDiv(packed, kShift);
      if (day >= first_day && day <= last_day) n += packed - day * kShift;
    }
    return n;
  }

  static int64_t FloorDiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  }
};

// The UTC day number of a Unix time (floor division).
inline int64_t UtcDay(int64_t unix_seconds) {
  return SendDayRing::FloorDiv(unix_seconds, 86400);
}

}  // namespace rebound::state

#endif  // REBOUND_STATE_SEND_DAYS_H_
