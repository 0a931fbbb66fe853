// The pipeline with network faults between the services and their Kafka and
// Redis: toxiproxy (a Go module the test scripts install, $REBOUND_TOXIPROXY)
// sits in front of a private broker (which advertises the proxy, so every
// client connection goes through it) and a private redis-server, and each
// test injects one fault while a client publishes: added latency, a
// bandwidth limit, connections reset, a timeout that black-holes traffic,
// and kill -9 of the broker followed by a restart. The client behaves as a
// careful integrator's would: batches in order, a batch answered with any
// FAILED event (or not answered) is sent again with the same event ids.
//
// Each test ends with the exact accounting:
// - every event acked PUBLISHED or DUPLICATE is in the events topic exactly
//   once, and nothing else is;
// - each sender's counters in Redis equal what was acked (sent, accepted,
//   declined);
// - a watcher that resumes with its token after every stream end sees each
//   (suggestion id, version) once and every suggestion the acked declines
//   call for;
// - nothing is stuck: both consumer groups' committed offsets reach the end
//   of their topics within a bound after the fault ends.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "services/ingest/ingest_server.h"
#include "services/notify/notify_server.h"
#include "services/scoring/offline_state.h"
#include "services/scoring/score_store.h"
#include "services/scoring/scoring_server.h"
#include "tests/test_support.h"
#include "tests/toxiproxy.h"
#include "tools/sim/event_generator.h"
#include "tools/topic_reader.h"

namespace rebound {
namespace {

using rebound::v1::ConnectionEvent;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "token-fault-tests";

// The servers every test shares: toxiproxy, the broker and Redis behind it.
struct Backends {
  testing::Toxiproxy toxiproxy;
  std::unique_ptr<testing::PrivateServer> kafka, redis;
  int kafka_proxy_port = 0, redis_proxy_port = 0;
  std::string kafka_via_proxy, redis_via_proxy;

  std::string Start() {
    std::string why;
    if (!toxiproxy.Start(&why)) return why;
    const int proxied = testing::FreePort();
    kafka_proxy_port = testing::FreePort();
    if (!toxiproxy.AddProxy("kafka", kafka_proxy_port,
                            absl::StrCat("127.0.0.1:", proxied))) {
      return "toxiproxy refused the kafka proxy";
    }
    kafka = std::make_unique<testing::PrivateServer>(
        "kafka", absl::StrCat("REBOUND_KAFKA_PROXIED_PORT=", proxied,
                              " REBOUND_KAFKA_PROXY_PORT=", kafka_proxy_port));
    std::string out;
    if (!kafka->Start(&out)) return "private Kafka did not start: " + out;
    redis = std::make_unique<testing::PrivateServer>("redis");
    if (!redis->Start(&out)) return "private Redis did not start: " + out;
    redis_proxy_port = testing::FreePort();
    if (!toxiproxy.AddProxy("redis", redis_proxy_port, redis->address())) {
      return "toxiproxy refused the redis proxy";
    }
    kafka_via_proxy = absl::StrCat("127.0.0.1:", kafka_proxy_port);
    redis_via_proxy = absl::StrCat("127.0.0.1:", redis_proxy_port);
    return "";
  }
};

Backends* backends = nullptr;
std::string backends_error;

// What one run of the client saw.
struct Acked {
  std::vector<ConnectionEvent> events;  // Acked, in the order sent.
  int failed_answers = 0;               // FAILED results and failed calls.
  int rejected = 0;
  Clock::duration slowest_call{};
};

class NetworkFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    backends = new Backends;
    backends_error = backends->Start();
  }
  static void TearDownTestSuite() {
    delete backends;
    backends = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(backends_error, "") << "the fault tests' servers did not start";
    prefix_ = testing::UniqueTopic("fault");
    tenant_ = prefix_ + "-t";
    auto auth = TenantAuth::Parse(absl::StrCat(tenant_, ":", kToken));
    ASSERT_TRUE(auth.ok()) << auth.status();
    auto classifier = scoring::LoadClassifierConfig(
        std::string(REBOUND_SOURCE_DIR) + "/config/classifier.json");
    ASSERT_TRUE(classifier.ok()) << classifier.status();
    auto policy = notify::LoadRetryPolicyConfig(
        std::string(REBOUND_SOURCE_DIR) + "/config/retry_policy.json");
    ASSERT_TRUE(policy.ok()) << policy.status();
    classifier_ = *classifier;

    const std::string kafka = backends->kafka_via_proxy;
    const std::string redis = backends->redis_via_proxy;
    ingest::IngestServerOptions io;
    io.listen = "127.0.0.1:0";
    io.publisher.brokers = kafka;
    io.service.topic = prefix_ + "-events";
    io.topic_partitions = 4;
    io.service.auth = *auth;
    auto ing = ingest::IngestServer::Start(
        io, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(ing.ok()) << ing.status();
    ingest_ = std::move(*ing);

    scoring::ScoringServerOptions so;
    so.listen = "127.0.0.1:0";
    so.scoring.brokers = kafka;
    so.scoring.group_id = prefix_ + "-scoring";
    so.scoring.events_topic = prefix_ + "-events";
    so.scoring.verdicts_topic = prefix_ + "-verdicts";
    so.scoring.dead_letter_topic = prefix_ + "-dlq";
    so.scoring.topic_partitions = 4;
    so.scoring.store.redis.address = redis;
    auto sc = scoring::ScoringServer::Start(
        so, classifier_, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(sc.ok()) << sc.status();
    scoring_ = std::move(*sc);

    notify::NotifyServerOptions no;
    no.listen = "127.0.0.1:0";
    no.auth = *auth;
    no.consumer.brokers = kafka;
    no.consumer.group_id = prefix_ + "-notify";
    no.consumer.verdicts_topic = prefix_ + "-verdicts";
    no.consumer.topic_partitions = 4;
    no.consumer.store.redis.address = redis;
    auto n = notify::NotifyServer::Start(
        no, *policy, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(n.ok()) << n.status();
    notify_ = std::move(*n);
  }

  void TearDown() override {
    StopWatcher();
    notify_.reset();
    scoring_.reset();
    ingest_.reset();
  }

  // Simulated events of one tenant: ~`n` events, each request's events
  // consecutive.
  std::vector<ConnectionEvent> Events(int n) const {
    sim::GeneratorOptions g;
    g.seed = std::hash<std::string>()(prefix_);
    g.tenants = 1;
    g.members_per_tenant = 40;
    g.run_id = prefix_;
    g.span = absl::Hours(24 * 7);
    auto events = sim::EventGenerator(g).Next(n);
    for (auto& e : events) e.set_tenant_id(tenant_);
    return events;
  }

  // Publishes `events` in batches of 50, in order, through ingest; a batch
  // with a FAILED event or a failed call is sent again, same ids, after a
  // pause, until every event is acked or `give_up` passes. Paced to at most
  // one batch per 100 ms so the load spans the fault.
  Acked Publish(const std::vector<ConnectionEvent>& events,
                Clock::time_point give_up) {
    Acked acked;
    auto stub = rebound::v1::Ingest::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", ingest_->port()),
                            grpc::InsecureChannelCredentials()));
    for (size_t at = 0; at < events.size() && Clock::now() < give_up;) {
      const auto started = Clock::now();
      rebound::v1::PublishRequest req;
      const size_t end = std::min(events.size(), at + 50);
      for (size_t i = at; i < end; ++i) *req.add_events() = events[i];
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
      ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
      rebound::v1::PublishResponse resp;
      const auto call_started = Clock::now();
      grpc::Status s = stub->Publish(&ctx, req, &resp);
      acked.slowest_call =
          std::max(acked.slowest_call, Clock::now() - call_started);
      bool all = s.ok() && resp.results_size() == req.events_size();
      if (all) {
        for (const auto& r : resp.results()) {
          if (r.outcome() == rebound::v1::OUTCOME_REJECTED) {
            ++acked.rejected;
            ADD_FAILURE() << "REJECTED " << r.event_id() << ": " << r.field()
                          << " " << r.error();
          } else if (r.outcome() != rebound::v1::OUTCOME_PUBLISHED &&
                     r.outcome() != rebound::v1::OUTCOME_DUPLICATE) {
            ++acked.failed_answers;
            all = false;
          }
        }
      } else if (!s.ok()) {
        ++acked.failed_answers;
      }
      if (!all) {
        std::this_thread::sleep_for(milliseconds(300));
        continue;  // The same batch again, same event ids.
      }
      for (size_t i = at; i < end; ++i) acked.events.push_back(events[i]);
      at = end;
      std::this_thread::sleep_for(milliseconds(100) - (Clock::now() - started));
    }
    return acked;
  }

  // A watcher over the whole tenant that reads until stopped, reopening the
  // stream (with its resume token) every 2 s and after any error.
  void StartWatcher() {
    watcher_ = std::thread([this] {
      auto stub = rebound::v1::Notify::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", notify_->port()),
                              grpc::InsecureChannelCredentials()));
      std::string token;
      while (!stop_watch_) {
        rebound::v1::WatchSuggestionsRequest req;
        req.set_tenant_id(tenant_);
        if (token.empty()) {
          req.set_from_beginning(true);
        } else {
          req.set_resume_token(token);
        }
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
        ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
        auto reader = stub->WatchSuggestions(&ctx, req);
        rebound::v1::SuggestionUpdate u;
        while (reader->Read(&u)) {
          std::lock_guard<std::mutex> lock(mu_);
          const auto& s = u.suggestion();
          if (!seen_.insert({s.suggestion_id(), s.version()}).second) {
            repeats_.push_back(
                absl::StrCat(s.suggestion_id(), " v", s.version()));
          }
          token = u.resume_token();
        }
        grpc::Status s = reader->Finish();
        if (!s.ok() && s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
          std::lock_guard<std::mutex> lock(mu_);
          ++watch_errors_;
          // A token the server cannot resume from would loop forever.
          EXPECT_NE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
              << s.error_message();
          EXPECT_NE(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
              << s.error_message();
          std::this_thread::sleep_for(milliseconds(200));
        }
      }
    });
  }

  void StopWatcher() {
    stop_watch_ = true;
    if (watcher_.joinable()) watcher_.join();
  }

  std::set<std::string> SeenIds() {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::string> ids;
    for (const auto& [id, version] : seen_) ids.insert(id);
    return ids;
  }

  // Runs the load with `fault` applied 1 s in and `heal` 6 s later, then
  // checks the accounting. `bound`: how long the pipeline may take to catch
  // up once the fault is healed.
  void RunWithFault(const std::function<void()>& fault,
                    const std::function<void()>& heal,
                    seconds bound = seconds(90)) {
    const auto events = Events(1500);
    StartWatcher();
    std::thread faults([&] {
      std::this_thread::sleep_for(seconds(1));
      fault();
      std::this_thread::sleep_for(seconds(6));
      heal();
    });
    Acked acked = Publish(events, Clock::now() + seconds(150));
    faults.join();
    const auto healed = Clock::now();
    EXPECT_EQ(acked.events.size(), events.size())
        << "the client could not publish everything within its 150 s";
    std::cout
        << "acked " << acked.events.size() << " events; "
        << acked.failed_answers << " FAILED answers or failed calls "
        << "retried with the same ids; slowest call "
        << std::chrono::duration_cast<milliseconds>(acked.slowest_call).count()
        << " ms\n";
    CheckKafka(acked);
    CheckSuggestions(acked, healed + bound);
    CheckCounters(acked);
    CheckLag(healed + bound);
    std::cout << "caught up "
              << std::chrono::duration_cast<milliseconds>(Clock::now() - healed)
                     .count()
              << " ms after the fault ended; watcher errors: " << watch_errors_
              << "\n";
  }

  // Every acked event in the topic exactly once, and nothing else.
  void CheckKafka(const Acked& acked) {
    auto records = tools::ReadTopic(backends->kafka->brokers(),
                                    prefix_ + "-events", milliseconds(30'000));
    ASSERT_TRUE(records.ok()) << records.status();
    std::map<std::string, int> copies;
    for (const auto& r : *records) {
      ConnectionEvent e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      ++copies[e.event_id()];
    }
    for (const auto& e : acked.events) {
      EXPECT_EQ(copies[e.event_id()], 1)
          << "acked event " << e.event_id() << " is in Kafka "
          << copies[e.event_id()] << " times";
    }
    EXPECT_EQ(records->size(), acked.events.size())
        << "the topic holds records no ack accounts for";
  }

  // Every suggestion the acked declines call for reaches the watcher (those
  // the offline replay of the same events classifies), each version once.
  void CheckSuggestions(const Acked& acked, Clock::time_point deadline) {
    scoring::OfflineState state;
    std::set<std::string> expected;
    for (const auto& e : acked.events) {
      if (state.ContextFor(e)) expected.insert(e.event_id());
      state.Apply(e);
    }
    ASSERT_GT(expected.size(), 50u) << "too few declines to tell anything";
    std::set<std::string> missing;
    while (true) {
      const auto ids = SeenIds();
      missing.clear();
      for (const auto& id : expected) {
        if (!ids.contains(id)) missing.insert(id);
      }
      if (missing.empty() || Clock::now() > deadline) break;
      std::this_thread::sleep_for(milliseconds(250));
    }
    EXPECT_TRUE(missing.empty())
        << missing.size() << " of " << expected.size()
        << " suggestions never reached the watcher, e.g. " << *missing.begin();
    StopWatcher();
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_TRUE(repeats_.empty())
        << repeats_.size() << " (suggestion, version) pairs seen twice, e.g. "
        << repeats_.front();
    for (const auto& [id, version] : seen_) {
      EXPECT_TRUE(expected.contains(id) || id.starts_with("stale/"))
          << "a suggestion no acked decline calls for: " << id;
    }
  }

  // Each sender's counters equal the acked events' (read from Redis
  // directly, not through the proxy).
  void CheckCounters(const Acked& acked) {
    struct Want {
      int64_t sent = 0, accepted = 0, declined = 0;
    };
    std::map<std::string, Want> want;
    for (const auto& e : acked.events) {
      Want& w = want[e.sender_id()];
      w.sent += e.has_request_sent();
      w.accepted += e.has_request_accepted();
      w.declined += e.has_request_declined();
    }
    scoring::ScoreStoreOptions so;
    so.redis.address = backends->redis->address();
    scoring::ScoreStore store(so);
    for (const auto& [sender, w] : want) {
      auto got = store.GetMemberScores(tenant_, sender);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->as_sender().sent(), w.sent) << sender;
      EXPECT_EQ(got->as_sender().accepted(), w.accepted) << sender;
      EXPECT_EQ(got->as_sender().declined(), w.declined) << sender;
    }
  }

  // Both consumer groups have committed the end of their topic.
  void CheckLag(Clock::time_point deadline) {
    const std::string brokers = backends->kafka->brokers();
    for (const auto& [group, topic] :
         {std::pair(prefix_ + "-scoring", prefix_ + "-events"),
          std::pair(prefix_ + "-notify", prefix_ + "-verdicts")}) {
      auto records = tools::ReadTopic(brokers, topic, milliseconds(30'000));
      ASSERT_TRUE(records.ok()) << records.status();
      std::map<int32_t, int64_t> end;
      for (const auto& r : *records) {
        end[r.partition] = std::max(end[r.partition], r.offset + 1);
      }
      for (const auto& [partition, high] : end) {
        int64_t committed = -1;
        while (true) {
          committed =
              testing::CommittedOffset(brokers, group, topic, partition);
          if (committed >= high || Clock::now() > deadline) break;
          std::this_thread::sleep_for(milliseconds(500));
        }
        EXPECT_GE(committed, high)
            << group << " is stuck on " << topic << "[" << partition
            << "]: committed " << committed << " of " << high;
      }
    }
  }

  testing::Toxiproxy& proxy() { return backends->toxiproxy; }

  std::string prefix_, tenant_;
  scoring::ClassifierConfig classifier_;
  std::unique_ptr<ingest::IngestServer> ingest_;
  std::unique_ptr<scoring::ScoringServer> scoring_;
  std::unique_ptr<notify::NotifyServer> notify_;
  std::thread watcher_;
  std::atomic<bool> stop_watch_{false};
  std::mutex mu_;
  std::set<std::pair<std::string, int64_t>> seen_;
  std::vector<std::string> repeats_;
  int watch_errors_ = 0;
};

TEST_F(NetworkFaults, LatencyOnKafkaAndRedis) {
  const nlohmann::json slow = {{"latency", 250}, {"jitter", 100}};
  RunWithFault(
      [&] {
        ASSERT_TRUE(proxy().AddToxic("kafka", "latency", slow));
        ASSERT_TRUE(proxy().AddToxic("redis", "latency", slow));
      },
      [&] {
        ASSERT_TRUE(proxy().RemoveToxic("kafka", "latency"));
        ASSERT_TRUE(proxy().RemoveToxic("redis", "latency"));
      });
}

TEST_F(NetworkFaults, BandwidthLimitOnKafkaAndRedis) {
  const nlohmann::json narrow = {{"rate", 32}};  // KB/s each way.
  RunWithFault(
      [&] {
        ASSERT_TRUE(proxy().AddToxic("kafka", "bandwidth", narrow));
        ASSERT_TRUE(proxy().AddToxic("redis", "bandwidth", narrow));
      },
      [&] {
        ASSERT_TRUE(proxy().RemoveToxic("kafka", "bandwidth"));
        ASSERT_TRUE(proxy().RemoveToxic("redis", "bandwidth"));
      });
}

TEST_F(NetworkFaults, ConnectionsResetToKafkaAndRedis) {
  // Every connection, old or new, is reset 300 ms after data flows.
  const nlohmann::json reset = {{"timeout", 300}};
  RunWithFault(
      [&] {
        ASSERT_TRUE(proxy().AddToxic("kafka", "reset_peer", reset));
        ASSERT_TRUE(proxy().AddToxic("redis", "reset_peer", reset));
      },
      [&] {
        ASSERT_TRUE(proxy().RemoveToxic("kafka", "reset_peer"));
        ASSERT_TRUE(proxy().RemoveToxic("redis", "reset_peer"));
      });
}

TEST_F(NetworkFaults, BlackHoledKafkaAndRedis) {
  // timeout 0: nothing gets through and no connection is closed until the
  // toxic goes; only the clients' own timeouts can notice.
  const nlohmann::json hole = {{"timeout", 0}};
  RunWithFault(
      [&] {
        ASSERT_TRUE(proxy().AddToxic("kafka", "timeout", hole));
        ASSERT_TRUE(proxy().AddToxic("redis", "timeout", hole));
      },
      [&] {
        ASSERT_TRUE(proxy().RemoveToxic("kafka", "timeout"));
        ASSERT_TRUE(proxy().RemoveToxic("redis", "timeout"));
      });
}

TEST_F(NetworkFaults, BrokerKilledUnderLoadAndRestarted) {
  RunWithFault([&] { ASSERT_TRUE(backends->kafka->Kill9()); },
               [&] {
                 std::string out;
                 ASSERT_TRUE(backends->kafka->Start(&out)) << out;
               });
}

}  // namespace
}  // namespace rebound
