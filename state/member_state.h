// Scoring's per-member state as Redis holds it (field names, encodings, the
// derived scores) and the read side both scoring and notify use. The writes
// are state/sender_cache.h (sender keys) and the scripts in
// state/scripts.h; the key names are in state/keys.h.
//
// Sender hash (MemberKeys::Sender): integer fields sent, accepted,
// declined, reported, pending, expired, withdrawn, "reason:<DeclineReason
// name>"; "profile" (ProfileSnapshot bytes) and "profile_at" (s); and the
// send-day ring "d0".."d15" (state/send_days.h) and the answer ring
// "a0".."a3" (state/answer_ring.h), so the per-member state is bounded and
// a send-rate or answer-rate window is a handful of fields, not a scan.
// Request hash (MemberKeys::Request), with a TTL: "state" (pending or the
// first outcome), "sent_at", "decided_at" (s), "request" (RequestSent
// bytes), "viewed" and "viewed_at", "verdict" (DeclineVerdict bytes of the
// decline that decided it) or, when that verdict's `request` is this
// hash's "request", "verdict_nr" (the same without it), and, from its
// RequestSent, "pn" (the pair's requests counted before it) and "pp" (the
// send time of the last of them, "" for none).
// Pair string (MemberKeys::Pair): see PairState.
// Recipient hash (MemberKeys::Recipient): received, accepted, declined and
// utc_offset (minutes, from the latest request snapshot that carried one).
// Accept hours (MemberKeys::AcceptHours): 168 unsigned 32-bit big-endian
// counters (BITFIELD u32 #i), local hour of week, Monday 00:00 = 0.
// Derived scores (acceptance rate, spam risk, reputation, selectivity) are
// computed when read, from the counters, so no write recomputes them.
#ifndef REBOUND_STATE_MEMBER_STATE_H_
#define REBOUND_STATE_MEMBER_STATE_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis_client.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "state/answer_ring.h"
#include "state/send_days.h"

namespace rebound::state {

struct SenderState {
  int64_t sent = 0, accepted = 0, declined = 0, reported = 0, pending = 0,
          expired = 0, withdrawn = 0;
  std::map<std::string, int64_t> declines_by_reason;  // By reason name.
  SendDayRing send_days;
  AnswerRing answers;
  std::optional<rebound::v1::ProfileSnapshot> profile;
};

struct RecipientState {
  int64_t received = 0, accepted = 0, declined = 0;
  std::optional<int> utc_offset_minutes;
  std::array<int64_t, 168> accept_hours{};
};

// A pair (MemberKeys::Pair): one string
// "requests:prev_sent_at:last_sent_at:last_view_at", times in s, empty when
// unknown, written with its TTL in one SET (state/sender_cache.h).
struct PairState {
  int64_t requests = 0;
  std::optional<int64_t> prev_sent_at, last_sent_at, last_view_at;
};
// From a GET of the pair (nil, or a string that does not parse: nothing).
PairState DecodePair(const RedisValue& get);

// From an HGETALL of the sender hash (nil or empty: all zero). Fields that
// do not parse read as zero / absent.
SenderState DecodeSender(const RedisValue& hgetall);
// From an HGETALL of the recipient hash and a GET of the accept hours.
RecipientState DecodeRecipient(const RedisValue& hgetall,
                               const RedisValue& hours);
// The 168 counters of an accept-hours string (shorter strings: the rest 0).
std::array<int64_t, 168> DecodeAcceptHours(std::string_view bytes);

// The sender's answers from its all-time counters (AnswerCounts::FromTotals).
AnswerCounts AllTimeAnswers(const SenderState& s);
// The sender's recent answers as of `utc_day`, with the window's length, or
// all of them (all_time) while its answer ring cannot tell which are recent
// (AnswerRing::RecentOrAllTime); and counts alone, without a window.
rebound::v1::RecentAnswers RecentAnswersOf(const SenderState& sender,
                                           int64_t utc_day);
rebound::v1::RecentAnswers RecentAnswersOf(const AnswerCounts& counts,
                                           bool all_time = false);

// Laplace-smoothed: (accepted + 1) / (accepted + declined + 2).
double AcceptanceRate(const SenderState& s);
// Weighted red flags over flags + acceptances: b / (b + accepted + 2), with
// b = 2 * reported + declines classified spammy.
double SpamRisk(const SenderState& s);
// 100 * acceptance rate * (1 - spam risk).
double Reputation(const SenderState& s);
// 1 - (accepted + 1) / (received + 2).
double Selectivity(const RecipientState& r);

// A member's scores as sender and as recipient, in one round trip; the
// rolling week and the recent answers as of the tenant's clock
// (TenantClockLag: wall time, or the time of the history a tenant replays).
// NOT_FOUND when Redis holds nothing about the member; UNAVAILABLE or
// FAILED_PRECONDITION as RedisClient returns them.
absl::StatusOr<rebound::v1::MemberScores> ReadMemberScores(
    RedisClient& redis, const std::string& tenant, const std::string& member);
// ReadMemberScores in two halves, for a caller that pipelines these reads
// with its own: the commands (kMemberScoresReads of them), then their
// replies, in order, decoded.
inline constexpr size_t kMemberScoresReads = 4;
std::vector<std::vector<std::string>> MemberScoresReads(
    const std::string& tenant, const std::string& member);
absl::StatusOr<rebound::v1::MemberScores> DecodeMemberScores(
    const std::string& tenant, const std::string& member,
    const RedisValue* replies);

// What Scoring.AssessDraft reads about a draft from `sender` to
// `recipient`, in one round trip, writing nothing: the sender's hash, the
// pair, the recipient's hash and accept hours, and the retries notify
// advised for the pair.
struct DraftState {
  SenderState sender;
  PairState pair;
  RecipientState recipient;
  int64_t prior_retries = 0;
};
absl::StatusOr<DraftState> ReadDraftState(RedisClient& redis,
                                          const std::string& tenant,
                                          const std::string& sender,
                                          const std::string& recipient);

// What notify's retry policy needs for one verdict: retries already
// advised for the pair, the recipient's accept hours and utc offset, the
// sender's latest profile.
struct PolicyKey {
  std::string tenant, sender, recipient;
  // The verdict carries what scoring knew of the recipient (its
  // DecisionContext): the recipient's keys are not read, only the pair's
  // retries and the sender's profile.
  bool recipient_in_verdict = false;
};
struct PolicyInputs {
  int64_t prior_retries = 0;
  RecipientState recipient;
  std::optional<rebound::v1::ProfileSnapshot> sender_profile;
};
// The inputs of every key, in order, in one round trip; `first` (commands
// the caller makes anyway) runs in that round trip before the reads, its
// replies put in `first_replies` when given and its errors returned.
absl::StatusOr<std::vector<PolicyInputs>> ReadPolicyInputs(
    RedisClient& redis, const std::vector<PolicyKey>& keys,
    std::vector<std::vector<std::string>> first = {},
    std::vector<RedisValue>* first_replies = nullptr);

// A tenant's open invites (TenantKeys::Pending): PendingEntry members
// scored by send time (s). Scoring adds an invite when it is sent (NX keeps
// the first send time) and removes it with its outcome; notify's stale sweep
// removes what it has looked at, and its rebuild adds back what scoring
// still holds open. The commands:
std::vector<std::string> AddOpenInvite(std::string_view tenant,
                                       std::string_view sender,
                                       std::string_view recipient,
                                       std::string_view request_id,
                                       int64_t sent_at_s);
std::vector<std::string> RemoveOpenInvite(std::string_view tenant,
                                          std::string_view sender,
                                          std::string_view recipient,
                                          std::string_view request_id);

// A tenant's event-time clock (TenantKeys::Clock): how far its event times
// run behind their publication (occurred_at less the Kafka record time), as
// the most live event scoring has seen says; measured against the record
// time, a replay, a rebuild or a backlog gives the lag of the first pass. A
// live tenant's lag is about 0; a tenant replaying its history (an import,
// a backfill, the simulator's dated stream) runs behind by the history's
// age. The stale-invite sweep judges an invite by the tenant's clock, wall
// time + lag: an invite of a replayed history goes stale when the history
// has moved the policy's stale_pending_after (30 days) past it, not because
// it is old today while its answer is a few records further on. The clock
// only moves forward (a late or replayed record never turns a live
// tenant's clock back) and never past wall time, and while no event comes
// it runs with wall time. Limits: one clock per tenant, so partitions of an
// import running ahead of others move it for all of them, and a tenant
// already live that imports old history has the import judged by today.
// The command that moves it forward to `lag_s` (clamped to <= 0):
std::vector<std::string> AdvanceTenantClock(std::string_view tenant,
                                            double lag_s);
// The command that reads it, and its reply read: the lag (0 when the tenant
// has none, e.g. written by a version before the clock; never > 0).
std::vector<std::string> ReadTenantClock(std::string_view tenant);
absl::Duration TenantClockLag(const RedisValue& reply);

}  // namespace rebound::state

#endif  // REBOUND_STATE_MEMBER_STATE_H_
