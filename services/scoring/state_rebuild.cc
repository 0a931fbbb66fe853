#include "services/scoring/state_rebuild.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka_replay.h"
#include "common/log.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound::scoring {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineVerdict;

absl::StatusOr<RebuildReport> RebuildState(const RebuildOptions& o,
                                           const ClassifierConfig& classifier) {
  RebuildReport report;
  ScoreStore store(o.store);
  if (auto s = store.Connect(); !s.ok()) return s;

  // 1. The verdicts already published, by the decline event that got them:
  // (tenant, event id), since event ids are unique per tenant only.
  absl::flat_hash_map<std::pair<std::string, std::string>, DeclineVerdict>
      published;
  absl::Status read = ReadTopicToEnd(
      o.brokers, o.verdicts_topic, o.kafka_timeout,
      [&](const RdKafka::Message& m) {
        DeclineVerdict v;
        if (v.ParseFromArray(m.payload(), static_cast<int>(m.len()))) {
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

  // 3. Replay, batched as the consumer does: a decline's context is read
  // after everything before it is written.
  std::vector<std::pair<ConnectionEvent, std::optional<DeclineVerdict>>> held;
  auto items = [&] {
    ScoreStore::Batch b;
    for (const auto& [e, v] : held) b.emplace_back(&e, v ? &*v : nullptr);
    return b;
  };
  read = ReadTopicToEnd(
      o.brokers, o.events_topic, o.kafka_timeout,
      [&](const RdKafka::Message& m) {
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
          } else if (auto it = published.find({e.tenant_id(), e.event_id()});
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
