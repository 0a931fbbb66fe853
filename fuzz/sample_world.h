// What the config and event-line fuzz targets run their inputs against: the
// shipped configs, decline contexts from a simulated stream, and the checks
// every verdict and suggestion must pass whatever the config or events.
#ifndef REBOUND_FUZZ_SAMPLE_WORLD_H_
#define REBOUND_FUZZ_SAMPLE_WORLD_H_

#include <vector>

#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/notify.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/notify/retry_policy.h"
#include "services/scoring/classifier.h"

namespace rebound::fuzz {

// config/classifier.json and config/retry_policy.json (aborts if they do
// not load: the fuzz targets would test nothing).
const scoring::ClassifierConfig& ShippedClassifierConfig();
const notify::RetryPolicyConfig& ShippedRetryPolicy();

// Up to 64 decline contexts of a simulated stream (every reason).
const std::vector<scoring::DeclineContext>& SampleContexts();

// The policy's inputs for a verdict, from what the verdict carries, as
// notify reads them when Redis has nothing newer.
notify::RetryInputs InputsFor(const rebound::v1::DeclineVerdict& verdict,
                              int prior_retries);

// A verdict has a score in [0, 1] for each of the six reasons, summing to 1,
// a confidence in [0, 1], finite signal values and weights, and valid
// timestamps (so it converts to JSON, as rebound-classify writes it).
// Aborts otherwise.
void CheckVerdict(const rebound::v1::DeclineVerdict& verdict);

// A suggestion has valid timestamps (it converts to JSON); one that says retry
// has now <= not_before <= retry_at and a local hour of week in [0, 168).
// Aborts otherwise.
void CheckSuggestion(const rebound::v1::RetrySuggestion& suggestion,
                     absl::Time now);

}  // namespace rebound::fuzz

#endif  // REBOUND_FUZZ_SAMPLE_WORLD_H_
