// Reads a whole Kafka topic as it stands now (every partition from its low to
// its high watermark). For tools and tests that check what landed in Kafka.
#ifndef REBOUND_TOOLS_TOPIC_READER_H_
#define REBOUND_TOOLS_TOPIC_READER_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::tools {

struct KafkaRecord {
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of header `name`, or "" when absent.
  std::string Header(const std::string& name) const;
};

// Every record now in `topic`, ordered by partition then offset. Fails naming
// the topic when Kafka does not answer within `timeout`.
absl::StatusOr<std::vector<KafkaRecord>> ReadTopic(
    const std::string& brokers, const std::string& topic,
    std::chrono::milliseconds timeout);

// Total records now in `topic` (sum of high minus low watermarks).
absl::StatusOr<int64_t> CountTopic(const std::string& brokers,
                                   const std::string& topic,
                                   std::chrono::milliseconds timeout);

}  // namespace rebound::tools

#endif  // REBOUND_TOOLS_TOPIC_READER_H_
