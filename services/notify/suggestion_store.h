// Notify's state in Redis: suggestions, their per-member and per-tenant
// update streams (what WatchSuggestions serves and resumes from), the pair
// retry budget and the member's red flags; it reads the tenant's open
// invites and clock, which scoring writes (the stale sweep: StaleInvites). Key
// names, layouts and scripts are the shared schema in state/ (keys.h lists
// every key); scoring's data is read through state/member_state.h.
//
// Each (suggestion id, version) is written once: the put script writes only
// a version newer than the stored one and appends it to the member's stream
// and (standalone Redis) the tenant's in the same call; on a Redis Cluster
// the tenant's stream is in another slot, appended by a second script
// behind a per-version marker. So replays after a crash add no stream
// entry twice, and a watcher resuming from a token sees every update once.
//
// Bounds: a member's suggestion keys expire `suggestion_ttl` after their
// last write (within the hour: a store sets the TTL of keys that exist at
// most hourly per member, RefreshDue); the index keeps the newest
// `max_suggestions_per_member`; streams are trimmed to their max lengths; the
// stale sweep forgets the pending invites it has looked at (StaleInvites,
// ForgetPending).
#ifndef REBOUND_SERVICES_NOTIFY_SUGGESTION_STORE_H_
#define REBOUND_SERVICES_NOTIFY_SUGGESTION_STORE_H_

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis_client.h"
#include "prometheus/counter.h"
#include "rebound/v1/notify.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/notify/page_token.h"
#include "state/epoch.h"
#include "state/member_state.h"

namespace rebound::notify {

struct SuggestionStoreOptions {
  RedisOptions redis;
  absl::Duration marker_ttl = absl::Hours(24 * 30);
  // Stream entries kept per member and per tenant (approximate trim). A
  // watcher resuming from a token older than what is kept gets
  // FAILED_PRECONDITION.
  int64_t member_stream_max = 10'000;
  int64_t tenant_stream_max = 1'000'000;
  // A member's suggestions, their index, waiting set, flags and pair retry
  // counters expire this long after their last write.
  absl::Duration suggestion_ttl = absl::Hours(24 * 400);
  // Suggestions listed per member (newest kept; older ones expire).
  int64_t max_suggestions_per_member = 1000;
  // Counts stored suggestions that do not decode (may be null). The rule
  // for corrupt state, everywhere it is read: never served or built on,
  // logged with its key, counted here; a read asking for exactly that
  // suggestion is told it is corrupt.
  prometheus::Counter* corrupt = nullptr;
};

// One suggestion version to write, with the red-flag signal names to count
// against the member (counted with its first version only).
struct SuggestionWrite {
  rebound::v1::RetrySuggestion suggestion;
  std::vector<std::string> red_flags;
};

struct StreamEntry {
  std::string id;  // Redis stream entry id: the resume token.
  rebound::v1::RetrySuggestion suggestion;
  // The entry's suggestion does not decode: skip it (its id still moves a
  // reader past it).
  bool corrupt = false;
};

class SuggestionStore {
 public:
  explicit SuggestionStore(SuggestionStoreOptions options);

  absl::Status Ping();

  // State-loss detection (state/epoch.h, state::NotifyEpochKey): once an
  // epoch is adopted, ReadPolicyInputs (every batch's first round trip)
  // checks it and returns DATA_LOSS, after its writes, when it is gone or
  // changed. Without EnsureEpoch (tools, tests) nothing is checked.
  absl::Status EnsureEpoch(bool may_create);
  absl::Status AdoptRebuiltEpoch();
  // One round trip: DATA_LOSS unless Redis holds the adopted epoch; without
  // one, a PING (state::Epoch::CheckNow). Redis's error when it fails.
  absl::Status CheckEpoch();
  // Redis Cluster (known once connected): whether the store is on one.
  bool on_cluster() const { return redis_.cluster(); }
  // For a rebuild: removes every key notify writes (state::IsNotifyKey) and
  // the epoch; then, once the state is complete, a new epoch.
  absl::StatusOr<int64_t> RemoveNotifyState();
  absl::Status SetNewEpoch();

  // What the retry policy needs for each verdict (state/member_state.h),
  // in order, in one round trip, which also checks the epoch.
  absl::StatusOr<std::vector<state::PolicyInputs>> ReadPolicyInputs(
      const std::vector<state::PolicyKey>& keys);

  // Writes a new suggestion (version 1) or a newer version of one. Returns
  // the suggestion as stored: on a replay, the one written the first time;
  // when a newer version is stored already (this one came too late), that
  // one, so a caller can tell its change did not land.
  // `red_flags`: signal names to count against the member (new ones only).
  absl::StatusOr<rebound::v1::RetrySuggestion> Put(
      const rebound::v1::RetrySuggestion& suggestion,
      const std::vector<std::string>& red_flags);
  // Put() of each write, in order, in two or three round trips whatever
  // their number. On an error some may be written: writing them all again
  // is safe (each version is written once).
  absl::StatusOr<std::vector<rebound::v1::RetrySuggestion>> PutBatch(
      const std::vector<SuggestionWrite>& writes);

  // nullopt when there is none, or when the stored one does not decode
  // (`corrupt`, if not null, is then set).
  absl::StatusOr<std::optional<rebound::v1::RetrySuggestion>> Get(
      const std::string& tenant, const std::string& member,
      const std::string& suggestion_id, bool* corrupt = nullptr);

  // Newest first; corrupt ones left out.
  absl::StatusOr<std::vector<rebound::v1::RetrySuggestion>> List(
      const std::string& tenant, const std::string& member);
  // A page of List's order (newest first; ties by id, descending) after
  // the index entry `after` (from the newest when nullopt): up to `count`
  // suggestions for which `wanted` holds (all when it is null), reading the
  // index once and the suggestions in chunks. `next` names the last one
  // returned when more that are wanted follow. A keyset: inserts (newer, so
  // before `after`) and state changes (which move nothing in the index)
  // neither skip nor repeat an item on later pages.
  struct Page {
    std::vector<rebound::v1::RetrySuggestion> suggestions;
    std::optional<PageCursor> next;
  };
  absl::StatusOr<Page> ListAfter(
      const std::string& tenant, const std::string& member,
      const std::optional<PageCursor>& after, int64_t count,
      const std::function<bool(const rebound::v1::RetrySuggestion&)>& wanted =
          nullptr);

  absl::StatusOr<std::vector<std::string>> WaitingOnProfile(
      const std::string& tenant, const std::string& member);

  // What Notify.GetInsights shows of a member, in two round trips (one
  // pipeline of every read, then the state field of each suggestion its
  // index names: a few bytes each, not the suggestions).
  struct InsightsData {
    // Unset when Redis holds nothing about the member's events.
    std::optional<rebound::v1::MemberScores> scores;
    // What works for the member and for its tenant (state/works.h):
    // acceptance by note style, channel and send hour.
    std::vector<rebound::v1::ApproachStats> works;
    // The top red flags (signal, count), most frequent first.
    std::vector<std::pair<std::string, int64_t>> red_flags;
    // The indexed suggestions (the newest max_suggestions_per_member) by
    // state name; one that expired meanwhile is not counted.
    std::map<std::string, int64_t> suggestions_by_state;
  };
  absl::StatusOr<InsightsData> Insights(const std::string& tenant,
                                        const std::string& member,
                                        int top_red_flags);

  // Stream entries after `after_id` ("0-0" = from the oldest kept, "$" is
  // not accepted: resolve "now" with LastEntryId()). Blocks up to `block`
  // when there is none yet. Member stream when `member` is non-empty, else
  // the tenant's.
  absl::StatusOr<std::vector<StreamEntry>> Read(const std::string& tenant,
                                                const std::string& member,
                                                const std::string& after_id,
                                                absl::Duration block,
                                                int count);
  struct PendingInvite {
    std::string tenant, sender, recipient, request_id;
    absl::Time sent_at;
    // The tenant's clock when it was read (state::TenantClockLag): wall time
    // for a live tenant, the time of the history a tenant is replaying.
    absl::Time tenant_now;
    // Scoring's request state: known (scoring applied its RequestSent and
    // keeps it), and then whether it is still pending.
    bool known = false;
    bool open = false;
  };
  // Up to `limit` tracked invites per tenant (scoring keeps its tenants'
  // open invites on their pending sets, state/keys.h), of any tenant, sent
  // more than `stale_after` before the tenant's clock (state::TenantClockLag;
  // the clocks read in one round trip), each with whether it is still open
  // (scoring's request state, read in one round trip per tenant). Also drops
  // the closed entries an earlier version kept, closed more than `keep` ago.
  absl::StatusOr<std::vector<PendingInvite>> StaleInvites(
      absl::Duration stale_after, int limit, absl::Duration keep);
  // Stops tracking `invites` (their withdraw suggestion is written), in one
  // round trip.
  absl::Status ForgetPending(const std::vector<PendingInvite>& invites);
  // For a rebuild of notify's state: tracks again those of `invites` that
  // scoring's request state says are still open (the sweep forgot the ones
  // it answered, whose withdraw suggestions the rebuild removed), so the
  // sweep suggests them again. Two round trips; returns how many are open.
  absl::StatusOr<int64_t> TrackOpenInvites(
      const std::vector<PendingInvite>& invites);

  absl::StatusOr<std::string> LastEntryId(const std::string& tenant,
                                          const std::string& member);
  // The clock (TIME) of the Redis that holds the member's (or tenant's)
  // stream, in ms since the epoch: what its ids are made from.
  absl::StatusOr<uint64_t> StreamClockMs(const std::string& tenant,
                                         const std::string& member);
  // The oldest entry id kept ("" when empty): a token older than it has
  // been trimmed, and updates after it may have been too.
  absl::StatusOr<std::string> FirstEntryId(const std::string& tenant,
                                           const std::string& member);

 private:
  // The stored suggestions of the first `count` of `ids` (an index read),
  // in order, in one round trip; missing and corrupt ones left out.
  absl::StatusOr<std::vector<rebound::v1::RetrySuggestion>> ReadIndexed(
      const std::string& tenant, const std::string& member,
      const std::vector<RedisValue>& ids, size_t count);
  // Decodes a stored suggestion; false (logged with `key`, counted) when
  // it does not decode.
  bool Decode(const std::string& bytes, const std::string& key,
              rebound::v1::RetrySuggestion* out) const;

  // Whether a put for the member whose keys start with `member_prefix`
  // should set their TTLs again (kPutSuggestionScript's refresh): unless a
  // put of this store did within kRefreshEvery (recorded by PutBatch once
  // such a put wrote). A key a put creates gets its TTL anyway, so the
  // others are kept alive without an EXPIRE each on every write.
  bool RefreshDue(const std::string& member_prefix, absl::Time now);
  static constexpr absl::Duration kRefreshEvery = absl::Hours(1);
  static constexpr size_t kRefreshedMembers = 100'000;

  SuggestionStoreOptions options_;
  RedisClient redis_;
  state::Epoch epoch_;
  // When each member's keys were last given their TTL by this store.
  absl::flat_hash_map<std::string, absl::Time> refreshed_;
};

std::string StreamKey(const std::string& tenant, const std::string& member);

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_SUGGESTION_STORE_H_
