// Scoring's state in Redis: request state, sender scores, recipient stats.
//
// Keys (every key of one member shares the hash tag {tenant/member}, so the
// data can move to Redis Cluster; an event touches its sender's keys and its
// recipient's keys in two separate scripts, one per slot):
//   rb:{t/m}:snd            HASH  sender counters and derived scores
//   rb:{t/m}:sends          ZSET  request_id -> sent_at, last 30 days
//   rb:{t/m}:req:<request>  HASH  request state, sent_at, the RequestSent,
//                                 viewed flag, verdict; expires (TTL)
//   rb:{t/m}:pair:<other>   HASH  requests to <other>, last/previous sent_at
//   rb:{t/m}:rcv            HASH  recipient counters, selectivity, h0..h167
//   rb:{t/m}:ev:<id>:s      STRING the event was applied to its sender
//   rb:{t/m}:ev:req:<request>:sent|outcome
//                           STRING the request / its outcome was counted
//                                  for its recipient (TTL)
//
// Idempotence: each script starts with SET marker NX; an event already
// applied is a no-op, so replays after a crash change nothing. A decline's
// verdict is stored with its request, so a replay re-publishes the same
// verdict instead of classifying again on counters that already include it.
//
// Out-of-order events: the first terminal event of a request (accepted,
// declined, withdrawn, expired) decides its state and is counted even if the
// request was not seen yet; a RequestSent arriving later records the
// snapshot and counts as sent but is not counted pending. A view before the
// request is kept on the request (or on the pair when it names no request).
#ifndef REBOUND_SERVICES_SCORING_SCORE_STORE_H_
#define REBOUND_SERVICES_SCORING_SCORE_STORE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis_client.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/scoring/classifier.h"

namespace rebound::scoring {

struct ScoreStoreOptions {
  RedisOptions redis;
  // How long an event's applied-marker is kept: replays older than this
  // would be applied again. Must exceed the topic's retention of unconsumed
  // data; 30 days by default.
  absl::Duration marker_ttl = absl::Hours(24 * 30);
  // How long a request's state is kept after its last event (pending
  // invites expire after about 6 months).
  absl::Duration request_ttl = absl::Hours(24 * 200);
};

std::string MemberTag(const std::string& tenant, const std::string& member);

class ScoreStore {
 public:
  explicit ScoreStore(ScoreStoreOptions options);

  // Connects and loads the scripts. UNAVAILABLE when Redis does not answer.
  absl::Status Connect();
  absl::Status Ping();

  // What Redis knows about a decline/expiry's request and its members, as
  // the classifier's context. If the event was already applied (a replay),
  // `stored_verdict` holds the verdict decided then.
  struct DeclineState {
    DeclineContext context;
    std::optional<rebound::v1::DeclineVerdict> stored_verdict;
  };
  absl::StatusOr<DeclineState> ReadDeclineState(
      const rebound::v1::ConnectionEvent& event);

  // Applies one event's effects, idempotently. `verdict` is required for
  // declines and expiries. Returns OK also when the event had been applied.
  absl::Status Apply(const rebound::v1::ConnectionEvent& event,
                     const rebound::v1::DeclineVerdict* verdict);

  // Applies several events in order in one Redis round trip (pipelined
  // EVALSHA). Same effects as Apply() on each in turn.
  absl::Status ApplyBatch(
      const std::vector<std::pair<const rebound::v1::ConnectionEvent*,
                                  const rebound::v1::DeclineVerdict*>>& events);

  // A member's scores; NOT_FOUND when Redis holds nothing about them.
  absl::StatusOr<rebound::v1::MemberScores> GetMemberScores(
      const std::string& tenant, const std::string& member);

 private:
  absl::Status CallsFor(const rebound::v1::ConnectionEvent& event,
                        const rebound::v1::DeclineVerdict* verdict,
                        std::vector<ScriptCall>* calls);

  ScoreStoreOptions options_;
  RedisClient redis_;
};

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_SCORE_STORE_H_
