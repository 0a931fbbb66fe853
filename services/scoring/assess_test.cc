#include "services/scoring/assess.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::scoring {
namespace {

using rebound::v1::ActionKind;
using rebound::v1::Assessment;
using ::testing::HasSubstr;

const ClassifierConfig& Classifier() {
  static const ClassifierConfig* config = [] {
    auto c = LoadClassifierConfig(REBOUND_SOURCE_DIR "/config/classifier.json");
    EXPECT_TRUE(c.ok()) << c.status();
    return new ClassifierConfig(c.ok() ? *c : ClassifierConfig{});
  }();
  return *config;
}

const notify::RetryPolicyConfig& Policy() {
  static const notify::RetryPolicyConfig* config = [] {
    auto c = notify::LoadRetryPolicyConfig(REBOUND_SOURCE_DIR
                                           "/config/retry_policy.json");
    EXPECT_TRUE(c.ok()) << c.status();
    return new notify::RetryPolicyConfig(c.ok() ? *c
                                                : notify::RetryPolicyConfig{});
  }();
  return *config;
}

// Tuesday 2024-01-09 10:00 UTC: working hours for both (UTC) members.
const absl::Time kPlanned = absl::FromUnixSeconds(1704794400);

// A draft nothing is wrong with: an established sender, a short personal
// note, working hours, members Rebound knows a little.
DraftContext Good() {
  DraftContext d;
  d.tenant = "acme";
  d.sender = "s";
  d.recipient = "r";
  d.planned_at = kPlanned;
  auto* s = d.request.mutable_sender_profile();
  s->set_has_photo(true);
  s->set_connection_count(500);
  s->set_follower_count(600);
  s->set_completeness(0.9);
  s->set_account_age_days(1500);
  s->set_headline("Account Executive | Store Operations");
  s->set_industry("Retail");
  s->set_company("Globex");
  s->set_seniority(rebound::v1::SENIORITY_MANAGER);
  auto* r = d.request.mutable_recipient_profile();
  *r = *s;
  r->set_headline("Data Engineer | Payments Platform");
  r->set_industry("Software");
  r->set_company("Initech");
  d.request.set_note(
      "We met at the data meetup last week; I enjoyed your talk.");
  d.request.set_mutual_connections(4);
  d.sent = 40;
  d.accepted = 25;
  d.declined = 10;
  d.pending = 5;
  d.sent_last_7d = 5;
  d.sent_this_week = 5;
  d.recipient_received = 20;
  d.recipient_accepted = 12;
  d.recipient_declined = 6;
  return d;
}

// The same, sent by a profile that looks fake with a sales pitch at night.
DraftContext Bad() {
  DraftContext d = Good();
  auto* s = d.request.mutable_sender_profile();
  s->set_has_photo(false);
  s->set_connection_count(12);
  s->set_completeness(0.2);
  d.request.set_note(
      "Hi! Our platform helps teams like yours. Do you have 15 minutes for a "
      "quick call this week? Happy to offer a discount.");
  d.planned_at = kPlanned + absl::Hours(13);  // 23:00 UTC.
  return d;
}

const rebound::v1::SuggestedAction* Fix(const Assessment& a, ActionKind k) {
  for (const auto& f : a.fixes()) {
    if (f.kind() == k) return &f;
  }
  return nullptr;
}

TEST(Assess, ABadDraftScoresLowerAndGetsEveryFixThatApplies) {
  const Assessment good = Assess(Classifier(), Policy(), Good());
  const Assessment bad = Assess(Classifier(), Policy(), Bad());
  EXPECT_GT(good.acceptance_probability(), bad.acceptance_probability() + 0.1)
      << good.acceptance_probability() << " vs "
      << bad.acceptance_probability();
  // Every fix the bad draft needs, none of which the good one gets.
  for (ActionKind k : {rebound::v1::ACTION_KIND_ADD_PHOTO,
                       rebound::v1::ACTION_KIND_GROW_CONNECTIONS,
                       rebound::v1::ACTION_KIND_COMPLETE_PROFILE,
                       rebound::v1::ACTION_KIND_DROP_PITCH,
                       rebound::v1::ACTION_KIND_LEAD_WITH_VALUE,
                       rebound::v1::ACTION_KIND_PERSONALISE,
                       rebound::v1::ACTION_KIND_SEND_AT_BEST_TIME}) {
    EXPECT_NE(Fix(bad, k), nullptr) << rebound::v1::ActionKind_Name(k);
    EXPECT_EQ(Fix(good, k), nullptr) << rebound::v1::ActionKind_Name(k);
  }
  EXPECT_THAT(Fix(bad, rebound::v1::ACTION_KIND_DROP_PITCH)->phrases(),
              ::testing::IsSupersetOf(
                  {"our platform", "15 minutes", "quick call", "discount"}));
  // The better hour is the next working morning, their time.
  const auto* when = Fix(bad, rebound::v1::ACTION_KIND_SEND_AT_BEST_TIME);
  ASSERT_TRUE(when->has_at());
  EXPECT_EQ(when->at().seconds(), bad.best_send_at().seconds());
  EXPECT_GT(bad.best_send_at().seconds(),
            absl::ToUnixSeconds(Bad().planned_at));
  EXPECT_EQ(bad.best_local_hour_of_week() % 24, Policy().default_local_hour);
  // Profile work comes first.
  EXPECT_EQ(bad.fixes(0).category(), rebound::v1::ACTION_CATEGORY_BUILD_VALUE);
  EXPECT_EQ(good.classifier_version(), Classifier().version);
  EXPECT_EQ(good.policy_version(), Policy().version);
}

TEST(Assess, LikelyReasonsAreTheFourDeclineReasonsRankedWithTheirEvidence) {
  const Assessment bad = Assess(Classifier(), Policy(), Bad());
  ASSERT_EQ(bad.likely_reasons_size(), 4);
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    const auto& r = bad.likely_reasons(i);
    sum += r.probability();
    if (i > 0) {
      EXPECT_GE(bad.likely_reasons(i - 1).probability(), r.probability());
    }
    for (const auto& s : r.signals()) {
      EXPECT_EQ(s.reason(), r.reason());
      EXPECT_GT(s.weight(), 0);
    }
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
  // Nothing from after the send (views, decline kinds) is evidence for a
  // draft.
  for (const auto& r : bad.likely_reasons()) {
    for (const auto& s : r.signals()) {
      EXPECT_FALSE(s.name().starts_with("recipient.no_view") ||
                   s.name().starts_with("recipient.viewed") ||
                   s.name().starts_with("decline."))
          << s.name();
    }
  }
}

TEST(Assess, TheReasonFollowsWhatIsWrongWithTheDraft) {
  DraftContext fake = Good();
  fake.request.mutable_sender_profile()->set_has_photo(false);
  fake.request.mutable_sender_profile()->set_connection_count(8);
  fake.request.mutable_sender_profile()->set_completeness(0.15);
  fake.request.mutable_sender_profile()->set_account_age_days(3);
  EXPECT_EQ(Assess(Classifier(), Policy(), fake).likely_reasons(0).reason(),
            rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  DraftContext pitch = Good();
  pitch.request.set_note(Bad().request.note());
  EXPECT_EQ(Assess(Classifier(), Policy(), pitch).likely_reasons(0).reason(),
            rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  DraftContext rival = Good();
  *rival.request.mutable_recipient_profile() =
      rival.request.sender_profile();  // Same industry, headline, company.
  rival.request.mutable_recipient_profile()->set_company("Hooli");
  EXPECT_EQ(Assess(Classifier(), Policy(), rival).likely_reasons(0).reason(),
            rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR);
  EXPECT_NE(Fix(Assess(Classifier(), Policy(), rival),
                rebound::v1::ACTION_KIND_MUTUAL_INTRO),
            nullptr);
  // A junior writing to a C-level: an introduction and engagement first.
  DraftContext guarded = Good();
  guarded.request.mutable_sender_profile()->set_seniority(
      rebound::v1::SENIORITY_ENTRY);
  guarded.request.mutable_recipient_profile()->set_seniority(
      rebound::v1::SENIORITY_CXO);
  auto g = Assess(Classifier(), Policy(), guarded);
  EXPECT_EQ(g.likely_reasons(0).reason(),
            rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD);
  EXPECT_NE(Fix(g, rebound::v1::ACTION_KIND_MUTUAL_INTRO), nullptr);
  EXPECT_NE(Fix(g, rebound::v1::ACTION_KIND_ENGAGE_FIRST), nullptr);
  // The good draft itself leans neither way: neither is asked for.
  EXPECT_EQ(Fix(Assess(Classifier(), Policy(), Good()),
                rebound::v1::ACTION_KIND_MUTUAL_INTRO),
            nullptr);
}

TEST(Assess, AcceptanceFollowsTheMembersHistory) {
  DraftContext strong = Good(), weak = Good(), unknown = Good();
  strong.accepted = 90;
  strong.declined = 10;
  weak.accepted = 10;
  weak.declined = 90;
  unknown.accepted = unknown.declined = 0;
  unknown.recipient_accepted = unknown.recipient_declined = 0;
  const double ps =
      Assess(Classifier(), Policy(), strong).acceptance_probability();
  const double pw =
      Assess(Classifier(), Policy(), weak).acceptance_probability();
  EXPECT_GT(ps, pw + 0.3) << ps << " vs " << pw;
  // Nothing known of either member: the base rate, moved only by the
  // draft's evidence (a personal note lowers the decline pressure).
  ClassifierConfig no_evidence = Classifier();
  no_evidence.acceptance_evidence_scale = 0;
  EXPECT_NEAR(Assess(no_evidence, Policy(), unknown).acceptance_probability(),
              Classifier().acceptance_base_rate, 1e-9);
  for (const DraftContext& d : {strong, weak, unknown, Bad()}) {
    const double p = Assess(Classifier(), Policy(), d).acceptance_probability();
    EXPECT_GT(p, 0);
    EXPECT_LT(p, 1);
  }
}

TEST(Assess, ARetryTooSoonWaitsForTheCoolDown) {
  DraftContext d = Good();
  d.pair_requests = 1;
  d.pair_last_sent = kPlanned - absl::Hours(24 * 3);
  const Assessment a = Assess(Classifier(), Policy(), d);
  const auto* wait = Fix(a, rebound::v1::ACTION_KIND_WAIT_COOL_DOWN);
  ASSERT_NE(wait, nullptr);
  const absl::Time until = *d.pair_last_sent + Policy().cool_down;
  EXPECT_EQ(wait->at().seconds(), absl::ToUnixSeconds(until));
  EXPECT_GE(a.best_send_at().seconds(), absl::ToUnixSeconds(until));
  // Long enough ago: no wait.
  d.pair_last_sent = kPlanned - Policy().cool_down - absl::Hours(1);
  EXPECT_EQ(Fix(Assess(Classifier(), Policy(), d),
                rebound::v1::ACTION_KIND_WAIT_COOL_DOWN),
            nullptr);
}

TEST(Assess, TheBestHourComesFromTheRecipientsAcceptances) {
  DraftContext d = Good();
  // Thursday 15:00 local (UTC+2) is when they accept.
  const int hour = 3 * 24 + 15;
  d.recipient_accept_hours[hour] = 7;
  d.recipient_accept_hours[10] = 1;
  d.recipient_utc_offset_minutes = 120;
  const Assessment a = Assess(Classifier(), Policy(), d);
  EXPECT_TRUE(a.best_hour_from_history());
  EXPECT_EQ(a.best_local_hour_of_week(), hour);
  // Thursday 2024-01-11 13:00 UTC.
  EXPECT_EQ(a.best_send_at().seconds(), 1704978000);
  EXPECT_NE(Fix(a, rebound::v1::ACTION_KIND_SEND_AT_BEST_TIME), nullptr);
}

TEST(Assess, AnAccountAtRiskIsToldToSlowDownAndWithdraw) {
  DraftContext d = Good();
  d.sent_this_week = 100;  // The whole budget.
  d.budget_frees_at = kPlanned + absl::Hours(30);
  d.sent = 400;
  d.pending = 300;
  const Assessment a = Assess(Classifier(), Policy(), d);
  const auto& safety = a.account_safety();
  EXPECT_EQ(safety.weekly_budget(), 100);
  EXPECT_EQ(safety.remaining_weekly_budget(), 0);
  EXPECT_EQ(safety.pending(), 300);
  EXPECT_TRUE(safety.at_risk());
  EXPECT_GE(safety.restriction_risk(), Policy().account_safety.high_risk);
  EXPECT_THAT(safety.risk_factors(),
              ::testing::IsSupersetOf({"weekly_budget", "pending"}));
  const auto* slow = Fix(a, rebound::v1::ACTION_KIND_SLOW_DOWN);
  ASSERT_NE(slow, nullptr);
  EXPECT_EQ(slow->at().seconds(), absl::ToUnixSeconds(*d.budget_frees_at));
  EXPECT_NE(Fix(a, rebound::v1::ACTION_KIND_WITHDRAW_STALE), nullptr);
  EXPECT_GE(a.best_send_at().seconds(),
            absl::ToUnixSeconds(*d.budget_frees_at));
  // A calm account: no risk, nothing to slow down.
  const Assessment calm = Assess(Classifier(), Policy(), Good());
  EXPECT_FALSE(calm.account_safety().at_risk());
  EXPECT_EQ(calm.account_safety().remaining_weekly_budget(), 95);
  EXPECT_EQ(Fix(calm, rebound::v1::ACTION_KIND_SLOW_DOWN), nullptr);
  EXPECT_EQ(Fix(calm, rebound::v1::ACTION_KIND_WITHDRAW_STALE), nullptr);
}

TEST(AccountSafety, ReportsWeighMostAndFewAnswersAreSmoothed) {
  const notify::AccountSafetyConfig c;
  notify::SenderActivity one;  // One request, declined: not a pattern.
  one.sent = 1;
  one.recent.set_declined(1);
  EXPECT_FALSE(notify::AssessAccount(c, one).at_risk());
  EXPECT_EQ(notify::AssessAccount(c, one).risk_factors_size(), 0);
  notify::SenderActivity reported;
  reported.sent = 60;
  reported.recent.set_accepted(30);
  reported.recent.set_declined(12);
  reported.recent.set_dont_know(5);
  reported.recent.set_spam(3);
  const auto r = notify::AssessAccount(c, reported);
  EXPECT_TRUE(r.at_risk());
  ASSERT_GT(r.risk_factors_size(), 0);
  EXPECT_EQ(r.risk_factors(0), "reports");
  EXPECT_DOUBLE_EQ(r.restriction_risk(), 1.0);
  // The rates are over the 50 recent answers and 10 clean pseudo-answers.
  EXPECT_EQ(r.answered(), 50);
  EXPECT_DOUBLE_EQ(r.decline_rate(), 20.0 / 60);
  EXPECT_DOUBLE_EQ(r.dont_know_rate(), 5.0 / 60);
  EXPECT_DOUBLE_EQ(r.spam_rate(), 3.0 / 60);
  EXPECT_DOUBLE_EQ(r.report_rate(), 8.0 / 60);
  EXPECT_EQ(r.recent_answers().spam(), 3);
}

TEST(AccountSafety, IgnoredInvitationsAreTheirOwnFactor) {
  const notify::AccountSafetyConfig c;
  // Half of the recent invitations ignored, none reported, few explicit
  // declines: the ignores alone put the account at risk.
  notify::SenderActivity ignored;
  ignored.sent = 90;
  ignored.recent.set_accepted(40);
  ignored.recent.set_ignored(48);
  ignored.recent.set_declined(2);
  const auto r = notify::AssessAccount(c, ignored);
  EXPECT_DOUBLE_EQ(r.ignore_rate(), 48.0 / 100);
  EXPECT_DOUBLE_EQ(r.report_rate(), 0);
  ASSERT_GT(r.risk_factors_size(), 0);
  EXPECT_EQ(r.risk_factors(0), "ignores");
  EXPECT_NEAR(r.restriction_risk(), (0.48 - 0.4) / (0.75 - 0.4), 1e-9);
  // The same member with the ignores aged out of the window: no factor.
  notify::SenderActivity later = ignored;
  later.recent.Clear();
  later.recent.set_accepted(5);
  EXPECT_EQ(notify::AssessAccount(c, later).risk_factors_size(), 0);
}

TEST(AccountSafety, ConfigErrorsNameTheKey) {
  auto with = [](const std::string& safety) {
    return notify::ParseRetryPolicyConfig(
        R"({"version":"v","cool_down_days":21,"max_retries_per_pair":2,
            "connections_target":150,"completeness_target":0.8,
            "min_history":3,"default_local_hour":9,
            "stale_pending_after_days":30,"long_note_chars":100,
            "lead_with_default":"x","pitch_phrases":["demo"],
            "account_safety":)" +
        safety + "}");
  };
  auto ok = with(R"({"weekly_budget":150,"pending_share":[0.3,0.7]})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->account_safety.weekly_budget, 150);
  EXPECT_EQ(ok->account_safety.pending_share_warn, 0.3);
  EXPECT_EQ(ok->account_safety.decline_rate_warn, 0.5);  // Default kept.
  for (const auto& [json, key] :
       std::vector<std::pair<std::string, std::string>>{
           {R"({"weekly_budgett":1})", "account_safety.weekly_budgett"},
           {R"({"weekly_budget":0})", "account_safety.weekly_budget"},
           {R"({"pending_share":[0.7,0.3]})", "account_safety.pending_share"},
           {R"({"report_rate":[0.1]})", "account_safety.report_rate"},
           {R"({"high_risk":1.5})", "account_safety.high_risk"},
           {R"([])", "account_safety"}}) {
    auto bad = with(json);
    ASSERT_FALSE(bad.ok()) << json;
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(key + ":"))
        << json;
  }
}

TEST(AcceptanceConfig, OutOfRangeOrUnknownIsRefused) {
  std::string text;
  {
    std::ifstream in(REBOUND_SOURCE_DIR "/config/classifier.json");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  // The shipped file with one key's value (up to the next ',', '\n' or
  // '}') or name replaced.
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    const size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at == std::string::npos) return t;
    size_t end = at + from.size();
    if (from.back() == ' ') end = t.find_first_of(",\n}", end);
    return t.replace(at, end - at, to);
  };
  for (const auto& [from, to, key] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"\"base_rate\": ", "\"base_rate\": 1", "acceptance.base_rate"},
           {"\"evidence_scale\": ", "\"evidence_scale\": -1",
            "acceptance.evidence_scale"},
           {"\"prior_strength\"", "\"prior_strenght\"",
            "acceptance.prior_strenght"}}) {
    auto c = ParseClassifierConfig(replaced(from, to));
    ASSERT_FALSE(c.ok()) << to;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(key + ":"));
  }
}

}  // namespace
}  // namespace rebound::scoring
