// The classifier's config loader on any text: it never crashes, and every
// config it accepts gives sound verdicts (scores in [0, 1] summing to 1, a
// confidence in [0, 1], finite signals, convertible to JSON) on simulated
// declines: a loader that accepts a config must not let it break the
// service that runs it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/sample_world.h"
#include "services/scoring/classifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = rebound::scoring::ParseClassifierConfig(text);
  if (!config.ok()) return 0;
  for (const auto& ctx : rebound::fuzz::SampleContexts()) {
    rebound::fuzz::CheckVerdict(rebound::scoring::Classify(*config, ctx));
  }
  return 0;
}
