#include "common/service_host.h"

#include <pthread.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "common/kafka_properties.h"
#include "common/tenant_auth.h"

namespace rebound {

absl::StatusOr<std::unique_ptr<ServiceHost>> ServiceHost::Start(
    ServiceHostOptions options, std::unique_ptr<grpc::Service> service,
    const StageFactory& make_stage) {
  std::unique_ptr<ServiceHost> h(new ServiceHost());
  h->options_ = std::move(options);
  h->service_ = std::move(service);
  const ServiceHostOptions& o = h->options_;
  auto creds = ServerCredentialsFrom(o.tls_cert, o.tls_key, o.tls_client_ca);
  if (!creds.ok()) return creds.status();
  auto grpc_server =
      StartGrpcServer(o.listen, *creds, h->service_.get(), o.max_message_bytes,
                      o.health_service, o.connections, o.health_listen);
  if (!grpc_server.ok()) return grpc_server.status();
  h->server_ = std::move(grpc_server->server);
  h->port_ = grpc_server->port;
  h->health_server_ = std::move(grpc_server->health_server);
  h->health_port_ = grpc_server->health_port;
  auto stage = make_stage();
  // `h` goes out of scope with a server and no stage: its destructor stops
  // the server.
  if (!stage.ok()) return stage.status();
  h->stage_ = std::move(*stage);
  ServiceHost* raw = h.get();
  h->stage_thread_ = std::thread([raw] {
    const std::string thread_name =
        (raw->options_.name + "-consume").substr(0, 15);
    pthread_setname_np(pthread_self(), thread_name.c_str());
    raw->stage_status_ = raw->stage_->Run(raw->stop_);
    if (!raw->stage_status_.ok()) {
      log::Error(raw->options_.name + " consumer ended with an error",
                 {{"error", std::string(raw->stage_status_.message())}});
    }
    raw->stage_done_.Notify();
  });
  // Health follows the stage's dependencies: NOT_SERVING while Redis or
  // Kafka is down, or the state is lost.
  h->health_thread_ = FollowHealth(
      h->server_.get(), h->health_server_.get(), o.health_service,
      [raw] { return raw->stage_->healthy(); }, &h->stage_done_, o.name);
  log::Info(o.name + " started", {{"port", h->port_},
                                  {"health_port", h->health_port_},
                                  {"tls", !o.tls_cert.empty()},
                                  {"mutual_tls", !o.tls_client_ca.empty()}});
  return h;
}

absl::Status ServiceHost::Shutdown() {
  if (shut_down_) return stage_status_;
  shut_down_ = true;
  // Every health watcher sees NOT_SERVING from here on.
  if (server_) ShutdownHealth(server_.get(), health_server_.get());
  stop_.store(true);
  if (stage_thread_.joinable()) stage_thread_.join();
  if (health_thread_.joinable()) health_thread_.join();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + options_.call_grace);
  }
  // Its statuses have said NOT_SERVING since the drain began: open health
  // watches are cancelled now rather than waited for.
  if (health_server_)
    health_server_->Shutdown(std::chrono::system_clock::now());
  if (stage_) {
    log::Info(options_.name + " drained", {{"processed", stage_->processed()},
                                           {"complete", stage_status_.ok()}});
  }
  return stage_status_;
}

ServiceHost::~ServiceHost() {
  (void)Shutdown();
  if (server_) server_->Wait();
  server_.reset();
  health_server_.reset();
  stage_.reset();
  service_.reset();
}

ServiceFlags ReadServiceFlags(ConfigReader& c,
                              const std::string& default_listen,
                              const std::string& default_metrics_listen,
                              const std::string& api) {
  ServiceFlags f;
  f.listen = c.String("listen", default_listen,
                      "gRPC listen address host:port (" + api + ")");
  f.health_listen =
      c.String("health-listen", "",
               "plaintext address serving only grpc.health.v1, for probes that "
               "cannot speak TLS (empty: none)");
  f.connections = ReadGrpcConnectionOptions(c);
  f.metrics_listen = c.String("metrics-listen", default_metrics_listen,
                              "Prometheus /metrics address");
  f.log_level =
      c.String("log-level", f.log_level, "debug, info, warn or error");
  f.brokers = c.RequiredString("kafka-brokers",
                               "Kafka bootstrap servers host:port[,host:port]");
  f.startup_timeout = c.Duration(
      "startup-timeout", f.startup_timeout,
      "longest wait for Kafka (and Redis) at start; then exit 1 naming it");
  f.shutdown_limit = c.Duration(
      "shutdown-limit", f.shutdown_limit,
      "longest stop from SIGTERM to exit: a drain still running then (or a "
      "second signal) ends the process, exit 1; a signal during start-up "
      "ends it at once");
  if (f.shutdown_limit < std::chrono::seconds(1)) {
    c.Reject("shutdown-limit", "must be at least 1s");
  }
  f.security = ReadGrpcPortSecurity(c);
  f.kafka_security_protocol = ReadKafkaConfigFileSetting(c);
  return f;
}

std::optional<int> FinishServiceFlags(ConfigReader& c,
                                      const std::string& binary,
                                      const std::string& component,
                                      const std::string& log_level) {
  if (c.help_requested()) {
    std::cout << c.Usage(binary);
    return 0;
  }
  c.RefuseMisspeltVariables();
  if (absl::Status st = c.Finish(); !st.ok()) {
    std::cerr << binary << ": " << st.message() << "\n";
    return 2;
  }
  if (!log::InitServiceLogging(binary, component, log_level)) return 2;
  return std::nullopt;
}

}  // namespace rebound
