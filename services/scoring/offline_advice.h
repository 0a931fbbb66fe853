// The retry suggestions notify would emit for a stream of verdicts and
// profile updates, computed offline with notify's own policy code
// (InputsForVerdict, Suggest, ApplyProfileUpdate), so a team can back-test
// the whole advice on its own history (rebound-classify --suggestions).
// Times are the events' own: a suggestion is made as of its decline, and a
// profile update acts as of its occurred_at.
#ifndef REBOUND_SERVICES_SCORING_OFFLINE_ADVICE_H_
#define REBOUND_SERVICES_SCORING_OFFLINE_ADVICE_H_

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "rebound/v1/events.pb.h"
#include "rebound/v1/notify.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/notify/retry_policy.h"

namespace rebound::scoring {

class OfflineAdvisor {
 public:
  explicit OfflineAdvisor(notify::RetryPolicyConfig policy)
      : policy_(std::move(policy)) {}

  // The suggestion for `verdict` (which should carry its DecisionContext,
  // as scoring publishes it), as of its decided_at; nothing for a verdict
  // id already advised (a replayed decline).
  std::vector<rebound::v1::RetrySuggestion> OnVerdict(
      const rebound::v1::DeclineVerdict& verdict);

  // New versions of the sender's suggestions that `event` (a
  // ProfileUpdated) changes: profile work done, WAITING_ON_PROFILE turned
  // READY when all of it is.
  std::vector<rebound::v1::RetrySuggestion> OnEvent(
      const rebound::v1::ConnectionEvent& event);

 private:
  const notify::RetryPolicyConfig policy_;
  std::set<std::pair<std::string, std::string>> advised_ids_;
  // Retries advised per (tenant, sender, recipient).
  std::map<std::tuple<std::string, std::string, std::string>, int> retries_;
  // Suggestions still open to a profile update, per (tenant, sender).
  std::map<std::pair<std::string, std::string>,
           std::map<std::string, rebound::v1::RetrySuggestion>>
      open_;
};

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_OFFLINE_ADVICE_H_
