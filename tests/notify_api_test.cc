// The Notify gRPC API in process against a real redis-server: what a client
// sees for paging, resume tokens, malformed ids, filters and transitions
// (issue 14's findings from an outside client, each pinned here).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_server.h"
#include "common/redis_client.h"
#include "common/tenant_auth.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "rebound/v1/notify.grpc.pb.h"
#include "services/notify/notify_service.h"
#include "services/notify/suggestion_store.h"
#include "tests/test_support.h"

namespace rebound::notify {
namespace {

using rebound::v1::RetrySuggestion;

constexpr char kToken[] = "token-of-the-test-tenant";

// `service` on a free loopback port, and a stub for it.
struct Served {
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<rebound::v1::Notify::Stub> stub;
  ~Served() {
    if (server) server->Shutdown(absl::ToChronoTime(absl::Now()));
  }
};
std::unique_ptr<Served> Serve(NotifyService* service) {
  auto out = std::make_unique<Served>();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  out->server = builder.BuildAndStart();
  if (out->server == nullptr) return nullptr;
  out->stub = rebound::v1::Notify::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  return out;
}

// Watches an instance holds open now.
int service_open(const NotifyService& service) {
  return service.open_watches();
}

class NotifyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string address = testing::RequiredEnv("REBOUND_REDIS_ADDR");
    ASSERT_FALSE(address.empty());
    tenant_ = "t" + absl::StrCat(getpid(), "-",
                                 absl::ToUnixMicros(absl::Now()) % 1000000000);
    options_.redis.address = address;
    options_.corrupt = &prometheus::BuildCounter()
                            .Name("corrupt")
                            .Register(*registry_)
                            .Add({});
    store_ = std::make_unique<SuggestionStore>(options_);
    ASSERT_TRUE(store_->Ping().ok()) << "redis at " << address;
    auto auth = TenantAuth::Parse(tenant_ + ":" + kToken);
    ASSERT_TRUE(auth.ok()) << auth.status();
    service_ = std::make_unique<NotifyService>(options_, *auth, 8, registry_);
    served_ = Serve(service_.get());
    ASSERT_NE(served_, nullptr);
    stub_ = std::move(served_->stub);
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
    return ctx;
  }

  RetrySuggestion Make(const std::string& member, int i,
                       rebound::v1::SuggestionState state =
                           rebound::v1::SUGGESTION_STATE_READY) {
    RetrySuggestion s;
    s.set_tenant_id(tenant_);
    s.set_member_id(member);
    s.set_suggestion_id(absl::StrCat("s", i));
    s.set_recipient_id(absl::StrCat("r", i));
    s.set_request_id(absl::StrCat("q", i));
    s.set_version(1);
    s.set_state(state);
    s.set_should_retry(state != rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY);
    s.mutable_created_at()->set_seconds(1'700'000'000 + i);
    return s;
  }
  void Seed(const std::string& member, int from, int to) {
    std::vector<SuggestionWrite> writes;
    for (int i = from; i < to; ++i) writes.push_back({Make(member, i), {}});
    ASSERT_TRUE(store_->PutBatch(writes).ok());
  }

  rebound::v1::ListSuggestionsRequest ListOf(const std::string& member) {
    rebound::v1::ListSuggestionsRequest req;
    req.set_tenant_id(tenant_);
    req.set_member_id(member);
    return req;
  }
  grpc::Status List(const rebound::v1::ListSuggestionsRequest& req,
                    rebound::v1::ListSuggestionsResponse* resp) {
    return stub_->ListSuggestions(Ctx().get(), req, resp);
  }
  static std::vector<std::string> Ids(
      const rebound::v1::ListSuggestionsResponse& r) {
    std::vector<std::string> out;
    for (const auto& s : r.suggestions()) out.push_back(s.suggestion_id());
    return out;
  }

  std::string tenant_;
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  SuggestionStoreOptions options_;
  std::unique_ptr<SuggestionStore> store_;
  std::unique_ptr<NotifyService> service_;
  std::unique_ptr<Served> served_;
  std::unique_ptr<rebound::v1::Notify::Stub> stub_;
};

TEST_F(NotifyApiTest, PagesNeitherSkipNorRepeatAcrossActionsAndInserts) {
  Seed("m", 0, 6);
  auto req = ListOf("m");
  req.add_states(rebound::v1::SUGGESTION_STATE_READY);
  req.set_page_size(3);
  rebound::v1::ListSuggestionsResponse p1;
  ASSERT_TRUE(List(req, &p1).ok());
  EXPECT_EQ(Ids(p1), (std::vector<std::string>{"s5", "s4", "s3"}));
  ASSERT_FALSE(p1.next_page_token().empty());
  // Acting on an item of page 1 and two new suggestions between the pages.
  rebound::v1::SuggestionActionRequest act;
  act.set_tenant_id(tenant_);
  act.set_member_id("m");
  act.set_suggestion_id("s4");
  RetrySuggestion acted;
  ASSERT_TRUE(stub_->MarkActed(Ctx().get(), act, &acted).ok());
  Seed("m", 10, 12);
  req.set_page_token(p1.next_page_token());
  rebound::v1::ListSuggestionsResponse p2;
  ASSERT_TRUE(List(req, &p2).ok());
  EXPECT_EQ(Ids(p2), (std::vector<std::string>{"s2", "s1", "s0"}));
  EXPECT_TRUE(p2.next_page_token().empty());
  // Unfiltered, page by page: every item once, newest first.
  rebound::v1::ListSuggestionsRequest all;
  all.set_tenant_id(tenant_);
  all.set_member_id("m");
  all.set_page_size(3);
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    rebound::v1::ListSuggestionsResponse r;
    ASSERT_TRUE(List(all, &r).ok());
    for (const auto& id : Ids(r)) seen.push_back(id);
    if (r.next_page_token().empty()) break;
    all.set_page_token(r.next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"s11", "s10", "s5", "s4", "s3",
                                            "s2", "s1", "s0"}));
}

TEST_F(NotifyApiTest, PageTokensAreOpaqueAndBoundToTheirRequest) {
  Seed("m", 0, 4);
  auto req = ListOf("m");
  req.set_page_size(2);
  rebound::v1::ListSuggestionsResponse p1;
  ASSERT_TRUE(List(req, &p1).ok());
  const std::string token = p1.next_page_token();
  ASSERT_FALSE(token.empty());
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {std::string("2"), std::string("3"), std::string("+3"),
        std::string(" 3"), std::string("9223372036854775807"), token + " ",
        " " + token, altered}) {
    req.set_page_token(bad);
    rebound::v1::ListSuggestionsResponse r;
    grpc::Status s = List(req, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("page_token"), std::string::npos);
  }
  // Another member's or another filter's request.
  req.set_page_token(token);
  req.set_member_id("other");
  rebound::v1::ListSuggestionsResponse r;
  EXPECT_EQ(List(req, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_member_id("m");
  req.add_states(rebound::v1::SUGGESTION_STATE_READY);
  EXPECT_EQ(List(req, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NotifyApiTest, UnknownStatesAreInvalidNotAnEmptyList) {
  Seed("m", 0, 2);
  for (int bad : {0, 6, 99, -1}) {
    rebound::v1::ListSuggestionsRequest req;
    req.set_tenant_id(tenant_);
    req.set_member_id("m");
    req.add_states(rebound::v1::SUGGESTION_STATE_READY);
    req.add_states(static_cast<rebound::v1::SuggestionState>(bad));
    rebound::v1::ListSuggestionsResponse r;
    grpc::Status s = List(req, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("states"), std::string::npos)
        << s.error_message();
  }
  // Repeats are answered, up to a bound: a filter of thousands is refused,
  // not scanned for every suggestion.
  rebound::v1::ListSuggestionsRequest rep;
  rep.set_tenant_id(tenant_);
  rep.set_member_id("m");
  for (int i = 0; i < 16; ++i) {
    rep.add_states(rebound::v1::SUGGESTION_STATE_READY);
  }
  rebound::v1::ListSuggestionsResponse r;
  grpc::Status s = List(rep, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.suggestions_size(), 2);
  for (int i = 0; i < 100'000; ++i) {
    rep.add_states(rebound::v1::SUGGESTION_STATE_READY);
  }
  s = List(rep, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("states"), std::string::npos)
      << s.error_message();
}

TEST_F(NotifyApiTest, MarkActedRefusesADoNotRetrySuggestion) {
  RetrySuggestion dnr =
      Make("m", 1, rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY);
  dnr.set_no_retry_reason("reported as spam");
  ASSERT_TRUE(store_->Put(dnr, {}).ok());
  rebound::v1::SuggestionActionRequest act;
  act.set_tenant_id(tenant_);
  act.set_member_id("m");
  act.set_suggestion_id("s1");
  RetrySuggestion got;
  grpc::Status s = stub_->MarkActed(Ctx().get(), act, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  auto stored = store_->Get(tenant_, "m", "s1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->state(), rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY);
  EXPECT_EQ((*stored)->version(), 1);
  // Dismissing it is fine.
  ASSERT_TRUE(stub_->Dismiss(Ctx().get(), act, &got).ok());
  EXPECT_EQ(got.state(), rebound::v1::SUGGESTION_STATE_DISMISSED);
}

TEST_F(NotifyApiTest, MalformedIdsAreFormatErrorsNotPermissionErrors) {
  struct Bad {
    std::string tenant, member, field;
  };
  for (const Bad& b :
       std::vector<Bad>{{"Acme!", "m", "tenant_id"},
                        {"", "m", "tenant_id"},
                        {tenant_, "   ", "member_id"},
                        {tenant_, "\u3000", "member_id"},
                        {tenant_, "a/b", "member_id"},
                        {tenant_, "a\x01", "member_id"},
                        {tenant_, std::string(129, 'x'), "member_id"}}) {
    rebound::v1::ListSuggestionsRequest req;
    req.set_tenant_id(b.tenant);
    req.set_member_id(b.member);
    rebound::v1::ListSuggestionsResponse r;
    grpc::Status s = List(req, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << b.tenant << "/" << b.member << ": " << s.error_message();
    EXPECT_EQ(s.error_message().rfind(b.field + ":", 0), 0u)
        << s.error_message();
    // The same as a google.rpc.BadRequest field violation.
    auto violations = BadRequestViolations(s.error_details());
    ASSERT_EQ(violations.size(), 1u) << b.member;
    EXPECT_EQ(violations[0].first, b.field);
    EXPECT_EQ(b.field + ": " + violations[0].second, s.error_message());
    rebound::v1::GetInsightsRequest ir;
    ir.set_tenant_id(b.tenant);
    ir.set_member_id(b.member);
    rebound::v1::Insights ins;
    EXPECT_EQ(stub_->GetInsights(Ctx().get(), ir, &ins).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A 43-character CJK member id (129 bytes) is a valid id.
  rebound::v1::ListSuggestionsRequest req;
  req.set_tenant_id(tenant_);
  std::string cjk;
  for (int i = 0; i < 43; ++i) cjk += "\u9ad8";
  req.set_member_id(cjk);
  rebound::v1::ListSuggestionsResponse r;
  EXPECT_TRUE(List(req, &r).ok());
}

TEST_F(NotifyApiTest, ResumeTokensMalformedOrAheadAreRefusedAtOnce) {
  Seed("m", 0, 2);
  auto last = store_->LastEntryId(tenant_, "m");
  ASSERT_TRUE(last.ok());
  const std::string ms = last->substr(0, last->find('-'));
  struct Case {
    std::string token;
    grpc::StatusCode code;
  };
  for (const Case& c :
       std::vector<Case>{{*last + " ", grpc::StatusCode::INVALID_ARGUMENT},
                         {"\t" + *last, grpc::StatusCode::INVALID_ARGUMENT},
                         {"abc", grpc::StatusCode::INVALID_ARGUMENT},
                         {"99999999999999-0", grpc::StatusCode::OUT_OF_RANGE},
                         {ms + "-999", grpc::StatusCode::OUT_OF_RANGE}}) {
    rebound::v1::WatchSuggestionsRequest req;
    req.set_tenant_id(tenant_);
    req.set_member_id("m");
    req.set_resume_token(c.token);
    auto ctx = Ctx();
    auto reader = stub_->WatchSuggestions(ctx.get(), req);
    rebound::v1::SuggestionUpdate u;
    EXPECT_FALSE(reader->Read(&u)) << c.token;
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), c.code)
        << "'" << c.token << "': " << s.error_message();
    EXPECT_NE(s.error_message().find("resume_token"), std::string::npos);
  }
  // On an empty stream, a token even a few seconds ahead of Redis's clock
  // was never issued.
  {
    const std::string ahead =
        std::to_string(absl::ToUnixMillis(absl::Now()) + 5'000) + "-0";
    rebound::v1::WatchSuggestionsRequest req;
    req.set_tenant_id(tenant_);
    req.set_member_id("nobody-yet");
    req.set_resume_token(ahead);
    auto ctx = Ctx();
    auto reader = stub_->WatchSuggestions(ctx.get(), req);
    rebound::v1::SuggestionUpdate u;
    EXPECT_FALSE(reader->Read(&u));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  }
  // The newest update's own token is fine: nothing after it yet.
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_);
  req.set_member_id("m");
  req.set_resume_token(*last);
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(800));
  auto reader = stub_->WatchSuggestions(ctx.get(), req);
  rebound::v1::SuggestionUpdate u;
  EXPECT_FALSE(reader->Read(&u));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

// A token whose entry retention has trimmed is refused FAILED_PRECONDITION
// (the updates after it may be gone too: list to resync), not served from
// the oldest kept entry as if nothing was missed; a kept one is served.
TEST_F(NotifyApiTest, ATokenOlderThanTheUpdatesKeptIsRefused) {
  Seed("m", 0, 5);
  auto first = store_->FirstEntryId(tenant_, "m");
  ASSERT_TRUE(first.ok());
  RedisClient redis(options_.redis);
  ASSERT_TRUE(
      redis.Command({"XTRIM", StreamKey(tenant_, "m"), "MAXLEN", "2"}).ok());
  auto kept = store_->FirstEntryId(tenant_, "m");
  ASSERT_TRUE(kept.ok());
  ASSERT_NE(*kept, *first);
  auto watch = [&](const std::string& token, rebound::v1::SuggestionUpdate* u) {
    rebound::v1::WatchSuggestionsRequest req;
    req.set_tenant_id(tenant_);
    req.set_member_id("m");
    req.set_resume_token(token);
    auto ctx = Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(1500));
    auto reader = stub_->WatchSuggestions(ctx.get(), req);
    const bool got = reader->Read(u);
    if (got) ctx->TryCancel();  // Else Finish() has the server's status.
    grpc::Status s = reader->Finish();
    return got ? grpc::Status::OK : s;
  };
  rebound::v1::SuggestionUpdate u;
  grpc::Status old = watch(*first, &u);
  EXPECT_EQ(old.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << old.error_message();
  EXPECT_NE(old.error_message().find("resume_token"), std::string::npos);
  // The oldest kept entry's token: the next one follows.
  ASSERT_TRUE(watch(*kept, &u).ok());
  EXPECT_EQ(u.suggestion().suggestion_id(), "s4");
}

// A watch from now that asks for a start marker gets, before any
// suggestion, an update carrying only the token of where it starts: kept,
// it resumes after a disconnect from there, so what was written while the
// client was away before its first suggestion is not missed. Without the
// field nothing changes: the first update carries a suggestion.
TEST_F(NotifyApiTest, AStartMarkerLetsAWatchFromNowResumeWithoutMissing) {
  Seed("m", 0, 2);
  auto first = [&](const rebound::v1::WatchSuggestionsRequest& req,
                   rebound::v1::SuggestionUpdate* u) {
    auto ctx = Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(1500));
    auto reader = stub_->WatchSuggestions(ctx.get(), req);
    const bool got = reader->Read(u);
    ctx->TryCancel();
    reader->Finish();
    return got;
  };
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_);
  req.set_member_id("m");
  req.set_start_marker(true);
  rebound::v1::SuggestionUpdate marker;
  ASSERT_TRUE(first(req, &marker));
  EXPECT_FALSE(marker.has_suggestion());
  auto last = store_->LastEntryId(tenant_, "m");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(marker.resume_token(), *last);

  Seed("m", 2, 4);  // Written while the client is away.
  rebound::v1::WatchSuggestionsRequest resume;
  resume.set_tenant_id(tenant_);
  resume.set_member_id("m");
  resume.set_resume_token(marker.resume_token());
  auto ctx = Ctx();
  auto reader = stub_->WatchSuggestions(ctx.get(), resume);
  std::vector<std::string> got;
  rebound::v1::SuggestionUpdate u;
  while (got.size() < 2 && reader->Read(&u)) {
    got.push_back(u.suggestion().suggestion_id());
  }
  ctx->TryCancel();
  reader->Finish();
  EXPECT_EQ(got, (std::vector<std::string>{"s2", "s3"}));

  // With a token, the marker is that token; from the beginning, before all.
  resume.set_start_marker(true);
  ASSERT_TRUE(first(resume, &u));
  EXPECT_FALSE(u.has_suggestion());
  EXPECT_EQ(u.resume_token(), marker.resume_token());
  rebound::v1::WatchSuggestionsRequest all;
  all.set_tenant_id(tenant_);
  all.set_member_id("m");
  all.set_from_beginning(true);
  all.set_start_marker(true);
  ASSERT_TRUE(first(all, &u));
  EXPECT_FALSE(u.has_suggestion());
  EXPECT_EQ(u.resume_token(), "0-0");
  // Unasked, the first update is a suggestion.
  all.set_start_marker(false);
  ASSERT_TRUE(first(all, &u));
  EXPECT_EQ(u.suggestion().suggestion_id(), "s0");
}

// One tenant cannot take every watch of an instance: past its own cap it is
// refused RESOURCE_EXHAUSTED while another tenant still gets one; a closed
// watch frees its place.
// A client that opens a watch and then reads nothing: once what flow
// control lets through is in flight and the watch's queue is full, nothing
// moves; after the stall limit the watch is cancelled, its place, thread
// and queue given back (the stalled counter says so), and the client sees
// the stream end once it reads what it was sent.
TEST_F(NotifyApiTest, AWatchWhoseClientStopsReadingIsCancelled) {
  service_->set_watch_stall_limit(absl::Seconds(1));
  // ~12 MB of updates: more than HTTP/2 flow control and the queue hold.
  const std::string padding(4000, 'x');
  for (int m = 0; m < 30; ++m) {
    std::vector<SuggestionWrite> writes;
    for (int i = 0; i < 100; ++i) {
      RetrySuggestion sg = Make(absl::StrCat("m", m), i);
      sg.set_no_retry_reason(padding);
      writes.push_back({sg, {}});
    }
    ASSERT_TRUE(store_->PutBatch(writes).ok());
  }
  rebound::v1::WatchSuggestionsRequest req;
  req.set_tenant_id(tenant_);
  req.set_from_beginning(true);
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(60));
  auto reader = stub_->WatchSuggestions(ctx.get(), req);
  for (int i = 0; i < 100 && service_open(*service_) != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(service_open(*service_), 1);
  for (int i = 0; i < 300 && service_open(*service_) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(service_open(*service_), 0) << "the stalled watch is still open";
  rebound::v1::SuggestionUpdate u;
  int read = 0;
  while (reader->Read(&u)) ++read;
  EXPECT_LT(read, 3000) << "every update was delivered: nothing stalled";
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  double stalled = 0;
  for (const auto& family : registry_->Collect()) {
    if (family.name == "rebound_notify_watches_stalled_total") {
      for (const auto& metric : family.metric) stalled += metric.counter.value;
    }
  }
  EXPECT_EQ(stalled, 1);
}

TEST_F(NotifyApiTest, OneTenantCannotTakeEveryWatch) {
  const std::string other = tenant_ + "-b";
  auto auth = TenantAuth::Parse(tenant_ + ":" + kToken + "," + other +
                                ":token-of-the-other-tenant");
  ASSERT_TRUE(auth.ok()) << auth.status();
  NotifyService service(options_, *auth, /*max_watches=*/4, registry_,
                        /*read_connections=*/2, /*max_watches_per_tenant=*/2);
  auto served = Serve(&service);
  ASSERT_NE(served, nullptr);
  auto& stub = served->stub;
  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<rebound::v1::SuggestionUpdate>> reader;
  };
  auto open = [&](const std::string& tenant, const std::string& token) {
    Watch w;
    w.ctx = std::make_unique<grpc::ClientContext>();
    w.ctx->AddMetadata("authorization", "Bearer " + token);
    w.ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(20));
    rebound::v1::WatchSuggestionsRequest req;
    req.set_tenant_id(tenant);
    w.reader = stub->WatchSuggestions(w.ctx.get(), req);
    return w;
  };
  // A refused watch ends at once; an accepted one stays open.
  auto refused = [](Watch& w) {
    rebound::v1::SuggestionUpdate u;
    EXPECT_FALSE(w.reader->Read(&u));
    grpc::Status s = w.reader->Finish();
    return s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  };
  auto wait_open = [&](int n) {
    for (int i = 0; i < 200 && service_open(service) != n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return service_open(service);
  };
  Watch a1 = open(tenant_, kToken), a2 = open(tenant_, kToken);
  ASSERT_EQ(wait_open(2), 2);
  Watch a3 = open(tenant_, kToken);
  EXPECT_TRUE(refused(a3));
  Watch b1 = open(other, "token-of-the-other-tenant");
  EXPECT_EQ(wait_open(3), 3);
  // Closing one of the first tenant's frees its place.
  a1.ctx->TryCancel();
  (void)a1.reader->Finish();
  ASSERT_EQ(wait_open(2), 2);
  Watch a4 = open(tenant_, kToken);
  EXPECT_EQ(wait_open(3), 3);
  for (Watch* w : {&a2, &b1, &a4}) {
    w->ctx->TryCancel();
    (void)w->reader->Finish();
  }
}

// A token list may hold a token's SHA-256 instead of the token: a client
// presenting the token itself is let in, one presenting the digest is not.
TEST_F(NotifyApiTest, AHashedTokenEntryAdmitsItsToken) {
  auto auth = TenantAuth::Parse(
      tenant_ + ":sha256:" + TenantAuth::TokenDigestHex(kToken));
  ASSERT_TRUE(auth.ok()) << auth.status();
  NotifyService service(options_, *auth, 4, registry_);
  auto served = Serve(&service);
  ASSERT_NE(served, nullptr);
  auto& stub = served->stub;
  auto req = ListOf("m");
  rebound::v1::ListSuggestionsResponse r;
  EXPECT_TRUE(stub->ListSuggestions(Ctx().get(), req, &r).ok());
  grpc::ClientContext digest;
  digest.AddMetadata("authorization",
                     "Bearer " + TenantAuth::TokenDigestHex(kToken));
  EXPECT_EQ(stub->ListSuggestions(&digest, req, &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// Replicas sharing a page-token key accept each other's tokens; a replica
// with another key refuses them.
TEST_F(NotifyApiTest, PageTokensAreSealedWithTheConfiguredKey) {
  Seed("m", 0, 3);
  auto auth = TenantAuth::Parse(tenant_ + ":" + kToken);
  ASSERT_TRUE(auth.ok());
  const std::string key = "a key of at least sixteen bytes";
  NotifyService one(options_, *auth, 4, registry_, 2, 0, key);
  NotifyService two(options_, *auth, 4, registry_, 2, 0, key);
  NotifyService other(options_, *auth, 4, registry_, 2, 0, key + "!");
  auto s1 = Serve(&one), s2 = Serve(&two), s3 = Serve(&other);
  ASSERT_TRUE(s1 && s2 && s3);
  auto req = ListOf("m");
  req.set_page_size(1);
  rebound::v1::ListSuggestionsResponse p1, p2, p3;
  ASSERT_TRUE(s1->stub->ListSuggestions(Ctx().get(), req, &p1).ok());
  req.set_page_token(p1.next_page_token());
  ASSERT_TRUE(s2->stub->ListSuggestions(Ctx().get(), req, &p2).ok());
  ASSERT_EQ(p2.suggestions_size(), 1);
  EXPECT_EQ(p2.suggestions(0).suggestion_id(), "s1");
  EXPECT_EQ(s3->stub->ListSuggestions(Ctx().get(), req, &p3).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NotifyApiTest, TwoAuthorizationHeadersAreRefused) {
  auto req = ListOf("m");
  rebound::v1::ListSuggestionsResponse r;
  auto ctx = Ctx();  // Holds the right token first.
  ctx->AddMetadata("authorization", "Bearer another-token-entirely");
  grpc::Status s = stub_->ListSuggestions(ctx.get(), req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << s.error_message();
}

TEST_F(NotifyApiTest, AStorageFailureNamesNoInternalAddress) {
  // The same API over a Redis that is not there.
  SuggestionStoreOptions down = options_;
  const int port = testing::FreePort();
  down.redis.address = absl::StrCat("127.0.0.1:", port);
  auto auth = TenantAuth::Parse(tenant_ + ":" + kToken);
  ASSERT_TRUE(auth.ok());
  NotifyService service(down, *auth, 8, registry_);
  auto served = Serve(&service);
  ASSERT_NE(served, nullptr);
  auto& stub = served->stub;
  auto req = ListOf("m");
  rebound::v1::ListSuggestionsResponse r;
  grpc::Status s = stub->ListSuggestions(Ctx().get(), req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  rebound::v1::WatchSuggestionsRequest w;
  w.set_tenant_id(tenant_);
  auto ctx = Ctx();
  auto reader = stub->WatchSuggestions(ctx.get(), w);
  rebound::v1::SuggestionUpdate u;
  EXPECT_FALSE(reader->Read(&u));
  grpc::Status ws = reader->Finish();
  EXPECT_EQ(ws.error_code(), grpc::StatusCode::UNAVAILABLE);
  for (const grpc::Status& st : {s, ws}) {
    const std::string& m = st.error_message();
    EXPECT_EQ(m.find("127.0.0.1"), std::string::npos) << m;
    EXPECT_EQ(m.find(std::to_string(port)), std::string::npos) << m;
    EXPECT_EQ(m.find("redis"), std::string::npos) << m;
    EXPECT_NE(m.find("retry"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace rebound::notify
