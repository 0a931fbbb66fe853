#include "common/pipeline.h"

#include "common/kafka_admin.h"
#include "librdkafka/rdkafka.h"

namespace rebound::pipeline {

std::string RecordKey(std::string_view tenant, std::string_view sender) {
  std::string key;
  key.reserve(tenant.size() + sender.size() + 1);
  key.append(tenant).append(1, '/').append(sender);
  return key;
}

std::string_view CloudEventType(const RdKafka::Message& message) {
  rd_kafka_headers_t* headers = nullptr;
  // c_ptr() is not const; the message is only read.
  rd_kafka_message_t* m = const_cast<RdKafka::Message&>(message).c_ptr();
  if (m == nullptr || rd_kafka_message_headers(m, &headers) != 0 ||
      headers == nullptr) {
    return {};
  }
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, "ce_type", &value, &size) != 0 ||
      value == nullptr) {
    return {};
  }
  return {static_cast<const char*>(value), size};
}

bool IsForwardedEvent(const RdKafka::Message& message) {
  return CloudEventType(message) == kEventType;
}

absl::Status EnsureTopics(RdKafka::Handle* handle, const std::string& brokers,
                          const std::vector<std::string>& topics,
                          const TopicLayout& layout,
                          std::chrono::milliseconds timeout) {
  // Kept for good: the events and the verdicts are the history a rebuild
  // of lost Redis state replays (README, lost state); the dead letters are
  // what was never processed. A topic that exists is left as it is.
  std::vector<TopicSpec> specs;
  for (const auto& t : topics) {
    specs.emplace_back(
        t, layout.partitions, layout.replication,
        std::map<std::string, std::string>{{"retention.ms", "-1"}});
  }
  absl::Status s = rebound::EnsureTopics(handle, specs, timeout);
  if (s.ok()) return s;
  return absl::Status(s.code(),
                      "kafka at " + brokers + ": " + std::string(s.message()));
}

}  // namespace rebound::pipeline
