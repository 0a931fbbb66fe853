#include "services/ingest/ingest_server.h"

#include "common/grpc_server.h"
#include "common/kafka_admin.h"
#include "common/log.h"
#include "common/pipeline.h"
#include "common/tenant_auth.h"
#include "services/ingest/dedup_warmup.h"

namespace rebound::ingest {
namespace {
constexpr char kServiceName[] = "rebound.v1.Ingest";
}

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(
    const IngestServerOptions& options,
    std::shared_ptr<prometheus::Registry> registry) {
  // The cheap checks first: a bad TLS file fails before Kafka is waited for.
  auto creds = ServerCredentialsFrom(options.tls_cert, options.tls_key,
                                     options.tls_client_ca);
  if (!creds.ok()) return creds.status();
  std::unique_ptr<IngestServer> s(new IngestServer());
  s->options_ = options;
  s->registry_ = std::move(registry);
  options.service.auth.CountFailuresIn(s->registry_);
  s->metrics_ = std::make_unique<IngestMetrics>(*s->registry_);

  auto publisher = Publisher::Create(options.publisher);
  if (!publisher.ok()) return publisher.status();
  s->publisher_ = std::move(*publisher);

  const std::string& topic = options.service.topic;
  absl::Status created = pipeline::EnsureTopics(
      s->publisher_->handle(), options.publisher.brokers, {topic},
      {options.topic_partitions, options.topic_replication},
      options.startup_timeout);
  if (!created.ok()) return created;
  auto partitions =
      PartitionCount(s->publisher_->handle(), topic, options.startup_timeout);
  if (!partitions.ok()) return partitions.status();
  log::Info("topic ready", {{"topic", topic}, {"partitions", *partitions}});
  // Deleted (or no longer authorised) later: NOT_SERVING, not acks that
  // time out.
  s->publisher_->RequireTopics({topic});

  s->service_ = std::make_unique<IngestService>(
      options.service, s->publisher_.get(), s->metrics_.get());
  if (options.dedup_warmup_timeout.count() > 0 &&
      options.service.dedup_capacity > 0) {
    // What a predecessor published but may not have answered (a crash)
    // comes back DUPLICATE when resent, instead of being written again.
    DedupWarmupOptions w;
    w.brokers = options.publisher.brokers;
    w.topic = topic;
    w.ttl = options.service.dedup_ttl;
    w.max_records = static_cast<int64_t>(options.service.dedup_capacity);
    w.timeout = absl::FromChrono(options.dedup_warmup_timeout);
    w.extra = options.publisher.extra;
    const absl::Time started = absl::Now();
    auto warmed = WarmDedupWindow(w, s->service_->dedup_window());
    if (warmed.ok()) {
      log::Info("dedup window warmed from the topic",
                {{"records", std::to_string(warmed->records)},
                 {"ids", std::to_string(warmed->remembered)},
                 {"ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() -
                                                                 started))}});
    } else {
      log::Warn("dedup window not fully warmed; serving anyway",
                {{"error", std::string(warmed.status().message())},
                 {"ids", std::to_string(s->service_->dedup_window()->size())}});
    }
  }

  auto grpc_server = StartGrpcServer(
      options.listen, *creds, s->service_.get(), options.max_message_bytes,
      kServiceName, options.connections, options.health_listen);
  if (!grpc_server.ok()) return grpc_server.status();
  s->server_ = std::move(grpc_server->server);
  s->port_ = grpc_server->port;
  s->health_server_ = std::move(grpc_server->health_server);
  s->health_port_ = grpc_server->health_port;
  IngestServer* raw = s.get();
  s->publisher_->OnAvailabilityChange([raw](bool up) { raw->SetServing(up); });
  log::Info("ingest serving", {{"port", s->port_}, {"topic", topic}});
  return s;
}

void IngestServer::SetServing(bool serving) {
  metrics_->kafka_available->Set(serving ? 1 : 0);
  absl::MutexLock lock(&mu_);
  if (shut_down_ || !server_) return;
  rebound::SetServing(server_.get(), health_server_.get(), kServiceName,
                      serving);
}

absl::Status IngestServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::OkStatus();
    shut_down_ = true;
    // Every health watcher sees NOT_SERVING from here on.
    ShutdownHealth(server_.get(), health_server_.get());
  }
  service_->StartDrain();
  server_->Shutdown(std::chrono::system_clock::now() + options_.drain_timeout);
  // Its statuses have said NOT_SERVING since the drain began: open health
  // watches are cancelled now rather than waited for.
  if (health_server_)
    health_server_->Shutdown(std::chrono::system_clock::now());
  absl::Status flushed = publisher_->Flush(options_.drain_timeout);
  log::Info("ingest drained", {{"flushed", flushed.ok()},
                               {"detail", std::string(flushed.message())}});
  return flushed;
}

IngestServer::~IngestServer() {
  if (server_) {
    absl::Status s = Shutdown();
    (void)s;
    server_->Wait();
  }
  if (publisher_) publisher_->OnAvailabilityChange([](bool) {});
  // The publisher resolves its last records into the service: it goes first;
  // the service outlives the gRPC server it is registered with.
  publisher_.reset();
  server_.reset();
  service_.reset();
}

}  // namespace rebound::ingest
