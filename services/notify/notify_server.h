// The notify process minus its main(): the consumer on its own thread and
// the Notify API with health and reflection.
#ifndef REBOUND_SERVICES_NOTIFY_NOTIFY_SERVER_H_
#define REBOUND_SERVICES_NOTIFY_NOTIFY_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_server.h"
#include "common/tenant_auth.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "services/notify/notify_consumer.h"
#include "services/notify/notify_service.h"

namespace rebound::notify {

struct NotifyServerOptions {
  std::string listen = "127.0.0.1:50053";
  int max_message_bytes = 4 * 1024 * 1024;
  // Keepalive and connection ageing of the gRPC port.
  GrpcConnectionOptions connections;
  // Bearer tokens per tenant (TenantAuth::Parse; default: no
  // authentication, development only).
  TenantAuth auth;
  // PEM files; both set = TLS on the gRPC port.
  std::string tls_cert;
  std::string tls_key;
  NotifyConsumerOptions consumer;
  // WatchSuggestions streams served at once; each holds a thread and a
  // Redis connection. More are refused RESOURCE_EXHAUSTED (a client retries
  // later or on another replica) instead of exhausting threads or Redis's
  // client limit.
  int max_watches = 1000;
};

class NotifyServer {
 public:
  static absl::StatusOr<std::unique_ptr<NotifyServer>> Start(
      const NotifyServerOptions& options, RetryPolicyConfig policy,
      std::shared_ptr<prometheus::Registry> registry);
  ~NotifyServer();
  int port() const { return port_; }
  NotifyConsumer* consumer() { return consumer_.get(); }
  // Stops consuming (offsets committed), then the server (open watches end).
  absl::Status Shutdown();

 private:
  NotifyServer() = default;
  std::unique_ptr<NotifyConsumer> consumer_;
  std::unique_ptr<NotifyService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  absl::Notification consumer_done_;
  std::thread consumer_thread_;
  std::thread health_thread_;
  bool shut_down_ = false;
};

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_NOTIFY_SERVER_H_
