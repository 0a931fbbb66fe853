// Serves a prometheus-cpp registry over HTTP at /metrics.
#ifndef REBOUND_COMMON_METRICS_SERVER_H_
#define REBOUND_COMMON_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace rebound {

class MetricsServer {
 public:
  // Binds `address` ("127.0.0.1:9464", "0.0.0.0:0" picks a free port) and
  // serves `registry` until destroyed. Fails with UNAVAILABLE naming the
  // address when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address,
      std::shared_ptr<prometheus::Registry> registry);

  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
      : exposer_(std::move(exposer)), port_(port) {}
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

// Buckets of the pipeline's stage-latency histograms (how old a record or
// update is when a stage is done with it): 1 ms to 30 s.
inline prometheus::Histogram::BucketBoundaries StageLatencyBuckets() {
  return {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
          0.2,   0.5,   1,     2,    5,    10,   30};
}

}  // namespace rebound

#endif  // REBOUND_COMMON_METRICS_SERVER_H_
