// Helpers for the integration tests: where the real servers are, a private
// Kafka broker a test may stop and start, gRPC health checks, and Java's
// murmur2 partitioner written independently of librdkafka.
#ifndef REBOUND_TESTS_TEST_SUPPORT_H_
#define REBOUND_TESTS_TEST_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"

namespace rebound::testing {

// The value of a REBOUND_* variable the test script exports. Fails the current
// test (fatally, in the caller via ASSERT_FALSE(empty)) with a message saying
// how to start the stack when it is missing.
std::string RequiredEnv(const std::string& name);

// A topic name no other test run uses.
std::string UniqueTopic(const std::string& prefix);

// Kafka's default partitioner for a keyed record, as the Java client
// computes it: (murmur2(key) & 0x7fffffff) % partitions.
int32_t JavaPartition(const std::string& key, int partitions);
int32_t Murmur2(const std::string& data);

// grpc.health.v1.Health/Check for `service` ("" = whole server). Returns
// 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN, or nullopt if the call failed.
std::optional<int> HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service);

// Polls HealthStatus until it equals `want` or `timeout` passes.
bool WaitForHealth(const std::shared_ptr<grpc::Channel>& channel,
                   const std::string& service, int want,
                   std::chrono::milliseconds timeout);

// A Kafka broker or Redis server of the test's own, started with
// deploy/local/stack.sh in a private state dir, so the test may stop and
// restart it (on the same port).
class PrivateServer {
 public:
  // `service`: "kafka" or "redis"; `env`: extra variables for stack.sh
  // ("REBOUND_KAFKA_PROXIED_PORT=1 REBOUND_KAFKA_PROXY_PORT=2").
  explicit PrivateServer(std::string service, std::string env = "");
  ~PrivateServer();
  // Starts (or restarts); returns false with the script's output on failure.
  bool Start(std::string* output);
  bool Stop(std::string* output);
  // SIGKILL to the server process (no shutdown at all); Start() restarts
  // it on the same port with the same data.
  bool Kill9();
  // "127.0.0.1:port".
  const std::string& address() const { return address_; }
  const std::string& brokers() const { return address_; }

 private:
  std::string service_;
  std::string env_;
  std::string dir_;
  std::string address_;
};
using PrivateKafka = PrivateServer;

// A child process with its stdout and stderr in a temporary file; killed
// (SIGKILL) when destroyed if still running.
class Child {
 public:
  explicit Child(std::vector<std::string> args);
  ~Child();
  pid_t pid() const { return pid_; }
  // Exit code, or -1 when it died of a signal.
  int Wait();
  // The same, but at most `limit` (until `deadline`): then it is killed
  // (SIGKILL) and -1.
  int Wait(std::chrono::seconds limit);
  int WaitUntil(std::chrono::steady_clock::time_point deadline);
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_path_;
};

// The offset group `group` committed on `topic`'s `partition` (-1001:
// none), or -2 when Kafka did not answer.
int64_t CommittedOffset(const std::string& brokers, const std::string& group,
                        const std::string& topic, int32_t partition);

// A loopback port that was free a moment ago; never the same one twice in
// a process.
int FreePort();

// The value of sample `sample` (the metric's name and labels as exposed,
// e.g. `rebound_notify_redis_up`) of the process whose metrics are on
// loopback port `metrics_port`; -1 when it is not there.
double ScrapeMetric(int metrics_port, const std::string& sample);

// Runs `command` with /bin/sh, returns its exit status and output.
int RunCommand(const std::string& command, std::string* output);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_TEST_SUPPORT_H_
