// Confidence intervals for rates and ratios of counts, shared by Insights
// (what works) and the offline back-tests.
#ifndef REBOUND_COMMON_INTERVALS_H_
#define REBOUND_COMMON_INTERVALS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

namespace rebound {

// 95% two-sided normal quantile.
inline constexpr double kZ95 = 1.959963984540054;

// 95% Wilson score interval of `hits` of `n` ({0, 1} when n is 0).
inline std::pair<double, double> WilsonInterval(int64_t hits, int64_t n) {
  if (n <= 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(hits) / nn;
  const double denom = 1 + kZ95 * kZ95 / nn;
  const double centre = (p + kZ95 * kZ95 / (2 * nn)) / denom;
  const double half =
      kZ95 * std::sqrt(p * (1 - p) / nn + kZ95 * kZ95 / (4 * nn * nn)) / denom;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

struct RateRatio {
  double ratio = 0;
  double low = 0;
  double high = 0;
};

// The ratio of two rates, a/n1 over b/n2, with its 95% interval on the log
// scale (Katz). None when either rate is 0 or undefined.
inline std::optional<RateRatio> RatioOfRates(int64_t a, int64_t n1, int64_t b,
                                             int64_t n2) {
  if (a <= 0 || b <= 0 || n1 <= 0 || n2 <= 0) return std::nullopt;
  const double r = (static_cast<double>(a) / static_cast<double>(n1)) /
                   (static_cast<double>(b) / static_cast<double>(n2));
  const double se =
      std::sqrt(1.0 / static_cast<double>(a) - 1.0 / static_cast<double>(n1) +
                1.0 / static_cast<double>(b) - 1.0 / static_cast<double>(n2));
  return RateRatio{r, r * std::exp(-kZ95 * se), r * std::exp(kZ95 * se)};
}

}  // namespace rebound

#endif  // REBOUND_COMMON_INTERVALS_H_
