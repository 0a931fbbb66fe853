#include "services/scoring/event_lines.h"

#include "gtest/gtest.h"

namespace rebound::scoring {
namespace {

TEST(ParseEventLine, BlankGoodAndBadLines) {
  auto blank = ParseEventLine(" \t\r");
  ASSERT_TRUE(blank.ok());
  EXPECT_FALSE(blank->has_value());
  auto good = ParseEventLine(R"({"eventId":"e1","tenantId":"t","senderId":"s",)"
                             R"("requestAccepted":{"requestId":"r"}})");
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_TRUE(good->has_value());
  EXPECT_EQ((*good)->event_id(), "e1");
  auto no_payload = ParseEventLine(R"({"eventId":"e1","tenantId":"t"})");
  EXPECT_EQ(no_payload.status().message(), "no payload");
}

// Found by fuzz/event_lines_fuzz: a JSON key "\n" made protobuf's message
// start with a newline, so the reason printed for the line was empty.
TEST(ParseEventLine, AReasonIsOnePrintableLineWhateverTheInput) {
  for (const char* line :
       {R"({"\n":{}})", R"({"a\u0001b":1})", "{\"x\":", R"({"\r\n\r\n":[]})"}) {
    auto r = ParseEventLine(line);
    ASSERT_FALSE(r.ok()) << line;
    const std::string why(r.status().message());
    EXPECT_FALSE(why.empty()) << line;
    for (char c : why) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          << line << " -> " << why;
    }
  }
}

}  // namespace
}  // namespace rebound::scoring
