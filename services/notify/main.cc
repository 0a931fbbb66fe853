// rebound-notify: reads config, wires the notify server, waits for SIGTERM.
#include <iostream>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "common/redis_client.h"
#include "common/signals.h"
#include "services/notify/notify_server.h"
#include "services/notify/state_rebuild.h"

int main(int argc, char** argv) {
  // Taken with sigwait below: blocked before any thread starts.
  const sigset_t signals = rebound::BlockTerminationSignals();

  rebound::ConfigReader c(argc, argv);
  rebound::notify::NotifyServerOptions o;
  auto& k = o.consumer;
  o.listen = c.String("listen", o.listen, "gRPC listen address (Notify API)");
  o.connections = rebound::ReadGrpcConnectionOptions(c);
  std::string metrics_listen = c.String("metrics-listen", "127.0.0.1:9466",
                                        "Prometheus /metrics address");
  std::string log_level =
      c.String("log-level", "info", "debug, info, warn or error");
  k.brokers = c.RequiredString("kafka-brokers", "Kafka bootstrap servers");
  k.store.redis = rebound::ReadRedisOptions(c);
  std::string policy_path =
      c.String("retry-policy", "config/retry_policy.json",
               "retry policy (cool-down, budgets, phrases)");
  k.group_id = c.String("group-id", k.group_id, "Kafka consumer group");
  k.verdicts_topic =
      c.String("verdicts-topic", k.verdicts_topic, "decline verdicts topic");
  k.events_topic = c.String("topic", k.events_topic, "connection events topic");
  k.topic_partitions =
      static_cast<int>(c.Int("topic-partitions", k.topic_partitions, 1, 10000,
                             "partitions of topics created"));
  k.batch_linger = c.Duration(
      "batch-linger", k.batch_linger,
      "how long a record may wait for others to share its Redis round trips "
      "(0: none; adds at most this to a suggestion's latency)");
  o.max_watches = static_cast<int>(c.Int(
      "max-watches", o.max_watches, 1, 1'000'000,
      "WatchSuggestions streams served at once (each: a thread and a Redis "
      "connection); more are refused RESOURCE_EXHAUSTED"));
  const bool rebuild =
      c.Bool("rebuild-state", false,
             "rebuild notify's Redis state from the verdicts and events topics "
             "(after Redis lost it; after rebound-scoring --rebuild-state) and "
             "exit; running instances hold until it is done");
  const rebound::GrpcPortSecurity security = rebound::ReadGrpcPortSecurity(c);
  o.auth = security.auth;
  o.tls_cert = security.tls_cert;
  o.tls_key = security.tls_key;
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-notify");
    return 0;
  }
  if (absl::Status st = c.Finish(); !st.ok()) {
    std::cerr << "rebound-notify: " << st.message() << "\n";
    return 2;
  }
  if (!rebound::log::InitServiceLogging("rebound-notify", "notify",
                                        log_level)) {
    return 2;
  }
  auto policy = rebound::notify::LoadRetryPolicyConfig(policy_path);
  if (!policy.ok()) {
    std::cerr << "rebound-notify: setting 'retry-policy': "
              << policy.status().message() << "\n";
    return 2;
  }
  if (rebuild) {
    rebound::notify::RebuildOptions ro;
    ro.brokers = k.brokers;
    ro.verdicts_topic = k.verdicts_topic;
    ro.events_topic = k.events_topic;
    ro.store = k.store;
    auto report = rebound::notify::RebuildState(ro, *policy);
    if (!report.ok()) {
      rebound::log::Error("rebuild failed; run it again",
                          {{"error", std::string(report.status().message())}});
      return 1;
    }
    rebound::log::Info("state rebuilt", {{"keys_removed", report->keys_removed},
                                         {"verdicts", report->verdicts},
                                         {"events", report->events}});
    return 0;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = rebound::MetricsServer::Start(metrics_listen, registry);
  if (!metrics.ok()) {
    rebound::log::Error("cannot start",
                        {{"error", std::string(metrics.status().message())}});
    return 1;
  }
  auto server = rebound::notify::NotifyServer::Start(o, *policy, registry);
  if (!server.ok()) {
    std::cerr << "rebound-notify: " << server.status().message() << "\n";
    return server.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  rebound::log::Info("ready", {{"grpc_port", (*server)->port()},
                               {"metrics_port", (*metrics)->port()}});
  int sig = rebound::WaitForTerminationSignal(signals);
  rebound::log::Info("signal received, draining", {{"signal", sig}});
  (void)(*server)->Shutdown();
  server->reset();
  rebound::log::Info("stopped");
  return 0;
}
