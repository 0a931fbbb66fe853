#include "services/scoring/retry_evaluation.h"

#include "common/intervals.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::scoring {
namespace {

using ::testing::HasSubstr;

std::string Line(const std::string& arm, bool retried, bool accepted,
                 bool should_retry = true,
                 const std::string& obstacles = "[]") {
  return std::string("{\"arm\":\"") + arm +
         "\",\"true_reason\":\"DECLINE_REASON_OFF_TARGET_APPROACH\","
         "\"advice_found\":true,\"should_retry\":" +
         (should_retry ? "true" : "false") +
         ",\"retried\":" + (retried ? "true" : "false") +
         ",\"accepted\":" + (accepted ? "true" : "false") +
         ",\"obstacles\":" + obstacles + "}";
}

TEST(ParseArmLine, ReadsTheSimulatorsLineAndNamesTheBadKey) {
  auto r = ParseArmLine(Line("follow", true, true, true, "[\"pitch\"]"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->arm, "follow");
  EXPECT_EQ(r->true_reason, rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
  EXPECT_TRUE(r->retried);
  EXPECT_TRUE(r->accepted);
  EXPECT_EQ(r->obstacles, std::vector<std::string>{"pitch"});

  EXPECT_THAT(ParseArmLine("[1]").status().message(),
              HasSubstr("not a JSON object"));
  EXPECT_THAT(ParseArmLine(Line("sometimes", true, true)).status().message(),
              HasSubstr("'arm'"));
  EXPECT_THAT(ParseArmLine(Line("wait", false, true)).status().message(),
              HasSubstr("'accepted' without 'retried'"));
  EXPECT_THAT(
      ParseArmLine(R"({"arm":"wait","true_reason":"NOPE"})").status().message(),
      HasSubstr("'true_reason'"));
  EXPECT_THAT(
      ParseArmLine(
          R"({"arm":"wait","true_reason":"DECLINE_REASON_NOT_SEEN","advice_found":1})")
          .status()
          .message(),
      HasSubstr("'advice_found'"));
}

TEST(EvaluateArms, CountsArmsDoNotRetryAndWhatTheAdviceLeft) {
  std::vector<ArmRecord> records;
  auto add = [&](const std::string& line) {
    auto r = ParseArmLine(line);
    ASSERT_TRUE(r.ok()) << r.status();
    records.push_back(*r);
  };
  for (int i = 0; i < 10; ++i) add(Line("follow", true, i < 6));
  add(Line("follow", true, false, true, "[\"profile\",\"off_hours\"]"));
  add(Line("follow", false, false, false));
  for (int i = 0; i < 10; ++i) add(Line("immediate", true, i < 2));
  for (int i = 0; i < 10; ++i) add(Line("wait", true, i < 3, i >= 4));
  add(Line("never", false, false));
  RetryEvaluation e = EvaluateArms(records);
  EXPECT_EQ(e.arms["follow"].pairs, 12);
  EXPECT_EQ(e.arms["follow"].retried, 11);
  EXPECT_EQ(e.arms["follow"].accepted, 6);
  EXPECT_EQ(e.arms["never"].retried, 0);
  // Immediate and wait retries split by the advice they ignored.
  EXPECT_EQ(e.told_not_to_retry.retried, 4);
  EXPECT_EQ(e.told_not_to_retry.accepted, 3);
  EXPECT_EQ(e.told_to_retry.retried, 16);
  EXPECT_EQ(e.told_to_retry.accepted, 2);
  EXPECT_EQ(e.follow_clear.retried, 10);
  EXPECT_EQ(e.follow_left["profile"].retried, 1);
  EXPECT_EQ(e.follow_left["off_hours"].retried, 1);

  const std::string text = FormatRetryEvaluation(e);
  EXPECT_THAT(text, HasSubstr("follow / immediate: 2.73x"));
  EXPECT_THAT(text, HasSubstr("goal >= 2.0x: met"));
  EXPECT_THAT(text, HasSubstr("follow / wait:      1.82x"));
  EXPECT_THAT(text, HasSubstr("told not to retry: 4 retried, 0.750"));
}

TEST(Intervals, RatioOfRatesHasTheKatzInterval) {
  // 30/100 over 10/100: 3x, log SE sqrt(1/30 - 1/100 + 1/10 - 1/100).
  auto r = RatioOfRates(30, 100, 10, 100);
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->ratio, 3.0);
  EXPECT_NEAR(r->low, 1.5508, 1e-3);
  EXPECT_NEAR(r->high, 5.8033, 1e-3);
  EXPECT_FALSE(RatioOfRates(0, 100, 10, 100).has_value());
  EXPECT_FALSE(RatioOfRates(3, 10, 1, 0).has_value());
}

}  // namespace
}  // namespace rebound::scoring
