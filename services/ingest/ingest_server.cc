#include "services/ingest/ingest_server.h"

#include "common/kafka_admin.h"
#include "common/log.h"
#include "common/tenant_auth.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace rebound::ingest {
namespace {
constexpr char kServiceName[] = "rebound.v1.Ingest";
}

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(
    const IngestServerOptions& options,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<IngestServer> s(new IngestServer());
  s->options_ = options;
  s->registry_ = std::move(registry);
  s->metrics_ = std::make_unique<IngestMetrics>(*s->registry_);

  auto publisher = Publisher::Create(options.publisher);
  if (!publisher.ok()) return publisher.status();
  s->publisher_ = std::move(*publisher);

  const std::string& topic = options.service.topic;
  absl::Status created = EnsureTopics(
      s->publisher_->handle(),
      {{topic, options.topic_partitions, options.topic_replication}},
      options.startup_timeout);
  if (!created.ok()) {
    return absl::Status(created.code(), "kafka at " +
                                            options.publisher.brokers + ": " +
                                            std::string(created.message()));
  }
  auto partitions =
      PartitionCount(s->publisher_->handle(), topic, options.startup_timeout);
  if (!partitions.ok()) return partitions.status();
  log::Info("topic ready", {{"topic", topic}, {"partitions", *partitions}});

  s->service_ = std::make_unique<IngestService>(
      options.service, s->publisher_.get(), s->metrics_.get());

  // Links grpc.health.v1's descriptors in, so reflection can describe the
  // default health service to clients such as grpcurl.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  auto creds = ServerCredentialsFrom(options.tls_cert, options.tls_key);
  if (!creds.ok()) return creds.status();
  builder.AddListeningPort(options.listen, *creds, &s->port_);
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError("grpc: cannot listen on '" + options.listen +
                                  "'");
  }
  IngestServer* raw = s.get();
  s->publisher_->OnAvailabilityChange([raw](bool up) { raw->SetServing(up); });
  log::Info("ingest serving", {{"port", s->port_}, {"topic", topic}});
  return s;
}

void IngestServer::SetServing(bool serving) {
  metrics_->kafka_available->Set(serving ? 1 : 0);
  absl::MutexLock lock(&mu_);
  if (shut_down_ || !server_) return;
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(kServiceName, serving);
  health->SetServingStatus(serving);
}

absl::Status IngestServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::OkStatus();
    shut_down_ = true;
    // Every health watcher sees NOT_SERVING from here on.
    server_->GetHealthCheckService()->Shutdown();
  }
  service_->StartDrain();
  server_->Shutdown(std::chrono::system_clock::now() + options_.drain_timeout);
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
}

}  // namespace rebound::ingest
