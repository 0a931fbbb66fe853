// The write side of scoring's per-member keys for the consumer that owns a
// sender's partition (the events topic is keyed by tenant and sender, so
// one consumer at a time sees every event of a sender, in order).
//
// The owner keeps the sender's keys (sender hash, its requests, its pairs;
// layouts in state/member_state.h) in process, loaded from Redis on first
// touch, applies each event to them, and writes back the fields that
// changed as plain commands (HSET, SET EX, EXPIRE) in one transaction: no
// script, no read on the hot path. The rules, per kind:
// - sent: the first RequestSent of a request counts it (sent +1, pending
//   +1 unless its outcome came first, its day in the send-day ring) and
//   keeps its snapshot, the pair's requests counted before it ("pn") and
//   the last one's send time ("pp") with it; later ones change nothing.
// - accepted / declined / withdrawn / expired: the first outcome decides
//   the request (its counter +1, pending -1 if it was pending; a decline
//   also "reported" when reported, and a decline or expiry its reason's
//   counter and its verdict on the request); later ones change nothing.
// - viewed: marks its request viewed; a view naming no request is kept on
//   the pair (the latest view wins).
// - profile: the latest snapshot by occurred_at wins.
// Redis stays the source of truth: whatever fails, the cache is forgotten
// and loaded again, and since every counter moves only with a request's
// transitions (its first RequestSent, its first outcome), a replay of
// events already written changes nothing.
//
// The recipient's side of an event moves with the sender's transition:
// HINCRBY of the recipient's counter (and the accept-hour cell) in the
// same transaction as the sender's writes, so both land or neither does
// (standalone Redis: the whole batch is one MULTI/EXEC). On a Redis
// Cluster the recipient's keys are in another slot, so no transaction can
// hold both; there the recipient side stays kApplyAsRecipientScript, which
// counts each request and outcome once behind a marker of its own.
//
// The tenant's open invites (TenantKeys::Pending, which notify's stale
// sweep reads) move with the request too: a RequestSent of a request not
// yet decided adds it (ZADD NX, with every such send, so a Redis Cluster
// round trip that missed the tenant's slot is repaired by a replay), its
// first outcome removes it (ZREM; on a Cluster one that misses its round
// trip is left to the sweep, which forgets what scoring says is decided).
//
// The tenant's event-time clock (TenantKeys::Clock, member_state.h) moves
// with its events: an event's lag is its occurred_at less its Kafka record
// time (when ingest published it), so a replay, a rebuild or a backlog
// gives the same lag as the first pass; each TakeWrites advances the clock
// of every tenant with events since the last one to the largest lag among
// them, when that is at least kClockStep ahead of what this process last
// wrote, so a live tenant's clock is written about once.
//
// Not thread-safe: the consumer thread's.
#ifndef REBOUND_STATE_SENDER_CACHE_H_
#define REBOUND_STATE_SENDER_CACHE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/redis_client.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "state/answer_ring.h"
#include "state/member_state.h"
#include "state/works.h"

namespace rebound::state {

// A sender's counters as account safety reads them.
struct SenderCounts {
  int64_t sent = 0, accepted = 0, declined = 0, reported = 0, pending = 0;
  // Sent on the event's UTC day and the 6 days before.
  int64_t sent_this_week = 0;
  // Answers in the event's UTC week and the 3 before (state/answer_ring.h),
  // or all of them while the ring cannot tell (`recent_all_time`).
  AnswerCounts recent;
  bool recent_all_time = false;
};
// A sender's counters as of a UTC day (the rolling week ending that day,
// the answers of its recent window), from its hash.
SenderCounts CountsAsOf(const SenderState& sender, int64_t utc_day);

class SenderCache {
 public:
  struct Options {
    // Request keys (and pairs) live this long after their last write.
    absl::Duration request_ttl = absl::Hours(24 * 200);
    // Recipient markers (cluster mode) live this long.
    absl::Duration marker_ttl = absl::Hours(24 * 30);
    // Recipient side by script and marker (Redis Cluster), or by HINCRBY
    // in the sender's transaction (standalone).
    bool recipient_by_script = false;
    // Keys kept in process; past this the cache is dropped after a write.
    size_t max_entries = 200'000;
    // The style of a request's note (a NoteStyleName, from the classifier's
    // phrase lists), for the what-works counters (state/works.h); unset or
    // another name: not counted by style.
    std::function<std::string(const rebound::v1::RequestSent&)> note_style;
    // Whether a sender's counters put its account at risk (notify's
    // AssessAccount with the retry policy's levels). When set, each send
    // and outcome re-judges its sender as of the event's time; a change of
    // verdict is kept in the sender hash ("at_risk"), and the tenant's set
    // of members at risk (TenantKeys::AtRisk, which rebound_members_at_risk
    // counts) gets the member at each of its events while at risk (SADD,
    // so one the sweep took out as of a later time comes back) and loses
    // it when the verdict flips.
    std::function<bool(const SenderCounts&)> at_risk;
  };
  explicit SenderCache(Options options) : options_(std::move(options)) {}
  ~SenderCache();
  SenderCache(const SenderCache&) = delete;
  SenderCache& operator=(const SenderCache&) = delete;

  void set_recipient_by_script(bool v) { options_.recipient_by_script = v; }

  // Reads to make before Apply/SenderReplies can run for these events:
  // every key of theirs not in process yet (HGETALL of hashes, GET of
  // pairs), and, once per recipient, its hash's stored utc offset (and,
  // for an acceptance, its accept hours' length): type checks.
  // Remembers what it asked for; Loaded() takes the replies in order.
  std::vector<std::vector<std::string>> LoadsFor(
      const std::vector<const rebound::v1::ConnectionEvent*>& events);
  // The replies of LoadsFor's reads. An error reply was already turned
  // into the call's status by RedisClient; a hash that is not a hash
  // cannot be here.
  void Loaded(std::vector<RedisValue> replies);

  // Applies one event (loaded) in process, queueing its writes.
  // `verdict` is required for declines and expiries. `record_ms`: the
  // event's Kafka record time (ingest's produce time; 0 unknown: now),
  // which the tenant's clock measures the event's lag against.
  absl::Status Apply(const rebound::v1::ConnectionEvent& event,
                     const rebound::v1::DeclineVerdict* verdict,
                     int64_t record_ms = 0);

  // What a decline or expiry reads of its sender's keys, now, as the
  // replies of [HGETALL sender, HMGET request sent_at request viewed
  // verdict pn pp verdict_nr, GET pair] would give them
  // (state::DecodeSender etc. read those).
  std::vector<RedisValue> SenderReplies(
      const rebound::v1::ConnectionEvent& event) const;

  // `hash` and `hours`, a recipient's hash (HGETALL) and accept hours (GET)
  // read before this batch's writes, as they will read once the writes
  // queued since the last TakeWrites land: its counters, stored utc offset
  // and accept-hour cells moved by them. On a Redis Cluster (recipient by
  // script) the moves of the sender's transitions are added; a recipient
  // marker set by an earlier, half-landed round trip is not seen here.
  void AdjustRecipient(const std::string& recipient_key, RedisValue* hash,
                       RedisValue* hours) const;
  // This batch's recipient reads were made before the writes the last
  // TakeWrites took had landed (sent behind the reads on one connection:
  // RedisClient::ReadThenTransactStart), so AdjustRecipient adds those
  // writes' moves too. Until the next TakeWrites.
  void set_reads_before_taken_writes(bool v) { reads_before_taken_ = v; }

  // The queued writes, one group per member (one slot), and forgets them:
  // Redis must run them (RedisClient::Transact) before anything else is
  // read from it. After a failed write, call Forget().
  std::vector<std::vector<RedisStep>> TakeWrites();

  // Drops everything in process (after a failure, a rebalance, a rebuild,
  // a lost state): the next events load their keys again.
  void Forget();
  // Bounds what is kept to options.max_entries, oldest first, in two
  // generations: once the young one holds half the bound it becomes the
  // old one (the previous old one is dropped); a key of the old generation
  // that an event touches moves back to the young one. So a sender active
  // in the last half-bound's worth of keys stays in process, and a full
  // cache never empties at once (which made every active sender reload
  // in the same batch).
  void Trim();
  // A tenant's clock is rewritten only when it moved at least this much.
  static constexpr double kClockStep = 1.0;  // s

  size_t entries() const { return young_.entries() + old_.entries(); }

 private:
  absl::Status ApplyEvent(const rebound::v1::ConnectionEvent& event,
                          const rebound::v1::DeclineVerdict* verdict,
                          int64_t record_ms);
  // Re-judges the event's sender (Options::at_risk).
  void UpdateRisk(const rebound::v1::ConnectionEvent& event);

  struct Hash {
    absl::flat_hash_map<std::string, std::string> fields;
    absl::flat_hash_set<std::string> dirty;
    bool expires = false;  // A request: EXPIRE with its writes.
    // When this process last set its TTL: refreshed with a write at most
    // once a day (so a request lives request_ttl after its last event,
    // give or take a day), not with every write.
    absl::Time ttl_set = absl::InfinitePast();
  };
  struct Str {
    std::optional<std::string> value;
    bool dirty = false;
  };
  struct Load {
    enum Kind { kHash, kString, kOffset, kChecked } kind;
    std::string key;
    std::string recipient_key;  // kOffset: the recipient hash.
  };
  // What this batch's writes move on a recipient (AdjustRecipient).
  struct RecipientDelta {
    int64_t received = 0, accepted = 0, declined = 0;
    std::optional<std::string> utc_offset;
    std::vector<int64_t> hours;  // Hour-of-week cells incremented.
  };
  // Queues a command on another member's keys (the recipient's side) or
  // the tenant's into the group of that hash tag (one slot).
  void Other(const std::string& tag, RedisStep step);
  void Set(Hash& h, const std::string& field, std::string value);
  // `hash` and `hours` (AdjustRecipient's) moved by `d`.
  static void MoveRecipient(const RecipientDelta& d, RedisValue* hash,
                            RedisValue* hours);

  // What is kept of the members' keys, in one generation (Trim).
  struct Generation {
    // Node maps: references to entries stay valid across inserts.
    absl::node_hash_map<std::string, Hash> hashes;
    absl::node_hash_map<std::string, Str> strings;
    // Stored utc offsets (minutes, "" unknown) of recipients whose
    // acceptances are being applied, and the last one this process wrote.
    // Their presence: the recipient hash was found a hash.
    absl::flat_hash_map<std::string, std::string> recipient_offsets;
    // Accept-hour strings found strings.
    absl::flat_hash_set<std::string> hours_checked;
    size_t entries() const {
      return hashes.size() + strings.size() + recipient_offsets.size() +
             hours_checked.size();
    }
    void Clear() { *this = Generation(); }
  };
  Options options_;
  // Frees a dropped generation on a thread of its own: a full one holds
  // ~100k keys' maps, whose frees took the consume thread tens of ms.
  void Drop(Generation a, Generation b = Generation());
  Generation young_, old_;
  std::thread reaper_;
  // Keys written since the last TakeWrites, by member prefix (hash tag).
  std::vector<std::string> dirty_order_;
  absl::flat_hash_set<std::string> dirty_keys_;
  // Commands of other tags (recipients, tenants) since the last
  // TakeWrites, by prefix, and the index of each prefix's group.
  std::vector<std::pair<std::string, std::vector<RedisStep>>> recipient_;
  absl::flat_hash_map<std::string, size_t> recipient_index_;
  // Recipient moves since the last TakeWrites, by recipient hash key.
  absl::flat_hash_map<std::string, RecipientDelta> recipient_deltas_;
  // The moves of the writes the last TakeWrites took, and whether this
  // batch's recipient reads were made before those writes landed.
  absl::flat_hash_map<std::string, RecipientDelta> taken_deltas_;
  bool reads_before_taken_ = false;
  // Tenants added to TenantsKey since the last TakeWrites.
  absl::flat_hash_set<std::string> tenants_added_;
  // The largest event lag (s) of each tenant since the last TakeWrites, and
  // the clock lag (s) this process last wrote for each tenant.
  absl::flat_hash_map<std::string, double> tenant_lag_;
  absl::flat_hash_map<std::string, double> clock_written_;
  std::vector<Load> pending_loads_;
};

}  // namespace rebound::state

#endif  // REBOUND_STATE_SENDER_CACHE_H_
