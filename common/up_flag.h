// Whether a dependency (Redis, Kafka) answers, as a flag the service's
// health reads and, once bound, a Prometheus gauge (1 up, 0 down), so the
// alerts see what health sees. The calls of std::atomic<bool>.
#ifndef REBOUND_COMMON_UP_FLAG_H_
#define REBOUND_COMMON_UP_FLAG_H_

#include <atomic>

#include "prometheus/gauge.h"

namespace rebound {

class UpFlag {
 public:
  explicit UpFlag(bool up) : up_(up) {}
  UpFlag(const UpFlag&) = delete;
  UpFlag& operator=(const UpFlag&) = delete;

  void Bind(prometheus::Gauge* gauge) {
    gauge_.store(gauge);
    Publish();
  }
  bool load() const { return up_.load(); }
  void store(bool up) {
    up_.store(up);
    Publish();
  }
  bool exchange(bool up) {
    const bool was = up_.exchange(up);
    Publish();
    return was;
  }

 private:
  // The flag's value now, not the one just set: of two racing changes the
  // gauge ends with the flag's last value.
  void Publish() {
    if (prometheus::Gauge* g = gauge_.load()) g->Set(up_.load() ? 1 : 0);
  }

  std::atomic<bool> up_;
  std::atomic<prometheus::Gauge*> gauge_{nullptr};
};

}  // namespace rebound

#endif  // REBOUND_COMMON_UP_FLAG_H_
