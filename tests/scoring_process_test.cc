// rebound-scoring as operators run it: kill -9 mid-stream, restart, again
// and again; at the end every counter equals what the input implies —
// nothing lost, nothing counted twice. And SIGTERM drains with exit 0.
#include <signal.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_server.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"
#include "tests/toxiproxy.h"
#include "tools/ingest_client.h"

namespace rebound {
namespace {

using std::chrono::seconds;

// rebound_scoring_events_total{outcome="processed"} of a running instance.
int64_t Processed(int metrics_port) {
  return static_cast<int64_t>(testing::ScrapeMetric(
      metrics_port, "rebound_scoring_events_total{outcome=\"processed\"}"));
}

// Publishes `events` through an ingest server into `topic` (`partitions`).
void Publish(const std::string& brokers, const std::string& topic,
             int partitions,
             const std::vector<rebound::v1::ConnectionEvent>& events) {
  ingest::IngestServerOptions o;
  o.listen = "127.0.0.1:0";
  o.publisher.brokers = brokers;
  o.service.topic = topic;
  o.topic_partitions = partitions;
  auto ingest =
      ingest::IngestServer::Start(o, std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  auto r = tools::PublishOverStream(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*ingest)->port()),
                          grpc::InsecureChannelCredentials()),
      events);
  ASSERT_EQ(r.published, events.size()) << r.status.error_message();
}

// rebound-scoring on `topic` (its group named after it), its metrics on
// `metrics_port`.
std::unique_ptr<testing::Child> StartScoring(const std::string& brokers,
                                             const std::string& redis,
                                             const std::string& topic,
                                             int partitions, int metrics_port,
                                             const std::string& log_level) {
  return std::make_unique<testing::Child>(std::vector<std::string>{
      REBOUND_SCORING_BIN, "--kafka-brokers=" + brokers,
      "--redis-addr=" + redis, "--topic=" + topic, "--group-id=" + topic,
      "--verdicts-topic=" + topic + "-v",
      "--dead-letter-topic=" + topic + "-dlq",
      absl::StrCat("--topic-partitions=", partitions), "--listen=127.0.0.1:0",
      "--insecure-no-auth",
      absl::StrCat("--metrics-listen=127.0.0.1:", metrics_port),
      std::string("--classifier-config=") + REBOUND_SOURCE_DIR +
          "/config/classifier.json",
      std::string("--retry-policy=") + REBOUND_SOURCE_DIR +
          "/config/retry_policy.json",
      "--log-level=" + log_level});
}

TEST(ScoringProcess, KillNineMidStreamLosesNothingAndCountsNothingTwice) {
  std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(brokers.empty() || redis.empty());
  std::string topic = testing::UniqueTopic("it-crash");
  std::string tenant = testing::UniqueTopic("t");

  auto events = testing::SimulatedStream(tenant, 30000, 77);
  auto expected = testing::ExpectedCounters(events);
  Publish(brokers, topic, 4, events);
  if (HasFatalFailure()) return;

  auto start = [&](int metrics_port) {
    return StartScoring(brokers, redis, topic, 4, metrics_port, "warn");
  };
  int kills = 0;
  int64_t processed_before_kills = 0;
  for (int round = 0; round < 4; ++round) {
    int port = testing::FreePort();
    auto child = start(port);
    // Let it get well into the stream, then pull the plug.
    auto until = std::chrono::steady_clock::now() + seconds(60);
    int64_t p = -1;
    while (std::chrono::steady_clock::now() < until) {
      p = Processed(port);
      if (p >= 1500) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GE(p, 1500) << "no progress before the kill\n" << child->Output();
    processed_before_kills += p;
    kill(child->pid(), SIGKILL);
    EXPECT_EQ(child->Wait(), -1);
    ++kills;
  }
  EXPECT_EQ(kills, 4);
  // Each killed instance had done part of the work; together they had not
  // necessarily finished: the last one must complete it.
  int port = testing::FreePort();
  auto last = start(port);
  testing::ScoresReader reader(redis);
  EXPECT_TRUE(reader.WaitForCounters(tenant, expected, seconds(180)))
      << reader.last_mismatch() << "\n"
      << last->Output();
  kill(last->pid(), SIGTERM);
  EXPECT_EQ(last->Wait(), 0) << last->Output();
  std::cout << "4 kill -9 rounds processed " << processed_before_kills
            << " events before dying (replays included) of " << events.size()
            << "\n";
}

// A zombie: an instance whose transaction is on its way to Redis (held
// 25 s in a proxy: a slow network, a paused Redis) when it stops (SIGSTOP)
// past its session. Another instance takes its partitions, claims them and
// finishes the stream; then the stale transaction reaches Redis. Without
// the partition fence it would write the stopped instance's old sender
// counts over the new owner's (and count recipients twice); with it, Redis
// refuses it whole, the resumed instance counts it in
// rebound_scoring_fenced_total, and every counter still equals what the
// input implies.
TEST(ScoringProcess, AWriteReachingRedisAfterItsPartitionsMovedIsRefused) {
  std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(brokers.empty() || redis.empty());
  testing::Toxiproxy toxiproxy;
  std::string why;
  ASSERT_TRUE(toxiproxy.Start(&why)) << why;
  const int proxy_port = testing::FreePort();
  ASSERT_TRUE(toxiproxy.AddProxy("redis-zombie", proxy_port, redis));
  const std::string redis_via_proxy = absl::StrCat("127.0.0.1:", proxy_port);

  std::string topic = testing::UniqueTopic("it-zombie");
  std::string tenant = testing::UniqueTopic("t");
  auto events = testing::SimulatedStream(tenant, 30000, 91);
  auto expected = testing::ExpectedCounters(events);
  Publish(brokers, topic, 2, events);
  if (HasFatalFailure()) return;
  auto start = [&](int metrics_port, const std::string& redis_addr) {
    return StartScoring(brokers, redis_addr, topic, 2, metrics_port, "info");
  };
  const int port_a = testing::FreePort();
  auto a = start(port_a, redis_via_proxy);
  const auto until = std::chrono::steady_clock::now() + seconds(90);
  while (std::chrono::steady_clock::now() < until && Processed(port_a) < 3000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(Processed(port_a), 3000) << "no progress\n" << a->Output();
  // What it sends from now on reaches Redis 25 s later; it sends its next
  // transaction within milliseconds (well inside its 2 s command timeout),
  // then stops.
  ASSERT_TRUE(toxiproxy.AddToxic("redis-zombie", "latency",
                                 {{"latency", 25000}, {"jitter", 0}},
                                 {"upstream"}));
  const auto delayed_from = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(a->pid(), SIGSTOP);
  // The next owner gets the partitions once the stopped one's session
  // (10 s) has expired, and finishes the stream.
  const int port_b = testing::FreePort();
  auto b = start(port_b, redis);
  testing::ScoresReader reader(redis);
  EXPECT_TRUE(reader.WaitForCounters(tenant, expected, seconds(120)))
      << reader.last_mismatch() << "\nnext owner:\n"
      << b->Output();
  // The stale transaction lands, then the stopped instance resumes.
  std::this_thread::sleep_until(delayed_from + seconds(27));
  ASSERT_TRUE(toxiproxy.RemoveToxic("redis-zombie", "latency", {"upstream"}));
  kill(a->pid(), SIGCONT);
  const auto fenced_by = std::chrono::steady_clock::now() + seconds(30);
  while (std::chrono::steady_clock::now() < fenced_by &&
         testing::ScrapeMetric(port_a, "rebound_scoring_fenced_total") < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(testing::ScrapeMetric(port_a, "rebound_scoring_fenced_total"), 1)
      << "the stale transaction was not refused\n"
      << a->Output();
  EXPECT_TRUE(reader.WaitForCounters(tenant, expected, seconds(60)))
      << "after the stale transaction: " << reader.last_mismatch()
      << "\nresumed one:\n"
      << a->Output();
  kill(a->pid(), SIGTERM);
  kill(b->pid(), SIGTERM);
  EXPECT_EQ(a->Wait(), 0) << a->Output();
  EXPECT_EQ(b->Wait(), 0) << b->Output();
}

}  // namespace
}  // namespace rebound
