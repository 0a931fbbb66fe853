#include "services/notify/retry_policy.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace rebound::notify {
namespace {

using rebound::v1::ActionKind;
using rebound::v1::DeclineReason;
using rebound::v1::RetrySuggestion;
using rebound::v1::SuggestionState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr ActionKind kAddPhoto = rebound::v1::ACTION_KIND_ADD_PHOTO;
constexpr ActionKind kGrow = rebound::v1::ACTION_KIND_GROW_CONNECTIONS;
constexpr ActionKind kComplete = rebound::v1::ACTION_KIND_COMPLETE_PROFILE;
constexpr ActionKind kEngage = rebound::v1::ACTION_KIND_ENGAGE_FIRST;
constexpr ActionKind kIntro = rebound::v1::ACTION_KIND_MUTUAL_INTRO;
constexpr ActionKind kBestTime = rebound::v1::ACTION_KIND_SEND_AT_BEST_TIME;
constexpr ActionKind kCoolDown = rebound::v1::ACTION_KIND_WAIT_COOL_DOWN;
constexpr ActionKind kDropPitch = rebound::v1::ACTION_KIND_DROP_PITCH;
constexpr ActionKind kLeadWith = rebound::v1::ACTION_KIND_LEAD_WITH_VALUE;
constexpr ActionKind kShorten = rebound::v1::ACTION_KIND_SHORTEN_NOTE;
constexpr ActionKind kPersonalise = rebound::v1::ACTION_KIND_PERSONALISE;
constexpr ActionKind kWithdraw = rebound::v1::ACTION_KIND_WITHDRAW_STALE;

constexpr SuggestionState kReady = rebound::v1::SUGGESTION_STATE_READY;
constexpr SuggestionState kWaiting =
    rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE;
constexpr SuggestionState kDoNotRetry =
    rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The shipped config: the rules must hold for what production runs.
const RetryPolicyConfig& Config() {
  static const RetryPolicyConfig* config = [] {
    auto c =
        LoadRetryPolicyConfig(REBOUND_SOURCE_DIR "/config/retry_policy.json");
    EXPECT_TRUE(c.ok()) << c.status();
    return new RetryPolicyConfig(c.ok() ? *c : RetryPolicyConfig{});
  }();
  return *config;
}

absl::Time Utc(int y, int mo, int d, int h, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0),
                         absl::UTCTimeZone());
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// Wednesday 2024-01-10 15:00 UTC.
const absl::Time kDecided = Utc(2024, 1, 10, 15);
const absl::Time kNow = kDecided + absl::Hours(1);

// A plain decline by a genuine-looking sender with no note.
RetryInputs Base(DeclineReason reason) {
  RetryInputs in;
  auto& v = in.verdict;
  v.set_verdict_id("ev-9");
  v.set_tenant_id("acme");
  v.set_sender_id("s");
  v.set_recipient_id("r");
  v.set_request_id("req-1");
  v.set_decline_kind(rebound::v1::DECLINE_KIND_DECLINED);
  v.mutable_decided_at()->set_seconds(absl::ToUnixSeconds(kDecided));
  v.set_primary_reason(reason);
  v.set_confidence(0.7);
  auto* req = v.mutable_request();
  req->set_request_id("req-1");
  req->set_mutual_connections(3);
  auto* s = req->mutable_sender_profile();
  s->set_has_photo(true);
  s->set_connection_count(500);
  s->set_completeness(0.9);
  req->mutable_recipient_profile()->set_company("Initech");
  return in;
}

void WeakProfile(RetryInputs& in) {
  auto* s = in.verdict.mutable_request()->mutable_sender_profile();
  s->set_has_photo(false);
  s->set_connection_count(12);
  s->set_completeness(0.3);
}

rebound::v1::ProfileSnapshot GoodProfile() {
  rebound::v1::ProfileSnapshot p;
  p.set_has_photo(true);
  p.set_connection_count(150);
  p.set_completeness(0.8);
  return p;
}

std::set<ActionKind> Kinds(const RetrySuggestion& s) {
  std::set<ActionKind> kinds;
  for (const auto& a : s.actions()) kinds.insert(a.kind());
  return kinds;
}

const rebound::v1::SuggestedAction* Find(const RetrySuggestion& s,
                                         ActionKind kind) {
  for (const auto& a : s.actions()) {
    if (a.kind() == kind) return &a;
  }
  return nullptr;
}

struct Case {
  std::string name;
  DeclineReason reason;
  std::function<void(RetryInputs&)> mutate;
  SuggestionState want_state;
  bool want_retry;
  std::set<ActionKind> want;      // Must be present.
  std::set<ActionKind> not_want;  // Must be absent.
};

class ReasonTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReasonTest, StateRetryAndActions) {
  const Case& c = GetParam();
  RetryInputs in = Base(c.reason);
  if (c.mutate) c.mutate(in);
  RetrySuggestion s = Suggest(Config(), in, kNow);
  EXPECT_EQ(s.state(), c.want_state)
      << rebound::v1::SuggestionState_Name(s.state());
  EXPECT_EQ(s.should_retry(), c.want_retry);
  EXPECT_EQ(s.no_retry_reason().empty(), c.want_state != kDoNotRetry);
  const auto kinds = Kinds(s);
  for (ActionKind k : c.want) {
    EXPECT_TRUE(kinds.contains(k)) << "missing " << ActionKind_Name(k);
  }
  for (ActionKind k : c.not_want) {
    EXPECT_FALSE(kinds.contains(k)) << "unexpected " << ActionKind_Name(k);
  }
  for (const auto& a : s.actions()) {
    EXPECT_FALSE(a.detail().empty()) << ActionKind_Name(a.kind());
    EXPECT_NE(a.category(), rebound::v1::ACTION_CATEGORY_UNSPECIFIED);
  }
  // Retry suggestions are scheduled; do-not-retry ones are not.
  EXPECT_EQ(s.has_not_before(), c.want_retry);
  EXPECT_EQ(s.has_retry_at(), c.want_retry);
}

const std::string kLongGenericNote =
    "Hello, I came across your profile and would like to add you to my "
    "professional network so that we can stay in touch going forward.";

INSTANTIATE_TEST_SUITE_P(
    RetryPolicy, ReasonTest,
    ::testing::Values(
        Case{"not_seen_no_note",
             rebound::v1::DECLINE_REASON_NOT_SEEN,
             [](RetryInputs& in) {
               in.verdict.set_expired(true);
               in.verdict.set_decline_kind(
                   rebound::v1::DECLINE_KIND_UNSPECIFIED);
             },
             kReady,
             true,
             {kBestTime},
             {kShorten, kPersonalise, kDropPitch, kAddPhoto}},
        Case{"not_seen_long_note",
             rebound::v1::DECLINE_REASON_NOT_SEEN,
             [](RetryInputs& in) {
               in.verdict.set_expired(true);
               in.verdict.mutable_request()->set_note(kLongGenericNote);
             },
             kReady,
             true,
             {kBestTime, kShorten, kPersonalise},
             {}},
        Case{"spammy_weak_profile",
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             WeakProfile,
             kWaiting,
             true,
             {kAddPhoto, kGrow, kComplete, kBestTime},
             {kIntro}},
        Case{"spammy_fixed_since",
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             [](RetryInputs& in) {
               WeakProfile(in);
               in.sender_profile = GoodProfile();
             },
             kReady,
             true,
             {kAddPhoto, kGrow, kComplete},
             {}},
        Case{"spammy_partly_fixed",
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             [](RetryInputs& in) {
               WeakProfile(in);
               auto p = GoodProfile();
               p.set_connection_count(40);
               in.sender_profile = p;
             },
             kWaiting,
             true,
             {kAddPhoto, kGrow, kComplete},
             {}},
        Case{"spammy_without_request_uses_signals",
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             [](RetryInputs& in) {
               in.verdict.clear_request();
               in.verdict.add_signals()->set_name("sender.no_photo");
             },
             kWaiting,
             true,
             {kAddPhoto},
             {kGrow, kComplete}},
        Case{"spammy_nothing_to_fix_on_profile",
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             nullptr,
             kReady,
             true,
             {kPersonalise, kBestTime},
             {kAddPhoto, kGrow, kComplete}},
        Case{"off_target_pitch",
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             [](RetryInputs& in) {
               in.verdict.mutable_request()->set_note(
                   "Quick call about our PRODUCT? We offer a Free Trial.");
             },
             kReady,
             true,
             {kDropPitch, kLeadWith, kPersonalise, kBestTime, kCoolDown},
             {kShorten, kAddPhoto}},
        Case{"off_target_no_note",
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             nullptr,
             kReady,
             true,
             {kLeadWith, kPersonalise, kBestTime, kCoolDown},
             {kDropPitch, kShorten}},
        Case{"off_target_personal_but_long",
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             [](RetryInputs& in) {
               in.verdict.mutable_request()->set_note(
                   "Loved your talk at the payments summit last week: the "
                   "part on retries changed how our team handles failures.");
               in.verdict.add_signals()->set_name("note.personalised");
             },
             kReady,
             true,
             {kShorten, kLeadWith, kBestTime, kCoolDown},
             {kDropPitch, kPersonalise}},
        Case{"competitor",
             rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR,
             nullptr,
             kReady,
             true,
             {kIntro, kEngage, kBestTime},
             {kLeadWith}},
        Case{"credibility_established_sender",
             rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD,
             nullptr,
             kReady,
             true,
             {kEngage, kLeadWith, kBestTime},
             {kGrow, kAddPhoto}},
        Case{"credibility_small_network",
             rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD,
             [](RetryInputs& in) {
               in.verdict.mutable_request()
                   ->mutable_sender_profile()
                   ->set_connection_count(60);
             },
             kWaiting,
             true,
             {kEngage, kGrow, kLeadWith, kBestTime},
             {kAddPhoto}},
        Case{"undetermined",
             rebound::v1::DECLINE_REASON_UNDETERMINED,
             nullptr,
             kReady,
             true,
             {kCoolDown, kBestTime, kLeadWith},
             {kIntro}},
        Case{"reported_spam",
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             [](RetryInputs& in) {
               WeakProfile(in);
               in.verdict.set_decline_kind(
                   rebound::v1::DECLINE_KIND_REPORTED_SPAM);
             },
             kDoNotRetry,
             false,
             {},
             {kAddPhoto, kGrow, kBestTime, kIntro}},
        Case{"reported_unknown_intro_only",
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             [](RetryInputs& in) {
               in.verdict.set_decline_kind(
                   rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN);
             },
             kDoNotRetry,
             false,
             {kIntro},
             {kBestTime, kLeadWith, kCoolDown}},
        Case{"budget_used_up",
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             [](RetryInputs& in) { in.prior_retries = 2; },
             kDoNotRetry,
             false,
             {},
             {kBestTime, kLeadWith}},
        Case{"budget_left",
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             [](RetryInputs& in) { in.prior_retries = 1; },
             kReady,
             true,
             {kLeadWith},
             {}}),
    [](const auto& info) { return info.param.name; });

TEST(RetryPolicy, FillsIdentityAndBookkeeping) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_UNDETERMINED);
  in.prior_retries = 1;
  RetrySuggestion s = Suggest(Config(), in, kNow);
  EXPECT_EQ(s.suggestion_id(), "ev-9");
  EXPECT_EQ(s.tenant_id(), "acme");
  EXPECT_EQ(s.member_id(), "s");
  EXPECT_EQ(s.recipient_id(), "r");
  EXPECT_EQ(s.request_id(), "req-1");
  EXPECT_EQ(s.reason(), rebound::v1::DECLINE_REASON_UNDETERMINED);
  EXPECT_DOUBLE_EQ(s.confidence(), 0.7);
  EXPECT_EQ(s.prior_retries(), 1);
  EXPECT_EQ(s.version(), 1);
  EXPECT_EQ(FromProto(s.created_at()), kNow);
  EXPECT_EQ(FromProto(s.updated_at()), kNow);
  EXPECT_EQ(FromProto(s.declined_at()), kDecided);
  EXPECT_EQ(FromProto(s.not_before()), kDecided + absl::Hours(24 * 21));
}

TEST(RetryPolicy, DropPitchListsThePhrasesFoundAndIntroCountsMutuals) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  in.verdict.mutable_request()->set_note(
      "Quick call about our PRODUCT? We offer a Free Trial.");
  RetrySuggestion s = Suggest(Config(), in, kNow);
  const auto* drop = Find(s, kDropPitch);
  ASSERT_NE(drop, nullptr);
  // In config order, lower case.
  EXPECT_THAT(drop->phrases(),
              ElementsAre("quick call", "offer", "our product", "free trial"));
  const auto* lead = Find(s, kLeadWith);
  ASSERT_NE(lead, nullptr);
  EXPECT_EQ(lead->lead_with(), Config().lead_with_default);

  RetryInputs c = Base(rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR);
  const RetrySuggestion competitor = Suggest(Config(), c, kNow);
  const auto* intro = Find(competitor, kIntro);
  ASSERT_NE(intro, nullptr);
  EXPECT_THAT(intro->detail(), HasSubstr("3 mutual connections"));
}

TEST(RetryPolicy, ProfileWorkBlocksWithTargets) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  WeakProfile(in);
  RetrySuggestion s = Suggest(Config(), in, kNow);
  for (ActionKind k : {kAddPhoto, kGrow, kComplete}) {
    const auto* a = Find(s, k);
    ASSERT_NE(a, nullptr) << ActionKind_Name(k);
    EXPECT_TRUE(a->blocks_retry());
    EXPECT_FALSE(a->done());
    EXPECT_EQ(a->category(), rebound::v1::ACTION_CATEGORY_BUILD_VALUE);
  }
  EXPECT_EQ(Find(s, kGrow)->target(), 150);
  EXPECT_EQ(Find(s, kComplete)->target(), 80);
  EXPECT_FALSE(Find(s, kBestTime)->blocks_retry());
}

// --- retry_at ---------------------------------------------------------------

struct TimingCase {
  std::string name;
  absl::Time decided_at;
  absl::Time now;
  int offset_minutes;
  std::vector<std::pair<int, int64_t>> history;  // hour of week → accepts.
  absl::Time want_not_before;
  absl::Time want_retry_at;
  int want_hour_of_week;
  bool want_from_history;
};

class TimingTest : public ::testing::TestWithParam<TimingCase> {};

TEST_P(TimingTest, RetryAtInRecipientLocalTime) {
  const TimingCase& c = GetParam();
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_UNDETERMINED);
  in.verdict.mutable_decided_at()->set_seconds(
      absl::ToUnixSeconds(c.decided_at));
  in.recipient_utc_offset_minutes = c.offset_minutes;
  for (const auto& [hour, n] : c.history) in.recipient_accept_hours[hour] = n;
  RetrySuggestion s = Suggest(Config(), in, c.now);
  EXPECT_EQ(FromProto(s.not_before()), c.want_not_before);
  EXPECT_GE(FromProto(s.not_before()), c.now);
  EXPECT_EQ(FromProto(s.retry_at()), c.want_retry_at)
      << absl::FormatTime(FromProto(s.retry_at()));
  EXPECT_GE(FromProto(s.retry_at()), FromProto(s.not_before()));
  EXPECT_EQ(s.retry_at_local_hour_of_week(), c.want_hour_of_week);
  EXPECT_EQ(s.retry_at_from_history(), c.want_from_history);
}

// Cool-down from Wed 2024-01-10 15:00 UTC ends Wed 2024-01-31 15:00 UTC,
// which is 10:00 in New York (UTC-5).
INSTANTIATE_TEST_SUITE_P(
    RetryPolicy, TimingTest,
    ::testing::Values(
        // Thursday 14:00 New York = 19:00 UTC, the day after not_before.
        TimingCase{"history_argmax",
                   kDecided,
                   kNow,
                   -300,
                   {{3 * 24 + 14, 7}, {1 * 24 + 8, 2}},
                   Utc(2024, 1, 31, 15),
                   Utc(2024, 2, 1, 19),
                   3 * 24 + 14,
                   true},
        // Tuesday 08:00 and Thursday 14:00 tie: Tuesday (earlier in the
        // week) wins, the next one after Wednesday is 2024-02-06.
        TimingCase{"history_tie_earliest_hour",
                   kDecided,
                   kNow,
                   -300,
                   {{3 * 24 + 14, 5}, {1 * 24 + 8, 5}, {100, 2}},
                   Utc(2024, 1, 31, 15),
                   Utc(2024, 2, 6, 13),
                   1 * 24 + 8,
                   true},
        // India (UTC+5:30): Monday 09:00 local = 03:30 UTC.
        TimingCase{"history_half_hour_offset",
                   kDecided,
                   kNow,
                   330,
                   {{9, 4}},
                   Utc(2024, 1, 31, 15),
                   Utc(2024, 2, 5, 3, 30),
                   9,
                   true},
        // Two acceptances are below min_history: default weekday 09:00,
        // the next being Thursday in New York.
        TimingCase{"thin_history_default",
                   kDecided,
                   kNow,
                   -300,
                   {{3 * 24 + 14, 2}},
                   Utc(2024, 1, 31, 15),
                   Utc(2024, 2, 1, 14),
                   3 * 24 + 9,
                   false},
        // not_before Saturday 2024-01-13 13:00 Berlin (UTC+1): Monday
        // 09:00 local = 08:00 UTC.
        TimingCase{"default_saturday_to_monday",
                   Utc(2023, 12, 23, 12),
                   Utc(2023, 12, 23, 13),
                   60,
                   {},
                   Utc(2024, 1, 13, 12),
                   Utc(2024, 1, 15, 8),
                   9,
                   false},
        // A decline long past: not_before is now, never earlier; now is
        // Friday 2024-03-01 07:00 UTC, so 09:00 UTC the same day.
        TimingCase{"not_before_never_before_now",
                   kDecided,
                   Utc(2024, 3, 1, 7),
                   0,
                   {},
                   Utc(2024, 3, 1, 7),
                   Utc(2024, 3, 1, 9),
                   4 * 24 + 9,
                   false}),
    [](const auto& info) { return info.param.name; });

TEST(RetryPolicy, OffsetFallsBackToRequestSnapshotThenUtc) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_UNDETERMINED);
  in.verdict.mutable_request()
      ->mutable_recipient_profile()
      ->set_utc_offset_minutes(-300);
  // Not given in inputs: the request's snapshot says New York.
  EXPECT_EQ(FromProto(Suggest(Config(), in, kNow).retry_at()),
            Utc(2024, 2, 1, 14));
  in.verdict.clear_request();
  // Unknown: UTC. not_before Wed 15:00 UTC → Thursday 09:00 UTC.
  EXPECT_EQ(FromProto(Suggest(Config(), in, kNow).retry_at()),
            Utc(2024, 2, 1, 9));
}

struct HourCase {
  std::string name;
  absl::Time after;
  int hour_of_week;
  int offset_minutes;
  absl::Time want;
};

class NextHourOfWeekTest : public ::testing::TestWithParam<HourCase> {};

TEST_P(NextHourOfWeekTest, FirstMatchingTimeAtOrAfter) {
  const HourCase& c = GetParam();
  EXPECT_EQ(NextHourOfWeek(c.after, c.hour_of_week, c.offset_minutes), c.want)
      << absl::FormatTime(
             NextHourOfWeek(c.after, c.hour_of_week, c.offset_minutes));
}

// 2024-01-08 is a Monday.
INSTANTIATE_TEST_SUITE_P(
    RetryPolicy, NextHourOfWeekTest,
    ::testing::Values(HourCase{"later_same_day", Utc(2024, 1, 8, 6), 9, 0,
                               Utc(2024, 1, 8, 9)},
                      HourCase{"inside_the_hour_is_now", Utc(2024, 1, 8, 9, 30),
                               9, 0, Utc(2024, 1, 8, 9, 30)},
                      HourCase{"past_this_week_wraps", Utc(2024, 1, 8, 10), 9,
                               0, Utc(2024, 1, 15, 9)},
                      HourCase{"sunday_last_hour", Utc(2024, 1, 8, 0), 167, 0,
                               Utc(2024, 1, 14, 23)},
                      // Monday 02:00 UTC is Sunday 18:00 in Los Angeles
                      // (UTC-8): Monday 00:00 local is 08:00 UTC.
                      HourCase{"negative_offset_crosses_day",
                               Utc(2024, 1, 8, 2), 0, -480, Utc(2024, 1, 8, 8)},
                      // Monday 20:00 UTC is Tuesday 05:00 in Tokyo (UTC+9):
                      // Tuesday 09:00 local is 00:00 UTC.
                      HourCase{"positive_offset_crosses_day",
                               Utc(2024, 1, 8, 20), 24 + 9, 540,
                               Utc(2024, 1, 9, 0)}),
    [](const auto& info) { return info.param.name; });

// --- ApplyProfileUpdate ----------------------------------------------------

TEST(RetryPolicy, ProfileUpdateTurnsReadyOnlyWhenAllBlockingWorkDone) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  WeakProfile(in);
  RetrySuggestion s = Suggest(Config(), in, kNow);
  ASSERT_EQ(s.state(), kWaiting);

  const absl::Time t1 = kNow + absl::Hours(1);
  auto photo_only = in.verdict.request().sender_profile();
  photo_only.set_has_photo(true);
  EXPECT_TRUE(ApplyProfileUpdate(Config(), photo_only, &s, t1));
  EXPECT_EQ(s.state(), kWaiting);
  EXPECT_TRUE(Find(s, kAddPhoto)->done());
  EXPECT_FALSE(Find(s, kGrow)->done());
  EXPECT_EQ(s.version(), 2);
  EXPECT_EQ(FromProto(s.updated_at()), t1);

  // The same profile again changes nothing: no version bump, no timestamp.
  const absl::Time t2 = t1 + absl::Hours(1);
  EXPECT_FALSE(ApplyProfileUpdate(Config(), photo_only, &s, t2));
  EXPECT_EQ(s.version(), 2);
  EXPECT_EQ(FromProto(s.updated_at()), t1);

  // Exactly at the targets (150 connections, 0.8 complete) counts as done.
  EXPECT_TRUE(ApplyProfileUpdate(Config(), GoodProfile(), &s, t2));
  EXPECT_EQ(s.state(), kReady);
  EXPECT_EQ(s.version(), 3);
  EXPECT_EQ(FromProto(s.updated_at()), t2);
  EXPECT_TRUE(Find(s, kGrow)->done());
  EXPECT_TRUE(Find(s, kComplete)->done());
  EXPECT_FALSE(Find(s, kBestTime)->done());

  const RetrySuggestion before = s;
  EXPECT_FALSE(
      ApplyProfileUpdate(Config(), GoodProfile(), &s, t2 + absl::Hours(1)));
  EXPECT_EQ(s.SerializeAsString(), before.SerializeAsString());
}

TEST(RetryPolicy, ProfileUpdateLeavesSettledSuggestionsAlone) {
  for (SuggestionState state :
       {rebound::v1::SUGGESTION_STATE_ACTED,
        rebound::v1::SUGGESTION_STATE_DISMISSED, kDoNotRetry}) {
    RetryInputs in = Base(rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
    WeakProfile(in);
    RetrySuggestion s = Suggest(Config(), in, kNow);
    s.set_state(state);
    const RetrySuggestion before = s;
    EXPECT_FALSE(ApplyProfileUpdate(Config(), GoodProfile(), &s, kNow));
    EXPECT_EQ(s.SerializeAsString(), before.SerializeAsString())
        << rebound::v1::SuggestionState_Name(state);
  }
}

TEST(RetryPolicy, StaleInviteSuggestsWithdrawing) {
  const absl::Time sent = kNow - absl::Hours(24 * 45);
  RetrySuggestion s = StaleInviteSuggestion(Config(), "acme", "s", "r", "req-7",
                                            sent, kNow, kNow);
  EXPECT_EQ(s.suggestion_id(), "stale/req-7");
  // A decline whose event id is "stale:req-7" (a valid event id) has that
  // suggestion id: the two never meet.
  EXPECT_NE(s.suggestion_id(), "stale:req-7");
  EXPECT_EQ(s.tenant_id(), "acme");
  EXPECT_EQ(s.member_id(), "s");
  EXPECT_EQ(s.recipient_id(), "r");
  EXPECT_EQ(s.request_id(), "req-7");
  EXPECT_EQ(s.state(), kReady);
  EXPECT_FALSE(s.should_retry());
  EXPECT_EQ(s.version(), 1);
  ASSERT_EQ(s.actions_size(), 1);
  EXPECT_EQ(s.actions(0).kind(), kWithdraw);
  EXPECT_EQ(s.actions(0).category(), rebound::v1::ACTION_CATEGORY_WITHDRAW);
  EXPECT_THAT(s.actions(0).detail(), HasSubstr("withdraw it and retry later"));
  EXPECT_THAT(s.actions(0).detail(), HasSubstr("45 days"));
  EXPECT_EQ(s.not_before().seconds(),
            absl::ToUnixSeconds(kNow + Config().cool_down));
}

// A tenant replaying its history: the days pending are counted on the
// history's clock; the re-invite block starts when the member withdraws.
TEST(RetryPolicy, StaleInviteIsDatedByTheTenantsClock) {
  const absl::Time history_now = kNow - absl::Hours(24 * 700);
  const absl::Time sent = history_now - absl::Hours(24 * 30);
  RetrySuggestion s = StaleInviteSuggestion(Config(), "acme", "s", "r", "req-8",
                                            sent, history_now, kNow);
  ASSERT_EQ(s.actions_size(), 1);
  EXPECT_THAT(s.actions(0).detail(), HasSubstr("30 days"));
  EXPECT_EQ(s.not_before().seconds(),
            absl::ToUnixSeconds(kNow + Config().cool_down));
  EXPECT_EQ(s.created_at().seconds(), absl::ToUnixSeconds(kNow));
}

// --- Config -----------------------------------------------------------------

TEST(RetryPolicyConfig, ShippedConfigHasDesignDefaults) {
  const RetryPolicyConfig& c = Config();
  EXPECT_FALSE(c.version.empty());
  EXPECT_EQ(c.cool_down, absl::Hours(24 * 21));
  EXPECT_EQ(c.max_retries_per_pair, 2);
  EXPECT_EQ(c.connections_target, 150);
  EXPECT_DOUBLE_EQ(c.completeness_target, 0.8);
  EXPECT_EQ(c.min_history, 3);
  EXPECT_EQ(c.default_local_hour, 9);
  EXPECT_EQ(c.stale_pending_after, absl::Hours(24 * 30));
  EXPECT_EQ(c.long_note_chars, 100);
  EXPECT_FALSE(c.lead_with_default.empty());
}

// The advice must drop exactly what the classifier counts as a pitch.
TEST(RetryPolicyConfig, PitchPhrasesMatchTheClassifiers) {
  auto classifier = nlohmann::json::parse(
      ReadFile(REBOUND_SOURCE_DIR "/config/classifier.json"));
  std::vector<std::string> want;
  for (const auto& p : classifier["phrases"]["pitch"]) {
    want.push_back(absl::AsciiStrToLower(p.get<std::string>()));
  }
  EXPECT_EQ(Config().pitch_phrases, want);
}

struct ConfigErrorCase {
  std::string name;
  std::function<void(nlohmann::json&)> mutate;
  std::string want_message;
};

class ConfigErrorTest : public ::testing::TestWithParam<ConfigErrorCase> {};

TEST_P(ConfigErrorTest, NamesTheKey) {
  auto root = nlohmann::json::parse(
      ReadFile(REBOUND_SOURCE_DIR "/config/retry_policy.json"));
  GetParam().mutate(root);
  auto c = ParseRetryPolicyConfig(root.dump());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(GetParam().want_message));
}

INSTANTIATE_TEST_SUITE_P(
    RetryPolicy, ConfigErrorTest,
    ::testing::Values(
        ConfigErrorCase{"missing_key",
                        [](auto& j) { j.erase("cool_down_days"); },
                        "cool_down_days: missing"},
        ConfigErrorCase{"wrong_type",
                        [](auto& j) { j["max_retries_per_pair"] = "two"; },
                        "max_retries_per_pair: must be an integer"},
        ConfigErrorCase{"fraction_for_integer",
                        [](auto& j) { j["min_history"] = 2.5; },
                        "min_history: must be an integer"},
        ConfigErrorCase{"hour_out_of_range",
                        [](auto& j) { j["default_local_hour"] = 24; },
                        "default_local_hour: must be between 0 and 23"},
        ConfigErrorCase{"negative_cool_down",
                        [](auto& j) { j["cool_down_days"] = -1; },
                        "cool_down_days: must be between"},
        ConfigErrorCase{"completeness_above_one",
                        [](auto& j) { j["completeness_target"] = 1.5; },
                        "completeness_target: must be between 0 and 1"},
        ConfigErrorCase{"empty_phrase",
                        [](auto& j) { j["pitch_phrases"][1] = ""; },
                        "pitch_phrases[1]: must be a non-empty string"},
        ConfigErrorCase{"phrases_not_array",
                        [](auto& j) { j["pitch_phrases"] = "demo"; },
                        "pitch_phrases: must be an array"},
        ConfigErrorCase{"empty_lead_with",
                        [](auto& j) { j["lead_with_default"] = ""; },
                        "lead_with_default: must be a non-empty string"},
        ConfigErrorCase{"misspelt_key",
                        [](auto& j) { j["cooldown_days"] = 21; },
                        "cooldown_days: unknown key"},
        ConfigErrorCase{"not_an_object",
                        [](auto& j) { j = nlohmann::json::array(); },
                        "(root): must be a JSON object"}),
    [](const auto& info) { return info.param.name; });

TEST(RetryPolicyConfig, BadJsonAndMissingFile) {
  auto bad = ParseRetryPolicyConfig("{\"version\": ");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("not valid JSON"));

  auto missing = LoadRetryPolicyConfig("/nonexistent/retry_policy.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("/nonexistent/retry_policy.json"));
}

}  // namespace
// Beyond the primary reason's fixes, every other fix the verdict's
// evidence calls for is named: a member told half of what holds them back
// retries in vain.
rebound::v1::Signal* AddSignal(RetryInputs& in, const std::string& name,
                               DeclineReason reason, double weight) {
  auto* sig = in.verdict.add_signals();
  sig->set_name(name);
  sig->set_reason(reason);
  sig->set_weight(weight);
  return sig;
}

TEST(RetryPolicy, APitchIsDroppedWhateverTheReason) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_NOT_SEEN);
  in.verdict.set_expired(true);
  in.verdict.mutable_request()->set_note("Quick call about our platform?");
  RetrySuggestion s = Suggest(Config(), in, kNow);
  const auto* drop = Find(s, kDropPitch);
  ASSERT_NE(drop, nullptr);
  EXPECT_THAT(drop->phrases(), ElementsAre("quick call", "our platform"));
  EXPECT_NE(Find(s, kLeadWith), nullptr);
  EXPECT_EQ(s.state(), kReady);
}

TEST(RetryPolicy, ProfileWorkTheEvidenceNamesIsAddedWithoutHoldingTheRetry) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  in.verdict.mutable_request()->mutable_sender_profile()->set_has_photo(false);
  AddSignal(in, "sender.no_photo", rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
            0.9);
  RetrySuggestion s = Suggest(Config(), in, kNow);
  const auto* photo = Find(s, kAddPhoto);
  ASSERT_NE(photo, nullptr);
  EXPECT_FALSE(photo->blocks_retry());
  EXPECT_EQ(s.state(), kReady);
  // A signal that did not weigh (weight 0) names nothing.
  RetryInputs quiet = Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  AddSignal(quiet, "sender.few_connections",
            rebound::v1::DECLINE_REASON_SPAMMY_PROFILE, 0);
  EXPECT_EQ(Find(Suggest(Config(), quiet, kNow), kGrow), nullptr);
}

TEST(RetryPolicy, RivalOrGuardedEvidenceAddsRapportWhateverTheReason) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  AddSignal(in, "pair.competitor_profile",
            rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR, 1.1);
  RetrySuggestion s = Suggest(Config(), in, kNow);
  EXPECT_NE(Find(s, kIntro), nullptr);
  EXPECT_NE(Find(s, kEngage), nullptr);

  RetryInputs guarded = Base(rebound::v1::DECLINE_REASON_NOT_SEEN);
  guarded.verdict.set_expired(true);
  AddSignal(guarded, "pair.seniority_gap",
            rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD, 0.8);
  RetrySuggestion g = Suggest(Config(), guarded, kNow);
  EXPECT_NE(Find(g, kEngage), nullptr);
  // A warm introduction vouches for the sender the guard would not.
  EXPECT_NE(Find(g, kIntro), nullptr);
  // Each kind appears once, however many rules call for it.
  std::set<ActionKind> seen;
  for (const auto& a : s.actions()) {
    EXPECT_TRUE(seen.insert(a.kind()).second) << ActionKind_Name(a.kind());
  }
}

// How the recipient answered (an ignore, a look at the profile) weighs for
// some reasons in a fitted config, but is no evidence of a rival: no
// introduction is asked for on it. Engaging first, cheap, still is.
TEST(RetryPolicy, HowTheRecipientAnsweredAsksForNoIntroduction) {
  RetryInputs in = Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  AddSignal(in, "recipient.viewed_profile",
            rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR, 0.7);
  AddSignal(in, "decline.declined",
            rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR, 0.5);
  RetrySuggestion s = Suggest(Config(), in, kNow);
  EXPECT_EQ(Find(s, kIntro), nullptr);
  EXPECT_NE(Find(s, kEngage), nullptr);
  RetryInputs guard = Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  AddSignal(guard, "decline.ignored",
            rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD, 0.6);
  s = Suggest(Config(), guard, kNow);
  EXPECT_EQ(Find(s, kIntro), nullptr);
  EXPECT_NE(Find(s, kEngage), nullptr);
  // Without any lean towards a rival or a guard: neither.
  s = Suggest(Config(), Base(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH),
              kNow);
  EXPECT_EQ(Find(s, kIntro), nullptr);
  EXPECT_EQ(Find(s, kEngage), nullptr);
}

}  // namespace rebound::notify
