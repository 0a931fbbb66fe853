#include "services/scoring/state_rebuild.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound::scoring {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineVerdict;

// Reads every partition of `topic` from its start to the end it has when
// called, in partition order as records arrive; `on_record` gets each.
absl::Status ReadTopicToEnd(
    const RebuildOptions& o, const std::string& topic,
    const std::function<absl::Status(const RdKafka::Message&)>& on_record) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::map<std::string, std::string> props = {
      {"bootstrap.servers", o.brokers},
      {"group.id",
       absl::StrCat("rebound-rebuild-", absl::ToUnixNanos(absl::Now()))},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "true"},
      {"client.id", "rebound-rebuild"},
  };
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(k + ": " + err);
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) return absl::UnavailableError("kafka consumer: " + err);
  const int timeout = static_cast<int>(o.kafka_timeout.count());
  std::unique_ptr<RdKafka::Topic> t(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  if (!t) return absl::InternalError(topic + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode rc = consumer->metadata(false, t.get(), &raw, timeout);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  if (rc != RdKafka::ERR_NO_ERROR || !md || md->topics()->empty() ||
      md->topics()->at(0)->err() != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("kafka at " + o.brokers + ": metadata of " +
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
      if (absl::Now() - idle_since > absl::FromChrono(o.kafka_timeout)) {
        result = absl::DeadlineExceededError(
            "reading " + topic + ": no progress for " +
            absl::FormatDuration(absl::FromChrono(o.kafka_timeout)));
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

}  // namespace

absl::StatusOr<RebuildReport> RebuildState(const RebuildOptions& o,
                                           const ClassifierConfig& classifier) {
  RebuildReport report;
  ScoreStore store(o.store);
  if (auto s = store.Connect(); !s.ok()) return s;

  // 1. The verdicts already published, by the decline event that got them.
  absl::flat_hash_map<std::string, DeclineVerdict> published;
  absl::Status read =
      ReadTopicToEnd(o, o.verdicts_topic, [&](const RdKafka::Message& m) {
        DeclineVerdict v;
        if (v.ParseFromArray(m.payload(), static_cast<int>(m.len()))) {
          published.try_emplace(v.verdict_id(), std::move(v));
        }
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  log::Info("rebuild: published verdicts read",
            {{"topic", o.verdicts_topic},
             {"verdicts", static_cast<int64_t>(published.size())}});

  // 2. Start from empty scoring keys (a partial state, or writes made after
  // the loss, would otherwise be taken as applied).
  auto removed = store.RemoveScoringState();
  if (!removed.ok()) return removed.status();
  report.keys_removed = *removed;

  // 3. Replay, batched as the consumer does: a decline's context is read
  // after everything before it is written.
  std::vector<std::pair<ConnectionEvent, std::optional<DeclineVerdict>>> held;
  auto items = [&] {
    ScoreStore::Batch b;
    for (const auto& [e, v] : held) b.emplace_back(&e, v ? &*v : nullptr);
    return b;
  };
  read = ReadTopicToEnd(o, o.events_topic, [&](const RdKafka::Message& m) {
    ConnectionEvent e;
    if (!e.ParseFromArray(m.payload(), static_cast<int>(m.len())) ||
        e.payload_case() == ConnectionEvent::PAYLOAD_NOT_SET) {
      ++report.undecodable;
      return absl::OkStatus();
    }
    std::optional<DeclineVerdict> verdict;
    if (e.has_request_declined() || e.has_request_expired()) {
      auto st = store.ApplyBatchThenRead(items(), e);
      if (!st.ok()) return st.status();
      report.events_applied += static_cast<int64_t>(held.size());
      held.clear();
      if (st->stored_verdict) {
        verdict = std::move(*st->stored_verdict);
        ++report.verdicts_reused;
      } else if (auto it = published.find(e.event_id());
                 it != published.end()) {
        verdict = it->second;
        ++report.verdicts_reused;
      } else {
        verdict = Classify(classifier, st->context);
        ++report.verdicts_classified;
      }
    }
    held.emplace_back(std::move(e), std::move(verdict));
    if (held.size() >= 256) {
      if (auto s = store.ApplyBatch(items()); !s.ok()) return s;
      report.events_applied += static_cast<int64_t>(held.size());
      held.clear();
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (auto s = store.ApplyBatch(items()); !s.ok()) return s;
  report.events_applied += static_cast<int64_t>(held.size());

  // 4. Complete: the instances waiting on the loss resume.
  if (auto s = store.SetNewEpoch(); !s.ok()) return s;
  return report;
}

}  // namespace rebound::scoring
