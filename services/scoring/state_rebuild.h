// Rebuilds scoring's Redis state from Kafka, the source of truth, after
// Redis lost it (restart without persistence, failover to an empty replica,
// FLUSHALL). Running scoring instances notice the loss (ScoreStore's epoch),
// hold their events and report NOT_SERVING; this removes whatever scoring
// keys are left, replays the events topic from its start to the end it has
// now, reusing the verdicts already published on the verdicts topic (so the
// rebuilt declines-per-reason equal the uninterrupted run's), and sets a new
// epoch, on which the instances resume where their group's offsets are
// (re-applying what the rebuild covered changes nothing).
//
// Start it once every instance reports the loss (rebound_scoring_state_lost
// = 1, health NOT_SERVING): an instance reports it only after its verdicts
// in flight have landed, and publishes nothing while holding.
//
// Requires the events topic to keep its whole history (retention.ms=-1, or
// at least as far back as the state should reach), and the verdicts topic
// as far back as its declines. Reads both topics whole; the published
// verdicts are held in memory while replaying.
#ifndef REBOUND_SERVICES_SCORING_STATE_REBUILD_H_
#define REBOUND_SERVICES_SCORING_STATE_REBUILD_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/pipeline.h"
#include "services/scoring/classifier.h"
#include "services/scoring/score_store.h"

namespace rebound::scoring {

struct RebuildOptions {
  std::string brokers;
  std::string events_topic = pipeline::kEventsTopic;
  std::string verdicts_topic = pipeline::kVerdictsTopic;
  ScoreStoreOptions store;
  // Longest wait for Kafka metadata and for a partition to reach its end.
  std::chrono::milliseconds kafka_timeout{30'000};
};

struct RebuildReport {
  int64_t keys_removed = 0;
  int64_t events_applied = 0;
  int64_t undecodable = 0;      // Skipped (they went to the dead-letter topic).
  int64_t verdicts_reused = 0;  // Declines given their published verdict.
  int64_t verdicts_classified = 0;  // Declines with none published.
};

// Runs the rebuild. Errors name the step and the topic or Redis address;
// on an error the epoch is not set (instances keep holding) and the rebuild
// can simply be run again.
absl::StatusOr<RebuildReport> RebuildState(const RebuildOptions& options,
                                           const ClassifierConfig& classifier);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_STATE_REBUILD_H_
