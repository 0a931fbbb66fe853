// The one layout of Rebound's Redis key names. Every key scoring and notify
// read or write is built here and nowhere else.
//
// Ids are untrusted text (any UTF-8, including '{', '}', ':', '/', spaces and
// control characters), so every id in a key is escaped (EscapeId): after
// escaping an id holds only [A-Za-z0-9._-] and %XX, never a character the
// layout uses as a separator. Hence:
// - a key's hash tag (the text between its first '{' and the next '}') is
//   exactly its owner's tag, so Redis Cluster keeps a member's keys in one
//   slot whatever the ids;
// - two different (tenant, member, kind, sub-id) tuples never give the same
//   key, so no id can reach another member's keys or another kind of key.
//
// Layout (t, m, ids escaped):
//   rb:{t/m}:snd               HASH   sender counters, declines per reason,
//                                     send-day ring, latest profile
//   rb:{t/m}:rcv               HASH   recipient counters, utc offset
//   rb:{t/m}:hours             STRING accepts per local hour of week
//                                     (168 big-endian u32, BITFIELD)
//   rb:{t/m}:req:<request>     HASH   a request the member sent (TTL)
//   rb:{t/m}:works             STRING answered/accepted requests sent by
//                                     the member, by approach (works.h)
//   rb:{t/m}:pair:<recipient>  STRING the member's requests to one
//                                     recipient (TTL; see PairState)
//   rb:{t/m}:in:<request>:sent|outcome
//                              STRING a received request / its outcome was
//                                     counted for the member (TTL; Redis
//                                     Cluster only)
//   rb:{t/m}:sugg:<id>         HASH   a suggestion for the member (TTL)
//   rb:{t/m}:suggs             ZSET   suggestion ids by creation (bounded)
//   rb:{t/m}:waiting           SET    suggestion ids waiting on profile work
//   rb:{t/m}:retries:<recipient> STRING retries advised for a pair (TTL)
//   rb:{t/m}:flags             HASH   red-flag signal -> declines
//   rb:{t/m}:sugg-stream       STREAM suggestion versions (MAXLEN ~)
//   rb:{t}:sugg-stream         STREAM the same for the whole tenant
//   rb:{t}:sugg-ev:<id>:<version> STRING a version reached the tenant
//                                     stream (TTL; Redis Cluster only)
//   rb:{t}:pending             ZSET   the tenant's open invites
//                                     (PendingEntry) by send time: scoring
//                                     adds a request when it is sent and
//                                     removes it with its outcome; notify's
//                                     stale sweep forgets what it looked at
//                                     (an earlier version also kept closed
//                                     ones, above kClosedInviteBase)
//   rb:{t}:clock               ZSET   the tenant's event-time clock: one
//                                     member, "lag", scored by how far (s,
//                                     <= 0) its most live event's time was
//                                     behind its publication (ZADD GT: only
//                                     moves forward); the stale sweep's
//                                     "now" is wall time + lag
//                                     (TenantClockLag, member_state.h)
//   rb:{t}:works               STRING the same for the whole tenant
//   rb:{t}:at-risk             SET    members (escaped) whose sending puts
//                                     their account at risk
//   rb:tenants                 SET    tenants that have had open invites
//   rb:epoch                   STRING set when scoring's state was created;
//                                     gone or changed = Redis lost its data
//   rb:epoch:notify            STRING the same for notify's state
#ifndef REBOUND_STATE_KEYS_H_
#define REBOUND_STATE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace rebound::state {

// Percent-encodes every byte outside [A-Za-z0-9._-] as %XX (upper-case hex).
// Injective: distinct ids give distinct results.
std::string EscapeId(std::string_view id);
// Appends EscapeId(id) to `out`.
void AppendEscaped(std::string_view id, std::string* out);

// The keys of one member of one tenant; all share the hash tag {t/m}.
class MemberKeys {
 public:
  MemberKeys(std::string_view tenant, std::string_view member);

  // "rb:{t/m}", the prefix of every key below.
  const std::string& prefix() const { return prefix_; }

  // Scoring's.
  std::string Sender() const;
  std::string Recipient() const;
  std::string AcceptHours() const;
  std::string Request(std::string_view request_id) const;
  std::string Pair(std::string_view recipient) const;
  // Answered/accepted requests by approach (state/works.h).
  std::string Works() const;
  // The member, as recipient, counted request `request_id` as received
  // (`outcome` false) or counted its outcome (`outcome` true).
  std::string ReceivedMarker(std::string_view request_id, bool outcome) const;

  // Notify's.
  std::string Suggestion(std::string_view suggestion_id) const;
  std::string Suggestions() const;
  std::string Waiting() const;
  std::string Retries(std::string_view recipient) const;
  std::string Flags() const;
  std::string Stream() const;

 private:
  std::string With(std::string_view suffix) const;
  std::string With(std::string_view suffix, std::string_view id) const;
  std::string prefix_;
};

// The keys of a whole tenant; all share the hash tag {t}, which no member
// tag equals (an escaped tenant holds no '/').
class TenantKeys {
 public:
  explicit TenantKeys(std::string_view tenant);
  const std::string& prefix() const { return prefix_; }
  std::string Stream() const;
  std::string StreamMarker(std::string_view suggestion_id,
                           int64_t version) const;
  std::string Pending() const;
  std::string Clock() const;
  // The tenant's answered/accepted requests by approach (state/works.h).
  std::string Works() const;
  // The tenant's members whose accounts are at risk (escaped ids; see
  // SenderCache::Options::at_risk).
  std::string AtRisk() const;

 private:
  std::string prefix_;
};

// A member of TenantKeys::Pending for one invite: the three ids escaped,
// joined by ':' (escaped ids hold none).
std::string PendingEntry(std::string_view sender, std::string_view recipient,
                         std::string_view request_id);
// The inverse; false when `entry` is not a PendingEntry.
bool ParsePendingEntry(std::string_view entry, std::string* sender,
                       std::string* recipient, std::string* request_id);
// EscapeId's inverse; false when `escaped` is not an escaped id.
bool UnescapeId(std::string_view escaped, std::string* id);

// The set of tenants that have had open invites (scoring adds them; the
// stale-invite sweep walks it).
std::string TenantsKey();

// Scores of closed invites an earlier version kept in TenantKeys::Pending
// start here (then + the closing time, s): above any send time.
inline constexpr double kClosedInviteBase = 1e12;

// The epoch of scoring's state (see ScoreStore::EnsureEpoch).
std::string EpochKey();
// The epoch of notify's state (see SuggestionStore::EnsureEpoch).
std::string NotifyEpochKey();

// Partition fencing (ScoreStore::Claim): the hash of each partition's
// newest owner's generation, and the counter generations come from. Not
// scoring keys: a rebuild keeps them, so generations only grow.
std::string FenceKey();
std::string FenceGenerationKey();
// The fence field of `partition` of `topic` consumed by `group`:
// "<EscapeId(group)>/<EscapeId(topic)>/<partition>".
std::string FenceField(std::string_view group, std::string_view topic,
                       int32_t partition);

// True for the keys scoring writes (MemberKeys' Sender, Recipient,
// AcceptHours, Request, Pair, ReceivedMarker, Works; TenantKeys' Pending,
// Clock, Works and AtRisk; TenantsKey), which a rebuild from the events topic
// recreates.
bool IsScoringKey(std::string_view key);

// True for the keys notify writes (MemberKeys' Suggestion, Suggestions,
// Waiting, Retries, Flags, Stream; TenantKeys' Stream, StreamMarker),
// which notify's rebuild recreates.
bool IsNotifyKey(std::string_view key);

// A SCAN MATCH pattern for every member key of `tenant` (tests, tools).
std::string MemberKeysPattern(std::string_view tenant);

}  // namespace rebound::state

#endif  // REBOUND_STATE_KEYS_H_
