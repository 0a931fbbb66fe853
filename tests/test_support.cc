#include "tests/test_support.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

namespace rebound::testing {

std::string RequiredEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name
                  << " is not set: this test needs the real servers. Run the "
                     "tests with scripts/test.sh, which starts Kafka and Redis "
                     "(deploy/local/stack.sh) and exports it.";
    return "";
  }
  return v;
}

std::string UniqueTopic(const std::string& prefix) {
  std::random_device rd;
  return absl::StrCat(prefix, "-", getpid(), "-", rd() % 1000000);
}

int32_t Murmur2(const std::string& data) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t len = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(len);
  const auto* d = reinterpret_cast<const unsigned char*>(data.data());
  const size_t len4 = len / 4;
  for (size_t i = 0; i < len4; ++i) {
    size_t i4 = i * 4;
    uint32_t k = d[i4] | (d[i4 + 1] << 8) | (d[i4 + 2] << 16) |
                 (static_cast<uint32_t>(d[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = len & ~size_t{3};
  switch (len % 4) {
    case 3:
      h ^= static_cast<uint32_t>(d[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(d[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= d[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t JavaPartition(const std::string& key, int partitions) {
  return (Murmur2(key) & 0x7fffffff) % partitions;
}

std::optional<int> HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  if (!stub->Check(&ctx, req, &resp).ok()) return std::nullopt;
  return static_cast<int>(resp.status());
}

bool WaitForHealth(const std::shared_ptr<grpc::Channel>& channel,
                   const std::string& service, int want,
                   std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (HealthStatus(channel, service) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

int RunCommand(const std::string& command, std::string* output) {
  output->clear();
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    output->append(buf.data(), n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

namespace {
std::string StackScript() {
  return std::string(REBOUND_SOURCE_DIR) + "/deploy/local/stack.sh";
}
}  // namespace

PrivateKafka::PrivateKafka() {
  char tmpl[] = "/tmp/rebound-private-kafka-XXXXXX";
  dir_ = mkdtemp(tmpl);
  // stack.sh only cleans directories it created itself.
  std::filesystem::remove(dir_);
}

PrivateKafka::~PrivateKafka() {
  std::string out;
  RunCommand("REBOUND_STACK_DIR=" + dir_ + " " + StackScript() + " clean",
             &out);
}

bool PrivateKafka::Start(std::string* output) {
  int rc = RunCommand(
      "REBOUND_STACK_DIR=" + dir_ + " " + StackScript() + " start kafka",
      output);
  if (rc != 0) return false;
  auto pos = output->find("REBOUND_KAFKA_BROKERS=");
  if (pos == std::string::npos) return false;
  pos += std::string("REBOUND_KAFKA_BROKERS=").size();
  auto end = output->find_first_of("\n \"'", pos);
  brokers_ = output->substr(pos, end - pos);
  return !brokers_.empty();
}

bool PrivateKafka::Stop(std::string* output) {
  return RunCommand(
             "REBOUND_STACK_DIR=" + dir_ + " " + StackScript() + " stop kafka",
             output) == 0;
}

}  // namespace rebound::testing
