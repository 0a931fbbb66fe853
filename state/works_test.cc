#include "state/works.h"

#include <string>

#include "gtest/gtest.h"

namespace rebound::state {
namespace {

// What Redis's BITFIELD INCRBY u32 of the increment would leave in a
// string, applied in process.
void Apply(const std::vector<std::string>& cmd, std::string* bytes) {
  for (size_t i = 4; i + 3 < cmd.size(); i += 4) {
    ASSERT_EQ(cmd[i], "INCRBY");
    ASSERT_EQ(cmd[i + 1], "u32");
    const size_t at = 4 * std::stoul(cmd[i + 2].substr(1));
    if (bytes->size() < at + 4) bytes->resize(at + 4, '\0');
    auto* p = reinterpret_cast<unsigned char*>(bytes->data()) + at;
    uint32_t v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                 (uint32_t{p[2]} << 8) | p[3];
    ++v;
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
  }
}

TEST(Works, IncrementsDecodeToTheirCells) {
  std::string bytes;
  Approach a{NoteStyle::kPitch, 2, 9};
  Apply(WorksIncrement("k", a, /*accepted=*/false), &bytes);
  Apply(WorksIncrement("k", a, /*accepted=*/true), &bytes);
  Approach b{std::nullopt, 99, std::nullopt};  // Unknown style and hour.
  Apply(WorksIncrement("k", b, /*accepted=*/true), &bytes);
  const auto cells = DecodeWorks(bytes);
  const int pitch = static_cast<int>(NoteStyle::kPitch);
  EXPECT_EQ(cells[pitch].answered, 2);
  EXPECT_EQ(cells[pitch].accepted, 1);
  EXPECT_EQ(cells[kNoteStyles + 2].answered, 2);  // CHANNEL_SEARCH.
  EXPECT_EQ(cells[kNoteStyles + 0].answered, 1);  // Out of range: 0.
  EXPECT_EQ(cells[kNoteStyles + 0].accepted, 1);
  EXPECT_EQ(cells[kNoteStyles + kChannels + 9].answered, 2);
  int64_t answered = 0;
  for (const auto& t : cells) answered += t.answered;
  EXPECT_EQ(answered, 2 + 2 + 2 + 1);  // Nothing else moved.
  EXPECT_EQ(WorksIncrement("k", a, false)[1], "k");
  EXPECT_EQ(DecodeWorks("").at(0).answered, 0);
}

TEST(Works, WilsonIntervalsHoldTheirKnownValues) {
  // 8 of 10: the textbook 95% interval is [0.490, 0.943].
  auto [lo, hi] = WilsonInterval(8, 10);
  EXPECT_NEAR(lo, 0.4902, 1e-3);
  EXPECT_NEAR(hi, 0.9433, 1e-3);
  auto [lo0, hi0] = WilsonInterval(0, 0);
  EXPECT_EQ(lo0, 0);
  EXPECT_EQ(hi0, 1);
  auto [lo1, hi1] = WilsonInterval(0, 5);
  EXPECT_EQ(lo1, 0);
  EXPECT_NEAR(hi1, 0.4345, 1e-3);
  auto [lo2, hi2] = WilsonInterval(500, 1000);
  EXPECT_NEAR(lo2, 0.469, 1e-3);
  EXPECT_NEAR(hi2, 0.531, 1e-3);
}

}  // namespace
}  // namespace rebound::state
