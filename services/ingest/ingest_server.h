// The ingest process minus its main(): Kafka producer, topic set-up, gRPC
// server with health and reflection, and an orderly drain.
#ifndef REBOUND_SERVICES_INGEST_INGEST_SERVER_H_
#define REBOUND_SERVICES_INGEST_INGEST_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/grpc_server.h"
#include "common/kafka_publisher.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/ingest_service.h"

namespace rebound::ingest {

struct IngestServerOptions {
  // gRPC listen address; port 0 picks a free one (see port()).
  std::string listen = "127.0.0.1:50051";
  // Plaintext health-only port (StartGrpcServer); "" = none.
  std::string health_listen;
  // Partitions and replication factor used when the topic is created.
  int topic_partitions = 6;
  int topic_replication = 1;
  // Largest gRPC message accepted or sent, in bytes.
  int max_message_bytes = 8 * 1024 * 1024;
  // Keepalive and connection ageing of the gRPC port.
  GrpcConnectionOptions connections;
  // How long start-up waits for Kafka to create or find the topic.
  std::chrono::milliseconds startup_timeout{30'000};
  // How long Shutdown() lets open calls finish, then flushes the producer
  // for at most as long again.
  std::chrono::milliseconds drain_timeout{10'000};
  // PEM files; both set = TLS on the gRPC port.
  std::string tls_cert;
  std::string tls_key;
  // With tls_cert/tls_key: clients must present a certificate this CA
  // signed (mutual TLS; see TenantAuth::AcceptClientCertificates).
  std::string tls_client_ca;
  // Before serving, read the ids the topic took within dedup_ttl into the
  // dedup window (dedup_warmup.h), for at most this long; 0 = not at all.
  // A failed or partial read is logged and serving starts anyway.
  std::chrono::milliseconds dedup_warmup_timeout{30'000};
  IngestServiceOptions service;
  PublisherOptions publisher;
};

class IngestServer {
 public:
  // Connects to Kafka, creates the topic if missing, and starts serving.
  // Fails with a message naming what is wrong (the topic, the address...).
  static absl::StatusOr<std::unique_ptr<IngestServer>> Start(
      const IngestServerOptions& options,
      std::shared_ptr<prometheus::Registry> registry);

  ~IngestServer();

  // The bound gRPC port.
  int port() const { return port_; }
  // The health-only port, 0 when there is none.
  int health_port() const { return health_port_; }

  // Drains: health NOT_SERVING, no new events accepted, open calls answered,
  // the producer flushed. OK when every acked and enqueued record is in
  // Kafka. Safe to call twice.
  absl::Status Shutdown();

  Publisher* publisher() { return publisher_.get(); }

 private:
  IngestServer() = default;
  void SetServing(bool serving);

  IngestServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  // Destroyed bottom-up: the server first, then the publisher (whose last
  // delivery reports still reach the service), then the service.
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  int port_ = 0;
  int health_port_ = 0;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_INGEST_SERVER_H_
