#include "services/scoring/assess.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace rebound::scoring {
namespace {

using rebound::v1::DeclineReason;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

double Logit(double p) {
  p = std::clamp(p, 1e-4, 1 - 1e-4);
  return std::log(p / (1 - p));
}

double LogSumExp(const std::vector<double>& xs) {
  double top = -INFINITY;
  for (double x : xs) top = std::max(top, x);
  double sum = 0;
  for (double x : xs) sum += std::exp(x - top);
  return top + std::log(sum);
}

bool IsDeclineReason(DeclineReason r) {
  return r >= rebound::v1::DECLINE_REASON_SPAMMY_PROFILE &&
         r <= rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD;
}

}  // namespace

DeclineContext DraftDeclineContext(const DraftContext& d) {
  DeclineContext c;
  c.draft = true;
  auto& e = c.event;
  e.set_event_id("draft");
  e.set_tenant_id(d.tenant);
  e.set_sender_id(d.sender);
  e.set_recipient_id(d.recipient);
  SetTime(d.planned_at, e.mutable_occurred_at());
  e.mutable_request_declined()->set_request_id(d.request.request_id());
  c.request = d.request;
  c.sent_at = d.planned_at;
  // As if sent: the draft counts as one more request of each member.
  c.sender_sent = d.sent + 1;
  c.sender_accepted = d.accepted;
  c.sender_declined = d.declined;
  c.sender_reported = d.reported;
  c.sender_sent_last_7d = d.sent_last_7d;
  c.pair_prior_requests = d.pair_requests;
  if (d.pair_last_sent && *d.pair_last_sent <= d.planned_at) {
    c.since_prior_request = d.planned_at - *d.pair_last_sent;
  }
  c.recipient_received = d.recipient_received + 1;
  c.recipient_accepted = d.recipient_accepted;
  c.recipient_accept_hours = d.recipient_accept_hours;
  c.recipient_utc_offset_minutes = d.recipient_utc_offset_minutes;
  c.sender_profile = d.request.sender_profile();
  return c;
}

double AcceptanceProbability(const ClassifierConfig& config,
                             const DraftContext& d,
                             const rebound::v1::DeclineVerdict& verdict) {
  const double base = config.acceptance_base_rate;
  const double k = config.acceptance_prior_strength;
  auto smoothed = [&](int64_t accepted, int64_t answered) {
    if (answered <= 0 && k <= 0) return base;
    return (static_cast<double>(accepted) + k * base) /
           (static_cast<double>(answered) + k);
  };
  const double ps = smoothed(d.accepted, d.accepted + d.declined);
  const double pr = smoothed(d.recipient_accepted,
                             d.recipient_accepted + d.recipient_declined);
  // The decline pressure of the draft's evidence.
  std::map<DeclineReason, double> evidence;
  for (const auto& s : verdict.signals()) {
    if (IsDeclineReason(s.reason())) evidence[s.reason()] += s.weight();
  }
  std::vector<double> with, without;
  for (const auto& [reason, prior] : config.priors) {
    if (!IsDeclineReason(reason)) continue;
    without.push_back(prior);
    with.push_back(prior + evidence[reason]);
  }
  const double pressure =
      with.empty() ? 0.0 : LogSumExp(with) - LogSumExp(without);
  const double z = Logit(ps) + Logit(pr) - Logit(base) -
                   config.acceptance_evidence_scale * pressure;
  return 1 / (1 + std::exp(-z));
}

rebound::v1::Assessment Assess(const ClassifierConfig& classifier,
                               const notify::RetryPolicyConfig& policy,
                               const DraftContext& d) {
  const rebound::v1::DeclineVerdict verdict =
      Classify(classifier, DraftDeclineContext(d));
  rebound::v1::Assessment out;
  out.set_acceptance_probability(AcceptanceProbability(classifier, d, verdict));
  out.set_classifier_version(classifier.version);
  out.set_policy_version(policy.version);

  // Likely reasons, most probable first (ties: the reason's order).
  std::vector<std::pair<DeclineReason, double>> reasons;
  for (const auto& s : verdict.scores()) {
    if (IsDeclineReason(s.reason())) {
      reasons.emplace_back(s.reason(), s.probability());
    }
  }
  std::stable_sort(
      reasons.begin(), reasons.end(),
      [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [reason, p] : reasons) {
    auto* r = out.add_likely_reasons();
    r->set_reason(reason);
    r->set_probability(p);
    // The verdict's signals are strongest first already.
    for (const auto& s : verdict.signals()) {
      if (s.reason() == reason && s.weight() > 0) *r->add_signals() = s;
    }
  }

  notify::SenderActivity activity;
  activity.sent = d.sent;
  activity.pending = d.pending;
  activity.sent_last_7_days = d.sent_this_week;
  activity.recent = d.recent_answers;
  *out.mutable_account_safety() =
      notify::AssessAccount(policy.account_safety, activity);

  notify::DraftInputs in;
  in.verdict = verdict;
  in.recipient_accept_hours = d.recipient_accept_hours;
  in.recipient_utc_offset_minutes = d.recipient_utc_offset_minutes.value_or(
      d.request.recipient_profile().utc_offset_minutes());
  in.planned_at = d.planned_at;
  in.last_sent_to_recipient = d.pair_last_sent;
  in.safety = out.account_safety();
  in.budget_frees_at = d.budget_frees_at;
  notify::DraftAdvice advice = notify::AdviseDraft(policy, in);
  for (auto& a : advice.fixes) *out.add_fixes() = std::move(a);
  out.set_best_local_hour_of_week(advice.best_hour_of_week);
  SetTime(advice.best_at, out.mutable_best_send_at());
  out.set_best_hour_from_history(advice.best_from_history);
  return out;
}

}  // namespace rebound::scoring
