// Dead-letter records, built the same way by every consumer: what a
// consumer could not handle for good (a record that does not decode, an
// update Redis refuses) goes to a dead-letter topic with the reason, and
// its partition moves on.
#ifndef REBOUND_COMMON_DEAD_LETTER_H_
#define REBOUND_COMMON_DEAD_LETTER_H_

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/kafka_publisher.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound {

struct DeadLetterRecord {
  std::string key;
  std::string value;
  Headers headers;
};

// The dead-letter record of consumed record `m`: its key, value and
// headers as consumed, then rebound_dlq_reason (`reason`),
// rebound_dlq_consumer (`consumer`: the group that gave up on it) and
// rebound_source_topic / _partition / _offset.
DeadLetterRecord MakeDeadLetter(const RdKafka::Message& m,
                                const std::string& reason,
                                const std::string& consumer);

// Appends the dead-letter headers: rebound_dlq_reason, rebound_dlq_consumer
// and where the record it stands for was consumed (rebound_source_topic /
// _partition / _offset).
void AddDeadLetterHeaders(Headers& headers, const std::string& reason,
                          const std::string& consumer,
                          const std::string& source_topic, int32_t partition,
                          int64_t offset);

// `record` without its value, for when Kafka refused the whole record for
// good (too large for the dead-letter topic): header
// rebound_dlq_value_dropped tells why and how many bytes; the value is
// still at its source offset while the source topic keeps it.
DeadLetterRecord WithoutValue(DeadLetterRecord record, const std::string& why);

// Sends `records` to `topic` and waits until every one landed: one that
// was not confirmed is sent again (after `pause`); one too large for the
// topic is sent again without its value. OK once all landed; CANCELLED
// when `stop` is set and `give_up` has passed (those left were not written:
// the caller must not store their offsets). A drain, already stopped,
// passes the time it may still take.
absl::Status SendDeadLetters(Publisher& publisher, const std::string& topic,
                             std::vector<DeadLetterRecord> records,
                             const std::atomic<bool>& stop,
                             std::chrono::milliseconds pause,
                             absl::Time give_up = absl::InfinitePast());

// Whether Kafka refused a record for its size (the only refusal a record
// without its value can get past).
bool IsTooLarge(const absl::Status& status);

}  // namespace rebound

#endif  // REBOUND_COMMON_DEAD_LETTER_H_
