#include "common/kafka_replay.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka_properties.h"
#include "common/log.h"

namespace rebound {

absl::Status ReadTopicToEnd(
    const std::string& brokers, const std::string& topic,
    std::chrono::milliseconds timeout_ms,
    const std::function<absl::Status(const RdKafka::Message&)>& on_record) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::map<std::string, std::string> props = {
      {"bootstrap.servers", brokers},
      {"group.id",
       absl::StrCat("rebound-rebuild-", absl::ToUnixNanos(absl::Now()))},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "true"},
      {"client.id", "rebound-rebuild"},
  };
  if (auto s = ApplyKafkaClientProperties(conf.get()); !s.ok()) return s;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(k + ": " + err);
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) return absl::UnavailableError("kafka consumer: " + err);
  const int timeout = static_cast<int>(timeout_ms.count());
  std::unique_ptr<RdKafka::Topic> t(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  if (!t) return absl::InternalError(topic + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode rc = consumer->metadata(false, t.get(), &raw, timeout);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (rc != RdKafka::ERR_NO_ERROR || !md || md->topics()->empty() ||
      md->topics()->at(0)->err() != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("kafka at " + brokers + ": metadata of " +
                                  topic + ": " + RdKafka::err2str(rc));
  }
  std::vector<RdKafka::TopicPartition*> assign;
  std::map<int32_t, int64_t> end;  // Partitions still to read, to their end.
  for (const auto* p : *md->topics()->at(0)->partitions()) {
    int64_t low = 0, high = 0;
    rc =
        consumer->query_watermark_offsets(topic, p->id(), &low, &high, timeout);
    if (rc != RdKafka::ERR_NO_ERROR) {
      RdKafka::TopicPartition::destroy(assign);
      return absl::UnavailableError("end offsets of " + topic + ": " +
                                    RdKafka::err2str(rc));
    }
    if (high > low) {
      end[p->id()] = high;
      assign.push_back(RdKafka::TopicPartition::create(topic, p->id(), low));
    }
  }
  rc = consumer->assign(assign);
  RdKafka::TopicPartition::destroy(assign);
  if (rc != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("assign " + topic + ": " +
                                  RdKafka::err2str(rc));
  }
  absl::Time idle_since = absl::Now();
  absl::Status result;
  while (!end.empty() && result.ok()) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT ||
        m->err() == RdKafka::ERR__PARTITION_EOF) {
      if (absl::Now() - idle_since > absl::FromChrono(timeout_ms)) {
        result = absl::DeadlineExceededError(
            "reading " + topic + ": no progress for " +
            absl::FormatDuration(absl::FromChrono(timeout_ms)));
      }
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      log::Warn("rebuild: consume error", {{"error", m->errstr()}});
      continue;
    }
    idle_since = absl::Now();
    auto it = end.find(m->partition());
    if (it == end.end() || m->offset() >= it->second) continue;
    result = on_record(*m);
    if (m->offset() + 1 >= it->second) end.erase(it);
  }
  consumer->close();
  return result;
}

}  // namespace rebound
