// rebound-scoring: reads config, wires the scoring server, waits for SIGTERM.
#include <iostream>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "common/redis_client.h"
#include "common/signals.h"
#include "services/scoring/scoring_server.h"
#include "services/scoring/state_rebuild.h"

int main(int argc, char** argv) {
  // Taken with sigwait below: blocked before any thread starts.
  const sigset_t signals = rebound::BlockTerminationSignals();

  rebound::ConfigReader c(argc, argv);
  rebound::scoring::ScoringServerOptions o;
  auto& s = o.scoring;
  o.listen =
      c.String("listen", o.listen, "gRPC listen address (Scoring read API)");
  o.connections = rebound::ReadGrpcConnectionOptions(c);
  std::string metrics_listen = c.String("metrics-listen", "127.0.0.1:9465",
                                        "Prometheus /metrics address");
  std::string log_level =
      c.String("log-level", "info", "debug, info, warn or error");
  s.brokers = c.RequiredString("kafka-brokers", "Kafka bootstrap servers");
  s.store.redis = rebound::ReadRedisOptions(c);
  std::string config_path =
      c.String("classifier-config", "config/classifier.json",
               "classifier weights, thresholds and phrases");
  s.group_id = c.String("group-id", s.group_id, "Kafka consumer group");
  s.events_topic = c.String("topic", s.events_topic, "connection events topic");
  s.verdicts_topic =
      c.String("verdicts-topic", s.verdicts_topic, "decline verdicts topic");
  s.dead_letter_topic = c.String("dead-letter-topic", s.dead_letter_topic,
                                 "undecodable events go here");
  s.topic_partitions =
      static_cast<int>(c.Int("topic-partitions", s.topic_partitions, 1, 10000,
                             "partitions of topics created"));
  s.redis_retry =
      c.Duration("redis-retry", s.redis_retry, "pause between Redis retries");
  s.batch_linger = c.Duration(
      "batch-linger", s.batch_linger,
      "how long an event may wait for others to share its Redis round trip "
      "(0: none; adds at most this to a verdict's latency)");
  s.store.marker_ttl = absl::FromChrono(
      c.Duration("event-marker-ttl", std::chrono::hours(24 * 30),
                 "how long a recipient's markers (a request and its outcome "
                 "were counted) are kept: a replay older than this would "
                 "count them again"));
  s.store.request_ttl =
      absl::FromChrono(c.Duration("request-ttl", std::chrono::hours(24 * 200),
                                  "how long request state is kept"));
  const bool rebuild = c.Bool(
      "rebuild-state", false,
      "rebuild scoring's Redis state from the events topic (after Redis lost "
      "it) and exit; running instances hold until it is done");
  const rebound::GrpcPortSecurity security = rebound::ReadGrpcPortSecurity(c);
  o.auth = security.auth;
  o.tls_cert = security.tls_cert;
  o.tls_key = security.tls_key;
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-scoring");
    return 0;
  }
  if (absl::Status st = c.Finish(); !st.ok()) {
    std::cerr << "rebound-scoring: " << st.message() << "\n";
    return 2;
  }
  if (!rebound::log::InitServiceLogging("rebound-scoring", "scoring",
                                        log_level)) {
    return 2;
  }
  auto classifier = rebound::scoring::LoadClassifierConfig(config_path);
  if (!classifier.ok()) {
    std::cerr << "rebound-scoring: setting 'classifier-config': "
              << classifier.status().message() << "\n";
    return 2;
  }
  if (rebuild) {
    rebound::scoring::RebuildOptions ro;
    ro.brokers = s.brokers;
    ro.events_topic = s.events_topic;
    ro.verdicts_topic = s.verdicts_topic;
    ro.store = s.store;
    auto report = rebound::scoring::RebuildState(ro, *classifier);
    if (!report.ok()) {
      rebound::log::Error("rebuild failed; run it again",
                          {{"error", std::string(report.status().message())}});
      return 1;
    }
    rebound::log::Info("state rebuilt",
                       {{"keys_removed", report->keys_removed},
                        {"events_applied", report->events_applied},
                        {"undecodable", report->undecodable},
                        {"verdicts_reused", report->verdicts_reused},
                        {"verdicts_classified", report->verdicts_classified}});
    return 0;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = rebound::MetricsServer::Start(metrics_listen, registry);
  if (!metrics.ok()) {
    rebound::log::Error("cannot start",
                        {{"error", std::string(metrics.status().message())}});
    return 1;
  }
  auto server =
      rebound::scoring::ScoringServer::Start(o, *classifier, registry);
  if (!server.ok()) {
    rebound::log::Error("cannot start",
                        {{"error", std::string(server.status().message())}});
    return 1;
  }
  return rebound::ServeUntilTerminated(signals, *server, (*metrics)->port());
}
