#include "common/pipeline.h"

#include "common/kafka_admin.h"

namespace rebound::pipeline {

std::string RecordKey(std::string_view tenant, std::string_view sender) {
  std::string key;
  key.reserve(tenant.size() + sender.size() + 1);
  key.append(tenant).append(1, '/').append(sender);
  return key;
}

absl::Status EnsureTopics(RdKafka::Handle* handle, const std::string& brokers,
                          const std::vector<std::string>& topics,
                          const TopicLayout& layout,
                          std::chrono::milliseconds timeout) {
  std::vector<TopicSpec> specs;
  for (const auto& t : topics) {
    specs.emplace_back(t, layout.partitions, layout.replication);
  }
  absl::Status s = rebound::EnsureTopics(handle, specs, timeout);
  if (s.ok()) return s;
  return absl::Status(s.code(),
                      "kafka at " + brokers + ": " + std::string(s.message()));
}

}  // namespace rebound::pipeline
