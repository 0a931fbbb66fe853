#include "fuzz/sample_world.h"

#include <cmath>
#include <string>

#include "fuzz/fuzz_check.h"
#include "google/protobuf/util/time_util.h"
#include "services/scoring/offline_state.h"
#include "tools/sim/event_generator.h"

namespace rebound::fuzz {

using google::protobuf::util::TimeUtil;

namespace {

// What protobuf's JSON printer (rebound-classify's output) and every client
// library accept: 0001-01-01 to 9999-12-31, nanos in [0, 1e9).
void CheckTimestamp(const char* field, const google::protobuf::Timestamp& t) {
  FUZZ_CHECK(t.seconds() >= TimeUtil::kTimestampMinSeconds &&
                 t.seconds() <= TimeUtil::kTimestampMaxSeconds &&
                 t.nanos() >= 0 && t.nanos() < 1'000'000'000,
             "%s is not a valid Timestamp: %lld s %d ns", field,
             static_cast<long long>(t.seconds()), t.nanos());
}

}  // namespace

const scoring::ClassifierConfig& ShippedClassifierConfig() {
  static const auto* config = [] {
    auto c = scoring::LoadClassifierConfig(REBOUND_SOURCE_DIR
                                           "/config/classifier.json");
    FUZZ_CHECK(c.ok(), "%s", std::string(c.status().message()).c_str());
    return new scoring::ClassifierConfig(*c);
  }();
  return *config;
}

const notify::RetryPolicyConfig& ShippedRetryPolicy() {
  static const auto* config = [] {
    auto c = notify::LoadRetryPolicyConfig(REBOUND_SOURCE_DIR
                                           "/config/retry_policy.json");
    FUZZ_CHECK(c.ok(), "%s", std::string(c.status().message()).c_str());
    return new notify::RetryPolicyConfig(*c);
  }();
  return *config;
}

const std::vector<scoring::DeclineContext>& SampleContexts() {
  static const auto* contexts = [] {
    auto* out = new std::vector<scoring::DeclineContext>;
    sim::GeneratorOptions g;
    g.seed = 11;
    g.end = absl::FromUnixSeconds(1'780'000'000);
    scoring::OfflineState state;
    for (const auto& e : sim::EventGenerator(g).Next(4000)) {
      if (auto ctx = state.ContextFor(e); ctx && out->size() < 64) {
        out->push_back(*ctx);
      }
      state.Apply(e);
    }
    FUZZ_CHECK(out->size() == 64, "only %zu contexts", out->size());
    return out;
  }();
  return *contexts;
}

notify::RetryInputs InputsFor(const rebound::v1::DeclineVerdict& verdict,
                              int prior_retries) {
  notify::RetryInputs in;
  in.verdict = verdict;
  in.prior_retries = prior_retries;
  const auto& c = verdict.context();
  for (int h = 0; h < c.recipient_accept_hour_of_week_size() && h < 168; ++h) {
    in.recipient_accept_hours[h] = c.recipient_accept_hour_of_week(h);
  }
  if (c.has_recipient_utc_offset_minutes()) {
    in.recipient_utc_offset_minutes = c.recipient_utc_offset_minutes();
  } else if (verdict.has_request()) {
    in.recipient_utc_offset_minutes =
        verdict.request().recipient_profile().utc_offset_minutes();
  }
  if (c.has_sender_profile()) in.sender_profile = c.sender_profile();
  return in;
}

void CheckVerdict(const rebound::v1::DeclineVerdict& v) {
  FUZZ_CHECK(v.scores_size() == 6, "%d scores", v.scores_size());
  double sum = 0;
  for (const auto& s : v.scores()) {
    FUZZ_CHECK(std::isfinite(s.probability()) && s.probability() >= 0 &&
                   s.probability() <= 1,
               "score %s = %g",
               rebound::v1::DeclineReason_Name(s.reason()).c_str(),
               s.probability());
    sum += s.probability();
  }
  FUZZ_CHECK(std::fabs(sum - 1) < 1e-6, "scores sum to %.17g", sum);
  FUZZ_CHECK(std::isfinite(v.confidence()) && v.confidence() >= 0 &&
                 v.confidence() <= 1,
             "confidence %g", v.confidence());
  for (const auto& sig : v.signals()) {
    FUZZ_CHECK(std::isfinite(sig.value()) && std::isfinite(sig.weight()),
               "signal %s: value %g weight %g", sig.name().c_str(), sig.value(),
               sig.weight());
  }
  CheckTimestamp("decided_at", v.decided_at());
  CheckTimestamp("sent_at", v.sent_at());
}

void CheckSuggestion(const rebound::v1::RetrySuggestion& s, absl::Time now) {
  CheckTimestamp("not_before", s.not_before());
  CheckTimestamp("retry_at", s.retry_at());
  CheckTimestamp("created_at", s.created_at());
  CheckTimestamp("updated_at", s.updated_at());
  CheckTimestamp("declined_at", s.declined_at());
  if (!s.should_retry()) return;
  const int64_t now_s = absl::ToUnixSeconds(now);
  const int64_t not_before = s.not_before().seconds();
  const int64_t retry_at = s.retry_at().seconds();
  FUZZ_CHECK(not_before >= now_s, "not_before %lld before now %lld",
             static_cast<long long>(not_before), static_cast<long long>(now_s));
  FUZZ_CHECK(retry_at >= not_before, "retry_at %lld before not_before %lld",
             static_cast<long long>(retry_at),
             static_cast<long long>(not_before));
  FUZZ_CHECK(s.retry_at_local_hour_of_week() >= 0 &&
                 s.retry_at_local_hour_of_week() < 168,
             "local hour of week %d", s.retry_at_local_hour_of_week());
}

}  // namespace rebound::fuzz
