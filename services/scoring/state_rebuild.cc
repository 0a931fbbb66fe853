#include "services/scoring/state_rebuild.h"

#include <map>
#include <memory>
#include <optional>
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

  // 3. Replay, batched as the consumer does (ScoreStore::RunSteps,
  // DeclineOrder): a decline with a published verdict is written with it;
  // one without has its context read at its place and is written in the
  // next round trip.
  struct Held {
    ConnectionEvent event;
    std::optional<DeclineVerdict> verdict;
    bool read = false;
  };
  std::vector<Held> held;
  DeclineOrder order;
  auto round_trip = [&]() -> absl::Status {
    std::vector<ScoreStore::Step> steps;
    steps.reserve(held.size());
    for (const Held& h : held) {
      steps.push_back({&h.event, h.verdict ? &*h.verdict : nullptr, h.read});
    }
    auto states = store.RunSteps(steps);
    if (!states.ok()) return states.status();
    std::vector<Held> next;
    size_t r = 0;
    for (Held& h : held) {
      if (!h.read) {
        ++report.events_applied;
        continue;
      }
      ScoreStore::DeclineState& st = (*states)[r++];
      if (st.stored_verdict) {
        h.verdict = std::move(*st.stored_verdict);
        ++report.verdicts_reused;
      } else {
        h.verdict = Classify(classifier, st.context);
        ++report.verdicts_classified;
      }
      h.read = false;
      next.push_back(std::move(h));
    }
    held = std::move(next);
    order.Flushed();
    return absl::OkStatus();
  };
  auto flush = [&]() -> absl::Status {
    while (!held.empty()) {
      if (auto s = round_trip(); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  read = ReadTopicToEnd(
      o.brokers, o.events_topic, o.kafka_timeout,
      [&](const RdKafka::Message& m) {
        Held h;
        if (!h.event.ParseFromArray(m.payload(), static_cast<int>(m.len())) ||
            h.event.payload_case() == ConnectionEvent::PAYLOAD_NOT_SET) {
          ++report.undecodable;
          return absl::OkStatus();
        }
        if (order.MustWait(h.event)) {
          if (auto s = flush(); !s.ok()) return s;
        }
        if (DeclineOrder::NeedsVerdict(h.event)) {
          if (auto it =
                  published.find({h.event.tenant_id(), h.event.event_id()});
              it != published.end()) {
            h.verdict = it->second;
            ++report.verdicts_reused;
          } else {
            h.read = true;
          }
        }
        order.Queued(h.event);
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
