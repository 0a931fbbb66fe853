#include "common/kafka_properties.h"

#include "gtest/gtest.h"

namespace rebound {
namespace {

TEST(ParseKafkaProperties, SecurityKeysOnlyAndNoSecretInErrors) {
  auto ok = ParseKafkaProperties(
      "# broker\nsecurity.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
      "sasl.password=a=b==\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->at("sasl.password"), "a=b==");
  auto other = ParseKafkaProperties("acks=0\n");
  EXPECT_FALSE(other.ok());
  // A mistyped line puts the secret before '=': refused without quoting it.
  auto typo = ParseKafkaProperties("sasl.password: Zm9vYmFy==\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(std::string(typo.status().message()).find("Zm9vYmFy"),
            std::string::npos)
      << typo.status();
  EXPECT_FALSE(ParseKafkaProperties("no equals sign\n").ok());
  EXPECT_FALSE(
      ParseKafkaProperties("ssl.ca.location=a\nssl.ca.location=b\n").ok());
}

}  // namespace
}  // namespace rebound
