#include "services/notify/stream_id.h"

#include "gtest/gtest.h"

namespace rebound::notify {
namespace {

TEST(StreamId, AcceptsOnlyWhatRedisIssues) {
  EXPECT_TRUE(IsStreamId("0-0"));
  EXPECT_TRUE(IsStreamId("1796093163774-0"));
  EXPECT_TRUE(IsStreamId("18446744073709551615-18446744073709551615"));
  for (const char* bad :
       {"", "-", "5", "5-", "-5", "1796093163774-0 ", " 1796093163774-0",
        "\t1-0", "+1-0", "1-+0", "1--0", "a-0", "1-0x", "1-0-0",
        "18446744073709551616-0", "1.0-0", "$"}) {
    EXPECT_FALSE(IsStreamId(bad)) << "'" << bad << "'";
  }
}

TEST(StreamId, OrdersByMillisecondsThenSequenceAsNumbers) {
  EXPECT_TRUE(StreamIdLess("9-0", "10-0"));  // Not as text.
  EXPECT_FALSE(StreamIdLess("10-0", "9-0"));
  EXPECT_TRUE(StreamIdLess("5-9", "5-10"));
  EXPECT_TRUE(StreamIdLess("5-10", "6-0"));
  EXPECT_FALSE(StreamIdLess("5-1", "5-1"));
  EXPECT_EQ(ParseStreamId("12-34"), (StreamId{12, 34}));
}

}  // namespace
}  // namespace rebound::notify
