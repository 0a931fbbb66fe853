// Assessing a draft connection request before it is sent
// (rebound.v1.Scoring/AssessDraft): the acceptance probability, the decline
// reasons it risks with their evidence (the classifier, on the draft as if
// it were declined), the fixes (notify's retry policy, the same code that
// writes retry suggestions) and the sender's account safety. Pure: the
// server reads the members' state from Redis (state::ReadDraftState) and
// calls Assess.
#ifndef REBOUND_SERVICES_SCORING_ASSESS_H_
#define REBOUND_SERVICES_SCORING_ASSESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/notify/retry_policy.h"
#include "services/scoring/classifier.h"

namespace rebound::scoring {

// The draft and what Rebound knows of its members.
struct DraftContext {
  std::string tenant, sender, recipient;
  // The request as it would be sent (its sender_profile filled in).
  rebound::v1::RequestSent request;
  absl::Time planned_at;

  // The sender's counters (state::SenderState); sends in the 7 days
  // before planned_at's day (the classifier's send rate) and in the
  // rolling week ending on that day (account safety's budget).
  int64_t sent = 0, accepted = 0, declined = 0, reported = 0, pending = 0;
  int64_t sent_last_7d = 0;
  int64_t sent_this_week = 0;
  // How the sender's invitations were answered in the weeks up to
  // planned_at (state::AnswerRing::Recent): account safety's rates.
  rebound::v1::RecentAnswers recent_answers;
  // Only when the weekly budget is spent: when enough of those sends age
  // out of the window for one more.
  std::optional<absl::Time> budget_frees_at;

  // Earlier requests to this recipient, the last one's send time, and the
  // retries notify advised for the pair.
  int64_t pair_requests = 0;
  std::optional<absl::Time> pair_last_sent;
  int64_t prior_retries = 0;

  // The recipient.
  int64_t recipient_received = 0, recipient_accepted = 0,
          recipient_declined = 0;
  std::array<int64_t, 168> recipient_accept_hours{};
  std::optional<int> recipient_utc_offset_minutes;
};

// The classifier's view of the draft: a DeclineContext marked `draft`.
DeclineContext DraftDeclineContext(const DraftContext& draft);

// P(accept): the sender's and the recipient's acceptance rates, each
// smoothed towards config.acceptance_base_rate with
// acceptance_prior_strength pseudo-requests, combined in log-odds
// (logit ps + logit pr - logit base: two independent pieces of evidence
// about one base rate), then moved down by acceptance_evidence_scale times
// how much the draft's signals raise the odds of a decline (the log-sum-exp
// of the four reasons' logits with the evidence minus without it; signals
// in the draft's favour, like a personal note, lower it).
double AcceptanceProbability(const ClassifierConfig& config,
                             const DraftContext& draft,
                             const rebound::v1::DeclineVerdict& verdict);

rebound::v1::Assessment Assess(const ClassifierConfig& classifier,
                               const notify::RetryPolicyConfig& policy,
                               const DraftContext& draft);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_ASSESS_H_
