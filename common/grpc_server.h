// How every Rebound gRPC server is started: the default health service
// (NOT_SERVING until the owner says otherwise), reflection, bounded message
// sizes; and the health follower that mirrors a dependency check into it.
#ifndef REBOUND_COMMON_GRPC_SERVER_H_
#define REBOUND_COMMON_GRPC_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"

namespace rebound {

struct GrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // The bound port (useful with "host:0").
};

// Starts `service` on `listen`. Health for "" and `health_name` starts
// NOT_SERVING. UNAVAILABLE naming the address when it cannot listen.
absl::StatusOr<GrpcServer> StartGrpcServer(
    const std::string& listen, std::shared_ptr<grpc::ServerCredentials> creds,
    grpc::Service* service, int max_message_bytes,
    const std::string& health_name);

// Sets the health of "" and `health_name` together.
void SetServing(grpc::Server* server, const std::string& health_name,
                bool serving);

// A thread that checks `healthy` every 250 ms until `done` is notified and
// sets the server's health on every change (logging `label` + " serving" /
// " not serving"). Join it after notifying `done`.
std::thread FollowHealth(grpc::Server* server, std::string health_name,
                         std::function<bool()> healthy,
                         const absl::Notification* done, std::string label);

}  // namespace rebound

#endif  // REBOUND_COMMON_GRPC_SERVER_H_
