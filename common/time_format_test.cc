#include "common/time_format.h"

#include <cstdint>
#include <random>

#include "gtest/gtest.h"

namespace rebound {
namespace {

std::string Absl(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

TEST(FormatRfc3339Utc, WritesWhatAbslWritesAtTheEdges) {
  const int64_t edges[] = {0,           59,          86399,      86400,
                           951782400,   951868799,   951868800,  1709164800,
                           4107542399,  4107542400,  4107628800, 13574563200,
                           13574649600, 253402300799};
  const int64_t nanos[] = {0,         1,         10,        100,    999999999,
                           500000000, 120000000, 123456789, 100000, 7};
  for (int64_t s : edges) {
    for (int64_t n : nanos) {
      const absl::Time t = absl::FromUnixSeconds(s) + absl::Nanoseconds(n);
      ASSERT_EQ(FormatRfc3339Utc(t), Absl(t)) << s << " " << n;
    }
  }
}

TEST(FormatRfc3339Utc, WritesWhatAbslWritesForRandomTimes) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 1'000'000; ++i) {
    const int64_t s = static_cast<int64_t>(rng() % 253402300800ULL);
    int64_t n = static_cast<int64_t>(rng() % 1'000'000'000);
    // Some with trailing zeros in the fraction, some whole seconds.
    if (i % 4 == 1) n -= n % 1000;
    if (i % 4 == 2) n = 0;
    const absl::Time t = absl::FromUnixSeconds(s) + absl::Nanoseconds(n);
    ASSERT_EQ(FormatRfc3339Utc(t), Absl(t)) << s << " " << n;
  }
}

TEST(FormatRfc3339Utc, LeavesOtherTimesToAbsl) {
  for (absl::Time t : {absl::FromUnixSeconds(-1),
                       absl::FromUnixSeconds(int64_t{-86400} * 365 * 100),
                       absl::FromUnixSeconds(253402300800),
                       absl::FromUnixSeconds(5) + absl::Nanoseconds(1) / 4,
                       absl::InfinitePast(), absl::InfiniteFuture()}) {
    EXPECT_EQ(FormatRfc3339Utc(t), Absl(t));
  }
}

}  // namespace
}  // namespace rebound
