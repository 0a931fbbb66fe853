#include "common/grpc_server.h"

#include "common/log.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace rebound {

absl::StatusOr<GrpcServer> StartGrpcServer(
    const std::string& listen, std::shared_ptr<grpc::ServerCredentials> creds,
    grpc::Service* service, int max_message_bytes,
    const std::string& health_name) {
  // Links grpc.health.v1's descriptors in, so reflection can describe the
  // default health service to clients such as grpcurl.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  GrpcServer out;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, std::move(creds), &out.port);
  builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  out.server = builder.BuildAndStart();
  if (!out.server || out.port == 0) {
    return absl::UnavailableError("grpc: cannot listen on '" + listen + "'");
  }
  SetServing(out.server.get(), health_name, false);
  return out;
}

void SetServing(grpc::Server* server, const std::string& health_name,
                bool serving) {
  auto* health = server->GetHealthCheckService();
  health->SetServingStatus(health_name, serving);
  health->SetServingStatus(serving);
}

std::thread FollowHealth(grpc::Server* server, std::string health_name,
                         std::function<bool()> healthy,
                         const absl::Notification* done, std::string label) {
  return std::thread([=] {
    bool last = false;
    bool first = true;
    while (!done->WaitForNotificationWithTimeout(absl::Milliseconds(250))) {
      bool up = healthy();
      if (first || up != last) {
        SetServing(server, health_name, up);
        log::Info(label + (up ? " serving" : " not serving"));
        last = up;
        first = false;
      }
    }
  });
}

}  // namespace rebound
