#include "services/scoring/offline_state.h"

#include "gtest/gtest.h"

namespace rebound::scoring {
namespace {

using rebound::v1::ConnectionEvent;

// Monday 2024-01-01 00:00 UTC.
const absl::Time kT0 = absl::FromUnixSeconds(1704067200);

class OfflineStateTest : public ::testing::Test {
 protected:
  ConnectionEvent Envelope(const std::string& sender,
                           const std::string& recipient, absl::Time at) {
    ConnectionEvent e;
    e.set_event_id("e" + std::to_string(++n_));
    e.set_tenant_id("acme");
    e.set_sender_id(sender);
    e.set_recipient_id(recipient);
    e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
    return e;
  }
  ConnectionEvent Sent(const std::string& id, const std::string& sender,
                       const std::string& recipient, absl::Time at,
                       int recipient_offset = 0) {
    auto e = Envelope(sender, recipient, at);
    e.mutable_request_sent()->set_request_id(id);
    e.mutable_request_sent()
        ->mutable_recipient_profile()
        ->set_utc_offset_minutes(recipient_offset);
    return e;
  }
  ConnectionEvent Declined(
      const std::string& id, const std::string& sender,
      const std::string& recipient, absl::Time at,
      rebound::v1::DeclineKind kind = rebound::v1::DECLINE_KIND_IGNORED) {
    auto e = Envelope(sender, recipient, at);
    e.mutable_request_declined()->set_request_id(id);
    e.mutable_request_declined()->set_kind(kind);
    return e;
  }
  ConnectionEvent Accepted(const std::string& id, const std::string& sender,
                           const std::string& recipient, absl::Time at) {
    auto e = Envelope(sender, recipient, at);
    e.mutable_request_accepted()->set_request_id(id);
    return e;
  }
  ConnectionEvent Viewed(const std::string& id, const std::string& sender,
                         const std::string& recipient, absl::Time at) {
    auto e = Envelope(sender, recipient, at);
    e.mutable_profile_viewed()->set_request_id(id);
    return e;
  }

  OfflineState state_;
  int n_ = 0;
};

TEST_F(OfflineStateTest, CountersAreAsOfJustBeforeTheDecline) {
  state_.Apply(Sent("r1", "s", "a", kT0));
  state_.Apply(Sent("r2", "s", "b", kT0 + absl::Hours(1)));
  state_.Apply(Sent("r3", "s", "b2", kT0 + absl::Hours(2)));
  state_.Apply(Accepted("r1", "s", "a", kT0 + absl::Hours(3)));
  state_.Apply(Declined("r3", "s", "b2", kT0 + absl::Hours(4),
                        rebound::v1::DECLINE_KIND_REPORTED_SPAM));
  auto d = Declined("r2", "s", "b", kT0 + absl::Hours(5));
  auto ctx = state_.ContextFor(d);
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->sender_sent, 3);
  EXPECT_EQ(ctx->sender_accepted, 1);
  EXPECT_EQ(ctx->sender_declined, 1);
  EXPECT_EQ(ctx->sender_reported, 1);
  EXPECT_EQ(ctx->recipient_received, 1);
  EXPECT_EQ(ctx->recipient_accepted, 0);
  ASSERT_TRUE(ctx->request.has_value());
  EXPECT_EQ(ctx->request->request_id(), "r2");
  EXPECT_EQ(ctx->sent_at, kT0 + absl::Hours(1));
  EXPECT_FALSE(ctx->viewed);
  state_.Apply(d);
  EXPECT_EQ(state_.ContextFor(Declined("r2", "s", "b", kT0))->sender_declined,
            2);
}

TEST_F(OfflineStateTest, DraftForASendIsWhatAssessDraftWouldHaveRead) {
  state_.Apply(Sent("r1", "s", "b", kT0));
  state_.Apply(Sent("r2", "x", "b", kT0 + absl::Hours(1)));
  state_.Apply(Accepted("r1", "s", "b", kT0 + absl::Hours(2)));
  state_.Apply(Declined("r2", "x", "b", kT0 + absl::Hours(3),
                        rebound::v1::DECLINE_KIND_DECLINED));
  const auto again = Sent("r3", "s", "b", kT0 + absl::Hours(24));
  auto d = state_.DraftFor(again);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->request.request_id(), "r3");
  EXPECT_EQ(d->planned_at, kT0 + absl::Hours(24));
  EXPECT_EQ(d->sent, 1);  // r3 itself not yet counted
  EXPECT_EQ(d->accepted, 1);
  EXPECT_EQ(d->sent_this_week, 1);  // the day and the 6 before
  EXPECT_EQ(d->sent_last_7d, 1);    // the 7 days before the day
  EXPECT_EQ(d->pair_requests, 1);
  EXPECT_EQ(d->pair_last_sent, kT0);
  EXPECT_EQ(d->recipient_received, 2);
  EXPECT_EQ(d->recipient_accepted, 1);
  EXPECT_EQ(d->recipient_declined, 1);
  state_.Apply(again);
  // A request already sent, and anything but a send: no draft.
  EXPECT_FALSE(state_.DraftFor(again).has_value());
  EXPECT_FALSE(state_.DraftFor(Accepted("r3", "s", "b", kT0 + absl::Hours(25)))
                   .has_value());
}

TEST_F(OfflineStateTest, SevenDayWindowIsTheSevenDaysBeforeTheRequestsDay) {
  // kT0 is midnight UTC.
  state_.Apply(Sent("r1", "s", "a", kT0));
  state_.Apply(Sent("r2", "s", "b", kT0 + absl::Hours(24 * 5)));
  state_.Apply(Sent("r2b", "s", "b2", kT0 + absl::Hours(24 * 9 + 23)));
  state_.Apply(Sent("r3", "s", "c", kT0 + absl::Hours(24 * 10 + 1)));
  state_.Apply(Sent("r4", "s", "d", kT0 + absl::Hours(24 * 10 + 2)));
  auto ctx =
      state_.ContextFor(Declined("r3", "s", "c", kT0 + absl::Hours(24 * 11)));
  // Days 3..9: days 5 and 9; day 0 is too old, day 10 (its own) is not in.
  EXPECT_EQ(ctx->sender_sent_last_7d, 2);
}

TEST_F(OfflineStateTest, SevenDayWindowForgetsDaysTheRingReused) {
  state_.Apply(Sent("r1", "s", "a", kT0 + absl::Hours(24 * 16)));
  state_.Apply(Sent("r2", "s", "b", kT0 + absl::Hours(24 * 20)));
  auto before =
      state_.ContextFor(Declined("r2", "s", "b", kT0 + absl::Hours(24 * 21)));
  EXPECT_EQ(before->sender_sent_last_7d, 1);  // Day 16.
  // Day 32 takes day 16's slot (16 slots): the older request's window then
  // misses day 16, as Redis's ring does.
  state_.Apply(Sent("r3", "s", "c", kT0 + absl::Hours(24 * 32)));
  auto after =
      state_.ContextFor(Declined("r2", "s", "b", kT0 + absl::Hours(24 * 33)));
  EXPECT_EQ(after->sender_sent_last_7d, 0);
}

TEST_F(OfflineStateTest, PairHistory) {
  state_.Apply(Sent("r1", "s", "a", kT0));
  auto w = Envelope("s", "a", kT0 + absl::Hours(24));
  w.mutable_request_withdrawn()->set_request_id("r1");
  state_.Apply(w);
  state_.Apply(Sent("r2", "s", "a", kT0 + absl::Hours(24 * 5)));
  auto ctx =
      state_.ContextFor(Declined("r2", "s", "a", kT0 + absl::Hours(24 * 6)));
  EXPECT_EQ(ctx->pair_prior_requests, 1);
  EXPECT_EQ(ctx->since_prior_request, absl::Hours(24 * 5));
  auto first = state_.ContextFor(Declined("r1", "s", "a", kT0));
  EXPECT_EQ(first->pair_prior_requests, 0);
  EXPECT_FALSE(first->since_prior_request.has_value());
}

TEST_F(OfflineStateTest, ViewsByRequestIdOrByOpenPairRequest) {
  state_.Apply(Sent("r1", "s", "a", kT0));
  state_.Apply(Sent("r2", "s", "b", kT0));
  state_.Apply(Sent("r3", "s", "c", kT0));
  state_.Apply(Viewed("r1", "s", "a", kT0 + absl::Hours(1)));
  state_.Apply(Viewed("", "s", "b", kT0 + absl::Hours(1)));
  // A view by another member of the pair's recipient does not count.
  state_.Apply(Viewed("", "x", "c", kT0 + absl::Hours(1)));
  EXPECT_TRUE(state_.ContextFor(Declined("r1", "s", "a", kT0))->viewed);
  EXPECT_TRUE(state_.ContextFor(Declined("r2", "s", "b", kT0))->viewed);
  EXPECT_FALSE(state_.ContextFor(Declined("r3", "s", "c", kT0))->viewed);
  // A view that arrives before its request still counts.
  state_.Apply(Viewed("r4", "s", "d", kT0));
  state_.Apply(Sent("r4", "s", "d", kT0 - absl::Minutes(1)));
  EXPECT_TRUE(state_.ContextFor(Declined("r4", "s", "d", kT0))->viewed);
}

TEST_F(OfflineStateTest, IdempotentPerEventAndPerRequestOutcome) {
  auto sent = Sent("r1", "s", "a", kT0);
  state_.Apply(sent);
  state_.Apply(sent);                       // Replayed: same event id.
  auto resent = Sent("r1", "s", "a", kT0);  // New event id, same request.
  state_.Apply(resent);
  state_.Apply(Accepted("r1", "s", "a", kT0 + absl::Hours(1)));
  state_.Apply(Accepted("r1", "s", "a", kT0 + absl::Hours(2)));
  state_.Apply(Declined("r1", "s", "a", kT0 + absl::Hours(3)));
  auto ctx = state_.ContextFor(Declined("rx", "s", "a", kT0));
  EXPECT_EQ(ctx->sender_sent, 1);
  EXPECT_EQ(ctx->sender_accepted, 1);
  EXPECT_EQ(ctx->sender_declined, 0);
  EXPECT_EQ(ctx->recipient_received, 1);
}

TEST_F(OfflineStateTest, AcceptHoursInRecipientLocalTime) {
  // Monday 10:00 UTC is 12:00 for a recipient at UTC+2.
  state_.Apply(Sent("r1", "s", "a", kT0, 120));
  state_.Apply(Accepted("r1", "s", "a", kT0 + absl::Hours(10)));
  // Sunday 23:30 UTC is Monday 01:30 at UTC+2: the week wraps.
  state_.Apply(Sent("r2", "t", "a", kT0, 120));
  state_.Apply(Accepted("r2", "t", "a",
                        kT0 + absl::Hours(24 * 6 + 23) + absl::Minutes(30)));
  auto ctx = state_.ContextFor(Declined("r9", "u", "a", kT0));
  EXPECT_EQ(ctx->recipient_accepted, 2);
  EXPECT_EQ(ctx->recipient_accept_hours[12], 1);
  EXPECT_EQ(ctx->recipient_accept_hours[1], 1);
}

TEST_F(OfflineStateTest, OutcomeBeforeItsRequest) {
  auto d = Declined("r1", "s", "a", kT0 + absl::Hours(1));
  auto ctx = state_.ContextFor(d);
  ASSERT_TRUE(ctx.has_value());
  EXPECT_FALSE(ctx->request.has_value());
  EXPECT_FALSE(ctx->sent_at.has_value());
  state_.Apply(d);
  state_.Apply(Sent("r1", "s", "a", kT0));
  ctx = state_.ContextFor(Declined("r2", "s", "a", kT0 + absl::Hours(2)));
  EXPECT_EQ(ctx->sender_sent, 1);
  EXPECT_EQ(ctx->sender_declined, 1);
}

TEST_F(OfflineStateTest, OnlyDeclinesAndExpiriesHaveAContext) {
  EXPECT_FALSE(state_.ContextFor(Sent("r1", "s", "a", kT0)).has_value());
  EXPECT_FALSE(state_.ContextFor(Accepted("r1", "s", "a", kT0)).has_value());
  auto x = Envelope("s", "a", kT0);
  x.mutable_request_expired()->set_request_id("r1");
  EXPECT_TRUE(state_.ContextFor(x).has_value());
}

}  // namespace
}  // namespace rebound::scoring
