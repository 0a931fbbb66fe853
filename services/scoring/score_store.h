// Scoring's state in Redis: request state, sender scores, recipient stats.
// The key names, field layouts and scripts are the shared schema in state/
// (keys.h lists every key); this class decides which calls an event makes.
//
// Per event, no script: the sender's keys (sender hash, request, pair) are
// owned by this consumer (the events topic is keyed by tenant and sender)
// and kept in process (state::SenderCache): loaded on first touch, the
// event applied there, the fields that changed written back as plain
// commands, with the recipient's counters, in one MULTI/EXEC per round
// trip (per member on a Redis Cluster, where the recipient's side stays a
// script behind a marker).
//
// A batch is two round trips whatever it holds: the reads (keys not in
// process, the recipients of its declines), then the transaction. Each
// decline is classified in process at its place in the batch, so it sees
// exactly the events before it and is written with its verdict in the
// same transaction (RunSteps).
//
// Idempotence: sender-side counters move only with a request's transitions
// (its first RequestSent, its first outcome), so a replayed event changes
// nothing; the recipient side counts a request and its outcome once each
// behind a marker. A decline's verdict is stored with its request, so a
// replay of the decline that decided it re-publishes the stored verdict
// instead of classifying again on counters that already include it.
//
// Out-of-order events: the first terminal event of a request (accepted,
// declined, withdrawn, expired) decides its state and is counted even if the
// request was not seen yet; a RequestSent arriving later records the
// snapshot and counts as sent but is not counted pending. A view before the
// request is kept on the request (or on the pair when it names no request).
#ifndef REBOUND_SERVICES_SCORING_SCORE_STORE_H_
#define REBOUND_SERVICES_SCORING_SCORE_STORE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/redis_client.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/notify/retry_policy.h"
#include "services/scoring/classifier.h"
#include "state/epoch.h"
#include "state/member_state.h"
#include "state/sender_cache.h"

namespace rebound::scoring {

struct ScoreStoreOptions {
  RedisOptions redis;
  // How long a recipient-side marker (this request / its outcome was
  // counted) is kept: a replay older than this would count again. Must
  // exceed how far back a replay can start; 30 days by default.
  absl::Duration marker_ttl = absl::Hours(24 * 30);
  // How long a request's state is kept after its last event (pending
  // invites expire after about 6 months).
  absl::Duration request_ttl = absl::Hours(24 * 200);
  // Sender keys kept in process (state::SenderCache::Trim drops the least
  // recently touched half past this; each entry is up to ~1 KB).
  size_t cache_entries = 200'000;
  // PrepareSteps holds a batch's writes to send them behind the next
  // batch's reads, so Redis runs them while that batch is decided
  // (standalone Redis); false: sent at once, as StartSteps does.
  bool overlap_writes = true;
  // A request's note style for the what-works counters (NoteStyle with
  // the classifier's config; state::SenderCache::Options::note_style).
  std::function<std::string(const rebound::v1::RequestSent&)> note_style;
  // Whether a sender's counters put its account at risk
  // (state::SenderCache::Options::at_risk; AtRiskJudge); unset: not kept.
  std::function<bool(const state::SenderCounts&)> at_risk;
};

// At risk by notify's AssessAccount with `config`'s levels.
std::function<bool(const state::SenderCounts&)> AtRiskJudge(
    const notify::AccountSafetyConfig& config);

// Whether an event needs a verdict (a decline or an expiry).
inline bool NeedsVerdict(const rebound::v1::ConnectionEvent& e) {
  return e.has_request_declined() || e.has_request_expired();
}

// `options` counting note styles by `classifier`'s phrase lists (kept
// unless already set).
ScoreStoreOptions WithNoteStyle(ScoreStoreOptions options,
                                const ClassifierConfig& classifier);

class ScoreStore {
 public:
  explicit ScoreStore(ScoreStoreOptions options);

  // Connects and loads the scripts. UNAVAILABLE when Redis does not answer.
  absl::Status Connect();
  absl::Status Ping();

  // State-loss detection. Redis holds an epoch (state::EpochKey) from the
  // moment scoring's state was created; once adopted here, every later
  // round trip reads it too, and a call finding it gone or changed returns
  // DATA_LOSS (after its writes: a rebuild starts from empty keys anyway).
  // EnsureEpoch adopts the stored epoch; when there is none it creates one
  // if `may_create` (nothing consumed yet: a fresh deployment), else returns
  // DATA_LOSS: Redis lost the state that consumed offsets stand for.
  // Without EnsureEpoch (tools, tests) nothing is checked.
  absl::Status EnsureEpoch(bool may_create);
  // After DATA_LOSS: adopts the epoch Redis holds now (set by a rebuild).
  // DATA_LOSS while there is none.
  absl::Status AdoptRebuiltEpoch();
  // One round trip: DATA_LOSS unless Redis holds the adopted epoch; without
  // one, a PING (state::Epoch::CheckNow). Redis's error when it fails.
  absl::Status CheckEpoch();
  // Redis Cluster (known once connected): whether the store is on one.
  bool on_cluster() const { return redis_.cluster(); }
  // CheckEpoch over a connection of its own, so it may run while writes
  // are in flight on the main one: on a cluster, what finds a master that
  // lost its data while events keep coming (the writes' own check reads
  // the one master holding the epoch key). OK before an epoch is adopted.
  absl::Status CheckEpochCopies();

  // For a rebuild: removes every key scoring writes (state::IsScoringKey)
  // and the epoch; returns how many keys went.
  absl::StatusOr<int64_t> RemoveScoringState();
  // For a rebuild, once the state is complete: a new epoch, overwriting.
  absl::Status SetNewEpoch();

  // What Redis knows about a decline/expiry's request and its members, as
  // the classifier's context. If this event already decided its request
  // (a replay), `stored_verdict` holds the verdict decided then. One round
  // trip at most (keys not in process, the recipient), no reads that grow
  // with history; writes nothing.
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

  using Batch = std::vector<std::pair<const rebound::v1::ConnectionEvent*,
                                      const rebound::v1::DeclineVerdict*>>;
  // Applies several events in order (RunSteps, no classify step). Same
  // effects as Apply() on each in turn.
  absl::Status ApplyBatch(const Batch& events);

  // ApplyBatch(events), then ReadDeclineState(decline): the read sees
  // every write of the batch. On an error some of the batch may be written
  // (each write is idempotent: apply it again).
  absl::StatusOr<DeclineState> ApplyBatchThenRead(
      const Batch& events, const rebound::v1::ConnectionEvent& decline);

  // One step of RunSteps: apply `event` with `verdict` (required for a
  // decline or expiry unless `classify`). A `classify` step is a decline or
  // expiry whose verdict is decided at its place in the steps.
  struct Step {
    const rebound::v1::ConnectionEvent* event = nullptr;
    const rebound::v1::DeclineVerdict* verdict = nullptr;
    bool classify = false;
    // The event's Kafka record time (ms; ingest's produce time), which the
    // tenant's clock measures its lag against (state/sender_cache.h); 0
    // unknown: wall time when applied.
    int64_t record_ms = 0;
    // `event` with the verdict it has, if any: classified when it needs
    // one and has none.
    static Step Of(const rebound::v1::ConnectionEvent& event,
                   const std::optional<rebound::v1::DeclineVerdict>& verdict,
                   int64_t record_ms = 0) {
      return {&event, verdict ? &*verdict : nullptr,
              NeedsVerdict(event) && !verdict, record_ms};
    }
  };
  struct Decided {
    rebound::v1::DeclineVerdict verdict;
    bool stored = false;  // The verdict stored with its request (a replay).
  };
  using Classifier =
      std::function<rebound::v1::DeclineVerdict(const DeclineContext&)>;
  // The steps in order, in two round trips whatever they hold: one of
  // reads (the sender keys not in process, the recipients of the steps to
  // classify), then one transaction of every write. Each step is applied in
  // process in order; a `classify` step's context is taken at its place, so
  // it sees exactly the steps before it (its recipient's counters as Redis
  // held them at the reads, plus what the steps before it moved), and it is
  // applied with the verdict stored with its request (a replay) or with
  // `classify(context)`. One Decided per classify step, in order. On an
  // error nothing or all of it is written on standalone Redis (per member
  // on a cluster); every step is idempotent, so the caller runs them again.
  absl::StatusOr<std::vector<Decided>> RunSteps(const std::vector<Step>& steps,
                                                const Classifier& classify);
  // RunSteps without waiting for its transaction: the reads' round trip,
  // the decisions, then the writes sent. Nothing is known written until
  // FinishWrites() returns OK, which must come before any other call on
  // this store (they fail INTERNAL meanwhile). On an error of either, the
  // steps are to be run again (each is idempotent).
  absl::StatusOr<std::vector<Decided>> StartSteps(
      const std::vector<Step>& steps, const Classifier& classify);
  // StartSteps whose transaction is held, not sent: it goes out with the
  // next PrepareSteps' reads, behind them on one connection, so Redis runs
  // it while this process works on that batch (or alone, by SendHeld). The
  // reads then see Redis as it was before the held writes (the keys they
  // write are in process; recipients read are moved by them in process),
  // so a batch's decisions do not depend on timing. When writes are held,
  // FinishWrites (and so SettleInFlight) must come before the next
  // PrepareSteps, and nothing else may be called but SendHeld, DropHeld,
  // FinishWrites. On a Redis Cluster nothing is held: StartSteps. If the
  // writes in flight fail, the held ones are dropped (FinishWrites).
  absl::StatusOr<std::vector<Decided>> PrepareSteps(
      const std::vector<Step>& steps, const Classifier& classify);
  bool has_held() const { return held_.has_value(); }
  // The last PrepareSteps sent the writes held before it (they are in
  // flight now, whatever it returned).
  bool held_went_out() const { return held_went_out_; }
  // Sends the held writes on their own (FinishWrites reads their outcome);
  // INTERNAL when none are held (dropped by a failure in between).
  absl::Status SendHeld();
  // Forgets the held writes, and the state kept in process with them.
  void DropHeld();
  // Reads the outcome of StartSteps' transaction (OK when none is in
  // flight), and checks the epoch read with it. A failure drops the held
  // writes too.
  absl::Status FinishWrites();
  bool writes_in_flight() const { return redis_.transact_in_flight(); }
  // Every reply to the writes in flight is in (read without waiting;
  // FinishWrites will not wait).
  bool writes_answered() { return redis_.TransactReady(); }

  // Partition fencing, so that a consumer which lost its partitions
  // without knowing it yet (stalled past its session, say) cannot write
  // beside their new owner. Claim gives `fields` (state::FenceField) a
  // generation above any handed out before (state/scripts.h), in
  // state::FenceKey (on a Redis Cluster, in its copy in every slot: 16,384
  // small script calls per claim); from then on every transaction of this
  // store is refused whole once another store has claimed one of the
  // fields held here: FinishWrites (RunSteps) returns ABORTED "fenced" and
  // nothing of it is written (on a cluster: of the groups refused). Claim
  // before the first read of a partition's senders. Release forgets
  // fields (partitions given up).
  absl::Status Claim(const std::vector<std::string>& fields);
  void Release(const std::vector<std::string>& fields);
  // The fields claimed and held, with their generations.
  const std::map<std::string, int64_t>& claimed() const { return fence_; }

  // Forgets the sender keys kept in process: at a rebalance (another
  // consumer may write them now), after a rebuild.
  void ForgetCached() {
    held_.reset();
    cache_.Forget();
  }
  size_t cached_entries() const { return cache_.entries(); }

  // What Scoring.AssessDraft needs about a draft from `sender` to
  // `recipient` (state::ReadDraftState): read from Redis, not the cache.
  absl::StatusOr<state::DraftState> ReadDraftState(
      const std::string& tenant, const std::string& sender,
      const std::string& recipient);

  // A member's scores (state::ReadMemberScores); NOT_FOUND when Redis holds
  // nothing about them.
  absl::StatusOr<rebound::v1::MemberScores> GetMemberScores(
      const std::string& tenant, const std::string& member);

 private:
  using RecipientReads =
      absl::flat_hash_map<std::string, std::pair<RedisValue, RedisValue>>;
  // Loads what `events` need that is not in process, and reads the
  // recipients (hash, accept hours) of `readers`, in one round trip.
  absl::StatusOr<RecipientReads> Load(
      const std::vector<const rebound::v1::ConnectionEvent*>& events,
      const std::vector<const rebound::v1::ConnectionEvent*>& readers);
  // Load's reads, and what their replies are for.
  struct Loads {
    std::vector<std::vector<std::string>> calls;
    size_t cache_loads = 0;               // The first ones: the cache's.
    std::vector<std::string> recipients;  // Then HGETALL, GET of each.
  };
  Loads LoadsFor(
      const std::vector<const rebound::v1::ConnectionEvent*>& events,
      const std::vector<const rebound::v1::ConnectionEvent*>& readers);
  RecipientReads Loaded(const Loads& l, std::vector<RedisValue> replies);
  absl::StatusOr<std::vector<Decided>> Steps(const std::vector<Step>& steps,
                                             const Classifier& classify,
                                             bool hold);
  // `event`'s DeclineState now: its sender's side from the cache, its
  // recipient's as `reads` holds it, moved by the writes queued since.
  absl::StatusOr<DeclineState> StateNow(
      const rebound::v1::ConnectionEvent& event, const RecipientReads& reads);
  // The state from the replies of [HGETALL sender, HMGET request, GET
  // pair, HGETALL recipient, GET accept hours].
  static absl::StatusOr<DeclineState> DecodeDeclineState(
      const rebound::v1::ConnectionEvent& decline, const RedisValue* replies);

  // The claimed fields as the guard of redis_'s transactions.
  void SetGuard();

  ScoreStoreOptions options_;
  RedisClient redis_;
  RedisClient probe_;  // CheckEpochCopies' connection.
  state::Epoch epoch_;
  state::SenderCache cache_;
  // PrepareSteps' writes, not sent yet.
  std::optional<std::vector<std::vector<RedisStep>>> held_;
  bool held_went_out_ = false;
  std::map<std::string, int64_t> fence_;  // Claimed: field -> generation.
};

// Whether `status` says a write was refused by the partition fence
// (ScoreStore::Claim): another consumer owns a partition now.
inline bool IsFenced(const absl::Status& status) {
  return absl::IsAborted(status);
}

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_SCORE_STORE_H_
