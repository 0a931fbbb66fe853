#include "tests/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "librdkafka/rdkafkacpp.h"

extern char** environ;

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

Child::Child(std::vector<std::string> args) {
  char tmpl[] = "/tmp/rebound-child-XXXXXX";
  int fd = mkstemp(tmpl);
  log_path_ = tmpl;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  posix_spawn_file_actions_adddup2(&fa, fd, 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  close(fd);
}

Child::~Child() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    Wait();
  }
  unlink(log_path_.c_str());
}

int Child::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  exited_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int Child::Wait(std::chrono::seconds limit) {
  return WaitUntil(std::chrono::steady_clock::now() + limit);
}

int Child::WaitUntil(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  Wait();
  return -1;
}

std::string Child::Output() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int FreePort() {
  // The kernel may hand the same free port out twice in a row once it is
  // closed again; a test asking for several ports (one per service) must
  // get distinct ones, so no port is given twice by this process.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 64; ++attempt) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    close(s);
    if (given.insert(port).second) return port;
  }
  return 0;
}

double ScrapeMetric(int metrics_port, const std::string& sample) {
  std::string out;
  RunCommand(absl::StrCat("curl -s 127.0.0.1:", metrics_port, "/metrics"),
             &out);
  const std::string key = "\n" + sample + " ";
  const size_t pos = out.find(key);
  if (pos == std::string::npos) return -1;
  const size_t from = pos + key.size();
  return std::strtod(out.substr(from, out.find('\n', from) - from).c_str(),
                     nullptr);
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

PrivateServer::PrivateServer(std::string service, std::string env)
    : service_(std::move(service)), env_(std::move(env)) {
  char tmpl[] = "/tmp/rebound-private-XXXXXX";
  dir_ = mkdtemp(tmpl);
  // stack.sh only cleans directories it created itself.
  std::filesystem::remove(dir_);
}

PrivateServer::~PrivateServer() {
  std::string out;
  RunCommand("REBOUND_STACK_DIR=" + dir_ + " " + StackScript() + " clean",
             &out);
}

bool PrivateServer::Start(std::string* output) {
  int rc = RunCommand(env_ + " REBOUND_STACK_DIR=" + dir_ + " " +
                          StackScript() + " start " + service_,
                      output);
  if (rc != 0) return false;
  const std::string var =
      service_ == "kafka" ? "REBOUND_KAFKA_BROKERS=" : "REBOUND_REDIS_ADDR=";
  auto pos = output->find(var);
  if (pos == std::string::npos) return false;
  pos += var.size();
  auto end = output->find_first_of("\n \"'", pos);
  address_ = output->substr(pos, end - pos);
  return !address_.empty();
}

bool PrivateServer::Stop(std::string* output) {
  return RunCommand("REBOUND_STACK_DIR=" + dir_ + " " + StackScript() +
                        " stop " + service_,
                    output) == 0;
}

bool PrivateServer::Kill9() {
  std::ifstream in(dir_ + "/" + service_ + "/" + service_ + ".pid");
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) return false;
  if (kill(pid, SIGKILL) != 0) return false;
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return kill(pid, 0) != 0;
}

int64_t CommittedOffset(const std::string& brokers, const std::string& group,
                        const std::string& topic, int32_t partition) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", brokers, err);
  conf->set("group.id", group, err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) return -2;
  std::vector<RdKafka::TopicPartition*> tps = {
      RdKafka::TopicPartition::create(topic, partition)};
  RdKafka::ErrorCode e = c->committed(tps, 10'000);
  const int64_t offset = e == RdKafka::ERR_NO_ERROR ? tps[0]->offset() : -2;
  RdKafka::TopicPartition::destroy(tps);
  c->close();
  return offset;
}

}  // namespace rebound::testing
