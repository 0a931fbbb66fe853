// rebound-ingest: reads config, wires the ingest server, waits for SIGTERM.
#include <cstdio>
#include <iostream>

#include "absl/time/time.h"
#include "common/config.h"
#include "common/log.h"
#include "common/service_host.h"
#include "services/ingest/ingest_server.h"

int main(int argc, char** argv) {
  // Taken by RunService's TerminationWatch: blocked before any thread starts.
  const sigset_t signals = rebound::BlockTerminationSignals();

  rebound::ConfigReader c(argc, argv);
  using std::chrono::milliseconds;
  rebound::ingest::IngestServerOptions o;
  const rebound::ServiceFlags f =
      rebound::ReadServiceFlags(c, o.listen, "127.0.0.1:9464", "Ingest API");
  rebound::ApplyPortFlags(f, &o);
  o.service.auth = f.security.auth;
  o.publisher.brokers = f.brokers;
  o.startup_timeout = f.startup_timeout;
  o.service.topic =
      c.String("topic", o.service.topic, "Kafka topic for connection events");
  o.topic_partitions =
      static_cast<int>(c.Int("topic-partitions", o.topic_partitions, 1, 10000,
                             "partitions when the topic is created"));
  o.topic_replication =
      static_cast<int>(c.Int("topic-replication", o.topic_replication, 1, 16,
                             "replication factor when the topic is created"));
  o.max_message_bytes = static_cast<int>(
      c.Int("max-message-bytes", o.max_message_bytes, 1024, 256 * 1024 * 1024,
            "largest gRPC message in bytes"));
  o.service.max_batch_events =
      static_cast<int>(c.Int("max-batch-events", o.service.max_batch_events, 1,
                             100000, "most events in one PublishRequest"));
  o.service.validator.max_event_bytes = static_cast<size_t>(
      c.Int("max-event-bytes",
            static_cast<int64_t>(o.service.validator.max_event_bytes), 256,
            16 * 1024 * 1024, "largest serialized event in bytes"));
  o.service.validator.max_future_skew =
      absl::FromChrono(c.Duration("max-future-skew", milliseconds(300'000),
                                  "how far in the future occurred_at may be"));
  o.service.max_enqueue_wait = absl::FromChrono(
      c.Duration("max-enqueue-wait", milliseconds(5'000),
                 "longest wait for room in a full producer queue"));
  o.service.dedup_capacity = static_cast<size_t>(c.Int(
      "dedup-capacity", static_cast<int64_t>(o.service.dedup_capacity), 0,
      100'000'000, "recent event ids remembered for duplicate detection"));
  o.service.dedup_ttl =
      absl::FromChrono(c.Duration("dedup-ttl", milliseconds(600'000),
                                  "how long an event id is remembered"));
  o.dedup_warmup_timeout = c.Duration(
      "dedup-warmup-timeout", o.dedup_warmup_timeout,
      "at start, longest read of the topic's recent event ids into the dedup "
      "window (0: none)");
  o.publisher.queue_max_messages = static_cast<int>(
      c.Int("producer-queue-messages", o.publisher.queue_max_messages, 1,
            10'000'000, "records the producer may hold before back-pressure"));
  o.publisher.linger_ms = static_cast<int>(
      c.Int("producer-linger-ms", o.publisher.linger_ms, 0, 60'000,
            "how long the producer waits to fill a batch"));
  o.publisher.message_timeout =
      c.Duration("producer-message-timeout", o.publisher.message_timeout,
                 "how long one record is retried before it fails");
  o.publisher.health_interval =
      c.Duration("kafka-health-interval", o.publisher.health_interval,
                 "how often Kafka reachability is probed");
  o.drain_timeout =
      c.Duration("drain-timeout", o.drain_timeout,
                 "longest SIGTERM drain of calls, then of the producer");
  if (f.shutdown_limit <= 2 * o.drain_timeout) {
    c.Reject("shutdown-limit",
             "must exceed twice --drain-timeout (calls, then the producer, "
             "each get --drain-timeout)");
  }
  o.service.max_streams = static_cast<int>(
      c.Int("max-streams", o.service.max_streams, 1, 1'000'000,
            "PublishStream calls open at once; one beyond is refused "
            "RESOURCE_EXHAUSTED (unary Publish is not counted)"));
  o.service.max_streams_per_tenant = static_cast<int>(c.Int(
      "max-streams-per-tenant", o.service.max_streams_per_tenant, 0, 1'000'000,
      "of --max-streams, at most this many of one tenant (0: half of "
      "--max-streams), so one tenant cannot take them all"));
  const std::string quota = c.String(
      "tenant-quota", "0",
      "events/s a tenant may publish, as RATE[:BURST] (burst defaults to one "
      "second's worth; 0 = unlimited); over it an event is FAILED "
      "RESOURCE_EXHAUSTED with retry_after_ms");
  const std::string quotas = c.String(
      "tenant-quotas", "",
      "per-tenant quotas overriding --tenant-quota: tenant=RATE[:BURST],...");
  if (auto q = rebound::ingest::ParseTenantQuotas("", quotas); !q.ok()) {
    c.Reject("tenant-quotas", std::string(q.status().message()));
  } else if (auto d = rebound::ingest::ParseQuota(quota); !d.ok()) {
    c.Reject("tenant-quota", std::string(d.status().message()));
  } else {
    o.service.quotas = *q;
    o.service.quotas.default_quota = *d;
  }
  if (auto exit = rebound::FinishServiceFlags(c, "rebound-ingest", "ingest",
                                              f.log_level)) {
    return *exit;
  }

  return rebound::RunService<rebound::ingest::IngestServer>(
      signals, f, [&](std::shared_ptr<prometheus::Registry> registry) {
        return rebound::ingest::IngestServer::Start(o, registry);
      });
}
