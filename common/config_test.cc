#include "common/config.h"

#include <map>

#include "common/kafka_group.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

ConfigReader::EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigReader, FlagBeatsEnvBeatsDefault) {
  const char* argv[] = {"prog", "--kafka-brokers=flag:1"};
  ConfigReader c(2, argv,
                 FakeEnv({{"REBOUND_KAFKA_BROKERS", "env:1"},
                          {"REBOUND_PARTITIONS", "12"}}));
  EXPECT_EQ(c.String("kafka-brokers", "def:1", ""), "flag:1");
  EXPECT_EQ(c.Int("partitions", 6, 1, 1000, ""), 12);
  EXPECT_EQ(c.String("topic", "connection-events", ""), "connection-events");
  EXPECT_TRUE(c.Finish().ok());
}

TEST(ConfigReader, BadValuesNameTheSetting) {
  const char* argv[] = {"prog", "--partitions", "many", "--deadline=5 parsecs"};
  ConfigReader c(4, argv, FakeEnv({{"REBOUND_MAX_BATCH", "0"}}));
  EXPECT_EQ(c.Int("partitions", 6, 1, 1000, ""), 6);
  c.Duration("deadline", std::chrono::seconds(1), "");
  c.Int("max-batch", 1000, 1, 10000, "");
  absl::Status s = c.Finish();
  ASSERT_FALSE(s.ok());
  std::string m(s.message());
  EXPECT_NE(
      m.find("'partitions' (from --partitions): 'many' is not an integer"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find("'deadline'"), std::string::npos) << m;
  EXPECT_NE(m.find("'max-batch' (from REBOUND_MAX_BATCH): 0 is out of range"),
            std::string::npos)
      << m;
}

TEST(ConfigReader, RejectedValueNamesTheSettingAndItsSource) {
  const char* argv[] = {"prog", "--tokens=a:b,broken"};
  ConfigReader c(2, argv, FakeEnv({{"REBOUND_PLAN", "x"}}));
  c.String("tokens", "", "");
  c.String("plan", "", "");
  c.String("other", "", "");
  ASSERT_TRUE(c.Finish().ok());
  c.Reject("tokens", "entry 'broken' is not tenant:token");
  c.Reject("plan", "unknown plan");
  c.Reject("other", "not allowed");
  absl::Status s = c.Finish();
  ASSERT_FALSE(s.ok());
  std::string m(s.message());
  EXPECT_NE(m.find("'tokens' (from --tokens): entry 'broken' is not "
                   "tenant:token"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("'plan' (from REBOUND_PLAN): unknown plan"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("'other' (from its default): not allowed"),
            std::string::npos)
      << m;
}

TEST(ConfigReader, UnknownFlagAndMissingRequired) {
  const char* argv[] = {"prog", "--kafka-brokerz=x"};
  ConfigReader c(2, argv, FakeEnv({}));
  c.RequiredString("kafka-brokers", "");
  absl::Status s = c.Finish();
  ASSERT_FALSE(s.ok());
  std::string m(s.message());
  EXPECT_NE(m.find("unknown flag --kafka-brokerz (did you mean "
                   "--kafka-brokers?)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("REBOUND_KAFKA_BROKERS"), std::string::npos) << m;
}

TEST(ParseDuration, Units) {
  struct Case {
    std::string in;
    std::optional<int64_t> ms;
  } cases[] = {{"250ms", 250},        {"5s", 5000},
               {"2m", 120000},        {"1h", 3600000},
               {"21d", 1814400000LL}, {"300", 300},
               {"", std::nullopt},    {"5 s", std::nullopt},
               {"-1s", std::nullopt}, {"1w", std::nullopt}};
  for (const auto& c : cases) {
    auto d = ParseDuration(c.in);
    if (c.ms) {
      ASSERT_TRUE(d.has_value()) << c.in;
      EXPECT_EQ(d->count(), *c.ms) << c.in;
    } else {
      EXPECT_FALSE(d.has_value()) << c.in;
    }
  }
}

TEST(FetchBatching, FlagsBecomeTheConsumersPropertiesAndAreBounded) {
  {
    const char* argv[] = {"prog", "--fetch-wait-max=25ms"};
    ConfigReader c(2, argv, FakeEnv({{"REBOUND_FETCH_MIN_BYTES", "65536"}}));
    auto props = ReadFetchBatching(c);
    ASSERT_TRUE(c.Finish().ok());
    EXPECT_EQ(props.at("fetch.wait.max.ms"), "25");
    EXPECT_EQ(props.at("fetch.min.bytes"), "65536");
  }
  {
    // Defaults: a fetch is answered as soon as any record is there.
    const char* argv[] = {"prog"};
    ConfigReader c(1, argv, FakeEnv({}));
    auto props = ReadFetchBatching(c);
    ASSERT_TRUE(c.Finish().ok());
    EXPECT_EQ(props.at("fetch.wait.max.ms"), "10");
    EXPECT_EQ(props.at("fetch.min.bytes"), "1");
  }
  {
    const char* argv[] = {"prog", "--fetch-min-bytes=0"};
    ConfigReader c(2, argv, FakeEnv({}));
    ReadFetchBatching(c);
    absl::Status s = c.Finish();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(std::string(s.message()).find("fetch-min-bytes"),
              std::string::npos)
        << s.message();
  }
}

// A REBOUND_* variable one or two letters from a setting that is not given
// is refused, naming both; a variable far from every setting (another
// program's, a script's) and one beside its correctly spelt setting pass.
TEST(ConfigReader, AMisspeltVariableIsRefusedNamingTheSettingItMissed) {
  std::map<std::string, std::string> vars = {
      {"REBOUND_REDIS_ADRR", "10.0.0.5:6379"},
      {"REBOUND_KAFKA_BROKERS", "k:9092"},
      {"REBOUND_STACK_DIR", "/tmp/stack"}};
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& [k, v] : vars) out.push_back(k);
    return out;
  };
  const char* argv[] = {"prog"};
  {
    ConfigReader c(1, argv, FakeEnv(vars));
    c.SetEnvironmentNames(names());
    c.RefuseMisspeltVariables();
    EXPECT_EQ(c.String("redis-addr", "127.0.0.1:6379", ""), "127.0.0.1:6379");
    c.String("kafka-brokers", "", "");
    absl::Status s = c.Finish();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(std::string(s.message())
                  .find("REBOUND_REDIS_ADRR is no setting of this program: "
                        "did you mean REBOUND_REDIS_ADDR"),
              std::string::npos)
        << s.message();
    EXPECT_EQ(std::string(s.message()).find("STACK_DIR"), std::string::npos)
        << s.message();
  }
  {
    // The setting given as well: the near name is something else's.
    vars["REBOUND_REDIS_ADDR"] = "10.0.0.5:6379";
    ConfigReader c(1, argv, FakeEnv(vars));
    c.SetEnvironmentNames(names());
    c.RefuseMisspeltVariables();
    c.String("redis-addr", "127.0.0.1:6379", "");
    c.String("kafka-brokers", "", "");
    EXPECT_TRUE(c.Finish().ok()) << c.Finish().message();
  }
  {
    // Short names: one letter at most (REBOUND_OUT is not a misspelt
    // REBOUND_COUNT); and a program that does not ask is not checked.
    std::map<std::string, std::string> more = {{"REBOUND_OUT", "x"},
                                               {"REBOUND_TENANT", "a"}};
    ConfigReader c(1, argv, FakeEnv(more));
    c.SetEnvironmentNames({"REBOUND_OUT", "REBOUND_TENANT"});
    c.RefuseMisspeltVariables();
    c.Int("count", 1, 1, 10, "");
    EXPECT_TRUE(c.Finish().ok()) << c.Finish().message();
    ConfigReader tool(1, argv, FakeEnv(more));
    tool.SetEnvironmentNames({"REBOUND_OUT", "REBOUND_TENANT"});
    tool.Int("tenants", 1, 1, 10, "");
    EXPECT_TRUE(tool.Finish().ok()) << tool.Finish().message();
  }
}

}  // namespace
}  // namespace rebound
