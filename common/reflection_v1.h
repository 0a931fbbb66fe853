// gRPC server reflection, v1 (grpc.reflection.v1.ServerReflection), beside
// the v1alpha service gRPC 1.51's plugin serves: newer clients (grpcurl,
// grpcui, Postman, grpc-go's reflection client) ask for v1 first.
//
// The v1 messages are v1alpha's under another package name (the same
// fields and numbers); gRPC 1.51 ships neither's .proto, so requests and
// answers are read and written field by field (common/proto_wire.h) over a
// generic callback service, from the process's generated descriptor pool,
// which holds every message the binary links.
#ifndef REBOUND_COMMON_REFLECTION_V1_H_
#define REBOUND_COMMON_REFLECTION_V1_H_

#include <string>
#include <vector>

#include "grpcpp/generic/async_generic_service.h"

namespace rebound {

inline constexpr char kReflectionV1Service[] =
    "grpc.reflection.v1.ServerReflection";

class ReflectionV1Service : public grpc::CallbackGenericService {
 public:
  // `services`: the names list_services answers (the server's services).
  explicit ReflectionV1Service(std::vector<std::string> services)
      : services_(std::move(services)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

  // The ServerReflectionResponse for one serialized ServerReflectionRequest.
  std::string Answer(const std::string& request) const;

 private:
  const std::vector<std::string> services_;
};

// A service for one server (gRPC registers a generic service with one
// server only), kept for the life of the process: a server must not outlive
// the generic service registered on it, and callers own their servers.
ReflectionV1Service* NewReflectionV1(std::vector<std::string> services);

}  // namespace rebound

#endif  // REBOUND_COMMON_REFLECTION_V1_H_
