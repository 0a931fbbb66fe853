// Scoring stopped and destroyed while its producer still holds verdicts:
// they wait in its queue (a long linger; the verdicts topic would refuse
// them anyway), then Kafka stops, so they stay there. The drain gives up at its
// deadline without waiting for Kafka, and the producer's destructor, flushing
// and then failing what is left, reports into a consumer whose members are all
// still alive. scripts/test.sh runs this under AddressSanitizer (build-asan/),
// where a use after free fails it.
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/kafka_admin.h"
#include "common/kafka_publisher.h"
#include "common/pipeline.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "services/scoring/scoring_server.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"

namespace rebound {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// rebound_scoring_verdicts_total summed over reasons.
double VerdictsSent(prometheus::Registry& registry) {
  double sum = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "rebound_scoring_verdicts_total") continue;
    for (const auto& m : family.metric) sum += m.counter.value;
  }
  return sum;
}

TEST(ScoringTeardown, DestroyedWithVerdictsInFlightIsClean) {
  const std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(redis.empty());
  testing::PrivateServer kafka("kafka");
  std::string out;
  ASSERT_TRUE(kafka.Start(&out)) << out;
  const std::string brokers = kafka.brokers();
  const std::string topic = testing::UniqueTopic("it-teardown");
  const std::string tenant = testing::UniqueTopic("t");
  PublisherOptions po;
  po.brokers = brokers;
  auto producer = Publisher::Create(po);
  ASSERT_TRUE(producer.ok()) << producer.status();
  // Every verdict is larger than the verdicts topic takes.
  ASSERT_TRUE(
      EnsureTopics((*producer)->handle(),
                   {{topic, 1, 1},
                    {topic + "-verdicts", 1, 1, {{"max.message.bytes", "64"}}}},
                   seconds(30))
          .ok());
  // A producer refuses records until its first metadata answer (a fresh
  // broker may take a moment: "coordinator load in progress").
  for (int i = 0; i < 300 && !(*producer)->available(); ++i) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE((*producer)->available()) << "kafka at " << brokers;
  auto events = testing::SimulatedStream(tenant, 400, 21);
  size_t declines = 0;
  for (const auto& e : events) {
    declines += e.has_request_declined() || e.has_request_expired();
    ASSERT_TRUE(
        (*producer)
            ->Produce(topic, pipeline::RecordKey(e.tenant_id(), e.sender_id()),
                      e.SerializeAsString(), {}, absl::Now() + absl::Seconds(5),
                      std::unique_ptr<Publisher::PendingRecord>())
            .ok());
  }
  ASSERT_GT(declines, 10u);
  ASSERT_TRUE((*producer)->Flush(seconds(30)).ok());

  scoring::ScoringServerOptions o;
  o.listen = "127.0.0.1:0";
  o.scoring.brokers = brokers;
  o.scoring.group_id = topic;
  o.scoring.events_topic = topic;
  o.scoring.verdicts_topic = topic + "-verdicts";
  o.scoring.dead_letter_topic = topic + "-dlq";
  o.scoring.topic_partitions = 1;
  // Verdicts wait in the producer's queue (a minute's linger), so they are
  // still there when Kafka stops and outlive the drain: only the producer's
  // destructor resolves them.
  o.scoring.publisher.linger_ms = 60'000;
  o.scoring.publisher.message_timeout = seconds(120);
  o.scoring.redis_retry = milliseconds(50);
  o.scoring.drain_timeout = milliseconds(300);
  o.scoring.store.redis.address = redis;
  auto cfg = scoring::LoadClassifierConfig(std::string(REBOUND_SOURCE_DIR) +
                                           "/config/classifier.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto registry = std::make_shared<prometheus::Registry>();
  auto server = scoring::ScoringServer::Start(o, *cfg, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const auto until = std::chrono::steady_clock::now() + seconds(60);
  while (VerdictsSent(*registry) < static_cast<double>(declines) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_EQ(VerdictsSent(*registry), static_cast<double>(declines));
  // None landed: the events before the first decline are all that is done.
  EXPECT_LT((*server)->consumer()->processed(),
            static_cast<int64_t>(events.size()));
  ASSERT_TRUE(kafka.Stop(&out)) << out;
  // The producer's probe notices within a second or two.
  std::this_thread::sleep_for(seconds(3));
  absl::Status drained = (*server)->Shutdown();
  EXPECT_TRUE(absl::IsDeadlineExceeded(drained)) << drained;
  // The consumer and its producer go, with verdicts still queued.
  const auto destroy_start = std::chrono::steady_clock::now();
  server->reset();
  std::cout << "destroyed in "
            << std::chrono::duration_cast<milliseconds>(
                   std::chrono::steady_clock::now() - destroy_start)
                   .count()
            << " ms\n";
}

}  // namespace
}  // namespace rebound
