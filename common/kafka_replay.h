// Reading a whole topic, for rebuilding state from Kafka (the source of
// truth) after Redis lost it.
#ifndef REBOUND_COMMON_KAFKA_REPLAY_H_
#define REBOUND_COMMON_KAFKA_REPLAY_H_

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound {

// Reads every partition of `topic` from its start to the end it has when
// called (no consumer group offsets are used or committed), in partition
// order as records arrive; `on_record` gets each and its error stops the
// read. DEADLINE_EXCEEDED when no record arrives for `timeout`.
absl::Status ReadTopicToEnd(
    const std::string& brokers, const std::string& topic,
    std::chrono::milliseconds timeout,
    const std::function<absl::Status(const RdKafka::Message&)>& on_record);

}  // namespace rebound

#endif  // REBOUND_COMMON_KAFKA_REPLAY_H_
