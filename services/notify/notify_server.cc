#include "services/notify/notify_server.h"

#include "common/log.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace rebound::notify {
namespace {
constexpr char kServiceName[] = "rebound.v1.Notify";
}

absl::StatusOr<std::unique_ptr<NotifyServer>> NotifyServer::Start(
    const NotifyServerOptions& options, RetryPolicyConfig policy,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<NotifyServer> s(new NotifyServer());
  auto auth = TenantAuth::Parse(options.tenant_tokens);
  if (!auth.ok()) return auth.status();
  auto creds = ServerCredentialsFrom(options.tls_cert, options.tls_key);
  if (!creds.ok()) return creds.status();
  auto consumer =
      NotifyConsumer::Create(options.consumer, std::move(policy), registry);
  if (!consumer.ok()) return consumer.status();
  s->consumer_ = std::move(*consumer);
  s->service_ =
      std::make_unique<NotifyService>(options.consumer.store, std::move(*auth));

  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *creds, &s->port_);
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError("grpc: cannot listen on '" + options.listen +
                                  "'");
  }
  NotifyServer* raw = s.get();
  raw->server_->GetHealthCheckService()->SetServingStatus(kServiceName, false);
  raw->server_->GetHealthCheckService()->SetServingStatus(false);
  s->consumer_thread_ = std::thread([raw] {
    (void)raw->consumer_->Run(raw->stop_);
    raw->consumer_done_.Notify();
  });
  s->health_thread_ = std::thread([raw] {
    bool last = false, first = true;
    while (!raw->consumer_done_.WaitForNotificationWithTimeout(
        absl::Milliseconds(250))) {
      bool up = raw->consumer_->healthy();
      if (first || up != last) {
        raw->server_->GetHealthCheckService()->SetServingStatus(kServiceName,
                                                                up);
        raw->server_->GetHealthCheckService()->SetServingStatus(up);
        log::Info(up ? "notify serving" : "notify not serving");
        last = up;
        first = false;
      }
    }
  });
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
