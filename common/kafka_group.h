// A consumer-group member that stores offsets by hand (at-least-once, an
// offset stored only after its effects are written), shared by scoring and
// notify.
#ifndef REBOUND_COMMON_KAFKA_GROUP_H_
#define REBOUND_COMMON_KAFKA_GROUP_H_

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound {

struct GroupConsumerOptions {
  std::string brokers;
  std::string group_id;
  std::string client_id;
  std::vector<std::string> topics;
  // Extra or overriding librdkafka properties.
  std::map<std::string, std::string> extra;
};

// Creates the consumer (cooperative-sticky assignment, auto commit of
// stored offsets, auto.offset.store off, earliest reset, short session
// timeout so a crashed member's partitions move quickly) and subscribes.
// Errors name the property or topic refused.
absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> CreateGroupConsumer(
    const GroupConsumerOptions& options, RdKafka::RebalanceCb* rebalance,
    RdKafka::EventCb* events);

// Whether a consumer created with `options` uses the cooperative protocol:
// the default cooperative-sticky strategy, unless `extra` sets another.
bool CooperativeAssignment(const GroupConsumerOptions& options);

// Applies an assignment change for the eager and the cooperative protocol
// alike (`cooperative`: CooperativeAssignment of the consumer's options;
// not asked of librdkafka, whose rebalance_protocol() can hang when called
// from the callback during close, librdkafka #4041). `before_revoke` runs
// before partitions are given up (not when the assignment was lost), e.g.
// to let in-flight work land and commit.
void ApplyRebalance(RdKafka::KafkaConsumer* consumer, bool cooperative,
                    RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions,
                    const std::function<void()>& before_revoke);

// The end of a group member's life: commits the stored offsets and closes
// (leaving the group) when `kafka_reachable`. Otherwise neither: the
// commit would wait for a coordinator that is not there, and close() can
// retry its coordinator query forever (librdkafka#3740); the consumer is
// then destroyed unclosed (its C++ destructor does not close), and the
// offsets not committed are replayed by the partitions' next owner, which
// an idempotent consumer allows. Logs what it did.
void LeaveGroup(RdKafka::KafkaConsumer* consumer, bool kafka_reachable);

// Destroys `consumer` (after LeaveGroup; every message of it freed first),
// waiting at most `within`: librdkafka 2.0.2's destroy can wait forever
// for a partition of a topic deleted under the consumer (librdkafka#4362),
// and with Kafka unreachable it waits a session timeout (10 s) for the
// auto-commits it parked.
// Then it is left to its thread, logged, so the service still ends (what
// it consumed is committed or replayed either way), and false is returned:
// the caller must then keep the callbacks it gave the consumer alive (its
// threads may still log through them).
bool DestroyConsumer(std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                     absl::Duration within);
// Whether DestroyConsumer ever left a consumer to its thread in this
// process (its service then ends with _Exit: see RunService).
bool KafkaConsumerAbandoned();
// Keeps `callbacks` alive for the rest of the process, reachable (not a
// leak), for an abandoned consumer's threads.
void KeepForever(std::shared_ptr<void> callbacks);

// Whether `consumer`'s group has a committed offset on any partition of
// `topic` (it consumed the topic before). UNAVAILABLE when the metadata or
// the group coordinator does not answer within `timeout`.
absl::StatusOr<bool> GroupHasCommittedOffsets(
    RdKafka::KafkaConsumer* consumer, const std::string& topic,
    std::chrono::milliseconds timeout);

// What keeps a group member from consuming although its brokers answer: a
// subscribed topic deleted, a topic not authorised, the group refused (not
// authorised, full, another protocol), credentials refused, a fatal error.
// librdkafka reports some of these once, when its state changes, and some
// at every join attempt, so each kind is kept until evidence fit for it:
//  - topic gone: a record, an assignment with partitions, or a probe whose
//    metadata finds every subscribed topic again (a group with no
//    partitions learns of a topic made again at its next metadata refresh,
//    topic.metadata.refresh.interval.ms = 10 s, after the probe);
//  - topic not authorised (a fetch refused; its metadata may still be
//    readable): a record, or, for a member holding no partitions (no fetch
//    to be refused), the probe; so an idle member with partitions stays
//    NOT_SERVING until a record comes rather than SERVING while refused;
//  - group refused: an assignment (the join succeeded) or a record, never
//    the probe (the offsets may be readable while joins are refused);
//  - credentials refused: an assignment, a record or any probe answered;
//  - fatal: never.
// Health reports the member NOT_SERVING while any holds. Note, Consumed,
// Assigned and Probe are called on the consumer's thread (callbacks
// included); faulted() from any thread.
class ConsumerFault {
 public:
  // Whether `err` is one that stops consumption until the cluster changes.
  static bool StopsConsuming(RdKafka::ErrorCode err);
  // Records `err` (from consume() or the event callback) when it stops
  // consumption, logging it when its kind is new or its code changed;
  // returns whether it did.
  bool Note(RdKafka::ErrorCode err, absl::string_view detail);
  // A record was consumed.
  void Consumed();
  // The group assigned `partitions` more partitions (0: joined, none).
  void Assigned(size_t partitions);
  // While a fault the probe may clear holds, at most once a second:
  // GroupHasCommittedOffsets on each of `topics` (the topic's metadata and
  // the group's offsets). `assigned`: partitions the member holds now.
  void Probe(RdKafka::KafkaConsumer* consumer,
             const std::vector<std::string>& topics, size_t assigned);
  bool faulted() const { return kinds_.load() != 0; }

 private:
  enum Kind : unsigned {
    kTopicGone = 1,
    kTopicDenied = 2,
    kGroup = 4,
    kCredentials = 8,
    kFatal = 16,
  };
  static Kind KindOf(RdKafka::ErrorCode err);
  void Clear(unsigned kinds, const char* why);
  std::atomic<unsigned> kinds_{0};
  // The code last logged for each kind (by bit), so alternating kinds do
  // not log at every report.
  std::array<RdKafka::ErrorCode, 5> last_logged_{};
  absl::Time probed_ = absl::InfinitePast();
};

// The fetch batching of a group member, from --fetch-wait-max and
// --fetch-min-bytes, as librdkafka properties (GroupConsumerOptions::extra).
// The broker answers a fetch once it holds min-bytes for it, or after
// wait-max: larger values mean fewer, fuller fetches (less broker and
// client CPU per record when busy) and up to wait-max more latency when
// traffic is light.
std::map<std::string, std::string> ReadFetchBatching(ConfigReader& config);

// The record's Kafka timestamp in ms since the epoch (ingest's produce
// time on the events topic), 0 when it has none.
int64_t RecordTimeMs(const RdKafka::Message& m);
// How long ago `m` was produced (its record timestamp, the producer's
// clock), in seconds, never negative; nullopt when it has none.
std::optional<double> RecordAgeSeconds(const RdKafka::Message& m,
                                       absl::Time now);

}  // namespace rebound

#endif  // REBOUND_COMMON_KAFKA_GROUP_H_
