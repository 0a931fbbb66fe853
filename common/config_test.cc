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
  EXPECT_NE(m.find("unknown flag --kafka-brokerz"), std::string::npos) << m;
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

}  // namespace
}  // namespace rebound
