// The retry policy: turns a decline verdict into a retry suggestion — retry
// or not, not before when, best at when, and what to do first (build value,
// pick timing, adjust message). Pure: same inputs, same suggestion.
#ifndef REBOUND_SERVICES_NOTIFY_RETRY_POLICY_H_
#define REBOUND_SERVICES_NOTIFY_RETRY_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/notify.pb.h"
#include "rebound/v1/scoring.pb.h"

namespace rebound::notify {

// Account safety (the optional "account_safety" object of the retry policy
// config). Each factor's risk rises linearly from 0 at its warning level to
// 1 at its worst level; the restriction risk is the largest of them.
struct AccountSafetyConfig {
  // Invitations a week (DESIGN.md: budgets are around 100-200).
  int64_t weekly_budget = 100;
  // restriction_risk at or above this: at risk (slow down).
  double high_risk = 0.6;
  // Factors: share of the weekly budget used in the last 7 days; share of
  // sent invitations still pending; shares of recently answered requests
  // not accepted (any kind), ignored (or expired) and reported.
  double budget_use_warn = 0.8, budget_use_worst = 1.2;
  double pending_share_warn = 0.4, pending_share_worst = 0.8;
  double decline_rate_warn = 0.5, decline_rate_worst = 0.85;
  double ignore_rate_warn = 0.4, ignore_rate_worst = 0.75;
  double report_rate_warn = 0.02, report_rate_worst = 0.1;
  // Rates are smoothed with this many clean pseudo-requests, so a member
  // with one decline of one request is not "100% declined".
  int64_t smoothing = 10;
};

// Loaded from config/retry_policy.json; defaults follow DESIGN.md.
struct RetryPolicyConfig {
  std::string version;
  // Re-inviting after a decline/withdrawal is blocked for up to 3 weeks.
  absl::Duration cool_down = absl::Hours(24 * 21);
  // Most retries advised per (sender, recipient) pair.
  int max_retries_per_pair = 2;
  // Build-value targets: connections to reach, completeness to reach.
  int64_t connections_target = 150;
  double completeness_target = 0.8;
  // Acceptances needed in the recipient's histogram before retry_at uses it.
  int64_t min_history = 3;
  // Without history: this local hour on weekdays.
  int default_local_hour = 9;
  // Pending invites older than this get a withdraw suggestion.
  absl::Duration stale_pending_after = absl::Hours(24 * 30);
  // Notes longer than this (in characters) get a SHORTEN_NOTE action.
  int64_t long_note_chars = 100;
  // Pitch phrases to drop from notes (matched case-insensitively).
  std::vector<std::string> pitch_phrases;
  // Openers to suggest instead, per reason where it matters.
  std::string lead_with_default;
  AccountSafetyConfig account_safety;
};

absl::StatusOr<RetryPolicyConfig> LoadRetryPolicyConfig(
    const std::string& path);
absl::StatusOr<RetryPolicyConfig> ParseRetryPolicyConfig(
    const std::string& json);

// What the policy looks at besides the verdict.
struct RetryInputs {
  rebound::v1::DeclineVerdict verdict;
  // Retries already advised for this pair (suggestions with should_retry).
  int prior_retries = 0;
  // The recipient's acceptances per hour of week, their local time.
  std::array<int64_t, 168> recipient_accept_hours{};
  // The recipient's UTC offset in minutes (from the request's snapshot, else
  // their latest known), if known.
  std::optional<int> recipient_utc_offset_minutes;
  // The sender's latest profile, if newer than the request's snapshot.
  std::optional<rebound::v1::ProfileSnapshot> sender_profile;
};

// The inputs notify gives Suggest for `verdict`: the recipient's side from
// the verdict's DecisionContext when it has one (what scoring knew when it
// decided), else `stored_recipient_hours` / `stored_recipient_offset`; the
// sender's latest profile `stored_sender_profile`, else the context's; the
// recipient's offset from the request's snapshot when nothing else has
// it. Offline (rebound-classify --suggestions) passes nothing stored.
RetryInputs InputsForVerdict(
    const rebound::v1::DeclineVerdict& verdict, int prior_retries,
    const std::array<int64_t, 168>& stored_recipient_hours = {},
    std::optional<int> stored_recipient_offset = std::nullopt,
    std::optional<rebound::v1::ProfileSnapshot> stored_sender_profile =
        std::nullopt);

// The suggestion for one verdict, as of `now` (created_at = updated_at =
// now, version 1). Rules: never retry after a spam report or when the
// pair's retries are used up (DO_NOT_RETRY with a reason); NOT_SEEN gets a
// gentle re-send (or a withdraw if long pending); a perceived competitor
// gets a mutual-intro path instead of a blind retry; profile work (photo,
// connections, completeness) makes it WAITING_ON_PROFILE until done.
// not_before = decided_at + cool_down (never before now); retry_at = the
// first hour at or after not_before that is the recipient's best local
// hour of week (most acceptances; ties → earliest), else the default hour.
rebound::v1::RetrySuggestion Suggest(const RetryPolicyConfig& config,
                                     const RetryInputs& inputs, absl::Time now);

// Marks the profile actions a new profile shows done; a WAITING_ON_PROFILE
// suggestion whose blocking actions are all done turns READY. Returns true
// when the suggestion changed (version bumped, updated_at = now).
bool ApplyProfileUpdate(const RetryPolicyConfig& config,
                        const rebound::v1::ProfileSnapshot& profile,
                        rebound::v1::RetrySuggestion* suggestion,
                        absl::Time now);

// The first time at or after `after` whose local hour of week (UTC offset
// `offset_minutes`) is `hour_of_week`.
absl::Time NextHourOfWeek(absl::Time after, int hour_of_week,
                          int offset_minutes);

// A withdraw suggestion for a request pending since `sent_at`
// (suggestion_id "stale/" + request_id: "/" never appears in an event id,
// so it cannot equal a decline's suggestion id). `tenant_now`: the tenant's
// clock (its events' time, state::TenantClockLag), which says how long the
// invite has been pending; `now`: wall time, the suggestion's creation and
// the start of the re-invite block (the member withdraws when they act).
rebound::v1::RetrySuggestion StaleInviteSuggestion(
    const RetryPolicyConfig& config, const std::string& tenant,
    const std::string& sender, const std::string& recipient,
    const std::string& request_id, absl::Time sent_at, absl::Time tenant_now,
    absl::Time now);

// A sender's invitation habits, from scoring's counters.
struct SenderActivity {
  // All time: sent, and still pending.
  int64_t sent = 0, pending = 0;
  // Sent in the 7 days before the time assessed.
  int64_t sent_last_7_days = 0;
  // How recent invitations were answered (state/answer_ring.h): the rates
  // are over these, so old habits age out.
  rebound::v1::RecentAnswers recent;
};

// The sender's account safety: weekly budget left, rates, restriction
// risk and the factors behind it (AccountSafetyConfig).
rebound::v1::AccountSafety AssessAccount(const AccountSafetyConfig& config,
                                         const SenderActivity& activity);

// What the policy looks at for a draft request (Scoring.AssessDraft).
struct DraftInputs {
  // The draft classified as if it were declined (Classify with the draft
  // as its request): its signals say what would count against it.
  rebound::v1::DeclineVerdict verdict;
  std::array<int64_t, 168> recipient_accept_hours{};
  int recipient_utc_offset_minutes = 0;
  absl::Time planned_at;
  // When the sender last invited this recipient, if ever.
  std::optional<absl::Time> last_sent_to_recipient;
  rebound::v1::AccountSafety safety;
  // When enough of the last 7 days' invitations age out for one more to
  // fit the weekly budget (only when none is left).
  std::optional<absl::Time> budget_frees_at;
};

struct DraftAdvice {
  // Every fix that applies, most important first: profile work, the note,
  // building rapport (perceived competitor, credibility guard), timing,
  // slowing down. A fix applies when the signal behind it fired against
  // the draft, whatever the most likely reason.
  std::vector<rebound::v1::SuggestedAction> fixes;
  // The recipient's best hour at or after the planned time and any wait.
  absl::Time best_at;
  int best_hour_of_week = 0;
  bool best_from_history = false;
};
DraftAdvice AdviseDraft(const RetryPolicyConfig& config,
                        const DraftInputs& inputs);

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_RETRY_POLICY_H_
