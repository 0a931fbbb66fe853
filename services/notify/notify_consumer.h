// Notify's consumer, of the verdicts topic only (common/pipeline.h): decline
// verdicts become retry suggestions; profile updates (forwarded by scoring)
// turn suggestions waiting on profile work ready. Offsets are stored
// only after the Redis writes; every write is idempotent per (suggestion,
// version), so replays add nothing twice.
#ifndef REBOUND_SERVICES_NOTIFY_NOTIFY_CONSUMER_H_
#define REBOUND_SERVICES_NOTIFY_NOTIFY_CONSUMER_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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
#include "services/notify/retry_policy.h"
#include "services/notify/suggestion_store.h"
#include "services/notify/suggestion_writer.h"

namespace rebound::notify {

struct NotifyConsumerOptions {
  std::string brokers;
  std::string group_id = "rebound-notify";
  std::string verdicts_topic = pipeline::kVerdictsTopic;
  // Records notify cannot handle for good (they do not decode, or Redis
  // refuses their update) go here with the reason.
  std::string dead_letter_topic = pipeline::kNotifyDeadLetterTopic;
  // Partitions and replication factor of the topics created when missing.
  int topic_partitions = 6;
  int topic_replication = 1;
  // How long Create() waits for Kafka and Redis before giving up.
  std::chrono::milliseconds startup_timeout{30'000};
  std::chrono::milliseconds redis_retry{500};
  // How long a consumed record may wait for others to share its Redis
  // round trips (0: write as soon as nothing more is queued locally).
  std::chrono::milliseconds batch_linger{5};
  SuggestionStoreOptions store;
  // Extra librdkafka properties of the group consumer (ReadFetchBatching).
  std::map<std::string, std::string> consumer_properties;
};

class NotifyConsumer final : public PipelineStage {
 public:
  // Connects to Kafka (creating the topics when missing) and to Redis,
  // waiting for each at most options.startup_timeout; UNAVAILABLE naming
  // the one that did not answer.
  static absl::StatusOr<std::unique_ptr<NotifyConsumer>> Create(
      const NotifyConsumerOptions& options, RetryPolicyConfig policy,
      std::shared_ptr<prometheus::Registry> registry);
  ~NotifyConsumer() override;

  // Consumes until `stop`, then commits (if Kafka answers) and leaves the
  // group.
  absl::Status Run(const std::atomic<bool>& stop) override;
  // Kafka reachable and consumable (ConsumerFault), Redis answering and
  // notify's state intact (not lost and waiting for a rebuild).
  bool healthy() const override {
    return redis_ok_.load() && kafka_ok_.load() && !consumer_fault_.faulted() &&
           !state_lost_.load();
  }
  // Redis lost notify's state (its epoch, state/epoch.h): nothing is
  // written until `rebound-notify --rebuild-state` has rebuilt it.
  bool state_lost() const { return state_lost_.load(); }
  int64_t processed() const override { return processed_.load(); }
  int assigned_partitions() const { return assigned_.load(); }

 private:
  class Rebalancer;
  NotifyConsumer() = default;
  // Most records written to Redis in one batch.
  static constexpr size_t kMaxBatch = 256;
  // Handles a batch of consumed records in order, retrying while Redis
  // fails (until `stop`), then stores their offsets. False only when `stop`
  // interrupted a retry (nothing of the batch is stored). The group
  // membership lost while it waited (longer than max.poll.interval.ms):
  // the batch is dropped unwritten and unstored, for the partitions' next
  // owner to replay, not written beside it.
  // `give_up`: for the final batch of a drain (`stop` already set), how
  // long its dead letters may still take.
  // Whether the group membership was lost while this instance waited
  // (longer than max.poll.interval.ms): then `batch` is dropped, unwritten
  // and unstored, for the partitions' next owner; counted and logged.
  bool Fenced(std::vector<std::unique_ptr<RdKafka::Message>>& batch);
  bool ProcessBatch(std::vector<std::unique_ptr<RdKafka::Message>>& batch,
                    const std::atomic<bool>& stop,
                    absl::Time give_up = absl::InfinitePast());
  // The batch's Redis writes: all together, or, when Redis refuses a call
  // for good, each record on its own, the refused ones added to
  // `dead_letters`. OK, DATA_LOSS (the state is lost) or a transient error.
  absl::Status WriteBatch(
      const std::vector<std::unique_ptr<RdKafka::Message>>& batch,
      std::vector<DeadLetterRecord>* dead_letters);
  // Adopts Redis's epoch of notify's state before anything is written
  // (creating it for a group that never committed). False only when
  // `stop` came first.
  bool AdoptEpoch(const std::atomic<bool>& stop);
  // Redis lost the state (`why`, DATA_LOSS): health NOT_SERVING, metric,
  // one error log; waits until a rebuild set a new epoch. False only when
  // `stop` came first.
  bool WaitForRebuild(const absl::Status& why, const std::atomic<bool>& stop);
  // Emits withdraw suggestions for invites pending too long.
  // Until `stop`: emits withdraw suggestions for invites pending too long.
  void SweepStaleInvites(const std::atomic<bool>& stop);

  NotifyConsumerOptions options_;
  RetryPolicyConfig policy_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<SuggestionStore> store_;
  std::unique_ptr<SuggestionWriter> writer_;
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Dead letters, and whether Kafka answers (its health probe).
  std::unique_ptr<Publisher> publisher_;
  prometheus::Counter* dead_lettered_ = nullptr;
  prometheus::Counter* redis_refused_ = nullptr;
  prometheus::Counter* sweep_refused_ = nullptr;
  // rebound_notify_redis_up / rebound_notify_kafka_up.
  UpFlag redis_ok_{true};
  UpFlag kafka_ok_{true};
  ConsumerFault consumer_fault_;
  std::atomic<bool> state_lost_{false};
  std::atomic<bool> epoch_adopted_{false};
  prometheus::Gauge* state_lost_gauge_ = nullptr;
  prometheus::Counter* state_losses_ = nullptr;
  prometheus::Counter* fenced_ = nullptr;
  std::atomic<int64_t> processed_{0};
  std::atomic<int> assigned_{0};
  prometheus::Family<prometheus::Counter>* suggestions_ = nullptr;
  prometheus::Counter* consumed_ = nullptr;
  prometheus::Histogram* verdict_age_ = nullptr;
  prometheus::Histogram* event_age_ = nullptr;
};

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_NOTIFY_CONSUMER_H_
