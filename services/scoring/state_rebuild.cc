#include "services/scoring/state_rebuild.h"

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka_group.h"
#include "common/kafka_replay.h"
#include "common/log.h"
#include "common/pipeline.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound::scoring {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineVerdict;

absl::StatusOr<RebuildReport> RebuildState(const RebuildOptions& o,
                                           const ClassifierConfig& classifier) {
  RebuildReport report;
  ScoreStore store(WithNoteStyle(o.store, classifier));
  if (auto s = store.Connect(); !s.ok()) return s;

  // 1. The verdicts already published, by the decline event that got them:
  // (tenant, event id), since event ids are unique per tenant only.
  absl::flat_hash_map<std::pair<std::string, std::string>, DeclineVerdict>
      published;
  absl::Status read = ReadTopicToEnd(
      o.brokers, o.verdicts_topic, o.kafka_timeout,
      [&](const RdKafka::Message& m) {
        DeclineVerdict v;
        if (!pipeline::IsForwardedEvent(m) &&
            v.ParseFromArray(m.payload(), static_cast<int>(m.len()))) {
          auto key = std::make_pair(v.tenant_id(), v.verdict_id());
          published.try_emplace(std::move(key), std::move(v));
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

  // 3. Replay, batched as the consumer does (ScoreStore::RunSteps): a
  // decline with a published verdict is written with it; one without is
  // classified at its place.
  struct Held {
    ConnectionEvent event;
    std::optional<DeclineVerdict> verdict;
    int64_t record_ms = 0;  // As the consumer: the tenant clock's reference.
  };
  std::vector<Held> held;
  const auto classify = [&](const DeclineContext& c) {
    ++report.verdicts_classified;
    return Classify(classifier, c);
  };
  auto flush = [&]() -> absl::Status {
    if (held.empty()) return absl::OkStatus();
    std::vector<ScoreStore::Step> steps;
    steps.reserve(held.size());
    for (const Held& h : held) {
      steps.push_back(ScoreStore::Step::Of(h.event, h.verdict, h.record_ms));
    }
    auto decided = store.RunSteps(steps, classify);
    if (!decided.ok()) return decided.status();
    for (const auto& d : *decided) report.verdicts_reused += d.stored ? 1 : 0;
    report.events_applied += static_cast<int64_t>(held.size());
    held.clear();
    return absl::OkStatus();
  };
  read = ReadTopicToEnd(
      o.brokers, o.events_topic, o.kafka_timeout,
      [&](const RdKafka::Message& m) {
        Held h;
        h.record_ms = RecordTimeMs(m);
        if (!h.event.ParseFromArray(m.payload(), static_cast<int>(m.len())) ||
            h.event.payload_case() == ConnectionEvent::PAYLOAD_NOT_SET) {
          ++report.undecodable;
          return absl::OkStatus();
        }
        if (NeedsVerdict(h.event)) {
          if (auto it =
                  published.find({h.event.tenant_id(), h.event.event_id()});
              it != published.end()) {
            h.verdict = it->second;
            ++report.verdicts_reused;
          }
        }
        held.push_back(std::move(h));
        if (held.size() >= 256) return flush();
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  if (auto s = flush(); !s.ok()) return s;

  // 4. Complete: the instances waiting on the loss resume.
  if (auto s = store.SetNewEpoch(); !s.ok()) return s;
  return report;
}

}  // namespace rebound::scoring
