#include "services/ingest/ingest_metrics.h"

#include <algorithm>

namespace rebound::ingest {

IngestMetrics::IngestMetrics(prometheus::Registry& registry) {
  auto& events = prometheus::BuildCounter()
                     .Name("rebound_ingest_events_total")
                     .Help("Connection events handled by ingest, by outcome")
                     .Register(registry);
  received = &events.Add({{"outcome", "received"}});
  published = &events.Add({{"outcome", "published"}});
  duplicates = &events.Add({{"outcome", "duplicate"}});
  rejected = &events.Add({{"outcome", "rejected"}});
  failed = &events.Add({{"outcome", "failed"}});
  valid = &events.Add({{"outcome", "valid"}});
  latency_bounds_ = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                     0.2,    0.5,   1,     2,     5,    10,   30};
  publish_latency =
      &prometheus::BuildHistogram()
           .Name("rebound_ingest_publish_latency_seconds")
           .Help("Time from enqueue to Kafka's delivery report (acks=all)")
           .Register(registry)
           .Add({}, latency_bounds_);
  kafka_available = &prometheus::BuildGauge()
                         .Name("rebound_ingest_kafka_available")
                         .Help("1 when the Kafka cluster answers, else 0")
                         .Register(registry)
                         .Add({});
  over_quota_ = &prometheus::BuildCounter()
                     .Name("rebound_ingest_over_quota_total")
                     .Help(
                         "Events answered FAILED (RESOURCE_EXHAUSTED) for "
                         "being over their tenant's events/s quota")
                     .Register(registry);
  open_streams = &prometheus::BuildGauge()
                      .Name("rebound_ingest_open_streams")
                      .Help("PublishStream calls currently open")
                      .Register(registry)
                      .Add({});
  streams_refused =
      &prometheus::BuildCounter()
           .Name("rebound_ingest_streams_refused_total")
           .Help(
               "PublishStream calls refused (RESOURCE_EXHAUSTED) at the "
               "--max-streams or --max-streams-per-tenant limit")
           .Register(registry)
           .Add({});
}

prometheus::Counter* IngestMetrics::OverQuota(const std::string& tenant,
                                              bool named) {
  // Family::Add returns the existing series for known labels.
  return &over_quota_->Add({{"tenant", named ? tenant : "other"}});
}

void IngestMetrics::ObservePublishLatencies(
    const std::vector<double>& seconds) {
  if (seconds.empty()) return;
  // Bucket i counts values <= bound i (the last: above every bound), as
  // Histogram::Observe files them.
  std::vector<double> increments(latency_bounds_.size() + 1, 0);
  double sum = 0;
  for (double s : seconds) {
    auto b =
        std::lower_bound(latency_bounds_.begin(), latency_bounds_.end(), s);
    increments[static_cast<size_t>(b - latency_bounds_.begin())] += 1;
    sum += s;
  }
  publish_latency->ObserveMultiple(increments, sum);
}

}  // namespace rebound::ingest
