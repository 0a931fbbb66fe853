// The answer ring: how a member's invitations were answered, per UTC week
// (Monday to Sunday), for the last few weeks, in a fixed number of slots,
// so account safety reads rates over recent requests rather than over a
// member's whole history, and an old burst of declines ages out without any
// new activity. The Redis sender hash keeps it as fields a0..a3 (written by
// state::SenderCache behind a request's first outcome, the same rule as Add
// below); notify and Scoring.AssessDraft read it. Header-only.
//
// A slot holds "week:accepted:declined:ignored:dont_know:spam" for the week
// (week mod kSlots). An answer of a newer week than the slot's resets it;
// an answer of an older week is not counted there (it is kSlots or more
// weeks behind the slot's week).
//
// A member who had answers before its ring was kept (an upgrade from a
// version without the ring) has them in field "ar0", written once with the
// ring's first slot in the same format: the ring's first week and those
// answers (from the all-time counters, AnswerCounts::FromTotals). Until the
// ring reaches back over the whole window, RecentOrAllTime reads all the
// member's answers (as account safety did before the ring), not a window
// that would forget them; a member whose ring was never written but who has
// answers reads its all-time counts the same way.
#ifndef REBOUND_STATE_ANSWER_RING_H_
#define REBOUND_STATE_ANSWER_RING_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "state/send_days.h"

namespace rebound::state {

// How a request was answered. Declines by kind: an explicit decline; an
// ignore (DECLINE_KIND_IGNORED, or the invitation expired unanswered); a
// report "I don't know this person"; a spam report.
enum class Answer { kAccepted = 0, kDeclined, kIgnored, kDontKnow, kSpam };

struct AnswerCounts {
  int64_t accepted = 0, declined = 0, ignored = 0, dont_know = 0, spam = 0;

  int64_t total() const {
    return accepted + declined + ignored + dont_know + spam;
  }
  int64_t& at(Answer a) {
    switch (a) {
      case Answer::kAccepted:
        return accepted;
      case Answer::kDeclined:
        return declined;
      case Answer::kIgnored:
        return ignored;
      case Answer::kDontKnow:
        return dont_know;
      case Answer::kSpam:
        break;
    }
    return spam;
  }
  AnswerCounts& operator+=(const AnswerCounts& o) {
    accepted += o.accepted;
    declined += o.declined;
    ignored += o.ignored;
    dont_know += o.dont_know;
    spam += o.spam;
    return *this;
  }
  bool operator==(const AnswerCounts&) const = default;

  // A member's answers from its all-time counters (state::SenderState), as
  // account safety counted them before the ring: accepted, and `declined`
  // (every decline, `reported` among them). Expiries are left out as they
  // were then. The counters do not tell an ignore (a decline of kind
  // IGNORED) from an explicit decline, nor a spam report from an "I don't
  // know this person": those read as declined and dont_know.
  static AnswerCounts FromTotals(int64_t accepted, int64_t declined,
                                 int64_t reported) {
    return {.accepted = accepted,
            .declined = declined > reported ? declined - reported : 0,
            .ignored = 0,
            .dont_know = reported,
            .spam = 0};
  }
};

// The UTC week (Monday 00:00 starts it) of a UTC day number: day 4
// (1970-01-05) was a Monday.
inline int64_t UtcWeek(int64_t utc_day) {
  return SendDayRing::FloorDiv(utc_day + 3, 7);
}

struct AnswerRing {
  static constexpr int kSlots = 4;
  // Recent = the week of the reference time and the kSlots - 1 before it:
  // between 22 and 28 days.
  static constexpr int kWindowWeeks = kSlots;

  struct Week {
    bool used = false;
    int64_t week = 0;
    AnswerCounts counts;
  };
  std::array<Week, kSlots> slots{};
  // Field "ar0": the ring's first week and the answers given before it;
  // unused when there were none.
  Week before;
  static constexpr char kBeforeField[] = "ar0";

  bool empty() const {
    for (const Week& w : slots) {
      if (w.used) return false;
    }
    return true;
  }

  static int Slot(int64_t week) {
    int64_t s = week % kSlots;
    return static_cast<int>(s < 0 ? s + kSlots : s);
  }
  static std::string Field(int slot) { return absl::StrCat("a", slot); }

  // Counts one answer given in `week`; returns the slot it changed, or -1
  // when the week is too old for the ring.
  int Add(int64_t week, Answer answer) {
    const int i = Slot(week);
    Week& w = slots[i];
    if (!w.used || w.week < week) {
      w = Week{.used = true, .week = week, .counts = {}};
    } else if (w.week > week) {
      return -1;
    }
    ++w.counts.at(answer);
    return i;
  }

  // Answers given in weeks first_week..last_week (inclusive) the ring holds.
  AnswerCounts InWeeks(int64_t first_week, int64_t last_week) const {
    AnswerCounts n;
    for (const Week& w : slots) {
      if (w.used && w.week >= first_week && w.week <= last_week) {
        n += w.counts;
      }
    }
    return n;
  }
  // The recent answers as of `utc_day`.
  AnswerCounts Recent(int64_t utc_day) const {
    const int64_t week = UtcWeek(utc_day);
    return InWeeks(week - (kWindowWeeks - 1), week);
  }

  static std::string Encode(const Week& w) {
    const AnswerCounts& c = w.counts;
    return absl::StrCat(w.week, ":", c.accepted, ":", c.declined, ":",
                        c.ignored, ":", c.dont_know, ":", c.spam);
  }
  // A slot's field value; one that does not parse leaves the slot unused.
  static Week Decode(absl::string_view text) {
    std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
    Week w;
    if (parts.size() != 6) return w;
    int64_t v[6];
    for (int i = 0; i < 6; ++i) {
      if (!absl::SimpleAtoi(parts[i], &v[i])) return w;
      if (i > 0 && v[i] < 0) return w;
    }
    w.used = true;
    w.week = v[0];
    w.counts = {.accepted = v[1],
                .declined = v[2],
                .ignored = v[3],
                .dont_know = v[4],
                .spam = v[5]};
    return w;
  }
  // What account safety reads as of `utc_day`: the recent answers, or all
  // of them (`all_time`) while the ring cannot tell which are recent: it
  // began inside the window with answers before it, or it was never written
  // for a member with answers (`totals`: AnswerCounts::FromTotals).
  struct View {
    AnswerCounts counts;
    bool all_time = false;
  };
  View RecentOrAllTime(int64_t utc_day, const AnswerCounts& totals) const {
    const int64_t first = UtcWeek(utc_day) - (kWindowWeeks - 1);
    if (before.used && before.week > first) {
      View v{.counts = before.counts, .all_time = true};
      for (const Week& w : slots) {
        if (w.used) v.counts += w.counts;
      }
      return v;
    }
    if (empty() && totals.total() > 0) return {totals, true};
    return {Recent(utc_day), false};
  }

  // Sets a slot from its field name ("a<slot>") and value, or `before` from
  // "ar0"; false when the name is neither.
  bool DecodeField(absl::string_view name, absl::string_view value) {
    if (name == kBeforeField) {
      before = Decode(value);
      return true;
    }
    if (name.size() < 2 || name[0] != 'a') return false;
    int slot = 0;
    if (!absl::SimpleAtoi(name.substr(1), &slot) || slot < 0 ||
        slot >= kSlots) {
      return false;
    }
    Week w = Decode(value);
    // A slot whose week does not map to it was not written by Add.
    if (w.used && Slot(w.week) != slot) w = Week{};
    slots[slot] = w;
    return true;
  }
};

}  // namespace rebound::state

#endif  // REBOUND_STATE_ANSWER_RING_H_
