#include "services/ingest/ingest_metrics.h"

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
  publish_latency =
      &prometheus::BuildHistogram()
           .Name("rebound_ingest_publish_latency_seconds")
           .Help("Time from enqueue to Kafka's delivery report (acks=all)")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
                        0.5, 1, 2, 5, 10, 30});
  kafka_available = &prometheus::BuildGauge()
                         .Name("rebound_ingest_kafka_available")
                         .Help("1 when the Kafka cluster answers, else 0")
                         .Register(registry)
                         .Add({});
  open_streams = &prometheus::BuildGauge()
                      .Name("rebound_ingest_open_streams")
                      .Help("PublishStream calls currently open")
                      .Register(registry)
                      .Add({});
}

}  // namespace rebound::ingest
