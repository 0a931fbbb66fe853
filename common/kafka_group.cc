#include "common/kafka_group.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/kafka_properties.h"
#include "common/log.h"

namespace rebound {

absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> CreateGroupConsumer(
    const GroupConsumerOptions& options, RdKafka::RebalanceCb* rebalance,
    RdKafka::EventCb* events) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id},
      {"client.id", options.client_id},
      {"enable.auto.commit", "true"},
      // Offsets are stored by hand, after an event's effects are written.
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
      {"max.poll.interval.ms", "600000"},
      // The group learns of a subscribed topic made (again) at its periodic
      // metadata refresh (librdkafka's default: 5 min); a deleted one from
      // the fetch errors, at once.
      {"topic.metadata.refresh.interval.ms", "10000"},
  };
  for (const auto& [k, v] : options.extra) props[k] = v;
  std::string err;
  if (auto s = ApplyKafkaClientProperties(conf.get()); !s.ok()) return s;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError("kafka consumer property '" + k +
                                        "': " + err);
    }
  }
  if (conf->set("rebalance_cb", rebalance, err) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", events, err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError("kafka consumer callbacks: " + err);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> c(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) return absl::InternalError("kafka consumer: " + err);
  RdKafka::ErrorCode sub = c->subscribe(options.topics);
  if (sub != RdKafka::ERR_NO_ERROR) {
    return absl::InternalError("subscribe: " + RdKafka::err2str(sub));
  }
  return c;
}

bool CooperativeAssignment(const GroupConsumerOptions& options) {
  auto it = options.extra.find("partition.assignment.strategy");
  return it == options.extra.end() ||
         it->second.find("cooperative") != std::string::npos;
}

void ApplyRebalance(RdKafka::KafkaConsumer* consumer, bool cooperative,
                    RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions,
                    const std::function<void()>& before_revoke) {
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      delete consumer->incremental_assign(partitions);
    } else {
      consumer->assign(partitions);
    }
    return;
  }
  if (!consumer->assignment_lost() && before_revoke) before_revoke();
  if (cooperative) {
    delete consumer->incremental_unassign(partitions);
  } else {
    consumer->unassign();
  }
}

absl::StatusOr<bool> GroupHasCommittedOffsets(
    RdKafka::KafkaConsumer* consumer, const std::string& topic,
    std::chrono::milliseconds timeout) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(
      RdKafka::Topic::create(consumer, topic, nullptr, err));
  if (!t) return absl::InternalError("topic handle " + topic + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode rc = consumer->metadata(false, t.get(), &raw,
                                             static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (rc != RdKafka::ERR_NO_ERROR || !md || md->topics()->empty()) {
    return absl::UnavailableError("metadata of " + topic + ": " +
                                  RdKafka::err2str(rc));
  }
  // A topic missing or not authorised is not one never consumed: its
  // metadata answers with an error and no partitions.
  const RdKafka::TopicMetadata* tm = md->topics()->at(0);
  if (tm->err() != RdKafka::ERR_NO_ERROR || tm->partitions()->empty()) {
    return absl::UnavailableError("metadata of " + topic + ": " +
                                  (tm->err() != RdKafka::ERR_NO_ERROR
                                       ? RdKafka::err2str(tm->err())
                                       : std::string("no partitions")));
  }
  std::vector<RdKafka::TopicPartition*> tps;
  for (const auto* p : *tm->partitions()) {
    tps.push_back(RdKafka::TopicPartition::create(topic, p->id()));
  }
  rc = consumer->committed(tps, static_cast<int>(timeout.count()));
  bool any = false;
  for (auto* tp : tps) {
    if (tp->offset() >= 0) any = true;
  }
  RdKafka::TopicPartition::destroy(tps);
  if (rc != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("committed offsets of " + topic + ": " +
                                  RdKafka::err2str(rc));
  }
  return any;
}

void LeaveGroup(RdKafka::KafkaConsumer* consumer, bool kafka_reachable) {
  if (!kafka_reachable) {
    log::Warn(
        "kafka unreachable at the stop: leaving without a final commit; "
        "uncommitted records will be replayed");
    return;
  }
  RdKafka::ErrorCode committed = consumer->commitSync();
  if (committed != RdKafka::ERR_NO_ERROR &&
      committed != RdKafka::ERR__NO_OFFSET) {
    log::Warn("final commit failed", {{"error", RdKafka::err2str(committed)}});
  }
  consumer->close();
}

bool ConsumerFault::StopsConsuming(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_INVALID_GROUP_ID:
    case RdKafka::ERR_INCONSISTENT_GROUP_PROTOCOL:
    case RdKafka::ERR_GROUP_MAX_SIZE_REACHED:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__FATAL:
      return true;
    default:
      return false;
  }
}

ConsumerFault::Kind ConsumerFault::KindOf(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
      return kTopicGone;
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return kTopicDenied;
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
      return kCredentials;
    case RdKafka::ERR__FATAL:
      return kFatal;
    default:
      return kGroup;
  }
}

bool ConsumerFault::Note(RdKafka::ErrorCode err, absl::string_view detail) {
  if (!StopsConsuming(err)) return false;
  const Kind kind = KindOf(err);
  const unsigned before = kinds_.fetch_or(kind);
  RdKafka::ErrorCode& last =
      last_logged_[std::countr_zero(static_cast<unsigned>(kind))];
  if ((before & kind) == 0 || err != last) {
    last = err;
    log::Warn(
        "kafka consumer cannot consume; reporting NOT_SERVING",
        {{"error", RdKafka::err2str(err)}, {"detail", std::string(detail)}});
  }
  probed_ = absl::Now();
  return true;
}

void ConsumerFault::Clear(unsigned kinds, const char* why) {
  kinds &= ~static_cast<unsigned>(kFatal);
  const unsigned before = kinds_.fetch_and(~kinds);
  if ((before & kinds) == 0) return;
  for (size_t bit = 0; bit < last_logged_.size(); ++bit) {
    if ((kinds >> bit) & 1u) last_logged_[bit] = RdKafka::ERR_NO_ERROR;
  }
  if ((before & ~kinds) == 0) {
    log::Info("kafka consumer consuming again", {{"evidence", why}});
  }
}

void ConsumerFault::Consumed() {
  if (faulted()) Clear(~0u, "a record");
}

void ConsumerFault::Assigned(size_t partitions) {
  if (!faulted()) return;
  Clear(kGroup | kCredentials | (partitions > 0 ? kTopicGone : 0u),
        "an assignment");
}

void ConsumerFault::Probe(RdKafka::KafkaConsumer* consumer,
                          const std::vector<std::string>& topics,
                          size_t assigned) {
  const unsigned clears =
      kTopicGone | kCredentials | (assigned == 0 ? kTopicDenied : 0u);
  if ((kinds_.load() & clears) == 0) return;
  const absl::Time now = absl::Now();
  if (now - probed_ < absl::Seconds(1)) return;
  probed_ = now;
  for (const std::string& topic : topics) {
    if (!GroupHasCommittedOffsets(consumer, topic, std::chrono::seconds(2))
             .ok()) {
      return;
    }
  }
  Clear(clears, "the topics and the group answer");
}

namespace {
std::atomic<bool> abandoned{false};
}  // namespace

bool KafkaConsumerAbandoned() { return abandoned.load(); }

bool DestroyConsumer(std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                     absl::Duration within) {
  if (!consumer) return true;
  auto done = std::make_shared<absl::Notification>();
  std::thread destroyer([c = std::move(consumer), done]() mutable {
    c.reset();
    done->Notify();
  });
  if (done->WaitForNotificationWithTimeout(within)) {
    destroyer.join();
    return true;
  }
  destroyer.detach();
  abandoned.store(true);
  log::Warn(
      "the kafka consumer did not finish closing; leaving it (Kafka "
      "unreachable, or librdkafka #4362: a topic deleted under it)",
      {{"waited_ms", absl::ToInt64Milliseconds(within)}});
  return false;
}

void KeepForever(std::shared_ptr<void> callbacks) {
  ABSL_CONST_INIT static absl::Mutex mu(absl::kConstInit);
  static auto* kept = new std::vector<std::shared_ptr<void>>();
  absl::MutexLock lock(&mu);
  kept->push_back(std::move(callbacks));
}

int64_t RecordTimeMs(const RdKafka::Message& m) {
  const RdKafka::MessageTimestamp ts = m.timestamp();
  if (ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ||
      ts.timestamp <= 0) {
    return 0;
  }
  return ts.timestamp;
}

std::optional<double> RecordAgeSeconds(const RdKafka::Message& m,
                                       absl::Time now) {
  const int64_t ms = RecordTimeMs(m);
  if (ms == 0) return std::nullopt;
  return std::max(0.0, absl::ToDoubleSeconds(now - absl::FromUnixMillis(ms)));
}

std::map<std::string, std::string> ReadFetchBatching(ConfigReader& c) {
  const std::chrono::milliseconds wait = c.Duration(
      "fetch-wait-max", std::chrono::milliseconds(10),
      "longest the broker holds a fetch to gather --fetch-min-bytes (adds up "
      "to this to latency when traffic is light)");
  const int64_t min_bytes =
      c.Int("fetch-min-bytes", 1, 1, 100'000'000,
            "bytes the broker gathers before answering a fetch (1: answer "
            "as soon as any record is there)");
  return {{"fetch.wait.max.ms", std::to_string(wait.count())},
          {"fetch.min.bytes", std::to_string(min_bytes)}};
}

}  // namespace rebound
