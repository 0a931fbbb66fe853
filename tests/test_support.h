// Helpers for the integration tests: where the real servers are, a private
// Kafka broker a test may stop and start, gRPC health checks, and Java's
// murmur2 partitioner written independently of librdkafka.
#ifndef REBOUND_TESTS_TEST_SUPPORT_H_
#define REBOUND_TESTS_TEST_SUPPORT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

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

// A Kafka broker of the test's own, started with deploy/local/stack.sh in a
// private state dir, so the test may stop and restart it.
class PrivateKafka {
 public:
  PrivateKafka();
  ~PrivateKafka();
  // Starts (or restarts on the same port); returns false with output on
  // failure.
  bool Start(std::string* output);
  bool Stop(std::string* output);
  const std::string& brokers() const { return brokers_; }

 private:
  std::string dir_;
  std::string brokers_;
};

// Runs `command` with /bin/sh, returns its exit status and output.
int RunCommand(const std::string& command, std::string* output);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_TEST_SUPPORT_H_
