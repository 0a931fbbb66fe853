// rebound-scoring: reads config, wires the scoring server, waits for SIGTERM.
#include <iostream>

#include "common/config.h"
#include "common/kafka_group.h"
#include "common/log.h"
#include "common/redis_client.h"
#include "common/service_host.h"
#include "services/scoring/scoring_server.h"
#include "services/scoring/state_rebuild.h"

int main(int argc, char** argv) {
  // Taken by RunService's TerminationWatch: blocked before any thread starts.
  const sigset_t signals = rebound::BlockTerminationSignals();

  rebound::ConfigReader c(argc, argv);
  rebound::scoring::ScoringServerOptions o;
  auto& s = o.scoring;
  const rebound::ServiceFlags f = rebound::ReadServiceFlags(
      c, o.listen, "127.0.0.1:9465", "Scoring read API");
  rebound::ApplyPortFlags(f, &o);
  o.auth = f.security.auth;
  s.brokers = f.brokers;
  s.startup_timeout = f.startup_timeout;
  s.store.redis = rebound::ReadRedisOptions(c);
  std::string config_path =
      c.String("classifier-config", "config/classifier.json",
               "classifier weights, thresholds and phrases");
  std::string policy_path =
      c.String("retry-policy", "config/retry_policy.json",
               "retry policy: AssessDraft's fixes and account-safety levels "
               "(the file notify uses)");
  s.group_id = c.String("group-id", s.group_id, "Kafka consumer group");
  s.events_topic = c.String("topic", s.events_topic, "connection events topic");
  s.verdicts_topic =
      c.String("verdicts-topic", s.verdicts_topic, "decline verdicts topic");
  s.dead_letter_topic = c.String("dead-letter-topic", s.dead_letter_topic,
                                 "undecodable events go here");
  s.topic_partitions =
      static_cast<int>(c.Int("topic-partitions", s.topic_partitions, 1, 10000,
                             "partitions of topics created"));
  s.topic_replication =
      static_cast<int>(c.Int("topic-replication", s.topic_replication, 1, 16,
                             "replication factor of topics created"));
  s.drain_timeout =
      c.Duration("drain-timeout", s.drain_timeout,
                 "longest wait at SIGTERM for verdicts in flight to land");
  // The drain, then the consumer's close (at most 10 s: DestroyConsumer).
  if (f.shutdown_limit <= s.drain_timeout + std::chrono::seconds(10)) {
    c.Reject("shutdown-limit",
             "must exceed --drain-timeout by more than 10s (the consumer's "
             "close comes after the drain)");
  }
  s.redis_retry =
      c.Duration("redis-retry", s.redis_retry, "pause between Redis retries");
  s.batch_linger = c.Duration(
      "batch-linger", s.batch_linger,
      "how long an event may wait for others to share its Redis round trip "
      "(0: none; adds at most this to a verdict's latency)");
  s.consumer_properties = rebound::ReadFetchBatching(c);
  s.publisher.linger_ms = static_cast<int>(
      c.Int("producer-linger-ms", s.publisher.linger_ms, 0, 60'000,
            "how long the verdict producer waits to fill a batch"));
  s.store.marker_ttl = absl::FromChrono(
      c.Duration("event-marker-ttl", std::chrono::hours(24 * 30),
                 "Redis Cluster only: how long a recipient's markers (a "
                 "request and its outcome were counted) are kept: a replay "
                 "older than this would count them again"));
  s.store.cache_entries = static_cast<size_t>(
      c.Int("state-cache-entries", static_cast<int64_t>(s.store.cache_entries),
            1, 100'000'000,
            "sender keys (hashes, requests, pairs) kept in process, the least "
            "recently touched dropped first (~750 bytes each measured)"));
  s.store.overlap_writes = c.Bool(
      "overlap-redis-writes", s.store.overlap_writes,
      "send a batch's Redis writes behind the next batch's reads, so Redis "
      "runs them while scoring decides that batch (standalone Redis; a "
      "cluster always sends them at once)");
  s.store.request_ttl =
      absl::FromChrono(c.Duration("request-ttl", std::chrono::hours(24 * 200),
                                  "how long request state is kept"));
  const bool rebuild = c.Bool(
      "rebuild-state", false,
      "rebuild scoring's Redis state from the events topic (after Redis lost "
      "it) and exit; running instances hold until it is done");
  o.read_connections = static_cast<int>(
      c.Int("redis-read-connections", o.read_connections, 1, 1024,
            "Redis connections the API's unary calls share (one per call at a "
            "time; more calls wait up to 5 s, then RESOURCE_EXHAUSTED)"));
  if (auto exit = rebound::FinishServiceFlags(c, "rebound-scoring", "scoring",
                                              f.log_level)) {
    return *exit;
  }
  auto classifier = rebound::scoring::LoadClassifierConfig(config_path);
  if (!classifier.ok()) {
    std::cerr << "rebound-scoring: setting 'classifier-config': "
              << classifier.status().message() << "\n";
    return 2;
  }
  auto policy = rebound::notify::LoadRetryPolicyConfig(policy_path);
  if (!policy.ok()) {
    std::cerr << "rebound-scoring: setting 'retry-policy': "
              << policy.status().message() << "\n";
    return 2;
  }
  o.retry_policy = *std::move(policy);
  s.store.at_risk =
      rebound::scoring::AtRiskJudge(o.retry_policy.account_safety);
  if (rebuild) {
    // A one-shot job: a signal ends it (a rebuild cut short leaves the state
    // marked lost, and is run again).
    rebound::UnblockTerminationSignals(signals);
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
  return rebound::RunService<rebound::scoring::ScoringServer>(
      signals, f, [&](std::shared_ptr<prometheus::Registry> registry) {
        return rebound::scoring::ScoringServer::Start(o, *classifier, registry);
      });
}
