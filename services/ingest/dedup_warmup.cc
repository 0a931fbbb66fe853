#include "services/ingest/dedup_warmup.h"

#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "common/kafka_admin.h"
#include "common/kafka_properties.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound::ingest {
namespace {

struct Range {
  int64_t next = 0;  // Next offset to read.
  int64_t end = 0;   // High watermark at the start: read up to it.
};

int Ms(absl::Time deadline) {
  return static_cast<int>(
      std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

absl::Status Unavailable(const std::string& topic, const std::string& what,
                         RdKafka::ErrorCode e) {
  return absl::UnavailableError("dedup warm-up of topic '" + topic +
                                "': " + what + ": " + RdKafka::err2str(e));
}

}  // namespace

absl::StatusOr<DedupWarmupResult> WarmDedupWindow(
    const DedupWarmupOptions& options, DedupWindow* window) {
  const absl::Time deadline = absl::Now() + options.timeout;
  const std::string& topic = options.topic;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (auto s = ApplyKafkaClientProperties(conf.get()); !s.ok()) return s;
  std::map<std::string, std::string> props = options.extra;
  props["bootstrap.servers"] = options.brokers;
  // Assigned partitions only: the group is never joined nor committed to.
  props["group.id"] = "rebound-ingest-dedup-warmup";
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  props["client.id"] = "rebound-ingest-warmup";
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError("kafka property '" + k + "': " + err);
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) return absl::InternalError("dedup warm-up consumer: " + err);
  struct Closer {
    RdKafka::KafkaConsumer* c;
    ~Closer() { c->close(); }
  } closer{consumer.get()};

  auto watermarks =
      TopicWatermarks(consumer.get(), topic,
                      std::chrono::milliseconds(std::max(1, Ms(deadline))));
  DedupWarmupResult result;
  // A topic not there yet holds nothing to remember.
  if (absl::IsNotFound(watermarks.status())) return result;
  if (!watermarks.ok()) {
    return absl::UnavailableError("dedup warm-up: " +
                                  std::string(watermarks.status().message()));
  }
  std::map<int32_t, Range> ranges;
  for (const auto& [p, w] : *watermarks) ranges[p] = {w.low, w.high};
  result.partitions = static_cast<int>(ranges.size());

  // Where each partition's window starts: the first record at or after
  // now - ttl (fewer if that is more than max_records, below).
  const int64_t since_ms = absl::ToUnixMillis(absl::Now() - options.ttl);
  std::vector<RdKafka::TopicPartition*> at_time;
  for (const auto& [p, r] : ranges) {
    at_time.push_back(RdKafka::TopicPartition::create(topic, p, since_ms));
  }
  RdKafka::ErrorCode e = consumer->offsetsForTimes(at_time, Ms(deadline));
  if (e != RdKafka::ERR_NO_ERROR) {
    RdKafka::TopicPartition::destroy(at_time);
    return Unavailable(topic, "offsets for the window's start", e);
  }
  int64_t total = 0;
  for (auto* tp : at_time) {
    Range& r = ranges[tp->partition()];
    // -1: no record that young (the end).
    const int64_t from = tp->offset() < 0 ? r.end : tp->offset();
    r.next = std::max(r.next, from);
    total += r.end - r.next;
  }
  RdKafka::TopicPartition::destroy(at_time);
  std::vector<RdKafka::TopicPartition*> assign;
  for (auto& [p, r] : ranges) {
    if (total > options.max_records) {
      // More than the window keeps: each partition's newest share of it
      // (the newest are what a crashed predecessor left unanswered).
      const auto share = static_cast<int64_t>(
          static_cast<double>(options.max_records) *
          static_cast<double>(r.end - r.next) / static_cast<double>(total));
      r.next = std::max(r.next, r.end - share);
    }
    if (r.next < r.end) {
      assign.push_back(RdKafka::TopicPartition::create(topic, p, r.next));
    }
  }
  if (assign.empty()) return result;
  e = consumer->assign(assign);
  RdKafka::TopicPartition::destroy(assign);
  if (e != RdKafka::ERR_NO_ERROR) return Unavailable(topic, "assign", e);

  auto left = [&] {
    for (const auto& [p, r] : ranges) {
      if (r.next < r.end) return true;
    }
    return false;
  };
  while (left()) {
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          "dedup warm-up of topic '" + topic + "': not read to its end in " +
          absl::FormatDuration(options.timeout) + " (" +
          std::to_string(result.records) + " records read)");
    }
    std::unique_ptr<RdKafka::Message> m(
        consumer->consume(std::min(200, std::max(1, Ms(deadline)))));
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      auto it = ranges.find(m->partition());
      if (it != ranges.end()) it->second.next = it->second.end;
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      // The client retries what is transient (a broker restarting, a leader
      // moving) by itself: wait it out until the deadline. Only what will
      // not mend ends the read now.
      const auto e = m->err();
      if (e == RdKafka::ERR__FATAL ||
          e == RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED ||
          e == RdKafka::ERR__UNKNOWN_TOPIC ||
          e == RdKafka::ERR__UNKNOWN_PARTITION) {
        return Unavailable(topic, "read", e);
      }
      continue;
    }
    auto it = ranges.find(m->partition());
    if (it == ranges.end()) continue;
    it->second.next = std::max(it->second.next, m->offset() + 1);
    if (m->offset() >= it->second.end) continue;  // Newer than the start.
    ++result.records;
    const std::string* key = m->key();
    RdKafka::Headers* headers = m->headers();
    if (key == nullptr || headers == nullptr) continue;
    const RdKafka::Headers::Header id = headers->get_last("ce_id");
    if (id.err() != RdKafka::ERR_NO_ERROR || id.value() == nullptr) continue;
    // The record key is "tenant_id/sender_id" (RecordKey); a tenant id
    // holds no '/'.
    const size_t slash = key->find('/');
    if (slash == std::string::npos) continue;
    const std::string_view tenant(key->data(), slash);
    const std::string_view event_id(static_cast<const char*>(id.value()),
                                    id.value_size());
    const std::string_view value(static_cast<const char*>(m->payload()),
                                 m->len());
    const RdKafka::MessageTimestamp ts = m->timestamp();
    const absl::Time at =
        ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE
            ? absl::Now()
            : absl::FromUnixMillis(ts.timestamp);
    if (window->Remember(DedupWindow::Fingerprint(tenant, event_id),
                         DedupWindow::ContentDigest(value), m->partition(),
                         m->offset(), at)) {
      ++result.remembered;
    }
  }
  return result;
}

}  // namespace rebound::ingest
