#include "common/redis_client.h"

#include "gtest/gtest.h"

namespace rebound {
namespace {

TEST(RedisClusterSlot, KnownSlotsAndHashTags) {
  // Values Redis's CLUSTER KEYSLOT gives.
  EXPECT_EQ(RedisClusterSlot("foo"), 12182);
  EXPECT_EQ(RedisClusterSlot("bar"), 5061);
  EXPECT_EQ(RedisClusterSlot("123456789"), 0x31C3 % 16384);
  EXPECT_EQ(RedisClusterSlot("{user1000}.following"),
            RedisClusterSlot("{user1000}.followers"));
  EXPECT_EQ(RedisClusterSlot("{user1000}.following"),
            RedisClusterSlot("user1000"));
  // An empty tag hashes the whole key; only the first {...} counts.
  EXPECT_EQ(RedisClusterSlot("foo{}{bar}"), RedisClusterSlot("foo{}{bar}"));
  EXPECT_NE(RedisClusterSlot("{}a"), RedisClusterSlot("{}b"));
  EXPECT_EQ(RedisClusterSlot("{a}{b}"), RedisClusterSlot("a"));
  EXPECT_EQ(RedisClusterSlot("x{a"), RedisClusterSlot("x{a"));
  EXPECT_NE(RedisClusterSlot("x{a"), RedisClusterSlot("a"));
}

TEST(RedisCommandKey, TheKeyThatPicksTheNode) {
  using V = std::vector<std::string>;
  auto key = [](const V& argv) {
    const std::string* k = RedisCommandKey(argv);
    return k ? *k : std::string("<none>");
  };
  EXPECT_EQ(key(V{"GET", "k"}), "k");
  EXPECT_EQ(key(V{"hset", "h", "f", "v"}), "h");
  EXPECT_EQ(key(V{"EVALSHA", "sha", "2", "k1", "k2", "a"}), "k1");
  EXPECT_EQ(key(V{"EVALSHA", "sha", "0", "a"}), "<none>");
  EXPECT_EQ(key(V{"XREAD", "COUNT", "10", "BLOCK", "5", "STREAMS", "s", "0"}),
            "s");
  EXPECT_EQ(key(V{"PING"}), "<none>");
  EXPECT_EQ(key(V{"INFO", "cpu"}), "<none>");
  EXPECT_EQ(key(V{"SCAN", "0", "MATCH", "rb:*"}), "<none>");
  EXPECT_EQ(key(V{"SCRIPT", "LOAD", "return 1"}), "<none>");
}

TEST(RedisClient, BadAddressesAreRefusedByName) {
  RedisOptions o;
  o.address = "no-port";
  RedisClient c(o);
  auto s = c.Command({"PING"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("no-port"), std::string::npos);
  o.address = "127.0.0.1:1,bad";
  RedisClient d(o);
  s = d.Command({"PING"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("bad"), std::string::npos);
}

}  // namespace
}  // namespace rebound
