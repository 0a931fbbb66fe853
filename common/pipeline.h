// The pipeline's contract between its services, in one place: the topics
// and how they are created, and how every record is keyed. (The Redis
// schema is state/; the record formats are proto/.)
#ifndef REBOUND_COMMON_PIPELINE_H_
#define REBOUND_COMMON_PIPELINE_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound::pipeline {

// Ingest publishes validated events here; scoring consumes it (notify's
// rebuild reads its RequestSent events).
inline constexpr char kEventsTopic[] = "connection-events";
// Scoring publishes a DeclineVerdict per decline or expiry here, and
// forwards each ProfileUpdated event once its effects are written (notify
// re-checks the suggestions waiting on profile work); notify consumes only
// this topic. Records are CloudEvents (binary mode): ce_type tells which
// (kVerdictType, kEventType; a record without ce_type is a verdict). Both
// are keyed by RecordKey, so a sender's verdicts and profile updates share
// a partition, in order but for a record Kafka refused and scoring sent
// again (notify reads the sender's profile as scoring holds it, so that
// order does not change a suggestion).
inline constexpr char kVerdictsTopic[] = "decline-verdicts";
inline constexpr char kVerdictType[] = "rebound.v1.DeclineVerdict";
inline constexpr char kEventType[] = "rebound.v1.ConnectionEvent";
// What scoring cannot handle for good (common/dead_letter.h).
inline constexpr char kEventsDeadLetterTopic[] = "connection-events-dlq";
// What notify cannot handle for good.
inline constexpr char kNotifyDeadLetterTopic[] = "notify-dlq";

// How topics a service finds missing are created.
struct TopicLayout {
  int partitions = 6;
  int replication = 1;
};

// The key of every record of the pipeline: "tenant/sender". All of one
// sender's events and verdicts share a partition in every topic (the
// partitioner hashes the key), so their order holds end to end and one
// consumer at a time owns the sender's state (scoring keeps it in
// process: state/sender_cache.h). Changing the partition count of the
// events topic moves senders between partitions: stop ingest and let
// scoring drain first. Ids may hold '/': the key is hashed, never parsed.
std::string RecordKey(std::string_view tenant, std::string_view sender);

// The record's ce_type header (its last value), without copying; empty
// when it has none.
std::string_view CloudEventType(const RdKafka::Message& message);
// A verdicts-topic record that is a ConnectionEvent (ce_type kEventType),
// not a DeclineVerdict.
bool IsForwardedEvent(const RdKafka::Message& message);

// Creates the named topics that are missing, with `layout` and unlimited
// retention (retention.ms -1: the history a rebuild replays), waiting at most
// `timeout`. The error names Kafka's address (`brokers`), the topic and
// Kafka's reason.
absl::Status EnsureTopics(RdKafka::Handle* handle, const std::string& brokers,
                          const std::vector<std::string>& topics,
                          const TopicLayout& layout,
                          std::chrono::milliseconds timeout);

}  // namespace rebound::pipeline

#endif  // REBOUND_COMMON_PIPELINE_H_
