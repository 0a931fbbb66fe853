// Every service's failure paths as an operator meets them, on the real
// binaries: a start that cannot succeed exits 1 with one line naming the
// cause (never a crash), health goes NOT_SERVING while Kafka is down or a
// consumer's topic is gone, and SIGTERM during a Kafka outage still ends
// within Kubernetes' grace period.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka_admin.h"
#include "common/kafka_publisher.h"
#include "gtest/gtest.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"
#include "tools/ingest_client.h"
#include "tools/topic_reader.h"

namespace rebound {
namespace {

using std::chrono::seconds;
using testing::Child;
using testing::FreePort;

struct Service {
  std::string name;                 // "scoring"
  std::string bin;                  // Path of the binary.
  std::string health;               // gRPC health service name.
  bool uses_redis = false;          // Takes --redis-addr.
  std::vector<std::string> config;  // Its config file settings, if any.
  // Takes --topic (the events topic; notify reads only the verdicts').
  bool reads_events = true;
};

std::vector<Service> AllServices() {
  const std::string src = REBOUND_SOURCE_DIR;
  const std::string policy =
      "--retry-policy=" + src + "/config/retry_policy.json";
  return {{"ingest", REBOUND_INGEST_BIN, "rebound.v1.Ingest", false, {}},
          {"scoring",
           REBOUND_SCORING_BIN,
           "rebound.v1.Scoring",
           true,
           {"--classifier-config=" + src + "/config/classifier.json", policy}},
          {"notify",
           REBOUND_NOTIFY_BIN,
           "rebound.v1.Notify",
           true,
           {policy},
           false}};
}

// The lines of `out` that report a failed start.
std::vector<std::string> CannotStartLines(const std::string& out) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (line.find("\"cannot start\"") != absl::string_view::npos)
      lines.emplace_back(line);
  }
  return lines;
}

// A loopback TCP port held open (listening) for as long as this lives;
// with `reuse_port`, as a server that lets others share it (SO_REUSEPORT,
// what gRPC servers do by default) holds it.
class HeldPort {
 public:
  explicit HeldPort(bool reuse_port = false) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int yes = 1;
    if (reuse_port)
      setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof(yes));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        listen(fd_, 1) == 0) {
      socklen_t len = sizeof(a);
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
  }
  ~HeldPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(AllServices, AFailedStartExitsOneWithOneLineNamingTheCause) {
  const std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  const std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(brokers.empty() || redis.empty());
  HeldPort taken;
  ASSERT_GT(taken.port(), 0);
  // Another server on the port, one that would share it: the service must
  // not start beside it and take a share of its clients.
  HeldPort shared(/*reuse_port=*/true);
  ASSERT_GT(shared.port(), 0);
  const std::string topic = testing::UniqueTopic("it-start");
  struct Case {
    std::string what;
    std::vector<std::string> args;
    std::string expect;  // In the one "cannot start" line.
    bool redis_only = false;
  };
  const std::vector<Case> cases = {
      {"bad TLS file",
       {"--kafka-brokers=" + brokers, "--tls-cert=/nonexistent/rebound.pem",
        "--tls-key=/nonexistent/rebound.key"},
       "setting 'tls-cert': cannot read '/nonexistent/rebound.pem'"},
      {"Kafka unreachable",
       {"--kafka-brokers=127.0.0.1:1"},
       "kafka at 127.0.0.1:1"},
      {"port taken",
       {"--kafka-brokers=" + brokers,
        absl::StrCat("--listen=127.0.0.1:", taken.port())},
       absl::StrCat("cannot listen on '127.0.0.1:", taken.port(), "'")},
      {"port served by a server that shares it",
       {"--kafka-brokers=" + brokers,
        absl::StrCat("--listen=127.0.0.1:", shared.port())},
       absl::StrCat("cannot listen on '127.0.0.1:", shared.port(), "'")},
      {"health port shared",
       {"--kafka-brokers=" + brokers,
        absl::StrCat("--health-listen=127.0.0.1:", shared.port())},
       absl::StrCat("cannot listen on '127.0.0.1:", shared.port(),
                    "' (health port)")},
      {"health port taken",
       {"--kafka-brokers=" + brokers,
        absl::StrCat("--health-listen=127.0.0.1:", taken.port())},
       absl::StrCat("cannot listen on '127.0.0.1:", taken.port(),
                    "' (health port)")},
      {"Redis unreachable",
       {"--kafka-brokers=" + brokers, "--redis-addr=127.0.0.1:1"},
       "redis at 127.0.0.1:1 did not answer within 3s",
       true},
  };
  for (const Service& svc : AllServices()) {
    for (const Case& c : cases) {
      if (c.redis_only && !svc.uses_redis) continue;
      std::vector<std::string> args = {
          svc.bin, "--startup-timeout=3s", "--insecure-no-auth",
          absl::StrCat("--metrics-listen=127.0.0.1:", FreePort())};
      if (svc.reads_events) args.push_back("--topic=" + topic);
      bool has_listen = false;
      bool has_redis = false;
      for (const auto& a : c.args) {
        has_listen = has_listen || a.rfind("--listen=", 0) == 0;
        has_redis = has_redis || a.rfind("--redis-addr=", 0) == 0;
        args.push_back(a);
      }
      if (!has_listen) args.push_back("--listen=127.0.0.1:0");
      args.insert(args.end(), svc.config.begin(), svc.config.end());
      if (svc.uses_redis && !has_redis) args.push_back("--redis-addr=" + redis);
      Child child(args);
      // A service that started after all runs until killed at the limit.
      const int rc = child.Wait(std::chrono::seconds(60));
      const std::string out = child.Output();
      EXPECT_EQ(rc, 1) << svc.name << ", " << c.what
                       << (rc == -1 ? " (killed by a signal, or still running "
                                      "after 60 s)"
                                    : "")
                       << ":\n"
                       << out;
      const auto lines = CannotStartLines(out);
      ASSERT_EQ(lines.size(), 1u) << svc.name << ", " << c.what << ":\n" << out;
      EXPECT_NE(lines[0].find(c.expect), std::string::npos)
          << svc.name << ", " << c.what << ": want '" << c.expect
          << "' in: " << lines[0];
    }
  }
}

// A SIGTERM while a service is still starting (here: waiting up to a minute
// for a Kafka that does not answer) ends it at once, exit 1, with one line
// saying so; a --shutdown-limit shorter than the stop its drain settings
// allow is a configuration error (exit 2) naming the setting.
TEST(AllServices, ASignalDuringStartUpEndsItAtOnce) {
  for (const Service& svc : AllServices()) {
    std::vector<std::string> args = {
        svc.bin,
        "--kafka-brokers=127.0.0.1:1",
        "--startup-timeout=60s",
        "--insecure-no-auth",
        "--listen=127.0.0.1:0",
        absl::StrCat("--metrics-listen=127.0.0.1:", FreePort())};
    args.insert(args.end(), svc.config.begin(), svc.config.end());
    if (svc.uses_redis) args.push_back("--redis-addr=127.0.0.1:1");
    Child child(args);
    // The start has begun once the port's security is logged.
    const auto began = std::chrono::steady_clock::now();
    while (child.Output().find("\"authentication\"") == std::string::npos &&
           std::chrono::steady_clock::now() - began < seconds(20)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_NE(child.Output().find("\"authentication\""), std::string::npos)
        << svc.name << " never began its start:\n"
        << child.Output();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(child.pid(), SIGTERM);
    const auto signalled = std::chrono::steady_clock::now();
    const int rc = child.Wait();
    const auto took = std::chrono::steady_clock::now() - signalled;
    const std::string out = child.Output();
    EXPECT_EQ(rc, 1) << svc.name << (rc == -1 ? " (killed by a signal)" : "")
                     << ":\n"
                     << out;
    EXPECT_LT(took, seconds(10)) << svc.name << " sat out its start-up wait";
    const auto lines = CannotStartLines(out);
    ASSERT_EQ(lines.size(), 1u) << svc.name << ":\n" << out;
    EXPECT_NE(lines[0].find("stopped by signal 15 during start-up"),
              std::string::npos)
        << lines[0];
  }
  for (const Service& svc : AllServices()) {
    if (svc.name == "notify") continue;  // No drain setting of its own.
    std::vector<std::string> args = {svc.bin, "--kafka-brokers=127.0.0.1:1",
                                     "--drain-timeout=15s",
                                     "--shutdown-limit=25s"};
    args.insert(args.end(), svc.config.begin(), svc.config.end());
    Child child(args);
    EXPECT_EQ(child.Wait(), 2) << svc.name << ":\n" << child.Output();
    EXPECT_NE(child.Output().find("shutdown-limit"), std::string::npos)
        << child.Output();
  }
}

// Kafka stopped under all three services: each reports NOT_SERVING, and a
// SIGTERM then ends each within the 30 s Kubernetes grants
// (terminationGracePeriodSeconds), by its own exit, not a kill.
TEST(AllServices, SigtermDuringAKafkaOutageEndsWithinTheGracePeriod) {
  const std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(redis.empty());
  testing::PrivateServer kafka("kafka");
  std::string out;
  ASSERT_TRUE(kafka.Start(&out)) << out;
  const std::string topic = testing::UniqueTopic("it-outage");
  struct Running {
    Service svc;
    int port = 0, metrics = 0;
    std::unique_ptr<Child> child;
    std::shared_ptr<grpc::Channel> channel;
  };
  std::vector<Running> running;
  for (const Service& svc : AllServices()) {
    Running r;
    r.svc = svc;
    r.port = FreePort();
    r.metrics = FreePort();
    std::vector<std::string> args = {
        svc.bin,
        "--kafka-brokers=" + kafka.brokers(),
        "--topic-partitions=2",
        absl::StrCat("--listen=127.0.0.1:", r.port),
        absl::StrCat("--metrics-listen=127.0.0.1:", r.metrics),
        "--insecure-no-auth"};
    if (svc.reads_events) args.push_back("--topic=" + topic);
    args.insert(args.end(), svc.config.begin(), svc.config.end());
    if (svc.uses_redis) {
      args.push_back("--redis-addr=" + redis);
      args.push_back("--group-id=" + topic + "-" + svc.name);
      args.push_back("--verdicts-topic=" + topic + "-verdicts");
    }
    r.child = std::make_unique<Child>(args);
    r.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", r.port),
                                    grpc::InsecureChannelCredentials());
    running.push_back(std::move(r));
  }
  for (auto& r : running) {
    ASSERT_TRUE(testing::WaitForHealth(r.channel, r.svc.health, 1, seconds(60)))
        << r.svc.name << " never SERVING:\n"
        << r.child->Output();
  }
  // Work in flight: events through ingest, verdicts out of scoring.
  const std::string tenant = testing::UniqueTopic("t");
  auto published = tools::PublishOverStream(
      running[0].channel, testing::SimulatedStream(tenant, 300, 3));
  ASSERT_TRUE(published.status.ok()) << published.status.error_message();

  ASSERT_TRUE(kafka.Stop(&out)) << out;
  for (auto& r : running) {
    EXPECT_TRUE(testing::WaitForHealth(r.channel, r.svc.health, 2, seconds(30)))
        << r.svc.name << " stayed SERVING with Kafka stopped:\n"
        << r.child->Output();
    // The gauge the alerts read says so too.
    const std::string gauge = r.svc.name == "ingest"
                                  ? "rebound_ingest_kafka_available"
                                  : "rebound_" + r.svc.name + "_kafka_up";
    const auto until = std::chrono::steady_clock::now() + seconds(15);
    while (testing::ScrapeMetric(r.metrics, gauge) != 0 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(testing::ScrapeMetric(r.metrics, gauge), 0)
        << r.svc.name << ": " << gauge << " with Kafka stopped";
  }
  for (auto& r : running) kill(r.child->pid(), SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  for (auto& r : running) {
    // A child still running 30 s after the signal is killed, which then
    // shows as "killed by a signal".
    const int rc = r.child->WaitUntil(signalled + seconds(30));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - signalled);
    EXPECT_NE(rc, -1) << r.svc.name << " did not end within 30 s of SIGTERM:\n"
                      << r.child->Output();
    EXPECT_NE(r.child->Output().find("signal received, draining"),
              std::string::npos)
        << r.child->Output();
    std::cout << r.svc.name << ": exit " << rc << " " << took.count()
              << " ms after SIGTERM\n";
  }
}

// The topic a consumer reads is deleted while it runs (Kafka itself still
// answers): its consumers report NOT_SERVING, as they cannot consume, and
// SERVING again once the topic is back, consuming what is published then.
// First the events topic under scoring (whose producer does not write it,
// so only the consumer can tell), then the verdicts topic under three
// notify replicas of two partitions (one holds none: only its probe can
// tell the topic is back).
TEST(AllServices, ADeletedTopicTurnsItsConsumerNotServingUntilItIsBack) {
  const std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  const std::string redis = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(brokers.empty() || redis.empty());
  const std::string topic = testing::UniqueTopic("it-deleted");
  const std::string verdicts = topic + "-verdicts";
  struct Running {
    Service svc;
    std::unique_ptr<Child> child;
    std::shared_ptr<grpc::Channel> channel;
  };
  std::vector<Running> running;  // Scoring, then three notify.
  for (const Service& svc : AllServices()) {
    if (!svc.uses_redis) continue;  // Ingest reads no topic.
    for (int i = 0; i < (svc.reads_events ? 1 : 3); ++i) {
      Running r;
      r.svc = svc;
      const int port = FreePort();
      std::vector<std::string> args = {
          svc.bin,
          "--kafka-brokers=" + brokers,
          "--topic-partitions=2",
          absl::StrCat("--listen=127.0.0.1:", port),
          absl::StrCat("--metrics-listen=127.0.0.1:", FreePort()),
          "--insecure-no-auth",
          "--redis-addr=" + redis,
          "--group-id=" + topic + "-" + svc.name,
          "--verdicts-topic=" + verdicts};
      if (svc.reads_events) args.push_back("--topic=" + topic);
      args.insert(args.end(), svc.config.begin(), svc.config.end());
      r.child = std::make_unique<Child>(args);
      r.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                      grpc::InsecureChannelCredentials());
      running.push_back(std::move(r));
    }
  }
  ASSERT_EQ(running.size(), 4u);
  for (auto& r : running) {
    ASSERT_TRUE(testing::WaitForHealth(r.channel, r.svc.health, 1, seconds(60)))
        << r.svc.name << " never SERVING:\n"
        << r.child->Output();
  }
  PublisherOptions po;
  po.brokers = brokers;
  auto admin = Publisher::Create(po);
  ASSERT_TRUE(admin.ok()) << admin.status();
  // Deletes `t`, expects `readers` NOT_SERVING for it, makes it again,
  // expects every instance SERVING.
  auto cycle = [&](const std::string& t, size_t from, size_t to) {
    ASSERT_TRUE(DeleteTopics((*admin)->handle(), {t}, seconds(30)).ok());
    for (size_t i = from; i < to; ++i) {
      auto& r = running[i];
      EXPECT_TRUE(
          testing::WaitForHealth(r.channel, r.svc.health, 2, seconds(60)))
          << r.svc.name << " " << i << " stayed SERVING with " << t
          << " deleted:\n"
          << r.child->Output();
      EXPECT_NE(r.child->Output().find("cannot consume"), std::string::npos)
          << r.child->Output();
    }
    ASSERT_TRUE(
        EnsureTopics((*admin)->handle(), {{t, 2, 1}}, seconds(30)).ok());
    for (auto& r : running) {
      EXPECT_TRUE(
          testing::WaitForHealth(r.channel, r.svc.health, 1, seconds(60)))
          << r.svc.name << " not SERVING with " << t << " back:\n"
          << r.child->Output();
    }
  };
  cycle(topic, 0, 1);
  cycle(verdicts, 1, 4);
  // And they consume again: events through ingest are scored, and their
  // verdicts reach notify (both groups commit offsets on the new topics).
  const int ingest_port = FreePort();
  Child ingest({REBOUND_INGEST_BIN, "--kafka-brokers=" + brokers,
                "--topic=" + topic, "--insecure-no-auth",
                absl::StrCat("--listen=127.0.0.1:", ingest_port),
                absl::StrCat("--metrics-listen=127.0.0.1:", FreePort())});
  auto ingest_channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", ingest_port),
                          grpc::InsecureChannelCredentials());
  ASSERT_TRUE(testing::WaitForHealth(ingest_channel, "rebound.v1.Ingest", 1,
                                     seconds(60)))
      << ingest.Output();
  auto published = tools::PublishOverStream(
      ingest_channel,
      testing::SimulatedStream(testing::UniqueTopic("t"), 200, 5));
  ASSERT_TRUE(published.status.ok()) << published.status.error_message();
  ASSERT_GT(published.published, 0u);
  auto consumed = [&](const std::string& group, const std::string& t) {
    for (auto until = std::chrono::steady_clock::now() + seconds(60);
         std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(std::chrono::milliseconds(500))) {
      for (int32_t p = 0; p < 2; ++p) {
        if (testing::CommittedOffset(brokers, group, t, p) > 0) return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(consumed(topic + "-scoring", topic))
      << running[0].child->Output();
  EXPECT_TRUE(consumed(topic + "-notify", verdicts))
      << running[1].child->Output();
  kill(ingest.pid(), SIGTERM);
  ingest.Wait();
  for (auto& r : running) kill(r.child->pid(), SIGTERM);
  for (auto& r : running) EXPECT_EQ(r.child->Wait(), 0) << r.child->Output();
  (void)DeleteTopics((*admin)->handle(), {topic, verdicts}, seconds(30));
}

std::string WriteSecretFile(const std::string& text) {
  char tmpl[] = "/tmp/rebound-secret-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return "";
  const ssize_t wrote = write(fd, text.data(), text.size());
  close(fd);
  return wrote == static_cast<ssize_t>(text.size()) ? tmpl : "";
}

// Redis with ACLs (default user off, one user "rebound"): scoring and notify
// connect with --redis-user and --redis-password-file; without credentials
// or with a wrong password they refuse to start, one line naming why (a
// wrong password at once) and never the password.
TEST(AllServices, RedisCredentialsFromAnAclUser) {
  const std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  ASSERT_FALSE(brokers.empty());
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  const std::string port =
      redis.address().substr(redis.address().rfind(':') + 1);
  const std::string password = "pw-Zq81Zq81Zq81";
  ASSERT_EQ(testing::RunCommand("redis-cli -p " + port +
                                    " ACL SETUSER rebound on '>" + password +
                                    "' '~*' '&*' '+@all' && redis-cli -p " +
                                    port + " ACL SETUSER default off",
                                &out),
            0)
      << out;
  const std::string good = WriteSecretFile(password + "\n");
  const std::string bad = WriteSecretFile("pw-not-this-one\n");
  ASSERT_FALSE(good.empty() || bad.empty());
  const std::string topic = testing::UniqueTopic("it-redis-acl");
  for (const Service& svc : AllServices()) {
    if (!svc.uses_redis) continue;
    auto run = [&](std::vector<std::string> creds, int port) {
      std::vector<std::string> args = {
          svc.bin,
          "--kafka-brokers=" + brokers,
          "--redis-addr=" + redis.address(),
          "--startup-timeout=5s",
          "--insecure-no-auth",
          absl::StrCat("--listen=127.0.0.1:", port),
          absl::StrCat("--metrics-listen=127.0.0.1:", FreePort()),
          "--group-id=" + topic + "-" + svc.name,
          "--verdicts-topic=" + topic + "-verdicts"};
      if (svc.reads_events) args.push_back("--topic=" + topic);
      args.insert(args.end(), svc.config.begin(), svc.config.end());
      args.insert(args.end(), creds.begin(), creds.end());
      return std::make_unique<Child>(args);
    };
    {
      const int port = FreePort();
      auto child =
          run({"--redis-user=rebound", "--redis-password-file=" + good}, port);
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials());
      EXPECT_TRUE(testing::WaitForHealth(channel, svc.health, 1, seconds(60)))
          << svc.name << " never SERVING with the ACL user:\n"
          << child->Output();
      kill(child->pid(), SIGTERM);
      child->Wait();
    }
    {
      auto child = run({}, FreePort());
      EXPECT_EQ(child->Wait(), 1) << child->Output();
      const auto lines = CannotStartLines(child->Output());
      ASSERT_EQ(lines.size(), 1u) << child->Output();
      EXPECT_NE(lines[0].find("NOAUTH"), std::string::npos) << lines[0];
    }
    {
      const auto started = std::chrono::steady_clock::now();
      auto child = run({"--redis-user=rebound", "--redis-password-file=" + bad},
                       FreePort());
      EXPECT_EQ(child->Wait(), 1) << child->Output();
      const auto lines = CannotStartLines(child->Output());
      ASSERT_EQ(lines.size(), 1u) << child->Output();
      EXPECT_NE(lines[0].find("AUTH refused (user 'rebound'): WRONGPASS"),
                std::string::npos)
          << lines[0];
      EXPECT_EQ(child->Output().find("pw-not-this-one"), std::string::npos)
          << "the password is shown: " << child->Output();
      // Refused credentials are not waited on for --startup-timeout.
      EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
    }
  }
  unlink(good.c_str());
  unlink(bad.c_str());
}

// A broker that requires SASL (PLAIN over a SASL_PLAINTEXT listener):
// ingest reaches it with --kafka-config-file and publishes; with a wrong
// password it refuses to start, one line, the password nowhere.
TEST(AllServices, KafkaSaslSettingsPassedThrough) {
  const int sasl_port = FreePort();
  const std::string password = "kpw-Zq81Zq81Zq81";
  testing::PrivateServer kafka(
      "kafka", absl::StrCat("REBOUND_KAFKA_SASL_PORT=", sasl_port,
                            " REBOUND_KAFKA_SASL_PASSWORD=", password));
  std::string out;
  ASSERT_TRUE(kafka.Start(&out)) << out;
  auto config = [](const std::string& pw) {
    return WriteSecretFile(
        "# SASL/PLAIN towards the test broker\n"
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.username=rebound\nsasl.password=" +
        pw + "\n");
  };
  const std::string good = config(password), bad = config("kpw-not-this-one");
  ASSERT_FALSE(good.empty() || bad.empty());
  const std::string topic = testing::UniqueTopic("it-sasl");
  auto run = [&](const std::string& file, int port) {
    return std::make_unique<Child>(std::vector<std::string>{
        REBOUND_INGEST_BIN,
        absl::StrCat("--kafka-brokers=127.0.0.1:", sasl_port),
        "--kafka-config-file=" + file, "--topic=" + topic,
        "--topic-partitions=2", "--startup-timeout=10s", "--insecure-no-auth",
        absl::StrCat("--listen=127.0.0.1:", port),
        absl::StrCat("--metrics-listen=127.0.0.1:", FreePort())});
  };
  {
    const int port = FreePort();
    auto child = run(good, port);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    ASSERT_TRUE(
        testing::WaitForHealth(channel, "rebound.v1.Ingest", 1, seconds(60)))
        << child->Output();
    const std::string tenant = testing::UniqueTopic("t");
    auto published = tools::PublishOverStream(
        channel, testing::SimulatedStream(tenant, 20, 3));
    EXPECT_TRUE(published.status.ok()) << published.status.error_message();
    EXPECT_GT(published.published, 0u);
    EXPECT_NE(
        child->Output().find("\"kafka_security_protocol\":\"SASL_PLAINTEXT\""),
        std::string::npos)
        << child->Output();
    kill(child->pid(), SIGTERM);
    child->Wait();
    // What ingest acked is on the broker (read over the plaintext port).
    auto count = tools::CountTopic(kafka.brokers(), topic, seconds(30));
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, static_cast<int64_t>(published.published));
  }
  {
    auto child = run(bad, FreePort());
    EXPECT_EQ(child->Wait(), 1) << child->Output();
    const auto lines = CannotStartLines(child->Output());
    EXPECT_EQ(lines.size(), 1u) << child->Output();
    EXPECT_EQ(child->Output().find("kpw-not-this-one"), std::string::npos)
        << "the password is shown: " << child->Output();
  }
  unlink(good.c_str());
  unlink(bad.c_str());
}

}  // namespace
}  // namespace rebound
