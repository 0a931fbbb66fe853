// Notify's handling of its input records, the verdicts topic's: decline
// verdicts become retry suggestions, and a profile update (forwarded by
// scoring once applied) turns the member's suggestions waiting on profile
// work ready. What the consumer runs on each batch and the rebuild runs on
// the replayed topic. Every write is idempotent per (suggestion, version).
#ifndef REBOUND_SERVICES_NOTIFY_SUGGESTION_WRITER_H_
#define REBOUND_SERVICES_NOTIFY_SUGGESTION_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/notify/retry_policy.h"
#include "services/notify/suggestion_store.h"

namespace rebound::notify {

class SuggestionWriter {
 public:
  // One input record: a DeclineVerdict (`verdict`) or a forwarded
  // ConnectionEvent (pipeline::IsForwardedEvent).
  struct Record {
    bool verdict = false;
    std::string_view payload;
    int32_t partition = -1;  // For logs.
    int64_t offset = -1;
  };

  // `written` (may be null) counts suggestion versions written, by state.
  SuggestionWriter(SuggestionStore* store, const RetryPolicyConfig* policy,
                   prometheus::Family<prometheus::Counter>* written);

  // The records' Redis writes, in order: runs of verdicts are written
  // together (a few round trips per run); a ProfileUpdated is handled on
  // its own, after everything before it, since it reads the suggestions
  // earlier records wrote; events of other kinds are skipped. Records that
  // do not decode are skipped. An error means some may be written (all are
  // idempotent, so the records are handled again); DATA_LOSS: the state's epoch
  // is gone. Each record that does not decode is added to `undecodable` (if not
  // null) as its index and why.
  absl::Status Handle(
      const std::vector<Record>& records,
      std::vector<std::pair<size_t, std::string>>* undecodable = nullptr);

 private:
  // Suggestions for verdicts, their inputs read and their writes made a few
  // round trips for all of them; the first also checks the epoch (also
  // when `verdicts` is empty).
  absl::Status OnVerdicts(
      const std::vector<rebound::v1::DeclineVerdict>& verdicts);
  absl::Status OnProfileUpdated(const rebound::v1::ConnectionEvent& event);
  void Count(const rebound::v1::RetrySuggestion& s);

  SuggestionStore* store_;
  const RetryPolicyConfig* policy_;
  prometheus::Family<prometheus::Counter>* written_;
};

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_SUGGESTION_WRITER_H_
