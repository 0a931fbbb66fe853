// The whole pipeline through real ingest -> Kafka -> scoring -> Redis ->
// notify, in one process: scripted declines yield sensible suggestions,
// watchers resume without loss or duplicates, restarts and replicas lose
// nothing, tenants are kept apart, and TLS works.
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/redis_client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_server.h"
#include "services/notify/notify_server.h"
#include "services/notify/state_rebuild.h"
#include "services/scoring/offline_advice.h"
#include "services/scoring/offline_state.h"
#include "services/scoring/scoring_server.h"
#include "services/scoring/state_rebuild.h"
#include "state/keys.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"
#include "tools/ingest_client.h"
#include "tools/topic_reader.h"

namespace rebound {
namespace {

using rebound::v1::ActionKind;
using rebound::v1::ConnectionEvent;
using rebound::v1::RetrySuggestion;
using rebound::v1::SuggestionUpdate;
using std::chrono::seconds;

constexpr char kTokenA[] = "token-aaaaaaaa";
constexpr char kTokenB[] = "token-bbbbbbbb";

class Pipeline : public ::testing::Test {
 protected:
  // The Redis every service uses: one node here, a cluster in
  // PipelineOnCluster.
  virtual std::string RedisEnv() const { return "REBOUND_REDIS_ADDR"; }

  void SetUp() override {
    brokers_ = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
    redis_ = testing::RequiredEnv(RedisEnv());
    ASSERT_FALSE(brokers_.empty() || redis_.empty());
    prefix_ = testing::UniqueTopic("e2e");
    tenant_a_ = prefix_ + "-a";
    tenant_b_ = prefix_ + "-b";
    auto auth = TenantAuth::Parse(
        absl::StrCat(tenant_a_, ":", kTokenA, ",", tenant_b_, ":", kTokenB));
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *auth;
    auto cfg = scoring::LoadClassifierConfig(std::string(REBOUND_SOURCE_DIR) +
                                             "/config/classifier.json");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    classifier_ = *cfg;
    auto policy = notify::LoadRetryPolicyConfig(
        std::string(REBOUND_SOURCE_DIR) + "/config/retry_policy.json");
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;

    ingest::IngestServerOptions io;
    io.listen = "127.0.0.1:0";
    io.publisher.brokers = brokers_;
    io.service.topic = prefix_ + "-events";
    io.topic_partitions = 4;
    io.service.auth = auth_;
    auto ing = ingest::IngestServer::Start(
        io, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(ing.ok()) << ing.status();
    ingest_ = std::move(*ing);
    ingest_channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", ingest_->port()),
                            grpc::InsecureChannelCredentials());
    ingest_stub_ = rebound::v1::Ingest::NewStub(ingest_channel_);

    scoring_ = StartScoring();
    ASSERT_NE(scoring_, nullptr);
  }

  std::unique_ptr<scoring::ScoringServer> StartScoring() {
    scoring::ScoringServerOptions so;
    so.listen = "127.0.0.1:0";
    so.scoring.brokers = brokers_;
    so.scoring.group_id = prefix_ + "-scoring";
    so.scoring.events_topic = prefix_ + "-events";
    so.scoring.verdicts_topic = prefix_ + "-verdicts";
    so.scoring.dead_letter_topic = prefix_ + "-dlq";
    so.scoring.topic_partitions = 4;
    so.scoring.store.redis.address = redis_;
    auto sc = scoring::ScoringServer::Start(
        so, classifier_, std::make_shared<prometheus::Registry>());
    EXPECT_TRUE(sc.ok()) << sc.status();
    return sc.ok() ? std::move(*sc) : nullptr;
  }

  // rebound-notify --rebuild-state on this test's topics.
  absl::StatusOr<notify::RebuildReport> RebuildNotify() {
    notify::RebuildOptions nro;
    nro.brokers = brokers_;
    nro.verdicts_topic = prefix_ + "-verdicts";
    nro.events_topic = prefix_ + "-events";
    nro.store.redis.address = redis_;
    return notify::RebuildState(nro, policy_);
  }

  notify::NotifyServerOptions NotifyOptions() {
    notify::NotifyServerOptions o;
    o.listen = "127.0.0.1:0";
    o.auth = auth_;
    o.consumer.brokers = brokers_;
    o.consumer.group_id = prefix_ + "-notify";
    o.consumer.verdicts_topic = prefix_ + "-verdicts";
    o.consumer.topic_partitions = 4;
    o.consumer.store.redis.address = redis_;
    return o;
  }

  std::unique_ptr<notify::NotifyServer> StartNotify(
      notify::NotifyServerOptions o,
      std::shared_ptr<prometheus::Registry> registry =
          std::make_shared<prometheus::Registry>()) {
    auto n = notify::NotifyServer::Start(o, policy_, registry);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? std::move(*n) : nullptr;
  }

  std::unique_ptr<rebound::v1::Notify::Stub> NotifyStub(
      const notify::NotifyServer& n) {
    return rebound::v1::Notify::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", n.port()),
                            grpc::InsecureChannelCredentials()));
  }

  void Publish(const std::vector<ConnectionEvent>& events,
               const std::string& token) {
    tools::StreamPublishOptions o;
    o.metadata = "Bearer " + token;
    auto r = tools::PublishOverStream(ingest_channel_, events, o);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ASSERT_EQ(r.published + r.duplicates, events.size());
  }

  // Reads updates until `want` distinct suggestion ids arrived or timeout;
  // returns every update read, in order.
  static std::vector<SuggestionUpdate> Watch(
      rebound::v1::Notify::Stub& stub, rebound::v1::WatchSuggestionsRequest req,
      const std::string& token, size_t want, seconds timeout) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + token);
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    auto reader = stub.WatchSuggestions(&ctx, req);
    std::vector<SuggestionUpdate> out;
    std::set<std::string> ids;
    SuggestionUpdate u;
    while (ids.size() < want && reader->Read(&u)) {
      ids.insert(u.suggestion().suggestion_id());
      out.push_back(u);
    }
    ctx.TryCancel();
    reader->Finish();
    return out;
  }

  // Reads updates until every id of `expected` is in `have` (ids seen
  // before plus those read here) or timeout; returns the updates read.
  static std::vector<SuggestionUpdate> WatchUntil(
      rebound::v1::Notify::Stub& stub, rebound::v1::WatchSuggestionsRequest req,
      const std::string& token, const std::set<std::string>& expected,
      std::set<std::string> have, seconds timeout) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + token);
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    auto reader = stub.WatchSuggestions(&ctx, req);
    auto complete = [&] {
      for (const auto& id : expected) {
        if (!have.contains(id)) return false;
      }
      return true;
    };
    std::vector<SuggestionUpdate> out;
    SuggestionUpdate u;
    while (!complete() && reader->Read(&u)) {
      have.insert(u.suggestion().suggestion_id());
      out.push_back(u);
    }
    ctx.TryCancel();
    reader->Finish();
    return out;
  }

  // Records each update's (suggestion, version) in `seen`, failing on a
  // repeat (every version reaches a watcher once), and its id in `ids`.
  static void ExpectEachOnce(const std::vector<SuggestionUpdate>& updates,
                             std::set<std::pair<std::string, int64_t>>* seen,
                             std::set<std::string>* ids) {
    for (const auto& u : updates) {
      const auto& s = u.suggestion();
      EXPECT_TRUE(seen->insert({s.suggestion_id(), s.version()}).second)
          << "duplicate " << s.suggestion_id() << " v" << s.version();
      ids->insert(s.suggestion_id());
    }
  }

  std::string brokers_, redis_, prefix_, tenant_a_, tenant_b_;
  TenantAuth auth_;  // Tokens kTokenA and kTokenB for tenants a and b.
  scoring::ClassifierConfig classifier_;
  notify::RetryPolicyConfig policy_;
  std::unique_ptr<ingest::IngestServer> ingest_;
  std::shared_ptr<grpc::Channel> ingest_channel_;
  std::unique_ptr<rebound::v1::Ingest::Stub> ingest_stub_;
  std::unique_ptr<scoring::ScoringServer> scoring_;
};

// The whole pipeline with its Redis a 3-master cluster (seed list).
class PipelineOnCluster : public Pipeline {
 protected:
  std::string RedisEnv() const override { return "REBOUND_REDIS_CLUSTER_ADDR"; }
};

TEST_F(PipelineOnCluster, EverySuggestionOnceOnAResumedWatch) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  auto events = testing::SimulatedStream(tenant_a_, 1500, 41);
  std::set<std::string> expected;
  for (const auto& e : events) {
    if (e.has_request_declined() || e.has_request_expired()) {
      expected.insert(e.event_id());
    }
  }
  ASSERT_GT(expected.size(), 40u);
  Publish(events, kTokenA);
  auto stub = NotifyStub(*notify);
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_from_beginning(true);
  auto part = Watch(*stub, req, kTokenA, expected.size() / 2, seconds(90));
  ASSERT_GE(part.size(), expected.size() / 2);
  rebound::v1::WatchSuggestionsRequest resume;
  resume.set_tenant_id(tenant_a_);
  resume.set_resume_token(part.back().resume_token());
  std::set<std::string> ids;
  std::set<std::pair<std::string, int64_t>> seen;
  ExpectEachOnce(part, &seen, &ids);
  auto rest = WatchUntil(*stub, resume, kTokenA, expected, ids, seconds(90));
  ExpectEachOnce(rest, &seen, &ids);
  EXPECT_EQ(ids, expected) << "suggestions missing on the cluster";
  // The read API answers from the cluster too.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
  rebound::v1::GetInsightsRequest ins;
  ins.set_tenant_id(tenant_a_);
  ins.set_member_id(events.front().sender_id());
  rebound::v1::Insights out;
  EXPECT_TRUE(stub->GetInsights(&ctx, ins, &out).ok());
  EXPECT_GT(out.scores().as_sender().sent(), 0);
}

TEST_F(Pipeline, LostRedisStateIsNoticedAndRebuiltSuggestionsToo) {
  // Tenant b runs whole, then tenant a's first half; Redis loses
  // everything; a's second half arrives; scoring and notify both notice,
  // hold and report NOT_SERVING; both rebuild from Kafka. Then every
  // decline of both tenants has a suggestion, those written before the
  // loss come back with the id, version and state the live run gave them,
  // and a tenant watch from the beginning streams each version once.
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  const auto events_a = testing::SimulatedStream(tenant_a_, 1400, 47);
  const auto events_b = testing::SimulatedStream(tenant_b_, 1400, 47);
  std::map<std::string, std::string> sender_of;  // Decline id -> sender.
  // Declines whose sender updates their profile: a suggestion's state and
  // version depend on the sender's profile notify reads from scoring's
  // state, and live, a profile update (another partition) lands before or
  // after the verdict is handled: a race in any run, the reference's too
  // (the rebuild reads the final profile). Those are checked for presence.
  std::set<std::string> updating;  // Senders with a ProfileUpdated.
  for (const auto& e : events_a) {
    if (e.has_request_declined() || e.has_request_expired()) {
      sender_of[e.event_id()] = e.sender_id();
    }
    if (e.has_profile_updated()) updating.insert(e.sender_id());
  }
  std::set<std::string> racy;
  for (const auto& [id, sender] : sender_of) {
    if (updating.contains(sender)) racy.insert(id);
  }
  ASSERT_GT(sender_of.size(), 60u);
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  // (version, state) of every decline's suggestion of `tenant`, once all
  // are there (or what is there at the deadline).
  // (version, state) of the suggestion of each decline in `ids` of
  // `tenant`, once all are there (or what is there at the deadline).
  using Snapshot = std::map<std::string, std::pair<int64_t, int>>;
  auto suggestions = [&](const std::string& tenant,
                         const std::set<std::string>& ids) {
    Snapshot out;
    auto until = std::chrono::steady_clock::now() + seconds(90);
    do {
      out.clear();
      for (const auto& id : ids) {
        auto got = store.Get(tenant, sender_of[id], id);
        if (got.ok() && got->has_value()) {
          out[id] = {(*got)->version(), static_cast<int>((*got)->state())};
        }
      }
      if (out.size() == ids.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } while (std::chrono::steady_clock::now() < until);
    return out;
  };
  std::set<std::string> all, first_half;
  const size_t half = events_a.size() / 2;
  for (size_t i = 0; i < events_a.size(); ++i) {
    if (sender_of.contains(events_a[i].event_id())) {
      all.insert(events_a[i].event_id());
      if (i < half) first_half.insert(events_a[i].event_id());
    }
  }
  // The references: what the live run wrote, per tenant (a verdict depends
  // on how partitions interleave, so each tenant is compared with itself).
  Publish(events_b, kTokenB);
  const Snapshot reference_b = suggestions(tenant_b_, all);
  ASSERT_EQ(reference_b.size(), all.size());
  Publish({events_a.begin(), events_a.begin() + half}, kTokenA);
  const Snapshot reference_a = suggestions(tenant_a_, first_half);
  ASSERT_EQ(reference_a.size(), first_half.size());
  {
    RedisOptions o;
    o.address = redis_;
    o.command_timeout = std::chrono::milliseconds(30'000);
    RedisClient r(o);
    ASSERT_TRUE(r.Command({"FLUSHALL"}).ok());
  }
  Publish({events_a.begin() + half, events_a.end()}, kTokenA);
  auto until = std::chrono::steady_clock::now() + seconds(60);
  while (!(scoring_->consumer()->state_lost() &&
           notify->consumer()->state_lost()) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(notify->consumer()->state_lost()) << "notify missed the loss";
  ASSERT_TRUE(scoring_->consumer()->state_lost()) << "scoring missed it";
  EXPECT_FALSE(notify->consumer()->healthy())
      << "health must not say SERVING on a lost state";

  scoring::RebuildOptions sro;
  sro.brokers = brokers_;
  sro.events_topic = prefix_ + "-events";
  sro.verdicts_topic = prefix_ + "-verdicts";
  sro.store.redis.address = redis_;
  auto scored = scoring::RebuildState(sro, classifier_);
  ASSERT_TRUE(scored.ok()) << scored.status();
  auto rebuilt = RebuildNotify();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_GT(rebuilt->verdicts, 0);

  until = std::chrono::steady_clock::now() + seconds(30);
  while (!(notify->consumer()->healthy() && scoring_->consumer()->healthy()) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(notify->consumer()->healthy());
  ASSERT_LT(racy.size(), sender_of.size() / 2);
  for (const auto& [tenant, reference] :
       {std::pair{tenant_b_, reference_b}, std::pair{tenant_a_, reference_a}}) {
    const Snapshot got = suggestions(tenant, all);
    EXPECT_EQ(got.size(), all.size()) << tenant << ": suggestions missing";
    for (const auto& [id, want] : reference) {
      auto it = got.find(id);
      if (it != got.end() && !racy.contains(id)) {
        EXPECT_EQ(it->second, want) << tenant << ": " << id;
      }
    }
  }

  auto stub = NotifyStub(*notify);
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_from_beginning(true);
  auto updates = WatchUntil(*stub, req, kTokenA, all, {}, seconds(60));
  std::set<std::string> ids;
  std::set<std::pair<std::string, int64_t>> seen;
  ExpectEachOnce(updates, &seen, &ids);
  for (const auto& id : all) EXPECT_TRUE(ids.contains(id)) << id;
}

// The suggestion once `store` holds it, polled until `timeout`: the last
// read (an error, or none when it never came).
absl::StatusOr<std::optional<RetrySuggestion>> AwaitSuggestion(
    notify::SuggestionStore& store, const std::string& tenant,
    const std::string& member, const std::string& id,
    std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  absl::StatusOr<std::optional<RetrySuggestion>> got;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    got = store.Get(tenant, member, id);
  } while ((!got.ok() || !got->has_value()) &&
           std::chrono::steady_clock::now() < until);
  return got;
}

bool HasAction(const RetrySuggestion& s, ActionKind kind) {
  for (const auto& a : s.actions()) {
    if (a.kind() == kind) return true;
  }
  return false;
}

// The stale sweep writes a page of withdraw suggestions at once; when Redis
// refuses one invite's for good (its sender's suggestion index has the
// wrong type), the sweep goes entry by entry: the other invite of the page
// gets its suggestion, and the refused one is counted and forgotten instead
// of failing every sweep.
TEST_F(Pipeline, AStaleInviteRedisRefusesHoldsUpNoOther) {
  testing::Scenario s(tenant_a_);
  s.Sent("refused", "r1", "q1", absl::Now() - absl::Hours(24 * 40),
         testing::NormalProfile(), testing::NormalProfile(), "");
  s.Sent("fine", "r2", "q2", absl::Now() - absl::Hours(24 * 40),
         testing::NormalProfile(), testing::NormalProfile(), "");
  // The tenant is live: its clock is today's.
  s.Viewed("today", "anyone", "", absl::Now());
  {
    RedisClient redis(RedisOptions{redis_});
    ASSERT_TRUE(
        redis
            .Command({"SET",
                      state::MemberKeys(tenant_a_, "refused").Suggestions(),
                      "not a sorted set"})
            .ok());
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto notify = StartNotify(NotifyOptions(), registry);
  ASSERT_NE(notify, nullptr);
  Publish(s.events(), kTokenA);
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  auto refused = [&] {
    double n = 0;
    for (const auto& f : registry->Collect()) {
      if (f.name != "rebound_notify_sweep_refused_total") continue;
      for (const auto& m : f.metric) n += m.counter.value;
    }
    return n;
  };
  auto until = std::chrono::steady_clock::now() + seconds(60);
  absl::StatusOr<std::optional<RetrySuggestion>> got;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    got = store.Get(tenant_a_, "fine", "stale/q2");
  } while ((!got.ok() || !got->has_value() || refused() < 1) &&
           std::chrono::steady_clock::now() < until);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value()) << "the refused invite held up the other";
  EXPECT_TRUE(HasAction(**got, rebound::v1::ACTION_KIND_WITHDRAW_STALE));
  EXPECT_EQ(refused(), 1);
  EXPECT_TRUE(notify->consumer()->healthy());
}

TEST_F(Pipeline, AStaleInviteScoringDoesNotKnowIsKeptForLater) {
  // A tracked invite whose request scoring does not hold (on a Redis
  // Cluster the tenant's pending set is in another slot than the request,
  // so a failed round trip can leave one without the other): the sweep
  // cannot tell whether it is still pending, so it keeps it; once scoring
  // applies the request, the withdraw suggestion comes.
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  const absl::Time sent = absl::Now() - absl::Hours(24 * 40);
  {
    RedisClient redis(RedisOptions{redis_});
    ASSERT_TRUE(redis
                    .Pipeline({{"ZADD", state::TenantKeys(tenant_a_).Pending(),
                                std::to_string(absl::ToUnixSeconds(sent)),
                                state::PendingEntry("late", "r1", "q1")},
                               {"SADD", state::TenantsKey(), tenant_a_}})
                    .ok());
  }
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  // Two sweeps (every 5 s) see it unknown to scoring.
  std::this_thread::sleep_for(seconds(12));
  auto none = store.Get(tenant_a_, "late", "stale/q1");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value()) << "suggested before scoring saw it";
  testing::Scenario s(tenant_a_);
  s.Sent("late", "r1", "q1", sent, testing::NormalProfile(),
         testing::NormalProfile(), "");
  s.Viewed("today", "anyone", "", absl::Now());  // A live tenant.
  Publish(s.events(), kTokenA);
  auto got = AwaitSuggestion(store, tenant_a_, "late", "stale/q1", seconds(60));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value()) << "the invite was forgotten";
  EXPECT_TRUE(HasAction(**got, rebound::v1::ACTION_KIND_WITHDRAW_STALE));
}

// A tenant replaying its history (an import, a backfill; the simulator's
// dated stream): its invites go stale by the history's clock, not today's.
// An invite the history answers a few records later gets no withdraw
// suggestion however old it is today; one the history leaves unanswered
// past the policy's 30 days gets one; once the history reaches today, what
// is still open is judged by today.
TEST_F(Pipeline, ABackfillsInvitesGoStaleByItsOwnClock) {
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  const absl::Time h = absl::Now() - absl::Hours(24 * 400);
  const auto n = testing::NormalProfile();
  testing::Scenario s(tenant_a_);
  // Pending 40 days of the history when its clock is at h + 30 d; the
  // policy's stale_pending_after is 30 days.
  s.Sent("old", "r1", "q1", h - absl::Hours(24 * 10), n, n, "");
  // Pending 10 days of the history (380 days today); answered later.
  s.Sent("answered", "r2", "q2", h + absl::Hours(24 * 20), n, n, "");
  s.Viewed("clock", "x", "", h + absl::Hours(24 * 30));  // The history: h+30d.
  Publish(s.events(), kTokenA);
  // Scoring has applied all three (the senders are on different
  // partitions) before notify's first sweep.
  testing::ScoresReader reader(redis_);
  for (const char* member : {"old", "answered"}) {
    ASSERT_TRUE(reader.WaitFor(
        tenant_a_, member,
        [](const auto& m) { return m.as_sender().pending() == 1; },
        seconds(60)))
        << member;
  }
  {
    RedisClient redis(RedisOptions{redis_});
    auto until = std::chrono::steady_clock::now() + seconds(60);
    absl::Time tenant_now = absl::Now();
    while (std::chrono::steady_clock::now() < until) {
      auto clock = redis.Command(state::ReadTenantClock(tenant_a_));
      ASSERT_TRUE(clock.ok()) << clock.status();
      tenant_now = absl::Now() + state::TenantClockLag(*clock);
      if (tenant_now > h + absl::Hours(24 * 29)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_GT(tenant_now, h + absl::Hours(24 * 29));
    ASSERT_LT(tenant_now, h + absl::Hours(24 * 31)) << "not the history's";
  }
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  auto old = AwaitSuggestion(store, tenant_a_, "old", "stale/q1", seconds(60));
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(old->has_value()) << "not suggested by the history's clock";
  ASSERT_EQ((*old)->actions_size(), 1);
  EXPECT_NE((*old)->actions(0).detail().find("pending for 40 days"),
            std::string::npos)
      << (*old)->actions(0).detail();
  // q2 was in the same sweep (today, both are over a year old): by the
  // history's clock it has been pending 10 days, so nothing was written
  // after q1 in that page's pipeline.
  std::this_thread::sleep_for(seconds(1));
  auto q2 = store.Get(tenant_a_, "answered", "stale/q2");
  ASSERT_TRUE(q2.ok()) << q2.status();
  EXPECT_FALSE(q2->has_value()) << "judged stale by today's clock";

  // The history goes on: q2 answered (applied before the clock moves on:
  // the senders are on different partitions), q3 sent and left open; the
  // history reaches today.
  testing::Scenario answer(tenant_a_);
  answer.Accepted("answered", "r2", "q2", h + absl::Hours(24 * 31));
  auto events = answer.events();
  events[0].set_event_id("answer-q2");
  Publish(events, kTokenA);
  ASSERT_TRUE(reader.WaitFor(
      tenant_a_, "answered",
      [](const auto& m) { return m.as_sender().accepted() == 1; },
      seconds(60)));
  testing::Scenario more(tenant_a_);
  more.Sent("open", "r3", "q3", h + absl::Hours(24 * 35), n, n, "");
  more.Viewed("clock", "x", "", absl::Now());
  events = more.events();
  for (auto& e : events) e.set_event_id("more-" + e.event_id());
  Publish(events, kTokenA);
  auto open =
      AwaitSuggestion(store, tenant_a_, "open", "stale/q3", seconds(60));
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_TRUE(open->has_value()) << "today's clock did not judge it";
  std::this_thread::sleep_for(seconds(1));
  q2 = store.Get(tenant_a_, "answered", "stale/q2");
  ASSERT_TRUE(q2.ok()) << q2.status();
  EXPECT_FALSE(q2->has_value()) << "an answered invite was suggested";
}

// Verdicts carry what scoring knew of the members (DecisionContext) and
// notify advises from it: the recipient's best hour is the verdict's even
// when Redis says another now, so a verdict gets the same advice whenever
// it is read. A verdict without one (an older scoring's) is advised from
// the members' state in Redis.
TEST_F(Pipeline, NotifyAdvisesFromTheVerdictsContextElseFromRedis) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  const int redis_hour = 30, context_hour = 100;
  {
    RedisClient redis(RedisOptions{redis_});
    for (const char* r : {"rcp-old", "rcp-new"}) {
      ASSERT_TRUE(
          redis
              .Command({"BITFIELD",
                        state::MemberKeys(tenant_a_, r).AcceptHours(), "SET",
                        "u32", "#" + std::to_string(redis_hour), "10"})
              .ok());
    }
  }
  auto verdict = [&](const std::string& id, const std::string& recipient,
                     bool with_context) {
    rebound::v1::DeclineVerdict v;
    v.set_verdict_id(id);
    v.set_tenant_id(tenant_a_);
    v.set_sender_id("snd");
    v.set_recipient_id(recipient);
    v.set_request_id("req-" + id);
    v.set_primary_reason(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
    v.set_decline_kind(rebound::v1::DECLINE_KIND_IGNORED);
    v.mutable_decided_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(24)));
    if (with_context) {
      auto* c = v.mutable_context();
      for (int h = 0; h < 168; ++h)
        c->add_recipient_accept_hour_of_week(h == context_hour ? 10 : 0);
      c->set_recipient_utc_offset_minutes(0);
    }
    return v.SerializeAsString();
  };
  const std::string key = tenant_a_ + "/snd";
  ASSERT_TRUE(testing::ProduceRaw(brokers_, prefix_ + "-verdicts", key,
                                  verdict("v-old", "rcp-old", false)));
  ASSERT_TRUE(testing::ProduceRaw(brokers_, prefix_ + "-verdicts", key,
                                  verdict("v-new", "rcp-new", true)));
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  auto old = AwaitSuggestion(store, tenant_a_, "snd", "v-old", seconds(60));
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(old->has_value()) << "no suggestion for the verdict";
  auto fresh = AwaitSuggestion(store, tenant_a_, "snd", "v-new", seconds(60));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE(fresh->has_value()) << "no suggestion for the verdict";
  ASSERT_TRUE((*old)->should_retry()) << (*old)->DebugString();
  ASSERT_TRUE((*fresh)->should_retry()) << (*fresh)->DebugString();
  EXPECT_EQ((*old)->retry_at_local_hour_of_week(), redis_hour);
  EXPECT_TRUE((*old)->retry_at_from_history());
  EXPECT_EQ((*fresh)->retry_at_local_hour_of_week(), context_hour);
  EXPECT_TRUE((*fresh)->retry_at_from_history());
}

// The sender's profile is read as scoring holds it now, not taken from the
// verdict's context: scoring forwards a profile update behind the sender's
// verdicts, but a verdict Kafka refused is sent again after it, and its
// older profile must not put a suggestion back to waiting on work the
// sender has done.
TEST_F(Pipeline, AVerdictsOlderProfileDoesNotUndoANewerOne) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  {
    RedisClient redis(RedisOptions{redis_});
    ASSERT_TRUE(
        redis
            .Command({"HSET", state::MemberKeys(tenant_a_, "fixed").Sender(),
                      "profile", testing::NormalProfile().SerializeAsString()})
            .ok());
  }
  rebound::v1::DeclineVerdict v;
  v.set_verdict_id("v-fixed");
  v.set_tenant_id(tenant_a_);
  v.set_sender_id("fixed");
  v.set_recipient_id("rcp");
  v.set_request_id("req-fixed");
  v.set_primary_reason(rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  v.set_decline_kind(rebound::v1::DECLINE_KIND_DECLINED);
  v.mutable_decided_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() - absl::Hours(24)));
  *v.mutable_context()->mutable_sender_profile() = testing::SpammyProfile();
  ASSERT_TRUE(testing::ProduceRaw(brokers_, prefix_ + "-verdicts",
                                  tenant_a_ + "/fixed", v.SerializeAsString()));
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  auto got = AwaitSuggestion(store, tenant_a_, "fixed", "v-fixed", seconds(60));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value()) << "no suggestion for the verdict";
  EXPECT_NE((*got)->state(), rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE)
      << (*got)->DebugString();
  EXPECT_FALSE(HasAction(**got, rebound::v1::ACTION_KIND_ADD_PHOTO));
}

// Only notify's state is lost (its epoch's shard failed over, say): the
// sweep had answered an invite still open and forgotten it, and the loss
// took its withdraw suggestion; notify's rebuild tracks the invite again
// (scoring holds it open), so the suggestion comes back.
TEST_F(Pipeline, ANotifyRebuildBringsBackWithdrawSuggestions) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  testing::Scenario s(tenant_a_);
  s.Sent("stale", "r1", "q1", absl::Now() - absl::Hours(24 * 40),
         testing::NormalProfile(), testing::NormalProfile(), "");
  s.Viewed("today", "anyone", "", absl::Now());  // A live tenant.
  Publish(s.events(), kTokenA);
  notify::SuggestionStoreOptions so;
  so.redis.address = redis_;
  notify::SuggestionStore store(so);
  auto wait_for_it = [&] {
    auto got =
        AwaitSuggestion(store, tenant_a_, "stale", "stale/q1", seconds(60));
    return got.ok() && got->has_value();
  };
  ASSERT_TRUE(wait_for_it()) << "no withdraw suggestion";
  // Notify's keys and epoch gone; scoring's intact.
  ASSERT_TRUE(store.RemoveNotifyState().ok());
  auto until = std::chrono::steady_clock::now() + seconds(30);
  while (!notify->consumer()->state_lost() &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(notify->consumer()->state_lost()) << "notify missed the loss";
  auto rebuilt = RebuildNotify();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->open_invites, 1);
  EXPECT_TRUE(wait_for_it()) << "the withdraw suggestion did not come back";
}

TEST_F(Pipeline, EachDeclineReasonGetsSensibleAdvice) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  auto stub = NotifyStub(*notify);
  testing::Scenario s(tenant_a_);
  absl::Time t0 = absl::Now() - absl::Hours(24 * 3);
  // Spammy-looking sender, looked up, declined.
  s.Sent("spam", "r1", "q1", t0, testing::SpammyProfile(),
         testing::NormalProfile(), "");
  s.Viewed("spam", "r1", "q1", t0 + absl::Hours(1));
  s.Declined("spam", "r1", "q1", t0 + absl::Hours(2),
             rebound::v1::DECLINE_KIND_DECLINED);
  // Pitchy note, ignored.
  s.Sent("pitch", "r2", "q2", t0, testing::NormalProfile(),
         testing::NormalProfile(),
         "I help companies like yours cut costs by 40%. Do you have 15 minutes "
         "for a "
         "quick call this week? Limited offer on our platform, book a demo!");
  s.Declined("pitch", "r2", "q2", t0 + absl::Hours(30),
             rebound::v1::DECLINE_KIND_IGNORED);
  // Expired without a view.
  s.Sent("quiet", "r3", "q3", t0, testing::NormalProfile(),
         testing::NormalProfile(), "");
  s.Expired("quiet", "r3", "q3", t0 + absl::Hours(60));
  // Reported as spam: never retry.
  s.Sent("reported", "r4", "q4", t0, testing::NormalProfile(),
         testing::NormalProfile(), "");
  s.Declined("reported", "r4", "q4", t0 + absl::Hours(5),
             rebound::v1::DECLINE_KIND_REPORTED_SPAM);
  // Perceived competitor: same industry, overlapping headline, rival
  // company; looked up, declined.
  auto rival_s = testing::NormalProfile();
  rival_s.set_industry("fintech");
  rival_s.set_headline("Head of Growth, payments platform");
  rival_s.set_company("Stripe-ish");
  auto rival_r = testing::NormalProfile();
  rival_r.set_industry("fintech");
  rival_r.set_headline("Head of Growth, payments");
  rival_r.set_company("Adyen-ish");
  s.Sent("rival", "r6", "q6", t0, rival_s, rival_r, "");
  s.Viewed("rival", "r6", "q6", t0 + absl::Hours(1));
  s.Declined("rival", "r6", "q6", t0 + absl::Hours(3),
             rebound::v1::DECLINE_KIND_DECLINED);
  // Credibility guard: a junior sender to a much-followed C-level.
  auto junior = testing::NormalProfile();
  junior.set_seniority(rebound::v1::SENIORITY_ENTRY);
  junior.set_connection_count(180);
  junior.set_follower_count(150);
  junior.set_industry("retail");
  auto ceo = testing::NormalProfile();
  ceo.set_seniority(rebound::v1::SENIORITY_CXO);
  ceo.set_follower_count(250000);
  ceo.set_connection_count(30000);
  ceo.set_industry("software");
  ceo.set_headline("CEO");
  ceo.set_company("Initech");
  s.Sent("junior", "r7", "q7", t0, junior, ceo, "");
  s.Viewed("junior", "r7", "q7", t0 + absl::Hours(2));
  s.Declined("junior", "r7", "q7", t0 + absl::Hours(20),
             rebound::v1::DECLINE_KIND_IGNORED);
  // Pending for 40 days: a withdraw suggestion.
  s.Sent("stale", "r5", "q5", absl::Now() - absl::Hours(24 * 40),
         testing::NormalProfile(), testing::NormalProfile(), "");
  // As old but answered since, or answered before its RequestSent arrived:
  // none (the same sweep sees all three).
  s.Sent("answered", "r8", "q8", absl::Now() - absl::Hours(24 * 40),
         testing::NormalProfile(), testing::NormalProfile(), "");
  s.Accepted("answered", "r8", "q8", absl::Now() - absl::Hours(24 * 39));
  s.Accepted("early", "r9", "q9", absl::Now() - absl::Hours(24 * 39));
  s.Sent("early", "r9", "q9", absl::Now() - absl::Hours(24 * 40),
         testing::NormalProfile(), testing::NormalProfile(), "");
  Publish(s.events(), kTokenA);

  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_from_beginning(true);
  auto updates = Watch(*stub, req, kTokenA, 7, seconds(60));
  std::map<std::string, RetrySuggestion> by_member;
  for (const auto& u : updates)
    by_member[u.suggestion().member_id()] = u.suggestion();
  ASSERT_EQ(by_member.size(), 7u) << "got " << updates.size() << " updates";
  EXPECT_FALSE(by_member.contains("answered"));
  EXPECT_FALSE(by_member.contains("early"));
  {
    notify::SuggestionStoreOptions so;
    so.redis.address = redis_;
    notify::SuggestionStore store(so);
    for (const auto& [member, id] :
         {std::pair{"answered", "stale/q8"}, std::pair{"early", "stale/q9"}}) {
      auto got = store.Get(tenant_a_, member, id);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_FALSE(got->has_value()) << id << " was suggested";
    }
  }
  const auto& rival = by_member["rival"];
  EXPECT_EQ(rival.reason(), rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR)
      << rival.DebugString();
  EXPECT_TRUE(HasAction(rival, rebound::v1::ACTION_KIND_MUTUAL_INTRO));
  const auto& junior_s = by_member["junior"];
  EXPECT_EQ(junior_s.reason(), rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD)
      << junior_s.DebugString();
  EXPECT_TRUE(HasAction(junior_s, rebound::v1::ACTION_KIND_ENGAGE_FIRST));
  // Timing: after the cool-down, within the week that follows it.
  EXPECT_GE(junior_s.retry_at().seconds(), junior_s.not_before().seconds());
  EXPECT_LT(junior_s.retry_at().seconds() - junior_s.not_before().seconds(),
            7 * 86400);
  const auto& stale = by_member["stale"];
  EXPECT_EQ(stale.suggestion_id(), "stale/q5");
  EXPECT_TRUE(HasAction(stale, rebound::v1::ACTION_KIND_WITHDRAW_STALE));

  const auto& spam = by_member["spam"];
  EXPECT_EQ(spam.reason(), rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  EXPECT_EQ(spam.state(), rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE);
  EXPECT_TRUE(HasAction(spam, rebound::v1::ACTION_KIND_ADD_PHOTO));
  EXPECT_TRUE(HasAction(spam, rebound::v1::ACTION_KIND_GROW_CONNECTIONS));
  // Cool-down: not before 21 days after the decline, retry_at after that.
  EXPECT_GE(
      spam.not_before().seconds(),
      absl::ToUnixSeconds(t0 + absl::Hours(2) + absl::Hours(24 * 21)) - 1);
  EXPECT_GE(spam.retry_at().seconds(), spam.not_before().seconds());

  const auto& pitch = by_member["pitch"];
  EXPECT_EQ(pitch.reason(), rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  EXPECT_TRUE(pitch.should_retry());
  ASSERT_TRUE(HasAction(pitch, rebound::v1::ACTION_KIND_DROP_PITCH));
  bool names_phrase = false;
  for (const auto& a : pitch.actions()) {
    for (const auto& p : a.phrases()) names_phrase |= p == "quick call";
  }
  EXPECT_TRUE(names_phrase) << pitch.DebugString();

  const auto& quiet = by_member["quiet"];
  EXPECT_EQ(quiet.reason(), rebound::v1::DECLINE_REASON_NOT_SEEN);
  EXPECT_TRUE(quiet.should_retry());
  EXPECT_EQ(quiet.state(), rebound::v1::SUGGESTION_STATE_READY);

  const auto& reported = by_member["reported"];
  EXPECT_FALSE(reported.should_retry());
  EXPECT_EQ(reported.state(), rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY);
  EXPECT_FALSE(reported.no_retry_reason().empty());

  // Profile work done -> the waiting suggestion turns READY, on the stream.
  testing::Scenario up(tenant_a_);
  ConnectionEvent e;
  e.set_event_id("profile-up-1");
  e.set_tenant_id(tenant_a_);
  e.set_sender_id("spam");
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  auto* p = e.mutable_profile_updated()->mutable_profile();
  *p = testing::NormalProfile();
  p->set_connection_count(900);
  Publish({e}, kTokenA);
  rebound::v1::WatchSuggestionsRequest resume;
  resume.set_tenant_id(tenant_a_);
  resume.set_member_id("spam");
  resume.set_from_beginning(true);
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    auto got = Watch(*stub, resume, kTokenA, 1, seconds(2));
    for (const auto& u : got)
      ready |= u.suggestion().state() == rebound::v1::SUGGESTION_STATE_READY;
    // Member stream holds both versions; read them all.
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    rebound::v1::ListSuggestionsRequest lr;
    lr.set_tenant_id(tenant_a_);
    lr.set_member_id("spam");
    rebound::v1::ListSuggestionsResponse lresp;
    ASSERT_TRUE(stub->ListSuggestions(&ctx, lr, &lresp).ok());
    ASSERT_EQ(lresp.suggestions_size(), 1);
    ready |=
        lresp.suggestions(0).state() == rebound::v1::SUGGESTION_STATE_READY;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(ready) << "profile update did not make the suggestion ready";

  // Mark acted: idempotent.
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    rebound::v1::SuggestionActionRequest ar;
    ar.set_tenant_id(tenant_a_);
    ar.set_member_id("pitch");
    ar.set_suggestion_id(pitch.suggestion_id());
    RetrySuggestion out;
    ASSERT_TRUE(stub->MarkActed(&ctx, ar, &out).ok());
    EXPECT_EQ(out.state(), rebound::v1::SUGGESTION_STATE_ACTED);
    EXPECT_EQ(out.version(), pitch.version() + 1);
  }
  // Insights: decline breakdown and red flags.
  grpc::ClientContext ictx;
  ictx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
  rebound::v1::GetInsightsRequest ir;
  ir.set_tenant_id(tenant_a_);
  ir.set_member_id("spam");
  rebound::v1::Insights insights;
  ASSERT_TRUE(stub->GetInsights(&ictx, ir, &insights).ok());
  ASSERT_EQ(insights.decline_breakdown_size(), 1);
  EXPECT_EQ(insights.decline_breakdown(0).reason(),
            rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  EXPECT_FALSE(insights.top_red_flags().empty());
  // Account safety from the member's counters: one invitation this week
  // (3 days ago), answered and declined; one decline is no pattern yet.
  EXPECT_EQ(insights.scores().as_sender().sent_last_7_days(), 1);
  const auto& safety = insights.account_safety();
  EXPECT_EQ(safety.sent_last_7_days(), 1);
  EXPECT_EQ(safety.weekly_budget(), policy_.account_safety.weekly_budget);
  EXPECT_EQ(safety.remaining_weekly_budget(),
            policy_.account_safety.weekly_budget - 1);
  EXPECT_EQ(safety.answered(), 1);
  EXPECT_GT(safety.decline_rate(), 0);
  EXPECT_FALSE(safety.at_risk());
  // What works: spam's one request (no note, at 10:00 UTC for a UTC
  // recipient) answered and declined; the tenant's figures hold it and the
  // others (the pitch note, declined too).
  auto approach =
      [&](const std::string& dim,
          const std::string& value) -> const rebound::v1::ApproachStats* {
    for (const auto& w : insights.what_works()) {
      if (w.dimension() == dim && w.value() == value) return &w;
    }
    return nullptr;
  };
  const auto* none = approach("note_style", "none");
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->member().answered(), 1);
  EXPECT_EQ(none->member().accepted(), 0);
  EXPECT_EQ(none->member().rate(), 0);
  EXPECT_EQ(none->member().low(), 0);
  EXPECT_GT(none->member().high(), 0.5);  // One answer says little.
  EXPECT_GE(none->tenant().answered(), none->member().answered());
  const auto* pitchy = approach("note_style", "pitch");
  ASSERT_NE(pitchy, nullptr);
  EXPECT_EQ(pitchy->member().answered(), 0);
  EXPECT_GE(pitchy->tenant().answered(), 1);
  EXPECT_EQ(pitchy->tenant().accepted(), 0);
  int64_t by_hour = 0, by_channel = 0;
  for (const auto& w : insights.what_works()) {
    if (w.dimension() == "send_hour") by_hour += w.member().answered();
    if (w.dimension() == "channel") by_channel += w.member().answered();
    EXPECT_LE(w.tenant().low(), w.tenant().rate());
    EXPECT_GE(w.tenant().high(), w.tenant().rate());
  }
  EXPECT_EQ(by_channel, 1);
  EXPECT_EQ(by_hour, 1);
}

// rebound-classify --suggestions runs notify's policy code offline: on the
// same events it gives every suggestion the pipeline gives, with the same
// reason, the same retry decision and the same actions.
TEST_F(Pipeline, OfflineSuggestionsAreWhatNotifyEmits) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  auto events = testing::SimulatedStream(tenant_a_, 800, 17);
  std::set<std::string> expected;
  for (const auto& e : events) {
    if (e.has_request_declined() || e.has_request_expired()) {
      expected.insert(e.event_id());
    }
  }
  ASSERT_GT(expected.size(), 30u);
  Publish(events, kTokenA);
  auto stub = NotifyStub(*notify);
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_from_beginning(true);
  std::map<std::string, RetrySuggestion> online;  // First versions.
  for (const auto& u :
       WatchUntil(*stub, req, kTokenA, expected, {}, seconds(120))) {
    if (u.suggestion().version() == 1) {
      online.emplace(u.suggestion().suggestion_id(), u.suggestion());
    }
  }
  ASSERT_EQ(online.size(), expected.size());

  scoring::OfflineAdvisor advisor(policy_);
  scoring::OfflineState state;
  std::vector<RetrySuggestion> offline;  // First versions, in order.
  // Suggestions the sender's next ProfileUpdated after the decline turned
  // READY, and per sender the declines not yet followed by an update.
  std::set<std::string> made_ready;
  std::map<std::string, std::set<std::string>> awaiting_update;
  auto keep = [&](const std::vector<RetrySuggestion>& out) {
    for (const auto& s : out) {
      if (s.version() == 1) offline.push_back(s);
    }
  };
  for (const auto& e : events) {
    if (auto ctx = state.ContextFor(e)) {
      auto v = scoring::Classify(classifier_, *ctx);
      scoring::AttachDecisionContext(*ctx, &v);
      keep(advisor.OnVerdict(v));
    }
    state.Apply(e);
    auto out = advisor.OnEvent(e);
    keep(out);
    if (e.has_profile_updated()) {
      auto waiting = std::move(awaiting_update[e.sender_id()]);
      awaiting_update.erase(e.sender_id());
      for (const auto& s : out) {
        if (s.version() > 1 &&
            s.state() == rebound::v1::SUGGESTION_STATE_READY &&
            waiting.contains(s.suggestion_id())) {
          made_ready.insert(s.suggestion_id());
        }
      }
    }
    if (e.has_request_declined() || e.has_request_expired()) {
      awaiting_update[e.sender_id()].insert(e.event_id());
    }
  }
  int compared = 0;
  for (const auto& s : offline) {
    auto it = online.find(s.suggestion_id());
    ASSERT_NE(it, online.end()) << s.suggestion_id();
    const RetrySuggestion& o = it->second;
    EXPECT_EQ(s.reason(), o.reason()) << s.suggestion_id();
    EXPECT_EQ(s.should_retry(), o.should_retry()) << s.suggestion_id();
    // The sender's next ProfileUpdated after the decline (key
    // tenant/sender/, another partition than the pair's) can be scored
    // first; the verdict then carries the updated profile and the first
    // version is already READY. Offline, in file order, that same update
    // turns it READY one version later.
    const bool update_overtook_verdict =
        s.state() == rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE &&
        o.state() == rebound::v1::SUGGESTION_STATE_READY &&
        made_ready.contains(s.suggestion_id());
    if (!update_overtook_verdict) {
      EXPECT_EQ(s.state(), o.state()) << s.suggestion_id();
    }
    std::vector<int> kinds, online_kinds;
    for (const auto& a : s.actions()) kinds.push_back(a.kind());
    for (const auto& a : o.actions()) online_kinds.push_back(a.kind());
    EXPECT_EQ(kinds, online_kinds) << s.suggestion_id();
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(expected.size()));
}

TEST_F(Pipeline, WatcherResumesWithoutLossOrDuplicateAcrossRestartAndReplicas) {
  auto first = StartNotify(NotifyOptions());
  ASSERT_NE(first, nullptr);
  auto events = testing::SimulatedStream(tenant_a_, 1500, 3);
  size_t declines = 0;
  std::set<std::string> expected;  // A suggestion per decline/expiry.
  for (const auto& e : events) {
    if (e.has_request_declined() || e.has_request_expired()) {
      ++declines;
      expected.insert(e.event_id());
    }
  }
  ASSERT_GT(declines, 40u);
  std::vector<ConnectionEvent> half1(events.begin(),
                                     events.begin() + events.size() / 2);
  std::vector<ConnectionEvent> half2(events.begin() + events.size() / 2,
                                     events.end());
  size_t declines1 = 0;
  for (const auto& e : half1)
    declines1 += e.has_request_declined() || e.has_request_expired();

  auto stub1 = NotifyStub(*first);
  Publish(half1, kTokenA);
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_from_beginning(true);
  // Read part of it, then drop the connection.
  auto part = Watch(*stub1, req, kTokenA, declines1 / 2, seconds(60));
  ASSERT_GE(part.size(), declines1 / 2);
  std::string token = part.back().resume_token();

  // Restart notify mid-stream while the second half is published.
  ASSERT_TRUE(first->Shutdown().ok());
  first.reset();
  Publish(half2, kTokenA);
  auto a = StartNotify(NotifyOptions());
  auto b = StartNotify(NotifyOptions());  // A second replica, same group.
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto stub_a = NotifyStub(*a);
  auto stub_b = NotifyStub(*b);

  rebound::v1::WatchSuggestionsRequest resume;
  resume.set_tenant_id(tenant_a_);
  resume.set_resume_token(token);
  std::set<std::string> ids;
  std::set<std::pair<std::string, int64_t>> seen;
  ExpectEachOnce(part, &seen, &ids);
  auto rest = WatchUntil(*stub_b, resume, kTokenA, expected, ids, seconds(90));
  ExpectEachOnce(rest, &seen, &ids);
  EXPECT_EQ(ids, expected) << "suggestions missing after resume";

  // Every replica serves the whole tenant.
  auto on_a = WatchUntil(*stub_a, req, kTokenA, expected, {}, seconds(30));
  std::set<std::string> ids_a;
  for (const auto& u : on_a) ids_a.insert(u.suggestion().suggestion_id());
  EXPECT_EQ(ids_a, expected);
}

// Notify's rule for what it cannot handle: a record that does not decode,
// and each verdict whose update Redis refuses (one member's suggestion
// index has the wrong type), go to notify's dead-letter topic with the
// reason; every other decline, before and after them in the same
// partitions, gets its suggestion, and notify stays SERVING.
TEST_F(Pipeline, NotifyDeadLettersWhatItCannotHandleAndGoesOn) {
  auto events = testing::SimulatedStream(tenant_a_, 800, 9);
  std::string poisoned;
  for (const auto& e : events) {
    if (e.has_request_declined()) {
      poisoned = e.sender_id();
      break;
    }
  }
  ASSERT_FALSE(poisoned.empty());
  std::set<std::string> expected;  // A suggestion per decline/expiry.
  size_t refused = 0;
  for (const auto& e : events) {
    if (!e.has_request_declined() && !e.has_request_expired()) continue;
    if (e.sender_id() == poisoned) {
      ++refused;
    } else {
      expected.insert(e.event_id());
    }
  }
  ASSERT_GT(expected.size(), 40u);
  {
    RedisClient redis(RedisOptions{redis_});
    ASSERT_TRUE(
        redis
            .Command({"SET",
                      state::MemberKeys(tenant_a_, poisoned).Suggestions(),
                      "not a sorted set"})
            .ok());
  }
  auto o = NotifyOptions();
  o.consumer.dead_letter_topic = prefix_ + "-notify-dlq";
  auto notify = StartNotify(o);
  ASSERT_NE(notify, nullptr);
  ASSERT_TRUE(testing::ProduceRaw(brokers_, prefix_ + "-verdicts", "garbage",
                                  "\xff\xff not a verdict"));
  Publish(events, kTokenA);

  auto stub = NotifyStub(*notify);
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_from_beginning(true);
  auto got = WatchUntil(*stub, req, kTokenA, expected, {}, seconds(90));
  std::set<std::string> ids;
  for (const auto& u : got) ids.insert(u.suggestion().suggestion_id());
  for (const auto& id : expected) {
    EXPECT_TRUE(ids.contains(id)) << "no suggestion for decline " << id;
  }

  std::vector<tools::KafkaRecord> dlq;
  for (int i = 0; i < 150 && dlq.size() < refused + 1; ++i) {
    auto r = tools::ReadTopic(brokers_, prefix_ + "-notify-dlq", seconds(30));
    ASSERT_TRUE(r.ok()) << r.status();
    dlq = *r;
    if (dlq.size() < refused + 1)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  size_t undecodable = 0, wrongtype = 0;
  for (const auto& r : dlq) {
    const std::string reason = r.Header("rebound_dlq_reason");
    EXPECT_EQ(r.Header("rebound_dlq_consumer"), prefix_ + "-notify");
    if (reason.find("undecodable") != std::string::npos) {
      ++undecodable;
      EXPECT_EQ(r.key, "garbage");
    } else if (reason.find("WRONGTYPE") != std::string::npos) {
      ++wrongtype;
      rebound::v1::DeclineVerdict v;
      ASSERT_TRUE(v.ParseFromString(r.value));
      EXPECT_EQ(v.sender_id(), poisoned);
    } else {
      ADD_FAILURE() << "unexpected dead letter: " << reason;
    }
  }
  EXPECT_EQ(undecodable, 1u);
  EXPECT_EQ(wrongtype, refused);
  EXPECT_TRUE(notify->consumer()->healthy())
      << "refused records made notify report Redis down";
}

TEST_F(Pipeline, TenantsCannotSeeEachOther) {
  auto notify = StartNotify(NotifyOptions());
  ASSERT_NE(notify, nullptr);
  auto stub = NotifyStub(*notify);
  testing::Scenario sb(tenant_b_);
  sb.Sent("bob", "x", "q1", absl::Now() - absl::Hours(50),
          testing::NormalProfile(), testing::NormalProfile(), "");
  sb.Expired("bob", "x", "q1", absl::Now() - absl::Hours(1));
  // Tenant A's token may not publish tenant B's events.
  {
    rebound::v1::PublishRequest pr;
    for (const auto& e : sb.events()) *pr.add_events() = e;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    rebound::v1::PublishResponse resp;
    ASSERT_TRUE(ingest_stub_->Publish(&ctx, pr, &resp).ok());
    EXPECT_EQ(resp.rejected(), 2u);
    EXPECT_EQ(resp.results(0).code(),
              static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
    EXPECT_EQ(resp.results(0).field(), "tenant_id");
    // Says whose credentials these are, whatever they are (token or
    // certificate).
    EXPECT_EQ(resp.results(0).error(),
              "the caller's credentials are for tenant '" + tenant_a_ +
                  "', not '" + tenant_b_ + "'");
  }
  Publish(sb.events(), kTokenB);
  rebound::v1::WatchSuggestionsRequest wb;
  wb.set_tenant_id(tenant_b_);
  wb.set_from_beginning(true);
  ASSERT_EQ(Watch(*stub, wb, kTokenB, 1, seconds(60)).size(), 1u);

  // A's token on B's data: denied everywhere.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    rebound::v1::ListSuggestionsRequest lr;
    lr.set_tenant_id(tenant_b_);
    lr.set_member_id("bob");
    rebound::v1::ListSuggestionsResponse resp;
    auto s = stub->ListSuggestions(&ctx, lr, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << s.error_message();
    EXPECT_EQ(resp.suggestions_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(5));
    auto reader = stub->WatchSuggestions(&ctx, wb);
    SuggestionUpdate u;
    EXPECT_FALSE(reader->Read(&u))
        << "tenant A's token read tenant B's suggestion";
    EXPECT_EQ(reader->Finish().error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;  // No token at all.
    rebound::v1::GetInsightsRequest ir;
    ir.set_tenant_id(tenant_b_);
    ir.set_member_id("bob");
    rebound::v1::Insights resp;
    EXPECT_EQ(stub->GetInsights(&ctx, ir, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
}

// Each watch holds a thread and a Redis connection: past --max-watches a
// new one is refused RESOURCE_EXHAUSTED, and room comes back when one ends.
TEST_F(Pipeline, NotifyRefusesWatchesBeyondItsLimit) {
  auto o = NotifyOptions();
  o.max_watches = 1;
  auto registry = std::make_shared<prometheus::Registry>();
  auto notify = StartNotify(o, registry);
  // The value of an unlabelled gauge or counter of `registry`.
  auto metric = [&](const std::string& name) {
    for (const auto& family : registry->Collect()) {
      if (family.name != name || family.metric.empty()) continue;
      return family.type == prometheus::MetricType::Gauge
                 ? family.metric[0].gauge.value
                 : family.metric[0].counter.value;
    }
    return -1.0;
  };
  ASSERT_NE(notify, nullptr);
  auto stub = NotifyStub(*notify);
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_a_);
  req.set_member_id("nobody-yet");
  // Opens a watch and reads for `wait`: the status it ends with
  // (DEADLINE_EXCEEDED = it was served, quietly).
  auto try_watch = [&](std::chrono::milliseconds wait) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    ctx.set_deadline(std::chrono::system_clock::now() + wait);
    auto reader = stub->WatchSuggestions(&ctx, req);
    SuggestionUpdate u;
    while (reader->Read(&u)) {
    }
    return reader->Finish();
  };
  // The first watch stays open on another thread until cancelled (opened
  // again if it lost the one place to a probe below).
  std::mutex mu;
  grpc::ClientContext* first_ctx = nullptr;
  bool stop = false;
  std::thread first([&] {
    while (true) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
      auto reader = stub->WatchSuggestions(&ctx, req);
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) ctx.TryCancel();
        first_ctx = &ctx;
      }
      SuggestionUpdate u;
      while (reader->Read(&u)) {
      }
      grpc::Status end = reader->Finish();
      {
        std::lock_guard<std::mutex> lock(mu);
        first_ctx = nullptr;
        if (stop) return;
      }
      if (end.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  // Once it is open, a second is refused (a probe is only ever refused
  // while the first holds the place).
  grpc::Status second;
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  do {
    second = try_watch(std::chrono::milliseconds(300));
  } while (second.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << second.error_message();
  EXPECT_NE(second.error_message().find("1 watches at once"), std::string::npos)
      << second.error_message();
  EXPECT_EQ(metric("rebound_notify_open_watches"), 1.0);
  EXPECT_GE(metric("rebound_notify_watches_refused_total"), 1.0);
  // The first ends: a new watch is served again.
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    if (first_ctx != nullptr) first_ctx->TryCancel();
  }
  first.join();
  grpc::Status third;
  do {
    third = try_watch(std::chrono::milliseconds(300));
  } while (third.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << third.error_message();
  // Every watch has ended: none counted open (each ends within a read).
  double open = -1;
  do {
    open = metric("rebound_notify_open_watches");
  } while (open != 0.0 &&
           std::chrono::steady_clock::now() < deadline + seconds(10));
  EXPECT_EQ(open, 0.0);
}

// Health follows Redis while nothing flows: an idle notify reports
// NOT_SERVING once its Redis is gone, and SERVING once it is back; its
// rebound_notify_redis_up gauge (what the ReboundRedisDown alert reads)
// says the same.
TEST_F(Pipeline, IdleNotifyReportsRedisDownAndBack) {
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  auto o = NotifyOptions();
  o.consumer.store.redis.address = redis.address();
  auto registry = std::make_shared<prometheus::Registry>();
  auto notify = StartNotify(o, registry);
  ASSERT_NE(notify, nullptr);
  auto redis_up = [&] {
    for (const auto& family : registry->Collect()) {
      if (family.name == "rebound_notify_redis_up" && !family.metric.empty()) {
        return family.metric[0].gauge.value;
      }
    }
    return -1.0;
  };
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", notify->port()),
                                     grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Notify", 1, seconds(30)));
  EXPECT_EQ(redis_up(), 1.0);
  ASSERT_TRUE(redis.Stop(&out)) << out;
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Notify", 2, seconds(15)))
      << "an idle notify stayed SERVING with Redis down";
  EXPECT_EQ(redis_up(), 0.0);
  ASSERT_TRUE(redis.Start(&out)) << out;
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Notify", 1, seconds(30)))
      << "notify did not come back when Redis did";
  EXPECT_EQ(redis_up(), 1.0);
}

// More notify replicas than partitions: the one without a partition serves
// reads too, so when Redis loses its state (FLUSHALL) it must stop saying
// SERVING like the consuming one, not serve an emptied Redis.
TEST_F(Pipeline, ANotifyWithoutPartitionsNoticesLostStateToo) {
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  auto o = NotifyOptions();
  o.consumer.store.redis.address = redis.address();
  o.consumer.verdicts_topic = prefix_ + "-one-partition";
  o.consumer.group_id = prefix_ + "-one-partition";
  o.consumer.topic_partitions = 1;
  auto a = StartNotify(o);
  ASSERT_NE(a, nullptr);
  auto b = StartNotify(o);
  ASSERT_NE(b, nullptr);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto* n : {a.get(), b.get()}) {
    channels.push_back(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", n->port()),
                            grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(testing::WaitForHealth(channels.back(), "rebound.v1.Notify", 1,
                                       seconds(60)));
  }
  // The consuming replica made the epoch; give the other a check or two
  // (each second) to adopt it.
  RedisClient r(RedisOptions{redis.address()});
  bool made = false;
  for (int i = 0; i < 300 && !made; ++i) {
    auto n = r.Command({"EXISTS", state::NotifyEpochKey()});
    made = n.ok() && n->integer == 1;
    if (!made) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(made) << "no notify epoch in Redis";
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_TRUE(r.Command({"FLUSHALL"}).ok());
  for (const auto& channel : channels) {
    EXPECT_TRUE(
        testing::WaitForHealth(channel, "rebound.v1.Notify", 2, seconds(15)))
        << "a notify replica stayed SERVING after Redis lost its state";
  }
}

// Mutual TLS: a client certificate signed by the configured CA acts for
// the tenant its subject CN names (no token needed), and only for it; a
// client without a certificate, or with one another CA signed, is not
// served; refusals are counted by reason.
TEST_F(Pipeline, NotifyTakesTheTenantFromAClientCertificate) {
  char dir_tmpl[] = "/tmp/rebound-mtls-XXXXXX";
  const std::string dir = mkdtemp(dir_tmpl);
  std::string out;
  {
    std::ofstream ext(dir + "/server.ext");
    ext << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  }
  // ca, other-ca, a server cert and client certs (CN = tenant a; CN =
  // tenant a but signed by other-ca).
  const std::string script = absl::StrCat(
      "set -e; cd ", dir, "; ",
      "for ca in ca other-ca; do openssl req -x509 -newkey rsa:2048 -nodes "
      "-days 2 -subj /CN=$ca -keyout $ca.key -out $ca.pem 2>/dev/null; done; ",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "
      "server.key -out server.csr 2>/dev/null; ",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -days 2 -extfile server.ext -out server.pem "
      "2>/dev/null; ",
      "for c in 'a ca' 'stranger other-ca'; do set -- $c; "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=",
      tenant_a_, " -keyout $1.key -out $1.csr 2>/dev/null; ",
      "openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial "
      "-days 2 -out $1.pem 2>/dev/null; done");
  ASSERT_EQ(testing::RunCommand(script, &out), 0) << out;
  auto read = [&](const std::string& name) {
    std::ifstream in(dir + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto o = NotifyOptions();
  o.tls_cert = dir + "/server.pem";
  o.tls_key = dir + "/server.key";
  o.tls_client_ca = dir + "/ca.pem";
  o.auth.AcceptClientCertificates();
  auto registry = std::make_shared<prometheus::Registry>();
  auto notify = StartNotify(o, registry);
  ASSERT_NE(notify, nullptr);
  auto failures = [&](const std::string& reason) {
    for (const auto& family : registry->Collect()) {
      if (family.name != "rebound_auth_failures_total") continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) {
          if (l.name == "reason" && l.value == reason) return m.counter.value;
        }
      }
    }
    return -1.0;
  };
  auto stub_with = [&](const std::string& client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = read("ca.pem");
    if (!client.empty()) {
      ssl.pem_private_key = read(client + ".key");
      ssl.pem_cert_chain = read(client + ".pem");
    }
    return rebound::v1::Notify::NewStub(grpc::CreateChannel(
        absl::StrCat("localhost:", notify->port()), grpc::SslCredentials(ssl)));
  };
  auto list = [&](rebound::v1::Notify::Stub& stub, const std::string& tenant,
                  const std::string& token) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    rebound::v1::ListSuggestionsRequest req;
    req.set_tenant_id(tenant);
    req.set_member_id("nobody");
    rebound::v1::ListSuggestionsResponse resp;
    return stub.ListSuggestions(&ctx, req, &resp);
  };
  auto a = stub_with("a");
  grpc::Status s = list(*a, tenant_a_, "");
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(failures("wrong_tenant"), 0);
  s = list(*a, tenant_b_, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << s.error_message();
  EXPECT_EQ(failures("wrong_tenant"), 1);
  // A bearer token, when given, is what the call is judged by.
  EXPECT_TRUE(list(*a, tenant_b_, kTokenB).ok());
  s = list(*a, tenant_a_, "not-a-known-token");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(failures("bad_token"), 1);
  // No client certificate, or one another CA signed: the handshake fails.
  EXPECT_FALSE(list(*stub_with(""), tenant_a_, "").ok());
  EXPECT_FALSE(list(*stub_with("stranger"), tenant_a_, "").ok());
  std::filesystem::remove_all(dir);
}

TEST_F(Pipeline, NotifyServesOverTls) {
  char dir_tmpl[] = "/tmp/rebound-tls-XXXXXX";
  std::string dir = mkdtemp(dir_tmpl);
  std::string out;
  ASSERT_EQ(testing::RunCommand(
                "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
                "/CN=localhost "
                "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                    dir + "/key.pem -out " + dir + "/cert.pem",
                &out),
            0)
      << out;
  auto o = NotifyOptions();
  o.tls_cert = dir + "/cert.pem";
  o.tls_key = dir + "/key.pem";
  o.health_listen = "127.0.0.1:0";
  auto notify = StartNotify(o);
  ASSERT_NE(notify, nullptr);
  // The plaintext health-only port (for kubelet's probes, which speak no
  // TLS) follows the service's health, and serves nothing else.
  ASSERT_GT(notify->health_port(), 0);
  auto health =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", notify->health_port()),
                          grpc::InsecureChannelCredentials());
  EXPECT_TRUE(testing::WaitForHealth(health, "", 1, seconds(30)));
  EXPECT_TRUE(
      testing::WaitForHealth(health, "rebound.v1.Notify", 1, seconds(5)));
  {
    auto api = rebound::v1::Notify::NewStub(health);
    grpc::ClientContext hctx;
    hctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
    rebound::v1::ListSuggestionsRequest req;
    req.set_tenant_id(tenant_a_);
    req.set_member_id("nobody");
    rebound::v1::ListSuggestionsResponse got;
    EXPECT_EQ(api->ListSuggestions(&hctx, req, &got).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  std::ifstream in(dir + "/cert.pem");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(in), {});
  auto tls = rebound::v1::Notify::NewStub(grpc::CreateChannel(
      absl::StrCat("localhost:", notify->port()), grpc::SslCredentials(ssl)));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
  rebound::v1::ListSuggestionsRequest lr;
  lr.set_tenant_id(tenant_a_);
  lr.set_member_id("nobody");
  rebound::v1::ListSuggestionsResponse resp;
  auto s = tls->ListSuggestions(&ctx, lr, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // Plaintext to a TLS port fails.
  auto plain = NotifyStub(*notify);
  grpc::ClientContext pctx;
  pctx.set_deadline(std::chrono::system_clock::now() + seconds(3));
  pctx.AddMetadata("authorization", std::string("Bearer ") + kTokenA);
  EXPECT_FALSE(plain->ListSuggestions(&pctx, lr, &resp).ok());
  // Draining: a watch on the health port hears NOT_SERVING.
  {
    auto stub = grpc::health::v1::Health::NewStub(health);
    grpc::ClientContext wctx;
    wctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
    grpc::health::v1::HealthCheckRequest req;
    auto watch = stub->Watch(&wctx, req);
    grpc::health::v1::HealthCheckResponse got;
    ASSERT_TRUE(watch->Read(&got));
    EXPECT_EQ(got.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    std::thread drain([&] { (void)notify->Shutdown(); });
    EXPECT_TRUE(watch->Read(&got) &&
                got.status() ==
                    grpc::health::v1::HealthCheckResponse::NOT_SERVING)
        << "the health port did not follow the drain";
    drain.join();
    wctx.TryCancel();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rebound
