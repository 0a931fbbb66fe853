// In-memory replay state that turns a stream of connection events into a
// DeclineContext for each decline or expiry: what rebound-classify uses to
// back-test the classifier on a file, and the reference semantics the online
// (Redis) path must reproduce so both classify a decline the same way.
//
// Semantics (all state is per tenant; members are keyed by tenant + id):
// - Idempotent per event: an event whose (tenant_id, event_id) was applied
//   before changes nothing.
// - Requests are keyed by (tenant_id, request_id). A RequestSent counts once
//   per request: sender_sent and recipient_received +1, the send time goes
//   into the sender's send log and the pair's history. A repeated
//   RequestSent for a known request_id is ignored.
// - An outcome (accepted, declined, withdrawn, expired) counts once per
//   request: the first outcome closes the request, later ones are ignored.
//   Accepted: sender_accepted, recipient_accepted +1, and the recipient's
//   hour-of-week cell (their local time = occurred_at + utc_offset_minutes of
//   the request's recipient snapshot, else of the latest snapshot seen for
//   that member; no offset known = not counted) +1. Declined (any kind):
//   sender_declined +1; reported kinds also sender_reported +1. Withdrawn and
//   expired change no counter. An outcome may arrive before its request; the
//   request is then remembered as closed and its RequestSent still counts.
// - ProfileViewed marks a request viewed: by request_id when given (also if
//   the request arrives later), else the pair's latest request that is still
//   open and was sent at or before the view. A view after the outcome is
//   kept ("arrived late").
// - ProfileUpdated only refreshes the member's latest snapshot (used for
//   the utc offset above); contexts use the snapshots as sent.
#ifndef REBOUND_SERVICES_SCORING_OFFLINE_STATE_H_
#define REBOUND_SERVICES_SCORING_OFFLINE_STATE_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "services/scoring/assess.h"
#include "services/scoring/classifier.h"
#include "state/send_days.h"

namespace rebound::scoring {

class OfflineState {
 public:
  // Applies one event as described above. Events without a payload are
  // ignored.
  void Apply(const rebound::v1::ConnectionEvent& event);

  // The context for a decline or expiry, as of just before that event is
  // applied: call ContextFor(e) first, then Apply(e). nullopt for any other
  // event. Fields:
  // - request/sent_at: the RequestSent, if it was applied.
  // - viewed: the request was marked viewed (see above).
  // - sender_*: the sender's counters now; sender_sent_last_7d counts the
  //   sender's requests sent on the 7 UTC days before sent_at's day, as the
  //   send-day ring (state/send_days.h) holds them now (0 when sent_at is
  //   unknown). Per day, not per second, so Redis keeps a bounded ring
  //   instead of every send time.
  // - pair_prior_requests: requests of this sender to this recipient sent
  //   before it: those whose RequestSent arrived first; since_prior_request:
  //   sent_at minus the send time of the last of those, when not later than
  //   sent_at. Kept with the request when it is sent, as online.
  // - recipient_*: the recipient's counters and accept histogram now.
  std::optional<DeclineContext> ContextFor(
      const rebound::v1::ConnectionEvent& decline_or_expiry) const;

  // A RequestSent seen as the draft Scoring.AssessDraft would have assessed
  // just before it was sent: the members' counters now (the sender's
  // rolling week and 7-day send rate as of the send), the pair's requests
  // so far, the recipient's counters and accept hours. nullopt for any
  // other event, and for a request already sent. Call it before Apply(e).
  std::optional<DraftContext> DraftFor(
      const rebound::v1::ConnectionEvent& sent) const;

 private:
  using MemberKey = std::pair<std::string, std::string>;  // tenant, member
  using PairKey = std::tuple<std::string, std::string, std::string>;
  struct Request {
    std::optional<rebound::v1::RequestSent> sent;
    std::optional<absl::Time> sent_at;
    std::string sender_id;
    std::string recipient_id;
    bool viewed = false;
    bool closed = false;
    // When its RequestSent arrived: the pair's requests counted before it
    // and the send time of the last of them.
    int64_t pair_before = 0;
    std::optional<absl::Time> pair_prev_sent_at;
  };
  struct Member {
    int64_t sent = 0;
    int64_t accepted = 0;
    int64_t declined = 0;
    int64_t reported = 0;
    int64_t received = 0;
    int64_t received_accepted = 0;
    int64_t received_declined = 0;
    std::array<int64_t, 168> accept_hours{};
    // Sends per UTC day, as Redis keeps them.
    state::SendDayRing send_days;
    std::optional<int32_t> utc_offset_minutes;
    // The latest ProfileUpdated profile (what Redis keeps as "profile").
    std::optional<rebound::v1::ProfileSnapshot> profile;
  };
  struct Pair {
    // (sent_at, request_id) of every request in the pair, sorted.
    std::vector<std::pair<absl::Time, std::string>> requests;
    // Requests of the pair counted so far, and the send time of the last
    // one to arrive.
    int64_t arrived = 0;
    std::optional<absl::Time> last_sent_at;
  };

  Request& RequestFor(const rebound::v1::ConnectionEvent& e,
                      const std::string& request_id);
  void Close(const rebound::v1::ConnectionEvent& e, Request& r);

  std::set<std::pair<std::string, std::string>> applied_;  // tenant, event
  std::map<std::pair<std::string, std::string>, Request> requests_;
  std::map<MemberKey, Member> members_;
  std::map<PairKey, Pair> pairs_;
};

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_OFFLINE_STATE_H_
