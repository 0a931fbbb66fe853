// The offline tools' JSON-lines event reader (rebound-classify) on any
// text, split into lines: each line parses or is refused with a reason on
// one line; the events that parse are replayed through the offline state,
// each decline classified with the shipped config and turned into a retry
// suggestion with the shipped policy, and every verdict and suggestion
// must be sound (see sample_world.h), whatever the events say.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/sample_world.h"
#include "services/notify/retry_policy.h"
#include "services/scoring/event_lines.h"
#include "services/scoring/offline_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rebound::scoring::OfflineState state;
  const absl::Time now = absl::FromUnixSeconds(1'780'000'000);
  int lines = 0;
  while (!text.empty() && lines++ < 64) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text =
        nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto parsed = rebound::scoring::ParseEventLine(line);
    if (!parsed.ok()) {
      const auto why = parsed.status().message();
      FUZZ_CHECK(!why.empty() && why.find('\n') == std::string_view::npos,
                 "a bad line's reason is empty or spans lines");
      continue;
    }
    if (!parsed->has_value()) continue;
    const rebound::v1::ConnectionEvent& e = **parsed;
    if (auto ctx = state.ContextFor(e)) {
      const auto verdict = rebound::scoring::Classify(
          rebound::fuzz::ShippedClassifierConfig(), *ctx);
      rebound::fuzz::CheckVerdict(verdict);
      rebound::fuzz::CheckSuggestion(
          rebound::notify::Suggest(rebound::fuzz::ShippedRetryPolicy(),
                                   rebound::fuzz::InputsFor(verdict, 0), now),
          now);
    }
    state.Apply(e);
  }
  return 0;
}
