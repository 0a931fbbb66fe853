#include "services/notify/notify_server.h"

#include <pthread.h>

#include "common/grpc_server.h"
#include "common/log.h"

namespace rebound::notify {
namespace {
constexpr char kServiceName[] = "rebound.v1.Notify";
}

absl::StatusOr<std::unique_ptr<NotifyServer>> NotifyServer::Start(
    const NotifyServerOptions& options, RetryPolicyConfig policy,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<NotifyServer> s(new NotifyServer());
  auto creds = ServerCredentialsFrom(options.tls_cert, options.tls_key);
  if (!creds.ok()) return creds.status();
  auto consumer =
      NotifyConsumer::Create(options.consumer, std::move(policy), registry);
  if (!consumer.ok()) return consumer.status();
  s->consumer_ = std::move(*consumer);
  s->service_ = std::make_unique<NotifyService>(
      options.consumer.store, options.auth, options.max_watches, registry);

  auto grpc_server = StartGrpcServer(options.listen, *creds, s->service_.get(),
                                     options.max_message_bytes, kServiceName,
                                     options.connections);
  if (!grpc_server.ok()) return grpc_server.status();
  s->server_ = std::move(grpc_server->server);
  s->port_ = grpc_server->port;
  NotifyServer* raw = s.get();
  s->consumer_thread_ = std::thread([raw] {
    pthread_setname_np(pthread_self(), "notify-consume");
    (void)raw->consumer_->Run(raw->stop_);
    raw->consumer_done_.Notify();
  });
  s->health_thread_ = FollowHealth(
      s->server_.get(), kServiceName,
      [raw] { return raw->consumer_->healthy(); }, &s->consumer_done_,
      "notify");
  log::Info("notify started",
            {{"port", s->port_}, {"tls", !options.tls_cert.empty()}});
  return s;
}

absl::Status NotifyServer::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  server_->GetHealthCheckService()->Shutdown();
  stop_.store(true);
  if (consumer_thread_.joinable()) consumer_thread_.join();
  if (health_thread_.joinable()) health_thread_.join();
  // Watches are cancelled at the deadline; their threads end within a read.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return absl::OkStatus();
}

NotifyServer::~NotifyServer() {
  (void)Shutdown();
  if (server_) server_->Wait();
}

}  // namespace rebound::notify
