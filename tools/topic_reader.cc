#include "tools/topic_reader.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/kafka_admin.h"
#include "common/kafka_properties.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound::tools {
namespace {

absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> MakeConsumer(
    const std::string& brokers) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (auto s = rebound::ApplyKafkaClientProperties(conf.get()); !s.ok()) {
    return s;
  }
  std::string err;
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", brokers},
                                          {"group.id", "rebound-topic-reader"},
                                          {"enable.auto.commit", "false"},
                                          {"enable.partition.eof", "true"},
                                          {"log_level", "3"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(k + ": " + err);
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> c(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) return absl::InternalError("consumer: " + err);
  return c;
}

}  // namespace

std::string KafkaRecord::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

absl::StatusOr<int64_t> CountTopic(const std::string& brokers,
                                   const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  auto c = MakeConsumer(brokers);
  if (!c.ok()) return c.status();
  auto w = rebound::TopicWatermarks(c->get(), topic, timeout);
  (*c)->close();
  if (!w.ok()) return w.status();
  int64_t n = 0;
  for (const auto& [p, r] : *w) n += r.high - r.low;
  return n;
}

absl::StatusOr<std::vector<KafkaRecord>> ReadTopic(
    const std::string& brokers, const std::string& topic,
    std::chrono::milliseconds timeout) {
  auto c = MakeConsumer(brokers);
  if (!c.ok()) return c.status();
  RdKafka::KafkaConsumer* consumer = c->get();
  auto w = rebound::TopicWatermarks(consumer, topic, timeout);
  if (!w.ok()) {
    consumer->close();
    return w.status();
  }
  std::vector<RdKafka::TopicPartition*> parts;
  std::map<int32_t, int64_t> next;  // Next offset wanted per partition.
  for (const auto& [p, r] : *w) {
    if (r.high > r.low) {
      parts.push_back(RdKafka::TopicPartition::create(topic, p, r.low));
      next[p] = r.low;
    }
  }
  std::vector<KafkaRecord> out;
  if (!parts.empty()) consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  auto done = [&] {
    for (const auto& [p, off] : next) {
      if (off < (*w)[p].high) return false;
    }
    return true;
  };
  while (!done()) {
    if (absl::Now() > deadline) {
      consumer->close();
      return absl::DeadlineExceededError("reading topic '" + topic +
                                         "' did not finish in time");
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT ||
        m->err() == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      consumer->close();
      return absl::UnavailableError("reading topic '" + topic +
                                    "': " + m->errstr());
    }
    KafkaRecord r;
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key()) r.key = *m->key();
    r.value.assign(static_cast<const char*>(m->payload()), m->len());
    if (RdKafka::Headers* h = m->headers()) {
      for (const auto& hdr : h->get_all()) {
        r.headers.emplace_back(
            hdr.key(), std::string(static_cast<const char*>(hdr.value()),
                                   hdr.value_size()));
      }
    }
    next[r.partition] = std::max(next[r.partition], r.offset + 1);
    out.push_back(std::move(r));
  }
  consumer->close();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return out;
}

}  // namespace rebound::tools
