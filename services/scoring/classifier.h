// Classifies a declined (or expired) connection request into a DeclineReason,
// with the evidence behind it. Pure: the same context and config always give
// the same verdict, online (scoring, context from Redis) and offline
// (rebound-classify, context from an event file).
#ifndef REBOUND_SERVICES_SCORING_CLASSIFIER_H_
#define REBOUND_SERVICES_SCORING_CLASSIFIER_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"

namespace rebound::scoring {

// Everything the classifier may look at for one decline. Counters are "as of
// just before the decline event is applied" (the request itself is counted in
// `sender_sent` and `recipient_received`).
struct DeclineContext {
  // The decline or expiry event itself.
  rebound::v1::ConnectionEvent event;
  // The request as sent, if it was seen before the decline (events may arrive
  // out of order: a decline without its request is classified on what is
  // known, and says so with lower confidence).
  std::optional<rebound::v1::RequestSent> request;
  std::optional<absl::Time> sent_at;
  // The recipient viewed the sender's profile after the request was sent
  // (and before the decision, or at any time if the view arrived late).
  bool viewed = false;
  // A draft not sent yet (Scoring.AssessDraft): nothing after the send is
  // known, so no view, decline-kind or expiry signals; the rest is judged
  // as if `event` (a decline of kind UNSPECIFIED) turned it down.
  bool draft = false;

  // Sender history.
  int64_t sender_sent = 0;          // Requests sent so far, this one included.
  int64_t sender_accepted = 0;      // Of those, accepted.
  int64_t sender_declined = 0;      // Declined/ignored/reported so far.
  int64_t sender_reported = 0;      // Reported (spam or "don't know") so far.
  int64_t sender_sent_last_7d = 0;  // Sent in the 7 days before sent_at.

  // Pair history: earlier requests from this sender to this recipient.
  int64_t pair_prior_requests = 0;
  // Time between the previous request to the pair and this one.
  std::optional<absl::Duration> since_prior_request;

  // Recipient history.
  int64_t recipient_received = 0;  // Requests received, this one included.
  int64_t recipient_accepted = 0;
  // The recipient's acceptances per hour of week, their local time
  // (index = day * 24 + hour, Monday = 0).
  std::array<int64_t, 168> recipient_accept_hours{};
  // Not used to classify; carried on the verdict (DecisionContext) for
  // notify's advice: the recipient's recorded UTC offset and the sender's
  // latest profile.
  std::optional<int> recipient_utc_offset_minutes;
  std::optional<rebound::v1::ProfileSnapshot> sender_profile;
};

// Weights, thresholds and phrase lists, loaded from a JSON file
// (config/classifier.json). Nothing tunable lives in code.
struct ClassifierConfig {
  std::string version;
  // Prior log-odds per reason (config/classifier.json: fitted by rebound-fit).
  std::map<rebound::v1::DeclineReason, double> priors;
  // Named weights and thresholds: "weights.sender_no_photo",
  // "thresholds.few_connections"... Missing names are a load error.
  std::map<std::string, double> values;
  std::vector<std::string> pitch_phrases;
  std::vector<std::string> value_first_phrases;
  // Phrases that show the note was written for this recipient ("we met",
  // "your talk"); a mention of the recipient's company counts too.
  std::vector<std::string> personal_phrases;
  // Below this posterior the primary reason is UNDETERMINED.
  double min_confidence = 0.4;

  // The acceptance model of Scoring.AssessDraft (the optional
  // "acceptance" object): the acceptance rate of a member Rebound knows
  // nothing about, how many requests' worth that prior weighs against a
  // member's own counts, and how much of the draft's decline evidence
  // (log-odds) moves the prediction.
  double acceptance_base_rate = 0.5;
  double acceptance_prior_strength = 10;
  double acceptance_evidence_scale = 0.5;

  // A named number; the loader has checked every name Classify() uses.
  double Get(const std::string& name) const;
};

// Reads and checks a config file: every weight and threshold Classify() uses
// must be present and numeric, unknown names are rejected (a typo would
// otherwise silently fall back to nothing), priors cover the four decline
// reasons, phrase lists are arrays of strings. Errors (INVALID_ARGUMENT, or
// NOT_FOUND for a missing file) name the file and the key.
absl::StatusOr<ClassifierConfig> LoadClassifierConfig(const std::string& path);
// The same checks on JSON text; errors name the key.
absl::StatusOr<ClassifierConfig> ParseClassifierConfig(const std::string& json);

// The verdict for one decline: primary reason, confidence, a probability per
// reason, and every signal that fired with its value and weight.
// - An expiry the recipient never viewed is NOT_SEEN with confidence 1 and
//   the signal "request.expired_unseen"; an expiry after a view is a silent
//   decline and is classified like one. With thresholds.unseen_ignore_days
//   above 0 (optional; 0, the default and the shipped value, is off), an
//   ignore at least that many days after the request with no view of the
//   sender is NOT_SEEN too ("request.ignored_unseen", its value the days):
//   for a platform that reports an inbox cleared unread as ignores.
// - Otherwise the four decline reasons get prior + evidence log-odds and a
//   softmax; the primary reason is the most likely one, or UNDETERMINED when
//   its probability is below min_confidence or no signal weighs for it (it
//   won on its prior alone); confidence then still holds that best
//   probability, so callers can see how close it was.
// - `scores` always lists all six reasons (NOT_SEEN and UNDETERMINED carry 0
//   for a decline) and sums to 1; `signals` are sorted by |weight|, largest
//   first, ties by name.
rebound::v1::DeclineVerdict Classify(const ClassifierConfig& config,
                                     const DeclineContext& context);

// Whether Classify calls this decline NOT_SEEN (see above) rather than
// weighing the four decline reasons.
bool NotSeen(const ClassifierConfig& config, const DeclineContext& context);

// Carries what the classifier saw of the two members on `verdict`
// (DecisionContext: the recipient's accept hours and offset, the sender's
// latest profile) for notify's advice.
void AttachDecisionContext(const DeclineContext& context,
                           rebound::v1::DeclineVerdict* verdict);

// The style of a request's note, by the same phrase lists as the note
// signals: "none" (no note), "pitch" (a pitch phrase, whatever else it
// holds), "personal" (shared context or the recipient's company),
// "value_first" (brings something first), else "plain".
std::string NoteStyle(const ClassifierConfig& config,
                      const rebound::v1::RequestSent& request);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_CLASSIFIER_H_
