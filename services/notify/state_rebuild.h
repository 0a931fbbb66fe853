// Rebuilds notify's Redis state from Kafka after Redis lost it, as
// rebound-scoring --rebuild-state does for scoring's (run that first:
// suggestions read scoring's state). Running notify instances notice the
// loss (SuggestionStore's epoch), hold their records and report
// NOT_SERVING; this removes whatever notify keys are left, replays the
// verdicts topic (verdicts and the profile updates scoring forwarded,
// common/pipeline.h) from its start to the end it has now, each partition
// in order (so a profile update finds the suggestions written before it),
// through the consumer's own handling, and sets a new epoch, on which the
// instances resume where their group's offsets are (handling again what the
// rebuild covered writes nothing).
//
// What comes back: every suggestion with its id, version and state, the
// member and tenant streams (new stream ids: watchers resume with
// from_beginning or a fresh watch), retry budgets and red flags; and the
// withdraw suggestions of invites still open: the sweep forgot the invites
// it answered, so the rebuild reads the events topic's RequestSent events
// and tracks again those scoring holds open (scoring owns the pending set,
// and its own rebuild recreates it), for the sweep to suggest again. Times
// computed when a suggestion is written (created_at, the suggested send time)
// are computed again.
//
// Requires both topics to keep their whole history (retention.ms=-1, or as
// far back as the suggestions should reach). Holds the verdicts topic's
// records in memory while replaying.
#ifndef REBOUND_SERVICES_NOTIFY_STATE_REBUILD_H_
#define REBOUND_SERVICES_NOTIFY_STATE_REBUILD_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/pipeline.h"
#include "services/notify/retry_policy.h"
#include "services/notify/suggestion_store.h"

namespace rebound::notify {

struct RebuildOptions {
  std::string brokers;
  std::string verdicts_topic = pipeline::kVerdictsTopic;
  // Read for the invites still open (empty: skipped).
  std::string events_topic = pipeline::kEventsTopic;
  SuggestionStoreOptions store;
  // Longest wait for Kafka metadata and for a partition to reach its end.
  std::chrono::milliseconds kafka_timeout{30'000};
};

struct RebuildReport {
  int64_t keys_removed = 0;
  int64_t verdicts = 0;
  int64_t events = 0;        // Profile updates forwarded by scoring.
  int64_t open_invites = 0;  // Tracked again for the sweep.
};

// Runs the rebuild. Errors name the step and the topic or Redis address; on
// an error the epoch is not set (instances keep holding) and the rebuild
// can simply be run again.
absl::StatusOr<RebuildReport> RebuildState(const RebuildOptions& options,
                                           const RetryPolicyConfig& policy);

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_STATE_REBUILD_H_
