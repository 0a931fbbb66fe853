// What scoring and notify are made of, written once: a pipeline stage (a
// consumer) on its own thread, a gRPC server whose health follows the
// stage's dependencies, metrics, and an orderly drain. Also the settings
// and the main() every service shares.
#ifndef REBOUND_COMMON_SERVICE_HOST_H_
#define REBOUND_COMMON_SERVICE_HOST_H_

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/kafka_group.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "common/signals.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/service_type.h"
#include "prometheus/registry.h"

namespace rebound {

// A consumer the host runs: scoring's and notify's.
class PipelineStage {
 public:
  virtual ~PipelineStage() = default;
  // Consumes until `stop` is set, then drains (work in flight lands or is
  // left unstored, to be replayed) and leaves its group, within a bounded
  // time even while Kafka or Redis is down. Returns the first fatal error
  // (a drain that could not complete counts).
  virtual absl::Status Run(const std::atomic<bool>& stop) = 0;
  // Every dependency answering (Kafka, Redis) and the state intact.
  virtual bool healthy() const = 0;
  // Records fully handled so far.
  virtual int64_t processed() const = 0;
};

struct ServiceHostOptions {
  // Short name for logs and the stage's thread ("scoring").
  std::string name;
  // The gRPC health service name ("rebound.v1.Scoring"); "" is set alike.
  std::string health_service;
  std::string listen = "127.0.0.1:0";
  // Plaintext health-only port (StartGrpcServer); "" = none.
  std::string health_listen;
  int max_message_bytes = 4 * 1024 * 1024;
  GrpcConnectionOptions connections;
  // PEM files; both set = TLS on the gRPC port.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;  // Also set: mutual TLS.
  // How long open calls (streams) get at shutdown before they are
  // cancelled.
  std::chrono::milliseconds call_grace{5'000};
};

// The host settings of a pipeline server's options (scoring's, notify's:
// listen, max_message_bytes, connections, tls_cert, tls_key).
template <typename ServerOptions>
ServiceHostOptions HostOptionsOf(const ServerOptions& options, std::string name,
                                 std::string health_service) {
  ServiceHostOptions h;
  h.name = std::move(name);
  h.health_service = std::move(health_service);
  h.listen = options.listen;
  h.health_listen = options.health_listen;
  h.max_message_bytes = options.max_message_bytes;
  h.connections = options.connections;
  h.tls_cert = options.tls_cert;
  h.tls_key = options.tls_key;
  h.tls_client_ca = options.tls_client_ca;
  return h;
}

class ServiceHost {
 public:
  using StageFactory =
      std::function<absl::StatusOr<std::unique_ptr<PipelineStage>>()>;

  // In this order, so the cheap checks fail first: the TLS files are
  // read, `service` starts on the port (health NOT_SERVING), `make_stage`
  // builds the stage (it connects to Kafka and Redis, within its own
  // start-up timeout), then the stage runs on its own thread and health
  // follows it. Any failure stops what was started and returns the cause.
  static absl::StatusOr<std::unique_ptr<ServiceHost>> Start(
      ServiceHostOptions options, std::unique_ptr<grpc::Service> service,
      const StageFactory& make_stage);
  // Shutdown() if not done, then releases the server, the stage and the
  // service, in that order.
  ~ServiceHost();
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  int port() const { return port_; }
  // The health-only port, 0 when there is none.
  int health_port() const { return health_port_; }
  PipelineStage* stage() { return stage_.get(); }

  // Health NOT_SERVING for every watcher, the stage stopped and drained,
  // then the server (open calls get call_grace). Returns the stage's
  // status. Safe to call twice.
  absl::Status Shutdown();

 private:
  ServiceHost() = default;

  ServiceHostOptions options_;
  // Destroyed bottom-up: the server first, then the stage, then the
  // service the server was serving.
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<PipelineStage> stage_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  int port_ = 0;
  int health_port_ = 0;
  std::atomic<bool> stop_{false};
  absl::Notification stage_done_;
  absl::Status stage_status_;
  std::thread stage_thread_;
  std::thread health_thread_;
  bool shut_down_ = false;
};

// The settings every service's main() reads alike.
struct ServiceFlags {
  std::string listen;
  std::string health_listen;
  std::string metrics_listen;
  std::string log_level = "info";
  std::string brokers;
  GrpcConnectionOptions connections;
  GrpcPortSecurity security;
  // How long start-up waits for Kafka (and Redis) before it gives up.
  std::chrono::milliseconds startup_timeout{30'000};
  // The longest a stop may take from SIGTERM to exit (TerminationWatch):
  // within Kubernetes' grace of 30 s less the manifests' 5 s preStop, above
  // the drain and the consumer's close the defaults allow (20 s); open
  // calls' grace (up to 5 s) comes last and is cut if the stop runs on.
  std::chrono::milliseconds shutdown_limit{24'000};
  // security.protocol from --kafka-config-file (for the start-up log).
  std::string kafka_security_protocol = "plaintext";
};

// The gRPC port settings of `flags` into a server's options (every
// service's have listen, connections, tls_cert and tls_key; where the
// tokens go differs, so callers set those).
template <typename ServerOptions>
void ApplyPortFlags(const ServiceFlags& flags, ServerOptions* options) {
  options->listen = flags.listen;
  options->health_listen = flags.health_listen;
  options->connections = flags.connections;
  options->tls_cert = flags.security.tls_cert;
  options->tls_key = flags.security.tls_key;
  options->tls_client_ca = flags.security.tls_client_ca;
}

// Reads --listen, --health-listen, --metrics-listen, --log-level,
// --kafka-brokers,
// --startup-timeout, the gRPC keepalive settings and the port's security
// (--tenant-tokens[-file], --tls-cert, --tls-key, --tls-client-ca,
// --insecure-no-auth), with these defaults.
ServiceFlags ReadServiceFlags(ConfigReader& config,
                              const std::string& default_listen,
                              const std::string& default_metrics_listen,
                              const std::string& api);

// After the last setting was read: --help printed (exit 0), or a
// configuration error named on stderr (exit 2; a misspelt REBOUND_*
// variable is one: ConfigReader::RefuseMisspeltVariables), or logging set
// up for `binary`. nullopt: carry on.
std::optional<int> FinishServiceFlags(ConfigReader& config,
                                      const std::string& binary,
                                      const std::string& component,
                                      const std::string& log_level);

// The rest of every service's main(): the metrics endpoint, `start`, then
// serving until SIGTERM or SIGINT and draining. A start that fails exits 1
// with one error line naming the cause.
template <typename Server>
int RunService(const sigset_t& signals, const ServiceFlags& flags,
               const std::function<absl::StatusOr<std::unique_ptr<Server>>(
                   std::shared_ptr<prometheus::Registry>)>& start) {
  // From here on a signal ends the start at once, and the stop is bounded.
  TerminationWatch watch(signals, absl::FromChrono(flags.shutdown_limit));
  auto registry = std::make_shared<prometheus::Registry>();
  log::Info("authentication",
            {{"mode", flags.security.auth.Mode()},
             {"tls", !flags.security.tls_cert.empty()},
             {"mutual_tls", !flags.security.tls_client_ca.empty()},
             {"reflection", flags.connections.reflection},
             {"kafka_security_protocol", flags.kafka_security_protocol}});
  auto metrics = MetricsServer::Start(flags.metrics_listen, registry);
  if (!metrics.ok()) {
    log::Error("cannot start",
               {{"error", std::string(metrics.status().message())}});
    return 1;
  }
  auto server = start(registry);
  if (!server.ok()) {
    log::Error("cannot start",
               {{"error", std::string(server.status().message())}});
    return 1;
  }
  const int code = ServeUntilTerminated(watch, *server, (*metrics)->port());
  if (KafkaConsumerAbandoned()) {
    // A consumer whose close hung is still being destroyed on a thread of
    // its own: the process ends here, without the exit-time destructors
    // that thread could race with.
    log::Warn(
        "exiting without static teardown: a kafka consumer was left "
        "closing");
    std::_Exit(code);
  }
  return code;
}

}  // namespace rebound

#endif  // REBOUND_COMMON_SERVICE_HOST_H_
