// A seeded simulator of realistic multi-tenant connection-event streams with
// ground truth, for back-testing the classifier (rebound-sim).
//
// Every decline (and every expiry) gets a TRUE cause drawn first: spammy
// profile, off-target approach, perceived competitor, credibility guard (in
// DESIGN.md's order of frequency), or "not seen" for an expiry the recipient
// never viewed. Sender, recipient, note and timing are then picked to be
// consistent with the cause, with noise: a cause's hallmark is sometimes
// missing, and stray features of other causes appear (salespeople pitch in
// accepted requests too, some genuine members are new, pairs collide).
// Acceptances, withdrawals, profile views and profile updates fill the rest.
//
// Promises: the same options give the same stream, byte for byte (fixed start
// time, no clock); events are in time order across the stream (ties keep
// generation order), so per pair sent < view < decision; event ids are
// "<run_id>-<n>" numbered in that order; events are meant to pass ingest's
// validation (all times in 2023-2024 by default).
#ifndef REBOUND_TOOLS_SIM_SCENARIO_H_
#define REBOUND_TOOLS_SIM_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/notify.pb.h"
#include "rebound/v1/scoring.pb.h"

namespace rebound::sim {

struct ScenarioOptions {
  uint64_t seed = 42;
  int tenants = 3;
  int members_per_tenant = 300;
  // Connection requests over all tenants (retries add a few more).
  int requests = 20000;
  // Requests are sent in [start, start + send_span) (the withdrawn first try
  // of a retry may precede `start`); outcomes come later.
  absl::Time start = absl::FromUnixSeconds(1704067200);  // 2024-01-01 UTC
  absl::Duration send_span = absl::Hours(24 * 90);
  // Pending invites expire after about six months (DESIGN.md).
  absl::Duration expire_after = absl::Hours(24 * 180);
  std::string run_id = "sim";
  // Tenant ids are this prefix and 1, 2, ...: runs that must not share
  // tenants (a warm-up and the measured run, each replaying its own
  // history) take different prefixes.
  std::string tenant_prefix = "tenant-";

  // Outcome mix, as shares of requests; the rest are accepted.
  double decline_share = 0.36;
  double expire_share = 0.12;
  double withdraw_share = 0.05;
  // Of the expiries, the share the recipient viewed and let lapse: a silent
  // decline with a cause. The others are "not seen".
  double silent_expiry_share = 0.3;
  // Cause mix of declines; credibility guard takes the rest.
  double spammy_share = 0.38;
  double off_target_share = 0.30;
  double competitor_share = 0.18;
  // Chance that a cause's hallmark feature is missing.
  double noise = 0.1;
  // Of the declines, the share with no cause to find: an ordinary pair,
  // note and time (truth DECLINE_REASON_UNDETERMINED).
  double undetermined_share = 0;
  // Chance that, whatever the cause, the recipient is from the sender's
  // industry (people invite their own field): competitor-looking pairs
  // that are not competitors.
  double homophily = 0;
  // Chance that a decline not caused by the approach still carries a pitch.
  double stray_pitch = 0;
  // Chance that any request is sent at the recipient's small hours.
  double bad_time_rate = 0.08;
};

// Named generative variants: other plausible worlds, each changing the
// cause mix, the noise and the stray features, so a classifier is judged on
// more than the world it was written for. "baseline" is the defaults;
// others: "homophilous", "noisy", "guarded", "salesy". Returns false for an
// unknown name (and leaves `options` alone).
bool ApplyVariant(const std::string& name, ScenarioOptions& options);
// The variant names, baseline first.
std::vector<std::string> VariantNames();

// The true cause of one decline or expiry.
struct TruthRecord {
  std::string tenant_id;
  std::string event_id;  // Of the decline/expiry event.
  rebound::v1::DeclineReason true_reason =
      rebound::v1::DECLINE_REASON_UNSPECIFIED;
};

struct Scenario {
  std::vector<rebound::v1::ConnectionEvent> events;
  std::vector<TruthRecord> truth;
};

// Generates the whole stream (it must be sorted by time, so it is built in
// memory: about 3 events per request).
Scenario GenerateScenario(const ScenarioOptions& options);

// {"tenant_id":...,"event_id":...,"true_reason":"DECLINE_REASON_..."}, the
// line format rebound-evaluate reads.
std::string TruthToJson(const TruthRecord& truth);

// ---- Retry study: does following the advice raise acceptance on retry? ----
//
// The history above picks each outcome first. A retry needs the other
// direction: a recipient's chance of accepting given what the retry looks
// like. The world's answer is RetryAcceptance, a generative model written
// from DESIGN.md's account of why people decline, independent of the
// classifier and of the retry policy (it reads the simulator's hidden truth:
// the first decline's cause, the recipient's active hours, who is a rival).
// The cause of the first decline is what this recipient objects to, so its
// hallmark weighs most if it is still there; the other obstacles weigh less;
// a retry soon after an answer reads as pushy; a report closes the door.
//
// Members of four arms, assigned at random per declined pair, retry once:
//   follow     - do what the pair's retry suggestion says (its profile work,
//                note changes, timing; no retry when it says DO_NOT_RETRY)
//   immediate  - retry unchanged at their usual local time, within a day
//   wait       - retry unchanged once the suggestion's cool-down is over
//                (21 days when it gives none)
//   never      - do not retry
// So the uplift of following measures the whole chain: the classifier names
// the right cause, the advice names every fix that applies, the timing is in
// the recipient's hours. It shows the advice works in a world where the fixes
// DESIGN.md describes work; it cannot show real members respond that way.

enum class RetryArm { kFollow, kImmediate, kWait, kNever };
const char* RetryArmName(RetryArm arm);

// What the world's acceptance model sees in one retry.
struct RetryFeatures {
  // The first request's true cause (NOT_SEEN: it expired unseen).
  rebound::v1::DeclineReason cause = rebound::v1::DECLINE_REASON_UNSPECIFIED;
  // How it was answered: a report closes the door.
  rebound::v1::DeclineKind first_kind = rebound::v1::DECLINE_KIND_UNSPECIFIED;
  // The sender's profile weak points: no photo, completeness < 0.5, fewer
  // than 50 connections (0 to 3).
  int profile_weak_points = 0;
  bool pitch = false;               // The note sells before it gives.
  bool value_or_personal = false;   // It gives first or says why them.
  bool at_active_hour = true;       // Sent when the recipient deals with
                                    // invitations.
  bool engaged_first = false;       // Engaged with their content first.
  bool mutual_intro = false;        // Introduced by a mutual connection.
  bool rival = false;               // Same specialty, another company.
  bool junior_to_vip = false;       // Junior sender, senior influencer.
  double days_since_answer = 1000;  // Since the first request's answer.
};

// The world's knobs (generative variants change them).
struct RetryWorldParams {
  double base = 0.6;            // A retry with no obstacle left.
  double reported = 0.02;       // After a spam or "don't know" report.
  double profile_cause = 0.35;  // Per weak point, cause spammy.
  double profile_other = 0.85;  // Per weak point, another cause.
  double pitch_cause = 0.15;    // A pitch, cause off-target.
  double pitch_other = 0.7;
  double off_hours_cause = 0.35;  // Outside their hours, cause off-target or
                                  // not seen.
  double off_hours_other = 0.8;
  double rival_cause = 0.12;  // Cause competitor, nothing to reassure.
  double rival_other = 0.7;
  double junior_cause = 0.15;  // Cause credibility guard, no vouching.
  double junior_other = 0.75;
  // Reassurances (multiply the rival and junior factors, capped at 1).
  double reassure_note = 2.0;  // A value-first or personal note.
  double reassure_engaged = 1.5;
  double reassure_intro = 2.5;
  // Pushy: a retry under 3, 14, 21 days after the answer.
  double pushy_3d = 0.3;
  double pushy_14d = 0.55;
  double pushy_21d = 0.85;
  // Spread of recipients' tolerance: P is multiplied by exp(N(0, sigma)).
  double tolerance_sigma = 0.3;
};

// The chance that the recipient accepts a retry with these features, before
// the recipient's own tolerance. Monotone: removing an obstacle or adding a
// reassurance never lowers it. In [0, 0.95].
double RetryAcceptance(const RetryFeatures& f, const RetryWorldParams& p);

// The obstacles a retry still carries, by name: "reported", "profile",
// "pitch", "off_hours", "rival", "junior", "too_soon" (under 14 days).
std::vector<std::string> RetryObstacles(const RetryFeatures& f);

struct RetryStudyOptions {
  // Arms and outcomes (the history keeps its own seed).
  uint64_t seed = 7;
  RetryWorldParams world;
};

struct RetryArmRecord {
  std::string tenant_id;
  std::string sender_id;
  std::string recipient_id;
  std::string request_id;        // The declined (or expired) request.
  std::string retry_request_id;  // Empty when there was no retry.
  RetryArm arm = RetryArm::kNever;
  rebound::v1::DeclineReason true_reason =
      rebound::v1::DECLINE_REASON_UNSPECIFIED;
  rebound::v1::DeclineKind first_kind = rebound::v1::DECLINE_KIND_UNSPECIFIED;
  bool advice_found = false;  // A suggestion for this request was given.
  bool should_retry = false;  // Its last version said to retry.
  rebound::v1::DeclineReason advised_reason =
      rebound::v1::DECLINE_REASON_UNSPECIFIED;
  bool retried = false;
  bool accepted = false;
  double p_accept = 0;  // The model's chance for the retry (0 if none).
  std::vector<std::string> obstacles;  // Left at the retry.
};

struct RetryStudy {
  // ProfileUpdated, RequestSent and the answer of every retry, in time
  // order, event ids "<run_id>-r<n>".
  std::vector<rebound::v1::ConnectionEvent> events;
  // One per truth record of the history, in the order the history
  // generated the requests.
  std::vector<RetryArmRecord> arms;
};

// Regenerates the history of `history` (same options, same stream) and runs
// the study on it with `suggestions` (RetrySuggestion versions, e.g. from
// rebound-classify --suggestions on that history; the highest version of
// each request's suggestion is the one followed).
RetryStudy GenerateRetryStudy(
    const ScenarioOptions& history,
    const std::vector<rebound::v1::RetrySuggestion>& suggestions,
    const RetryStudyOptions& options);

// {"tenant_id":...,"arm":"follow",...}: the line rebound-evaluate --arms
// reads.
std::string RetryArmToJson(const RetryArmRecord& record);

}  // namespace rebound::sim

#endif  // REBOUND_TOOLS_SIM_SCENARIO_H_
