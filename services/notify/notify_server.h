// The notify process minus its main(): the consumer on its own thread and
// the Notify API with health and reflection.
#ifndef REBOUND_SERVICES_NOTIFY_NOTIFY_SERVER_H_
#define REBOUND_SERVICES_NOTIFY_NOTIFY_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc_server.h"
#include "common/service_host.h"
#include "common/tenant_auth.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "services/notify/notify_consumer.h"
#include "services/notify/notify_service.h"

namespace rebound::notify {

struct NotifyServerOptions {
  std::string listen = "127.0.0.1:50053";
  // Plaintext health-only port (StartGrpcServer); "" = none.
  std::string health_listen;
  int max_message_bytes = 4 * 1024 * 1024;
  // Keepalive and connection ageing of the gRPC port.
  GrpcConnectionOptions connections;
  // Bearer tokens per tenant (TenantAuth::Parse; default: no
  // authentication, development only).
  TenantAuth auth;
  // PEM files; both set = TLS on the gRPC port.
  std::string tls_cert;
  std::string tls_key;
  // With tls_cert/tls_key: clients must present a certificate this CA
  // signed (mutual TLS; see TenantAuth::AcceptClientCertificates).
  std::string tls_client_ca;
  NotifyConsumerOptions consumer;
  // WatchSuggestions streams served at once; each holds a thread and a
  // Redis connection. More are refused RESOURCE_EXHAUSTED (a client retries
  // later or on another replica) instead of exhausting threads or Redis's
  // client limit.
  int max_watches = 1000;
  // Of those, at most this many for one tenant (0: --max-watches / 2).
  int max_watches_per_tenant = 0;
  // The key sealing ListSuggestions page tokens (page_token.h); every
  // replica needs the same. Empty: the built-in one.
  std::string page_token_key;
  // Redis connections the unary calls share (one per call at a time).
  int read_connections = 8;
  // A watch whose client reads nothing for this long while updates wait
  // is cancelled (its thread, queue and place freed).
  absl::Duration watch_stall_limit = absl::Seconds(60);
};

class NotifyServer {
 public:
  // Reads the TLS files, binds the port, connects to Kafka and Redis
  // (waiting at most consumer.startup_timeout), then consumes.
  static absl::StatusOr<std::unique_ptr<NotifyServer>> Start(
      const NotifyServerOptions& options, RetryPolicyConfig policy,
      std::shared_ptr<prometheus::Registry> registry);
  int port() const { return host_->port(); }
  // The health-only port, 0 when there is none.
  int health_port() const { return host_->health_port(); }
  NotifyConsumer* consumer() { return consumer_; }
  // Stops consuming (offsets committed), then the server (open watches end).
  absl::Status Shutdown() { return host_->Shutdown(); }

 private:
  NotifyServer() = default;
  std::unique_ptr<ServiceHost> host_;
  NotifyConsumer* consumer_ = nullptr;  // Owned by host_.
};

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_NOTIFY_SERVER_H_
