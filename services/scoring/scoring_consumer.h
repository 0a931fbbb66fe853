// The scoring pipeline stage: consumes connection events in a consumer group,
// applies each event's effects to Redis, classifies declines and publishes a
// DeclineVerdict per decline/expiry, forwards profile updates to notify on
// the same topic (common/pipeline.h), and sends what it cannot read to a
// dead-letter topic.
//
// At-least-once in, exactly-once effects: an offset is stored (and later
// committed) only after the event's Redis effects are written and its
// verdict, forwarded event or dead-letter record is confirmed by Kafka, for
// every earlier offset of the partition too. Redis updates are idempotent per
// event, so whatever is replayed after a crash changes nothing.
#ifndef REBOUND_SERVICES_SCORING_SCORING_CONSUMER_H_
#define REBOUND_SERVICES_SCORING_SCORING_CONSUMER_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/dead_letter.h"
#include "common/kafka_group.h"
#include "common/kafka_publisher.h"
#include "common/pipeline.h"
#include "common/service_host.h"
#include "common/up_flag.h"
#include "librdkafka/rdkafkacpp.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/scoring/classifier.h"
#include "services/scoring/score_store.h"

namespace rebound::scoring {

struct ScoringOptions {
  // Kafka bootstrap servers; required.
  std::string brokers;
  std::string group_id = "rebound-scoring";
  std::string events_topic = pipeline::kEventsTopic;
  std::string verdicts_topic = pipeline::kVerdictsTopic;
  std::string dead_letter_topic = pipeline::kEventsDeadLetterTopic;
  // Partitions and replication factor of the topics scoring creates when
  // missing.
  int topic_partitions = 6;
  int topic_replication = 1;
  // How long Create() waits for Kafka and Redis before giving up.
  std::chrono::milliseconds startup_timeout{30'000};
  // How long the drain at a stop lets verdicts in flight land.
  std::chrono::milliseconds drain_timeout{10'000};
  // Pause between attempts while Redis is down.
  std::chrono::milliseconds redis_retry{500};
  // How long a consumed event may wait for others to share its Redis round
  // trip (0: write as soon as nothing more is queued locally). Adds at most
  // this much to a verdict's latency; saves round trips when busy.
  std::chrono::milliseconds batch_linger{5};
  ScoreStoreOptions store;
  PublisherOptions publisher;
  // Extra librdkafka properties of the group consumer (ReadFetchBatching).
  std::map<std::string, std::string> consumer_properties;
};

// Offsets of one partition that are being worked on; the committable offset
// is the lowest one still in flight (or one past the highest done).
class OffsetTracker {
 public:
  void Begin(int64_t offset);
  bool InFlight(int64_t offset) const { return in_flight_.contains(offset); }
  // Returns the offset to store now (next to consume), or -1 if unchanged
  // (also for an offset that is not in flight).
  int64_t Done(int64_t offset);

 private:
  std::set<int64_t> in_flight_;
  int64_t highest_done_ = -1;
  int64_t stored_ = -1;
};

class ScoringConsumer final : public PipelineStage {
 public:
  // Connects to Kafka (creating the topics when missing) and to Redis,
  // waiting for each at most options.startup_timeout; UNAVAILABLE naming
  // the one that did not answer.
  static absl::StatusOr<std::unique_ptr<ScoringConsumer>> Create(
      const ScoringOptions& options, ClassifierConfig classifier,
      std::shared_ptr<prometheus::Registry> registry);
  ~ScoringConsumer() override;

  // Consumes until `stop` is set, then finishes in-flight work (for at
  // most options.drain_timeout), commits and closes the consumer. Returns
  // DEADLINE_EXCEEDED when verdicts or dead letters were still unconfirmed
  // (their events are replayed by whoever consumes the partition next).
  absl::Status Run(const std::atomic<bool>& stop) override;

  // Kafka reachable and consumable (ConsumerFault), Redis answering and
  // its state intact (not lost and waiting for a rebuild), and no dead
  // letter held that Kafka refuses.
  bool healthy() const override {
    return redis_ok_.load() && kafka_ok_.load() && !consumer_fault_.faulted() &&
           !state_lost_.load() && !dead_letters_refused_.load();
  }
  // Redis lost scoring's state (see ScoreStore::EnsureEpoch): nothing is
  // written until `rebound-scoring --rebuild-state` has rebuilt it.
  bool state_lost() const { return state_lost_.load(); }

  // Partitions of the events topic assigned to this instance now.
  int assigned_partitions() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(trackers_.size());
  }

  // Events fully processed (effects written, offsets storable) so far.
  int64_t processed() const override { return processed_.load(); }

 private:
  class Rebalancer;
  class Delivery;
  // A record whose landing completes a consumed event: its verdict, the
  // event forwarded to notify, or its dead-letter record.
  struct Outgoing {
    bool dead_letter = false;
    std::string topic;
    DeadLetterRecord record;  // Key, value, headers (a verdict's too).
    // The consumed event whose offset waits for it.
    std::string source_topic;
    int32_t partition = -1;
    int64_t offset = -1;
    bool event_applied = true;  // False: the event itself dead-lettered.
  };
  ScoringConsumer() = default;
  // A consumed event waiting for its batch to be written. A decline or
  // expiry gets its `verdict` in the round trip that writes it
  // (ScoreStore::RunSteps).
  struct Held {
    std::unique_ptr<RdKafka::Message> message;
    rebound::v1::ConnectionEvent event;
    std::optional<rebound::v1::DeclineVerdict> verdict;
    // `verdict` was decided in the round trip whose writes are in flight:
    // if they fail, it is decided again (after a rebuild, say).
    bool classified = false;
    absl::Time received;
  };
  // Most events written to Redis in one round trip.
  static constexpr size_t kMaxBatch = 256;

  // Takes one consumed message: dead-letters it, or adds it to the batch
  // (writing the batch when full). False only when `stop` interrupted a
  // Redis retry.
  bool Accept(std::unique_ptr<RdKafka::Message> message,
              const std::atomic<bool>& stop);
  // Writes the batch until it is empty (retrying while Redis is down,
  // until `stop`): one round trip writes every event that can be written,
  // in order, and reads the context of every decline at its place in that
  // order; the declines read are classified and written in a second one.
  // Written events complete (verdicts sent, offsets done).
  bool FlushBatch(const std::atomic<bool>& stop);
  // FlushBatch's work: the batch in one ScoreStore::PrepareSteps, whose
  // reads take the prepared events' writes along (in flight now), its own
  // writes held (prepared_; on a Redis Cluster sent: in_flight_), or,
  // after writes failed, in one RunSteps, waited for and completed.
  bool RoundTrip(const std::atomic<bool>& stop);
  // Reads the outcome of the writes in flight: their events complete; if
  // they failed, the events go back to the front of the batch, to be run
  // again (waiting, so poison is found and Redis-down retries pause).
  void CompleteInFlight(const std::atomic<bool>& stop);
  // Sends the prepared events' held writes on their own (they go in
  // flight). False when that failed: they were given back (GiveBack).
  bool SendPrepared();
  // Events whose writes are not known written go back to the front of the
  // batch, their verdicts to be decided again.
  void GiveBack(std::vector<Held>& events);
  // The prepared events' held writes dropped (with the store's state kept
  // in process) and the events given back.
  void DropPrepared();
  // Whether the group membership was lost while this instance waited (for
  // Redis, for a rebuild: longer than max.poll.interval.ms): its
  // partitions may be another instance's by now, so the events it holds
  // are dropped unwritten and unstored (their next owner replays them)
  // rather than written beside that owner. Counted and logged.
  bool Fenced();
  // A write refused by the partition fence (ScoreStore::Claim: another
  // consumer claimed a partition held here): every event held, prepared
  // or in flight is dropped unwritten and unstored, as Fenced() does, for
  // the partitions' next owner; the rebalance that took them follows.
  void DropFenced(const absl::Status& why);
  // Claims the partitions assigned since the last claim (unclaimed_),
  // before anything of theirs is read: retried while Redis is down. False
  // when stopped first.
  bool ClaimAssigned(const std::atomic<bool>& stop);
  // The fence fields (state::FenceField) of `partitions` of the events
  // topic in this consumer's group.
  std::vector<std::string> FenceFields(
      const std::vector<int32_t>& partitions) const;
  // CompleteInFlight, then, if that found the state lost, WaitForRebuild.
  // False only when `stop` came first.
  bool SettleInFlight(const std::atomic<bool>& stop);
  // Sends a written event's verdict, or marks it done.
  void Complete(Held& held, absl::Time now, const std::atomic<bool>& stop);
  // Poison in the batch (Redis refused a call for good): each event on
  // its own, in order; the one Redis refuses is dead-lettered with the
  // reason and the rest flows on.
  bool RunAlone(const std::atomic<bool>& stop);
  // One event's read (a decline's context, then its classification) and
  // write, in their own round trips.
  absl::Status ApplyAlone(Held& held);
  // Hands `out` to the producer, retrying while it is refused (Kafka down,
  // queue full) until `stop`; then it is left unsent and its event's
  // offset unstored.
  void Send(Outgoing out, const std::atomic<bool>& stop);
  // A record Kafka did not confirm (the delivery thread): queued to be
  // sent again by the consumer thread; a verdict its topic refuses for
  // good goes to the dead-letter topic instead, a dead letter too large
  // goes again without its value.
  void Requeue(Outgoing out, const absl::Status& why);
  // Sends what Requeue queued. False when some is still waiting.
  bool SendRequeued(const std::atomic<bool>& stop);
  // Which consumed events may join the batch's next round trip.
  // Publishes a record of `held`'s on the verdicts topic for notify (a
  // verdict, or a forwarded event: pipeline::kVerdictsTopic), keyed by its
  // sender, CloudEvents `id` and `type`; its offset is done when it lands.
  void SendToNotify(const Held& held, const std::string& id, const char* type,
                    std::string value, const std::atomic<bool>& stop);
  void RedisFailed(const absl::Status& status);
  // RedisFailed without the pause: health NOT_SERVING, logged, counted.
  void RedisDown(const absl::Status& status);
  // Adopts Redis's state epoch before anything is written (creating it for
  // a group that never committed). False only when `stop` came first.
  bool AdoptEpoch(const std::atomic<bool>& stop);
  // Redis lost the state (`why`, DATA_LOSS): lets the verdicts in flight
  // land, then health NOT_SERVING, metric, one error log; waits until a
  // rebuild set a new epoch, then re-reads the verdict of a decline held in
  // the batch (the rebuild's wins). False only when `stop` came first.
  bool WaitForRebuild(const absl::Status& why, const std::atomic<bool>& stop);
  void RedisOk();
  // The end of Run(): what is held written once more, what is in flight
  // given until options.drain_timeout, offsets committed (if Kafka
  // answers), the group left.
  absl::Status Drain();
  // `applied`: the event's effects were written (counted processed); a
  // dead-lettered event's were not (counted dead_letter only).
  void Finish(const std::string& topic, int32_t partition, int64_t offset,
              bool applied = true);
  void DeadLetter(const RdKafka::Message& message, const std::string& reason,
                  const std::atomic<bool>& stop);
  void StoreOffset(const std::string& topic, int32_t partition, int64_t next);

  ScoringOptions options_;
  ClassifierConfig classifier_;
  std::unique_ptr<ScoreStore> store_;
  std::unique_ptr<Rebalancer> rebalancer_;
  // Offsets are stored from the delivery thread: never into a consumer
  // being closed.
  absl::Mutex consumer_mu_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool consumer_closing_ ABSL_GUARDED_BY(consumer_mu_) = false;
  UpFlag redis_ok_{false};  // rebound_scoring_redis_up.
  std::atomic<bool> state_lost_{false};
  UpFlag kafka_ok_{true};  // rebound_scoring_kafka_up.
  ConsumerFault consumer_fault_;
  // The dead-letter topic refused a record for good; cleared when one
  // lands.
  std::atomic<bool> dead_letters_refused_{false};
  std::atomic<int64_t> processed_{0};
  // Records given up at a stop (their events are replayed).
  std::atomic<int64_t> unsent_{0};

  // Consumer thread only (the rebalance callback runs on it too):
  std::vector<Held> batch_;
  // Events whose writes were sent and not yet confirmed: the consumer
  // reads the next batch while Redis runs them.
  std::vector<Held> in_flight_;
  // Events decided and applied in process whose writes the store holds
  // (ScoreStore::PrepareSteps), to go out behind the next batch's reads
  // (so Redis runs them while that batch is decided) or on their own when
  // nothing follows. Decided on top of in_flight_'s writes: if those fail,
  // these are given back too.
  std::vector<Held> prepared_;
  // Partitions assigned and not claimed yet (ClaimAssigned).
  std::vector<int32_t> unclaimed_;
  // The next round trip waits for its writes (after writes failed).
  bool must_wait_ = false;
  // Writes in flight found the state lost (DATA_LOSS): reported and waited
  // on (WaitForRebuild) before anything else is written.
  std::optional<absl::Status> found_loss_;
  bool epoch_adopted_ = false;
  // Run()'s stop flag, for the rebalance callback.
  const std::atomic<bool>* stop_ = nullptr;

  absl::Mutex mu_;
  // Per assigned partition of the events topic.
  std::map<int32_t, OffsetTracker> trackers_ ABSL_GUARDED_BY(mu_);
  // Records Kafka did not confirm, to be sent again.
  std::vector<Outgoing> requeued_ ABSL_GUARDED_BY(mu_);
  absl::Time next_resend_ ABSL_GUARDED_BY(mu_);

  // Owns the metric objects the pointers below refer to.
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* consumed_ = nullptr;
  prometheus::Counter* dead_lettered_ = nullptr;
  prometheus::Counter* redis_errors_ = nullptr;
  prometheus::Counter* fenced_ = nullptr;
  prometheus::Family<prometheus::Counter>* verdicts_ = nullptr;
  prometheus::Histogram* process_latency_ = nullptr;
  prometheus::Histogram* event_age_ = nullptr;
  prometheus::Gauge* state_lost_gauge_ = nullptr;
  prometheus::Gauge* cache_entries_ = nullptr;
  prometheus::Counter* state_losses_ = nullptr;
  prometheus::Counter* redis_refused_ = nullptr;

  // Last: destroyed first, so the delivery reports its destructor still
  // serves find every member above alive.
  std::unique_ptr<Publisher> publisher_;
};

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_SCORING_CONSUMER_H_
