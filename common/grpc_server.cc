#include "common/grpc_server.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/proto_wire.h"
#include "common/reflection_v1.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"

namespace rebound {

namespace {

// Takes gRPC's reflection plugin (v1alpha) off one server. Linking
// grpc++_reflection registers it with every ServerBuilder of the process,
// so leaving it off means removing it here.
class NoReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    std::erase_if(*plugins, [](const auto& p) {
      return p->name() == "proto_server_reflection";
    });
  }
};

}  // namespace

GrpcConnectionOptions ReadGrpcConnectionOptions(ConfigReader& c) {
  GrpcConnectionOptions o;
  o.keepalive_time =
      c.Duration("grpc-keepalive-time", o.keepalive_time,
                 "ping a connection idle this long (dead peers are dropped)");
  o.keepalive_timeout =
      c.Duration("grpc-keepalive-timeout", o.keepalive_timeout,
                 "drop a connection whose ping is not "
                 "answered within this");
  o.max_connection_age = c.Duration(
      "grpc-max-connection-age", o.max_connection_age,
      "ask clients to reconnect after this (spreads load over new replicas; "
      "0 = never)");
  o.max_connection_age_grace = c.Duration(
      "grpc-max-connection-age-grace", o.max_connection_age_grace,
      "then let open calls finish for this long before cancelling them");
  o.reflection = c.Bool("grpc-reflection", o.reflection,
                        "serve gRPC reflection (API discovery for tools such "
                        "as grpcurl)");
  return o;
}

GrpcPortSecurity ReadGrpcPortSecurity(ConfigReader& c) {
  GrpcPortSecurity s;
  const std::string tokens = c.String(
      "tenant-tokens", "", "tenant:token,... binding bearer tokens to tenants");
  s.tls_cert =
      c.String("tls-cert", "", "PEM certificate for TLS on the gRPC port");
  s.tls_key =
      c.String("tls-key", "", "PEM private key for TLS on the gRPC port");
  s.tls_client_ca = c.String(
      "tls-client-ca", "",
      "PEM CA certificate: require client certificates it signed (mutual "
      "TLS); a call without a bearer token acts for the tenant named by its "
      "certificate's subject CN");
  s.insecure_no_auth = c.Bool(
      "insecure-no-auth", false,
      "serve with no authentication at all: any caller acts for any tenant "
      "(local development only; without tokens, client certificates or this, "
      "the service refuses to start)");
  const std::string file = c.String(
      "tenant-tokens-file", "",
      "a file of tenant:token entries (one a line, # comments; a token may be "
      "sha256:<hex> of it), instead of --tenant-tokens: mount it as a secret "
      "file, not an environment variable");
  std::string spec = tokens;
  std::string setting = "tenant-tokens";
  if (!file.empty()) {
    setting = "tenant-tokens-file";
    if (!tokens.empty()) {
      c.Reject(setting,
               "give --tenant-tokens or --tenant-tokens-file, not both");
      return s;
    }
    auto text = c.ReadSettingFile(setting, file);
    if (!text) return s;
    spec = *std::move(text);
    if (spec.find_first_not_of(" \t\r\n") == std::string::npos) {
      c.Reject(setting, "'" + file + "' holds no tenant:token entry");
      return s;
    }
  }
  if (auto auth = TenantAuth::Parse(spec); auth.ok()) {
    s.auth = *std::move(auth);
  } else {
    c.Reject(setting, std::string(auth.status().message()));
    return s;
  }
  if (!s.tls_client_ca.empty()) {
    if (s.tls_cert.empty() || s.tls_key.empty()) {
      c.Reject("tls-client-ca", "needs --tls-cert and --tls-key too");
      return s;
    }
    s.auth.AcceptClientCertificates();
  }
  if (s.insecure_no_auth && s.auth.enabled()) {
    c.Reject("insecure-no-auth",
             "given with tenant tokens or --tls-client-ca: drop one or the "
             "other");
  } else if (!s.insecure_no_auth && !s.auth.enabled()) {
    c.Reject(setting,
             "no credentials: give --tenant-tokens-file (or --tenant-tokens) "
             "or --tls-client-ca; --insecure-no-auth serves every tenant to "
             "any caller (development only)");
  }
  return s;
}

absl::StatusOr<GrpcServer> StartGrpcServer(
    const std::string& listen, std::shared_ptr<grpc::ServerCredentials> creds,
    grpc::Service* service, int max_message_bytes,
    const std::string& health_name, const GrpcConnectionOptions& connections,
    const std::string& health_listen) {
  // Links grpc.health.v1's descriptors in, so reflection can describe the
  // default health service to clients such as grpcurl.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  GrpcServer out;
  grpc::ServerBuilder builder;
  if (!connections.reflection)
    builder.SetOption(std::make_unique<NoReflection>());
  // No SO_REUSEPORT (gRPC's default on Linux): a second server on a port
  // already served would start and take a share of its connections
  // (clients of one service reaching another); it fails to start instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(listen, std::move(creds), &out.port);
  builder.RegisterService(service);
  // Reflection v1 beside the plugin's v1alpha (common/reflection_v1.h).
  const std::vector<std::string> reflected = {
      "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
      kReflectionV1Service};
  std::vector<std::string> with_service = reflected;
  with_service.push_back(health_name);
  std::sort(with_service.begin(), with_service.end());
  if (connections.reflection) {
    builder.RegisterCallbackGenericService(NewReflectionV1(with_service));
  }
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  auto ms = [](std::chrono::milliseconds d) {
    return static_cast<int>(std::min<int64_t>(d.count(), INT32_MAX));
  };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             ms(connections.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             ms(connections.keepalive_timeout));
  // Clients' own keepalive pings are welcome down to every 10 s, even
  // between calls (a watcher's idle stream, say).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  if (connections.max_connection_age.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               ms(connections.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               ms(connections.max_connection_age_grace));
  }
  out.server = builder.BuildAndStart();
  if (!out.server || out.port == 0) {
    return absl::UnavailableError("grpc: cannot listen on '" + listen + "'");
  }
  if (!health_listen.empty()) {
    // No service registered: only the default health service (and
    // reflection, which then lists just that).
    grpc::ServerBuilder health;
    if (!connections.reflection) {
      health.SetOption(std::make_unique<NoReflection>());
    }
    health.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    health.AddListeningPort(health_listen, grpc::InsecureServerCredentials(),
                            &out.health_port);
    health.SetMaxReceiveMessageSize(64 * 1024);
    if (connections.reflection) {
      health.RegisterCallbackGenericService(NewReflectionV1(reflected));
    }
    out.health_server = health.BuildAndStart();
    if (!out.health_server || out.health_port == 0) {
      out.server->Shutdown();
      return absl::UnavailableError("grpc: cannot listen on '" + health_listen +
                                    "' (health port)");
    }
  }
  SetServing(out.server.get(), out.health_server.get(), health_name, false);
  return out;
}

void SetServing(grpc::Server* server, grpc::Server* health_server,
                const std::string& health_name, bool serving) {
  for (grpc::Server* s : {server, health_server}) {
    if (s == nullptr) continue;
    auto* health = s->GetHealthCheckService();
    health->SetServingStatus(health_name, serving);
    health->SetServingStatus(serving);
  }
}

void ShutdownHealth(grpc::Server* server, grpc::Server* health_server) {
  for (grpc::Server* s : {server, health_server}) {
    if (s != nullptr) s->GetHealthCheckService()->Shutdown();
  }
}

namespace {

constexpr char kBadRequestType[] = "type.googleapis.com/google.rpc.BadRequest";

}  // namespace

absl::Duration WaitWithinDeadline(const grpc::ServerContextBase& context,
                                  absl::Duration cap) {
  // gRPC's "no deadline" is the far future: the cap wins.
  const absl::Duration left =
      absl::FromChrono(context.deadline() - std::chrono::system_clock::now());
  return std::clamp(left, absl::ZeroDuration(), cap);
}

grpc::Status InvalidField(std::string_view field,
                          std::string_view description) {
  std::string message(field);
  message += ": ";
  message += description;
  // google.rpc.BadRequest { FieldViolation field_violations = 1 }, with
  // FieldViolation { string field = 1; string description = 2 }.
  std::string violation, bad_request, any, status;
  wire::PutBytes(1, field, &violation);
  wire::PutBytes(2, description, &violation);
  wire::PutBytes(1, violation, &bad_request);
  // google.protobuf.Any { string type_url = 1; bytes value = 2 }.
  wire::PutBytes(1, kBadRequestType, &any);
  wire::PutBytes(2, bad_request, &any);
  // google.rpc.Status { int32 code = 1; string message = 2; Any details = 3 }.
  wire::PutVarint(1, static_cast<uint64_t>(grpc::StatusCode::INVALID_ARGUMENT),
                  &status);
  wire::PutBytes(2, message, &status);
  wire::PutBytes(3, any, &status);
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message, status);
}

std::vector<std::pair<std::string, std::string>> BadRequestViolations(
    const std::string& details) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<wire::Field> status;
  if (!wire::Parse(details, &status)) return out;
  for (const wire::Field& detail : status) {
    if (detail.number != 3 || !detail.delimited) continue;
    std::vector<wire::Field> any;
    if (!wire::Parse(detail.bytes, &any)) continue;
    std::string type, value;
    for (const wire::Field& f : any) (f.number == 1 ? type : value) = f.bytes;
    std::vector<wire::Field> bad;
    if (type != kBadRequestType || !wire::Parse(value, &bad)) continue;
    for (const wire::Field& v : bad) {
      std::vector<wire::Field> fv;
      if (v.number != 1 || !wire::Parse(v.bytes, &fv)) continue;
      std::string field, description;
      for (const wire::Field& x : fv) {
        if (x.number == 1) field = x.bytes;
        if (x.number == 2) description = x.bytes;
      }
      out.emplace_back(field, description);
    }
  }
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  const auto code = static_cast<grpc::StatusCode>(status.code());
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return grpc::Status::OK;
    case absl::StatusCode::kInvalidArgument: {
      // "<field>: <reason>", as every check here words it: with the field
      // violation attached for clients that map errors to fields.
      const std::string_view m(status.message().data(),
                               status.message().size());
      const size_t colon = m.find(": ");
      if (colon != std::string_view::npos && colon > 0 &&
          m.substr(0, colon).find(' ') == std::string_view::npos) {
        return InvalidField(m.substr(0, colon), m.substr(colon + 2));
      }
      return grpc::Status(code, std::string(m));
    }
    // The service's own answers about the request: the client's to read.
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return grpc::Status(code, std::string(status.message()));
    default:
      break;
  }
  // A dependency's failure: its text names internal addresses and
  // commands, so it goes to the log (at most once a second) and the client
  // gets a stable message per code.
  static std::atomic<int64_t> last_logged_ms{0};
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t last = last_logged_ms.load(std::memory_order_relaxed);
  if (now_ms - last >= 1000 &&
      last_logged_ms.compare_exchange_strong(last, now_ms)) {
    log::Warn("call failed", {{"code", absl::StatusCodeToString(status.code())},
                              {"detail", std::string(status.message())}});
  }
  return grpc::Status(code, ClientMessage(code));
}

std::string ClientMessage(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return "the service's storage is unavailable; retry with backoff";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the service's storage did not answer in time; retry with "
             "backoff";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "the service is at capacity; retry with backoff";
    case grpc::StatusCode::DATA_LOSS:
      return "stored state is lost or corrupt; operators have been told";
    default:
      return "internal error";
  }
}

std::thread FollowHealth(grpc::Server* server, grpc::Server* health_server,
                         std::string health_name, std::function<bool()> healthy,
                         const absl::Notification* done, std::string label) {
  return std::thread([=] {
    bool last = false;
    bool first = true;
    while (!done->WaitForNotificationWithTimeout(absl::Milliseconds(250))) {
      bool up = healthy();
      if (first || up != last) {
        SetServing(server, health_server, health_name, up);
        log::Info(label + (up ? " serving" : " not serving"));
        last = up;
        first = false;
      }
    }
  });
}

}  // namespace rebound
