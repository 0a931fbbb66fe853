// The rebound-ingest binary as operators run it: SIGTERM drains without
// losing an acked event, bad configuration fails fast naming the setting.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_support.h"
#include "tools/ingest_client.h"
#include "tools/sim/event_generator.h"
#include "tools/topic_reader.h"

extern char** environ;

namespace rebound {
namespace {

using std::chrono::seconds;

using testing::Child;
using testing::FreePort;

TEST(IngestProcess, SigtermDuringStreamKeepsEveryAckedEvent) {
  std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  ASSERT_FALSE(brokers.empty());
  std::string topic = testing::UniqueTopic("it-sigterm");
  int port = FreePort();
  Child ingest({REBOUND_INGEST_BIN, "--kafka-brokers=" + brokers,
                "--topic=" + topic, "--topic-partitions=3",
                "--insecure-no-auth", absl::StrCat("--listen=127.0.0.1:", port),
                absl::StrCat("--metrics-listen=127.0.0.1:", FreePort())});
  ASSERT_GT(ingest.pid(), 0);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Ingest", 1, seconds(30)))
      << ingest.Output();

  sim::GeneratorOptions g;
  g.run_id = "sigterm";
  auto events = sim::EventGenerator(g).Next(200'000);
  std::atomic<size_t> answered{0};
  tools::StreamPublishResult result;
  std::thread client([&] {
    tools::StreamPublishOptions o;
    o.batch_size = 100;
    o.window = 8;
    o.progress = [&](size_t done, size_t) { answered.store(done); };
    result = tools::PublishOverStream(channel, events, o);
  });
  // Signal once the stream is well under way.
  auto until = std::chrono::steady_clock::now() + seconds(60);
  while (answered.load() < 5000 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(answered.load(), 5000u) << ingest.Output();
  kill(ingest.pid(), SIGTERM);
  client.join();
  EXPECT_EQ(ingest.Wait(), 0) << ingest.Output();
  EXPECT_LT(result.published, events.size())
      << "the stream finished before SIGTERM; the test proves nothing";

  std::set<std::string> acked;
  for (const auto& r : result.results) {
    if (r.outcome() == rebound::v1::OUTCOME_PUBLISHED)
      acked.insert(r.event_id());
  }
  ASSERT_GT(acked.size(), 0u);
  auto records = tools::ReadTopic(brokers, topic, seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  std::set<std::string> in_kafka;
  for (const auto& rec : *records) {
    EXPECT_TRUE(in_kafka.insert(rec.Header("ce_id")).second)
        << rec.Header("ce_id") << " written twice";
  }
  size_t missing = 0;
  for (const auto& id : acked) missing += in_kafka.count(id) == 0;
  EXPECT_EQ(missing, 0u) << "acked events missing from Kafka";
  std::cout << "acked " << acked.size() << " of " << events.size()
            << " before SIGTERM; " << in_kafka.size() << " in Kafka\n";
}

TEST(IngestProcess, BadConfigNamesTheSetting) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  } cases[] = {
      {{"--kafka-brokers=127.0.0.1:1", "--topic-partitions=zero"},
       "'topic-partitions' (from --topic-partitions): 'zero' is not an "
       "integer"},
      {{"--kafka-brokers=127.0.0.1:1", "--drain-timeout=5 parsecs"},
       "'drain-timeout'"},
      {{}, "REBOUND_KAFKA_BROKERS"},
      {{"--kafka-brokers=127.0.0.1:1", "--no-such-flag=1"},
       "unknown flag --no-such-flag"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {REBOUND_INGEST_BIN};
    args.insert(args.end(), c.args.begin(), c.args.end());
    // Keep the test's own REBOUND_KAFKA_BROKERS out of the child.
    std::string saved =
        getenv("REBOUND_KAFKA_BROKERS") ? getenv("REBOUND_KAFKA_BROKERS") : "";
    unsetenv("REBOUND_KAFKA_BROKERS");
    Child child(args);
    int rc = child.Wait();
    if (!saved.empty()) setenv("REBOUND_KAFKA_BROKERS", saved.c_str(), 1);
    EXPECT_EQ(rc, 2) << child.Output();
    EXPECT_NE(child.Output().find(c.expect), std::string::npos)
        << "want '" << c.expect << "' in: " << child.Output();
  }
  // A misspelt variable would leave its setting at the default: refused.
  setenv("REBOUND_DRAIN_TIMOUT", "1s", 1);
  Child child({REBOUND_INGEST_BIN, "--kafka-brokers=127.0.0.1:1"});
  const int rc = child.Wait();
  unsetenv("REBOUND_DRAIN_TIMOUT");
  EXPECT_EQ(rc, 2) << child.Output();
  EXPECT_NE(child.Output().find("REBOUND_DRAIN_TIMOUT is no setting of this "
                                "program: did you mean REBOUND_DRAIN_TIMEOUT"),
            std::string::npos)
      << child.Output();
}

// All three services read --tenant-tokens the same way: tokens that do not
// parse are a configuration error (exit 2) naming the setting and the
// entry, and the message never shows a token (it ends up in logs).
TEST(AllServices, BadTenantTokensNameTheSettingNotTheToken) {
  const std::string required[] = {"--kafka-brokers=127.0.0.1:1",
                                  "--redis-addr=127.0.0.1:1"};
  struct Case {
    std::string tokens;
    std::string expect;
  } cases[] = {
      {"acme:Zq81", "entry 1 (tenant 'acme'): the token is shorter than 8"},
      {"acme:Zq81Zq81Zq81,beta:Zq81Zq81Zq81",
       "entry 2 (tenant 'beta'): the same token is given for an earlier"},
      {"acme:Zq81Zq81Zq81,Zq81Zq81Zq81", "entry 2 is not tenant:token"},
  };
  for (const char* bin :
       {REBOUND_INGEST_BIN, REBOUND_SCORING_BIN, REBOUND_NOTIFY_BIN}) {
    for (const auto& c : cases) {
      std::vector<std::string> args = {bin, "--tenant-tokens=" + c.tokens};
      // Only the settings each service knows: an unknown flag is an error.
      args.push_back(required[0]);
      if (std::string(bin) != REBOUND_INGEST_BIN) args.push_back(required[1]);
      Child child(args);
      int rc = child.Wait();
      const std::string out = child.Output();
      EXPECT_EQ(rc, 2) << bin << ": " << out;
      EXPECT_NE(out.find("'tenant-tokens' (from --tenant-tokens): " + c.expect),
                std::string::npos)
          << bin << ": " << out;
      EXPECT_EQ(out.find("Zq81"), std::string::npos)
          << bin << " shows a token: " << out;
    }
  }
}

// No service starts without credentials unless told to: an empty token
// list used to mean "no authentication" silently.
TEST(AllServices, RefuseToStartWithoutCredentialsUnlessToldTo) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  } cases[] = {
      {{},
       "'tenant-tokens' (from its default): no credentials: give "
       "--tenant-tokens-file"},
      {{"--tenant-tokens="}, "no credentials"},
      {{"--insecure-no-auth", "--tenant-tokens=acme:Zq81Zq81Zq81"},
       "'insecure-no-auth' (from --insecure-no-auth): given with tenant "
       "tokens"},
      {{"--tls-client-ca=/nonexistent/ca.pem"},
       "'tls-client-ca' (from --tls-client-ca): needs --tls-cert and "
       "--tls-key"},
  };
  for (const char* bin :
       {REBOUND_INGEST_BIN, REBOUND_SCORING_BIN, REBOUND_NOTIFY_BIN}) {
    for (const auto& c : cases) {
      std::vector<std::string> args = {bin, "--kafka-brokers=127.0.0.1:1"};
      if (std::string(bin) != REBOUND_INGEST_BIN) {
        args.push_back("--redis-addr=127.0.0.1:1");
      }
      args.insert(args.end(), c.args.begin(), c.args.end());
      Child child(args);
      int rc = child.Wait();
      const std::string out = child.Output();
      EXPECT_EQ(rc, 2) << bin << ": " << out;
      EXPECT_NE(out.find(c.expect), std::string::npos)
          << bin << ": want '" << c.expect << "' in: " << out;
      EXPECT_EQ(out.find("Zq81"), std::string::npos)
          << bin << " shows a token: " << out;
    }
  }
}

TEST(IngestProcess, TopicThatCannotBeCreatedIsNamed) {
  std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  ASSERT_FALSE(brokers.empty());
  std::string topic = testing::UniqueTopic("it-badtopic");
  Child child({REBOUND_INGEST_BIN, "--kafka-brokers=" + brokers,
               "--topic=" + topic, "--topic-replication=3",
               "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
               "--insecure-no-auth", "--startup-timeout=10s"});
  EXPECT_EQ(child.Wait(), 1) << child.Output();
  EXPECT_NE(child.Output().find("topic '" + topic + "'"), std::string::npos)
      << child.Output();
}

}  // namespace
}  // namespace rebound
