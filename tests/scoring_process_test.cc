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
#include "tools/ingest_client.h"

namespace rebound {
namespace {

using std::chrono::seconds;

// rebound_scoring_events_total{outcome="processed"} of a running instance.
int64_t Processed(int metrics_port) {
  std::string out;
  testing::RunCommand(
      absl::StrCat("curl -s 127.0.0.1:", metrics_port, "/metrics"), &out);
  const std::string key =
      "rebound_scoring_events_total{outcome=\"processed\"} ";
  auto pos = out.find(key);
  if (pos == std::string::npos) return -1;
  double v = 0;
  (void)absl::SimpleAtod(
      out.substr(pos + key.size(), out.find('\n', pos) - pos - key.size()), &v);
  return static_cast<int64_t>(v);
}

TEST(ScoringProcess, KillNineMidStreamLosesNothingAndCountsNothingTwice) {
  std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(brokers.empty() || redis.empty());
  std::string topic = testing::UniqueTopic("it-crash");
  std::string tenant = testing::UniqueTopic("t");

  auto events = testing::SimulatedStream(tenant, 30000, 77);
  auto expected = testing::ExpectedCounters(events);
  {
    ingest::IngestServerOptions o;
    o.listen = "127.0.0.1:0";
    o.publisher.brokers = brokers;
    o.service.topic = topic;
    o.topic_partitions = 4;
    auto ingest = ingest::IngestServer::Start(
        o, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(ingest.ok()) << ingest.status();
    auto r = tools::PublishOverStream(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*ingest)->port()),
                            grpc::InsecureChannelCredentials()),
        events);
    ASSERT_EQ(r.published, events.size()) << r.status.error_message();
  }

  auto start = [&](int metrics_port) {
    return std::make_unique<testing::Child>(std::vector<std::string>{
        REBOUND_SCORING_BIN, "--kafka-brokers=" + brokers,
        "--redis-addr=" + redis, "--topic=" + topic, "--group-id=" + topic,
        "--verdicts-topic=" + topic + "-v",
        "--dead-letter-topic=" + topic + "-dlq", "--topic-partitions=4",
        "--listen=127.0.0.1:0", "--insecure-no-auth",
        absl::StrCat("--metrics-listen=127.0.0.1:", metrics_port),
        std::string("--classifier-config=") + REBOUND_SOURCE_DIR +
            "/config/classifier.json",
        std::string("--retry-policy=") + REBOUND_SOURCE_DIR +
            "/config/retry_policy.json",
        "--log-level=warn"});
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

}  // namespace
}  // namespace rebound
