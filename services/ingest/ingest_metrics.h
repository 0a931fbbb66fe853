// Prometheus metrics of the ingest service.
#ifndef REBOUND_SERVICES_INGEST_INGEST_METRICS_H_
#define REBOUND_SERVICES_INGEST_INGEST_METRICS_H_

#include <memory>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace rebound::ingest {

// Metric objects live in `registry`; this struct only points at them.
struct IngestMetrics {
  explicit IngestMetrics(prometheus::Registry& registry);

  prometheus::Counter* received;    // Events received in any batch.
  prometheus::Counter* published;   // Confirmed by Kafka (acks=all).
  prometheus::Counter* duplicates;  // Answered DUPLICATE.
  prometheus::Counter* rejected;    // Invalid, never published.
  prometheus::Counter* failed;      // Not published now (Kafka, queue, drain).
  prometheus::Counter* valid;       // Checked only (validate_only requests).
  prometheus::Histogram* publish_latency;  // Enqueue to delivery report, s.
  prometheus::Gauge* kafka_available;      // 1 when Kafka answers.
  prometheus::Gauge* open_streams;         // PublishStream calls open.
  prometheus::Counter* streams_refused;    // Over --max-streams(-per-tenant).
  // Events answered FAILED for being over their tenant's quota, by tenant
  // (tenants with a quota of their own by name, the rest as "other", so a
  // client inventing tenants cannot grow the series).
  prometheus::Counter* OverQuota(const std::string& tenant, bool named);

  // Adds many publish latencies (seconds) to the histogram at once: one lock
  // per batch instead of one per event.
  void ObservePublishLatencies(const std::vector<double>& seconds);

 private:
  std::vector<double> latency_bounds_;
  prometheus::Family<prometheus::Counter>* over_quota_ = nullptr;
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_INGEST_METRICS_H_
