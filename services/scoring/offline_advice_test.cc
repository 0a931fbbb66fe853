#include "services/scoring/offline_advice.h"

#include "gtest/gtest.h"
#include "services/scoring/classifier.h"
#include "services/scoring/offline_state.h"

namespace rebound::scoring {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::RetrySuggestion;

const absl::Time kT0 = absl::FromUnixSeconds(1704708000);  // Mon 10:00 UTC.

rebound::v1::ProfileSnapshot Fake() {
  rebound::v1::ProfileSnapshot p;
  p.set_has_photo(false);
  p.set_connection_count(5);
  p.set_completeness(0.1);
  p.set_account_age_days(2);
  p.set_spam_reports(3);
  return p;
}

rebound::v1::ProfileSnapshot Fine() {
  rebound::v1::ProfileSnapshot p;
  p.set_has_photo(true);
  p.set_connection_count(600);
  p.set_completeness(0.95);
  p.set_account_age_days(2000);
  p.set_headline("Engineer");
  p.set_industry("Software");
  p.set_company("Initech");
  return p;
}

class OfflineAdviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = LoadClassifierConfig(REBOUND_SOURCE_DIR "/config/classifier.json");
    ASSERT_TRUE(c.ok()) << c.status();
    classifier_ = *c;
    auto p = notify::LoadRetryPolicyConfig(REBOUND_SOURCE_DIR
                                           "/config/retry_policy.json");
    ASSERT_TRUE(p.ok()) << p.status();
    advisor_.emplace(*p);
  }

  ConnectionEvent Event(absl::Time at) {
    ConnectionEvent e;
    e.set_event_id("e" + std::to_string(++n_));
    e.set_tenant_id("acme");
    e.set_sender_id("s");
    e.set_recipient_id("r");
    e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
    return e;
  }

  // Runs `e` as rebound-classify does; returns the suggestion lines.
  std::vector<RetrySuggestion> Feed(const ConnectionEvent& e) {
    std::vector<RetrySuggestion> out;
    if (auto ctx = state_.ContextFor(e)) {
      auto v = Classify(classifier_, *ctx);
      AttachDecisionContext(*ctx, &v);
      for (auto& s : advisor_->OnVerdict(v)) out.push_back(s);
    }
    state_.Apply(e);
    for (auto& s : advisor_->OnEvent(e)) out.push_back(s);
    return out;
  }

  void Send(const std::string& req, absl::Time at,
            const rebound::v1::ProfileSnapshot& sender) {
    ConnectionEvent e = Event(at);
    e.mutable_request_sent()->set_request_id(req);
    *e.mutable_request_sent()->mutable_sender_profile() = sender;
    *e.mutable_request_sent()->mutable_recipient_profile() = Fine();
    EXPECT_TRUE(Feed(e).empty());
  }

  ConnectionEvent Decline(const std::string& req, absl::Time at) {
    ConnectionEvent e = Event(at);
    e.mutable_request_declined()->set_request_id(req);
    e.mutable_request_declined()->set_kind(rebound::v1::DECLINE_KIND_DECLINED);
    return e;
  }

  ClassifierConfig classifier_;
  std::optional<OfflineAdvisor> advisor_;
  OfflineState state_;
  int n_ = 0;
};

TEST_F(OfflineAdviceTest,
       ASuggestionPerDeclineAndANewVersionWhenTheProfileIsFixed) {
  Send("q1", kT0, Fake());
  const ConnectionEvent decline = Decline("q1", kT0 + absl::Hours(5));
  auto first = Feed(decline);
  ASSERT_EQ(first.size(), 1u);
  const RetrySuggestion& s = first[0];
  EXPECT_EQ(s.suggestion_id(), decline.event_id());
  EXPECT_EQ(s.reason(), rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  EXPECT_EQ(s.state(), rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE);
  EXPECT_EQ(s.version(), 1);
  // As of the decline, not of the run.
  EXPECT_EQ(s.created_at().seconds(), decline.occurred_at().seconds());
  EXPECT_EQ(s.not_before().seconds(),
            absl::ToUnixSeconds(kT0 + absl::Hours(5) + absl::Hours(24 * 21)));
  // A replayed decline: nothing new.
  EXPECT_TRUE(Feed(decline).empty());
  // The profile work done: the suggestion turns READY, version 2.
  ConnectionEvent update = Event(kT0 + absl::Hours(24 * 10));
  *update.mutable_profile_updated()->mutable_profile() = Fine();
  auto next = Feed(update);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].suggestion_id(), s.suggestion_id());
  EXPECT_EQ(next[0].state(), rebound::v1::SUGGESTION_STATE_READY);
  EXPECT_EQ(next[0].version(), 2);
  EXPECT_EQ(next[0].updated_at().seconds(), update.occurred_at().seconds());
  // Nothing more to do: another update changes nothing.
  EXPECT_TRUE(Feed(update).empty());
}

TEST_F(OfflineAdviceTest, RetriesPerPairRunOutAsNotifysDo) {
  // Each decline of the pair is advised a retry until the policy's limit.
  std::vector<RetrySuggestion> all;
  for (int i = 0; i < 4; ++i) {
    const absl::Time at = kT0 + absl::Hours(24 * 30 * i);
    Send("q" + std::to_string(i), at, Fine());
    for (auto& s :
         Feed(Decline("q" + std::to_string(i), at + absl::Hours(3)))) {
      all.push_back(s);
    }
  }
  ASSERT_EQ(all.size(), 4u);
  EXPECT_TRUE(all[0].should_retry());
  EXPECT_TRUE(all[1].should_retry());
  EXPECT_EQ(all[1].prior_retries(), 1);
  EXPECT_FALSE(all[2].should_retry());
  EXPECT_EQ(all[2].state(), rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY);
  EXPECT_FALSE(all[3].should_retry());
}

}  // namespace
}  // namespace rebound::scoring
