#include "common/time_format.h"

#include <cstdint>

namespace rebound {
namespace {

constexpr char kFormat[] = "%Y-%m-%dT%H:%M:%E*SZ";
// 10000-01-01T00:00:00Z.
const absl::Time kYear10000 = absl::FromUnixSeconds(253402300800);

char* Digits(char* p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

}  // namespace

std::string FormatRfc3339Utc(absl::Time t) {
  if (t < absl::UnixEpoch() || t >= kYear10000) {
    return absl::FormatTime(kFormat, t, absl::UTCTimeZone());
  }
  const int64_t secs = absl::ToUnixSeconds(t);
  const absl::Duration sub = t - absl::FromUnixSeconds(secs);
  const int64_t nanos = absl::ToInt64Nanoseconds(sub);
  if (sub != absl::Nanoseconds(nanos)) {
    return absl::FormatTime(kFormat, t, absl::UTCTimeZone());
  }
  // Civil date from days since the epoch (H. Hinnant, "chrono-compatible
  // low-level date algorithms"), for days >= 0.
  const int64_t days = secs / 86400;
  const int64_t of_day = secs % 86400;
  const int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  char buf[32];
  char* p = Digits(buf, year, 4);
  *p++ = '-';
  p = Digits(p, month, 2);
  *p++ = '-';
  p = Digits(p, day, 2);
  *p++ = 'T';
  p = Digits(p, of_day / 3600, 2);
  *p++ = ':';
  p = Digits(p, of_day / 60 % 60, 2);
  *p++ = ':';
  p = Digits(p, of_day % 60, 2);
  if (nanos != 0) {
    *p++ = '.';
    int width = 9;
    int64_t fraction = nanos;
    while (fraction % 10 == 0) {
      fraction /= 10;
      --width;
    }
    p = Digits(p, fraction, width);
  }
  *p++ = 'Z';
  return std::string(buf, static_cast<size_t>(p - buf));
}

}  // namespace rebound
