// Topic administration over an existing librdkafka handle.
#ifndef REBOUND_COMMON_KAFKA_ADMIN_H_
#define REBOUND_COMMON_KAFKA_ADMIN_H_

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound {

struct TopicSpec {
  TopicSpec(std::string name, int partitions = 6, int replication_factor = 1,
            std::map<std::string, std::string> configs = {})
      : name(std::move(name)),
        partitions(partitions),
        replication_factor(replication_factor),
        configs(std::move(configs)) {}
  std::string name;
  int partitions;
  int replication_factor;
  // Topic configs set when it is created (e.g. max.message.bytes).
  std::map<std::string, std::string> configs;
};

// Creates every topic that does not exist yet. A topic that already exists
// is accepted as it is. On failure the error names the topic and Kafka's
// reason (e.g. "topic 'connection-events': replication factor 3 larger than
// available brokers 1").
absl::Status EnsureTopics(RdKafka::Handle* handle,
                          const std::vector<TopicSpec>& topics,
                          std::chrono::milliseconds timeout);

// The configs of `topic` as the broker reports them (every one, defaults
// included: name -> value), NotFound when it does not exist, or another
// error naming the topic.
absl::StatusOr<std::map<std::string, std::string>> TopicConfig(
    RdKafka::Handle* handle, const std::string& topic,
    std::chrono::milliseconds timeout);

// The partition count of `topic` from a fresh metadata request, or an error
// naming the topic.
absl::StatusOr<int> PartitionCount(RdKafka::Handle* handle,
                                   const std::string& topic,
                                   std::chrono::milliseconds timeout);

// Low and high watermark of one partition.
struct PartitionRange {
  int64_t low = 0;
  int64_t high = 0;
};

// The low and high watermarks of every partition of `topic`, by partition
// id. Right after a topic is created its leaders may not be known yet: those
// answers (not leader, leader not available, unknown partition) are retried
// until `timeout` (at most a day). A topic the broker says does not exist,
// or one without partitions, is NotFound; other failures (not authorised,
// leaders still missing at the timeout, no broker) are Unavailable and name
// the topic (and the partition) and Kafka's reason.
absl::StatusOr<std::map<int32_t, PartitionRange>> TopicWatermarks(
    RdKafka::Handle* handle, const std::string& topic,
    std::chrono::milliseconds timeout);

// Deletes the named topics; one that does not exist is not an error. On
// failure the error names the topic and Kafka's reason.
absl::Status DeleteTopics(RdKafka::Handle* handle,
                          const std::vector<std::string>& topics,
                          std::chrono::milliseconds timeout);

}  // namespace rebound

#endif  // REBOUND_COMMON_KAFKA_ADMIN_H_
