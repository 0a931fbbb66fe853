#include "tools/sim/scenario.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::sim {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr auto kSpammy = rebound::v1::DECLINE_REASON_SPAMMY_PROFILE;
constexpr auto kOffTarget = rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH;
constexpr auto kCompetitor = rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR;
constexpr auto kCredibility = rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD;
constexpr auto kNotSeen = rebound::v1::DECLINE_REASON_NOT_SEEN;

// A retry carrying every obstacle, too soon.
RetryFeatures Worst(rebound::v1::DeclineReason cause) {
  RetryFeatures f;
  f.cause = cause;
  f.first_kind = rebound::v1::DECLINE_KIND_DECLINED;
  f.profile_weak_points = 3;
  f.pitch = true;
  f.at_active_hour = false;
  f.rival = true;
  f.junior_to_vip = true;
  f.days_since_answer = 1;
  return f;
}

TEST(RetryWorld, RemovingAnObstacleOrAddingReassuranceNeverLowersAcceptance) {
  const RetryWorldParams p;
  for (auto cause :
       {kSpammy, kOffTarget, kCompetitor, kCredibility, kNotSeen}) {
    const RetryFeatures worst = Worst(cause);
    const double base = RetryAcceptance(worst, p);
    std::vector<std::function<void(RetryFeatures&)>> fixes = {
        [](RetryFeatures& f) { f.profile_weak_points = 0; },
        [](RetryFeatures& f) { f.pitch = false; },
        [](RetryFeatures& f) { f.at_active_hour = true; },
        [](RetryFeatures& f) { f.rival = false; },
        [](RetryFeatures& f) { f.junior_to_vip = false; },
        [](RetryFeatures& f) { f.value_or_personal = true; },
        [](RetryFeatures& f) { f.engaged_first = true; },
        [](RetryFeatures& f) { f.mutual_intro = true; },
        [](RetryFeatures& f) { f.days_since_answer = 30; },
    };
    for (size_t i = 0; i < fixes.size(); ++i) {
      RetryFeatures f = worst;
      fixes[i](f);
      EXPECT_GE(RetryAcceptance(f, p), base) << "fix " << i;
    }
    // All fixed: the base rate, bounded.
    RetryFeatures clear;
    clear.cause = cause;
    clear.first_kind = rebound::v1::DECLINE_KIND_DECLINED;
    EXPECT_DOUBLE_EQ(RetryAcceptance(clear, p), p.base);
    EXPECT_GE(base, 0);
    EXPECT_LT(base, 0.05) << rebound::v1::DeclineReason_Name(cause);
  }
}

TEST(RetryWorld, TheFirstDeclinesCauseWeighsMostAndAReportClosesTheDoor) {
  const RetryWorldParams p;
  RetryFeatures pitch;
  pitch.pitch = true;
  pitch.days_since_answer = 30;
  pitch.cause = kOffTarget;
  const double cause = RetryAcceptance(pitch, p);
  pitch.cause = kCredibility;
  const double other = RetryAcceptance(pitch, p);
  EXPECT_LT(cause * 3, other);

  RetryFeatures reported;
  reported.cause = kOffTarget;
  reported.first_kind = rebound::v1::DECLINE_KIND_REPORTED_SPAM;
  reported.days_since_answer = 300;
  EXPECT_DOUBLE_EQ(RetryAcceptance(reported, p), p.reported);
  EXPECT_THAT(RetryObstacles(reported), Contains("reported"));

  // An unseen request is not remembered: no "too soon".
  RetryFeatures unseen;
  unseen.cause = kNotSeen;
  unseen.days_since_answer = 0.5;
  EXPECT_DOUBLE_EQ(RetryAcceptance(unseen, p), p.base);
  EXPECT_THAT(RetryObstacles(unseen), IsEmpty());
  unseen.cause = kCompetitor;
  EXPECT_THAT(RetryObstacles(unseen), Contains("too_soon"));
}

TEST(RetryWorld, ReassuranceAnswersARivalButNotAPitch) {
  RetryFeatures f;
  f.rival = true;
  f.pitch = true;
  f.days_since_answer = 30;
  EXPECT_THAT(RetryObstacles(f), Contains("rival"));
  f.mutual_intro = true;
  EXPECT_THAT(RetryObstacles(f), Not(Contains("rival")));
  EXPECT_THAT(RetryObstacles(f), Contains("pitch"));
}

ScenarioOptions SmallHistory() {
  ScenarioOptions o;
  o.seed = 5;
  o.tenants = 2;
  o.members_per_tenant = 60;
  o.requests = 1500;
  o.send_span = absl::Hours(24 * 30);
  return o;
}

TEST(RetryStudy, EveryLabelledPairGetsOneArmAndTheStudyIsRepeatable) {
  const ScenarioOptions o = SmallHistory();
  const Scenario history = GenerateScenario(o);
  const RetryStudyOptions study;
  const RetryStudy a = GenerateRetryStudy(o, {}, study);
  ASSERT_EQ(a.arms.size(), history.truth.size());
  std::map<RetryArm, int> per_arm;
  std::set<std::string> requests;
  for (const auto& r : a.arms) {
    ++per_arm[r.arm];
    EXPECT_TRUE(requests.insert(r.tenant_id + "/" + r.request_id).second);
    EXPECT_FALSE(r.advice_found);
    // Without advice there is nothing to follow; the others retry anyway.
    EXPECT_EQ(r.retried,
              r.arm == RetryArm::kImmediate || r.arm == RetryArm::kWait);
    EXPECT_EQ(r.retried, !r.retry_request_id.empty());
    if (!r.retried) {
      EXPECT_FALSE(r.accepted);
    }
  }
  for (RetryArm arm : {RetryArm::kFollow, RetryArm::kImmediate, RetryArm::kWait,
                       RetryArm::kNever}) {
    EXPECT_GT(per_arm[arm], static_cast<int>(a.arms.size()) / 8)
        << RetryArmName(arm);
  }
  const RetryStudy b = GenerateRetryStudy(o, {}, study);
  ASSERT_EQ(b.events.size(), a.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].SerializeAsString(), b.events[i].SerializeAsString());
  }
}

// The time of the first request's answer, by request id.
std::map<std::string, int64_t> AnswerTimes(const Scenario& history) {
  std::map<std::string, int64_t> out;
  for (const auto& e : history.events) {
    std::string id;
    if (e.has_request_declined()) id = e.request_declined().request_id();
    if (e.has_request_expired()) id = e.request_expired().request_id();
    if (!id.empty()) out[e.tenant_id() + "/" + id] = e.occurred_at().seconds();
  }
  return out;
}

TEST(RetryStudy, RetriesComeAfterTheAnswerInTimeOrderEachAnswered) {
  const ScenarioOptions o = SmallHistory();
  const auto answered = AnswerTimes(GenerateScenario(o));
  const RetryStudy study = GenerateRetryStudy(o, {}, RetryStudyOptions());
  std::map<std::string, int64_t> sent;
  std::map<std::string, int> answers;
  int64_t last = 0;
  for (const auto& e : study.events) {
    EXPECT_GE(e.occurred_at().seconds(), last);
    last = e.occurred_at().seconds();
    if (e.has_request_sent()) {
      sent[e.request_sent().request_id()] = e.occurred_at().seconds();
    }
    std::string id = e.has_request_accepted()
                         ? e.request_accepted().request_id()
                         : e.request_declined().request_id();
    if (!id.empty()) {
      ASSERT_TRUE(sent.contains(id)) << "answer before its request " << id;
      EXPECT_GT(e.occurred_at().seconds(), sent[id]);
      ++answers[id];
    }
  }
  for (const auto& r : study.arms) {
    if (!r.retried) continue;
    ASSERT_TRUE(sent.contains(r.retry_request_id));
    EXPECT_EQ(answers[r.retry_request_id], 1);
    const int64_t after = sent[r.retry_request_id] -
                          answered.at(r.tenant_id + "/" + r.request_id);
    EXPECT_GE(after, 3600);
    if (r.arm == RetryArm::kImmediate) {
      EXPECT_LE(after, 26 * 3600);
    }
    if (r.arm == RetryArm::kWait) {
      EXPECT_GE(after, 21 * 24 * 3600);
    }
  }
}

TEST(RetryStudy, FollowersDoWhatTheSuggestionSays) {
  const ScenarioOptions o = SmallHistory();
  const Scenario history = GenerateScenario(o);
  const auto answered = AnswerTimes(history);
  // The sent request of every labelled pair.
  std::map<std::string, rebound::v1::ConnectionEvent> first;
  for (const auto& e : history.events) {
    if (e.has_request_sent()) {
      first[e.tenant_id() + "/" + e.request_sent().request_id()] = e;
    }
  }
  // Advice for every pair: add a photo, grow to 400, complete
  // to 80%, drop the pitch, lead
  // with value, send 25 days after the answer. DO_NOT_RETRY for one.
  std::vector<rebound::v1::RetrySuggestion> advice;
  const RetryStudy probe = GenerateRetryStudy(o, {}, RetryStudyOptions());
  const std::string refused =
      probe.arms.front().tenant_id + "/" + probe.arms.front().request_id;
  for (const auto& r : probe.arms) {
    const std::string key = r.tenant_id + "/" + r.request_id;
    rebound::v1::RetrySuggestion s;
    s.set_suggestion_id("d-" + r.request_id);
    s.set_tenant_id(r.tenant_id);
    s.set_request_id(r.request_id);
    s.set_version(1);
    s.set_should_retry(key != refused);
    s.mutable_retry_at()->set_seconds(answered.at(key) + 25 * 86400);
    s.add_actions()->set_kind(rebound::v1::ACTION_KIND_ADD_PHOTO);
    auto* grow = s.add_actions();
    grow->set_kind(rebound::v1::ACTION_KIND_GROW_CONNECTIONS);
    grow->set_target(400);
    auto* complete = s.add_actions();
    complete->set_kind(rebound::v1::ACTION_KIND_COMPLETE_PROFILE);
    complete->set_target(80);
    s.add_actions()->set_kind(rebound::v1::ACTION_KIND_DROP_PITCH);
    s.add_actions()->set_kind(rebound::v1::ACTION_KIND_LEAD_WITH_VALUE);
    advice.push_back(s);
    // An older version says something else: the latest is followed.
    s.set_version(0);
    s.clear_actions();
    advice.push_back(s);
  }
  const RetryStudy study = GenerateRetryStudy(o, advice, RetryStudyOptions());
  std::map<std::string, const rebound::v1::ConnectionEvent*> retry_sent;
  std::map<std::string, int> profile_updates;
  for (const auto& e : study.events) {
    if (e.has_request_sent()) retry_sent[e.request_sent().request_id()] = &e;
    if (e.has_profile_updated()) ++profile_updates[e.sender_id()];
  }
  int followed = 0;
  for (const auto& r : study.arms) {
    if (r.arm != RetryArm::kFollow) continue;
    const std::string key = r.tenant_id + "/" + r.request_id;
    EXPECT_TRUE(r.advice_found);
    if (key == refused) {
      EXPECT_FALSE(r.retried) << "DO_NOT_RETRY was retried";
      continue;
    }
    ASSERT_TRUE(r.retried);
    ++followed;
    const auto& e = *retry_sent.at(r.retry_request_id);
    const auto& sent = e.request_sent();
    EXPECT_EQ(e.occurred_at().seconds(), answered.at(key) + 25 * 86400);
    EXPECT_TRUE(sent.sender_profile().has_photo());
    EXPECT_GE(sent.sender_profile().connection_count(), 400);
    EXPECT_GE(sent.sender_profile().completeness(), 0.8);
    EXPECT_FALSE(sent.note().empty());
    const std::string& old = first.at(key).request_sent().note();
    if (!old.empty() && sent.note().find(old) != std::string::npos) {
      // The old note kept only if it was not a pitch.
      EXPECT_THAT(r.obstacles, Not(Contains("pitch"))) << old;
    }
    EXPECT_THAT(r.obstacles, Not(Contains("profile")));
    EXPECT_THAT(r.obstacles, Not(Contains("pitch")));
    EXPECT_THAT(r.obstacles, Not(Contains("too_soon")));
  }
  EXPECT_GT(followed, 20);
  EXPECT_FALSE(profile_updates.empty());
}

}  // namespace
}  // namespace rebound::sim
