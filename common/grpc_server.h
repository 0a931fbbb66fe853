// How every Rebound gRPC server is started: the default health service
// (NOT_SERVING until the owner says otherwise), reflection, bounded message
// sizes; and the health follower that mirrors a dependency check into it.
#ifndef REBOUND_COMMON_GRPC_SERVER_H_
#define REBOUND_COMMON_GRPC_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/tenant_auth.h"
#include "grpcpp/grpcpp.h"

namespace rebound {

// How long-lived connections (streams) are kept honest.
struct GrpcConnectionOptions {
  // A connection idle this long is pinged; one that does not answer within
  // keepalive_timeout is dropped (a peer gone behind a NAT or balancer).
  std::chrono::milliseconds keepalive_time{30'000};
  std::chrono::milliseconds keepalive_timeout{10'000};
  // Connections older than this are told to go away (GOAWAY), so clients
  // reconnect and spread over replicas added since (a scaled-out Deployment
  // gets traffic); calls still open get max_connection_age_grace to end,
  // then are cancelled (UNAVAILABLE). 0 = connections never age out.
  std::chrono::milliseconds max_connection_age{0};
  std::chrono::milliseconds max_connection_age_grace{60'000};
  // Serve grpc.reflection (v1 and v1alpha): lets tools such as grpcurl
  // discover the API; --grpc-reflection=false turns it off.
  bool reflection = true;
};

// Reads --grpc-keepalive-time, --grpc-keepalive-timeout,
// --grpc-max-connection-age, --grpc-max-connection-age-grace and
// --grpc-reflection (or their REBOUND_* variables).
GrpcConnectionOptions ReadGrpcConnectionOptions(ConfigReader& config);

// The security settings every service's gRPC port reads alike.
struct GrpcPortSecurity {
  // --tenant-tokens ("tenant:token,...") parsed: bearer tokens bound to
  // tenants (none = no auth). When they do not parse, the reader has the
  // error and this is empty.
  TenantAuth auth;
  // PEM certificate and key: TLS on the port when set.
  std::string tls_cert;
  std::string tls_key;
  // A CA's PEM certificate: clients must present a certificate it signed,
  // whose subject CN is the tenant they act for (auth accepts those).
  std::string tls_client_ca;
  // --insecure-no-auth: no tokens and no client certificates, on purpose.
  // Without it (or credentials) the reader rejects the configuration.
  bool insecure_no_auth = false;
};

// Reads --tenant-tokens / --tenant-tokens-file, --tls-cert, --tls-key,
// --tls-client-ca and --insecure-no-auth (or their REBOUND_* variables).
// Tokens that do not parse are rejected in `config` (its Finish() names the
// setting, the entry and why; never the token), and so is a port with no
// credentials at all unless --insecure-no-auth says so.
GrpcPortSecurity ReadGrpcPortSecurity(ConfigReader& config);

struct GrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // The bound port (useful with "host:0").
  // The health-only plaintext server (see StartGrpcServer), or null.
  std::unique_ptr<grpc::Server> health_server;
  int health_port = 0;
};

// Starts `service` on `listen`. Health for "" and `health_name` starts
// NOT_SERVING. Clients may send keepalive pings every 10 s or more.
// UNAVAILABLE naming the address when it cannot listen.
//
// With `health_listen` set, a second server on that address, always
// plaintext, serves grpc.health.v1 and nothing else (any other call is
// UNIMPLEMENTED), with the same statuses as the main port (SetServing sets
// both): probes that speak no TLS (kubelet's gRPC probe) keep following the
// service's health while the main port requires TLS.
absl::StatusOr<GrpcServer> StartGrpcServer(
    const std::string& listen, std::shared_ptr<grpc::ServerCredentials> creds,
    grpc::Service* service, int max_message_bytes,
    const std::string& health_name,
    const GrpcConnectionOptions& connections = {},
    const std::string& health_listen = "");

// An absl::Status as the gRPC status with the same code (the codes are the
// same numbers). The one conversion every service uses. Answers about the
// request (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, OUT_OF_RANGE,
// ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED, ABORTED, CANCELLED)
// keep their message; a dependency's failure (UNAVAILABLE, DEADLINE_EXCEEDED,
// DATA_LOSS, INTERNAL...) is logged with its detail and the client gets
// ClientMessage(code): never an internal address or a Redis error text.
grpc::Status ToGrpcStatus(const absl::Status& status);
// The stable text a client gets for a failure of `code` that is not its
// request's fault.
std::string ClientMessage(grpc::StatusCode code);

// INVALID_ARGUMENT "<field>: <description>" carrying a google.rpc.Status
// with a google.rpc.BadRequest field violation in its details (the
// grpc-status-details-bin trailer), so clients can map the error to the
// field. ToGrpcStatus does the same for an INVALID_ARGUMENT worded so.
grpc::Status InvalidField(std::string_view field, std::string_view description);

// How long a call may wait for a shared resource (a pooled Redis
// connection): `cap`, or less when the call's deadline comes sooner (0 once
// it has passed), so a call its client gave up on does not hold one.
absl::Duration WaitWithinDeadline(const grpc::ServerContextBase& context,
                                  absl::Duration cap);

// The (field, description) violations of a google.rpc.BadRequest in a
// status's details (grpc::Status::error_details()); empty if none.
std::vector<std::pair<std::string, std::string>> BadRequestViolations(
    const std::string& details);

// Sets the health of "" and `health_name` together, on `server` and on
// `health_server` (the health-only port; may be null).
void SetServing(grpc::Server* server, grpc::Server* health_server,
                const std::string& health_name, bool serving);

// Turns health NOT_SERVING for good on both (for the start of a drain).
void ShutdownHealth(grpc::Server* server, grpc::Server* health_server);

// A thread that checks `healthy` every 250 ms until `done` is notified and
// sets the servers' health on every change (logging `label` + " serving" /
// " not serving"). Join it after notifying `done`.
std::thread FollowHealth(grpc::Server* server, grpc::Server* health_server,
                         std::string health_name, std::function<bool()> healthy,
                         const absl::Notification* done, std::string label);

}  // namespace rebound

#endif  // REBOUND_COMMON_GRPC_SERVER_H_
