// The retry policy's config loader on any text: it never crashes, and every
// config it accepts gives sound suggestions (valid timestamps; a retry no
// sooner than now, at an hour of week in range) for simulated verdicts with
// 0 to 3 earlier retries.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/sample_world.h"
#include "services/notify/retry_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto policy = rebound::notify::ParseRetryPolicyConfig(text);
  if (!policy.ok()) return 0;
  const absl::Time now = absl::FromUnixSeconds(1'780'000'000);
  const auto& classifier = rebound::fuzz::ShippedClassifierConfig();
  int i = 0;
  for (const auto& ctx : rebound::fuzz::SampleContexts()) {
    const auto verdict = rebound::scoring::Classify(classifier, ctx);
    const auto inputs = rebound::fuzz::InputsFor(verdict, i++ % 4);
    rebound::fuzz::CheckSuggestion(
        rebound::notify::Suggest(*policy, inputs, now), now);
  }
  return 0;
}
