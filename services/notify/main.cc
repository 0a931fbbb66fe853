// rebound-notify: reads config, wires the notify server, waits for SIGTERM.
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/config.h"
#include "common/kafka_group.h"
#include "common/log.h"
#include "common/redis_client.h"
#include "common/service_host.h"
#include "services/notify/notify_server.h"
#include "services/notify/state_rebuild.h"

int main(int argc, char** argv) {
  // Taken by RunService's TerminationWatch: blocked before any thread starts.
  const sigset_t signals = rebound::BlockTerminationSignals();

  rebound::ConfigReader c(argc, argv);
  rebound::notify::NotifyServerOptions o;
  auto& k = o.consumer;
  const rebound::ServiceFlags f =
      rebound::ReadServiceFlags(c, o.listen, "127.0.0.1:9466", "Notify API");
  rebound::ApplyPortFlags(f, &o);
  o.auth = f.security.auth;
  k.brokers = f.brokers;
  k.startup_timeout = f.startup_timeout;
  k.store.redis = rebound::ReadRedisOptions(c);
  std::string policy_path =
      c.String("retry-policy", "config/retry_policy.json",
               "retry policy (cool-down, budgets, phrases)");
  k.group_id = c.String("group-id", k.group_id, "Kafka consumer group");
  k.verdicts_topic =
      c.String("verdicts-topic", k.verdicts_topic, "decline verdicts topic");
  const std::string events_topic =
      c.String("topic", rebound::pipeline::kEventsTopic,
               "connection events topic (read by --rebuild-state only: the "
               "invites still open)");
  k.dead_letter_topic =
      c.String("dead-letter-topic", k.dead_letter_topic,
               "records notify cannot handle go here, with the reason");
  k.topic_partitions =
      static_cast<int>(c.Int("topic-partitions", k.topic_partitions, 1, 10000,
                             "partitions of topics created"));
  k.topic_replication =
      static_cast<int>(c.Int("topic-replication", k.topic_replication, 1, 16,
                             "replication factor of topics created"));
  k.consumer_properties = rebound::ReadFetchBatching(c);
  k.batch_linger = c.Duration(
      "batch-linger", k.batch_linger,
      "how long a record may wait for others to share its Redis round trips "
      "(0: none; adds at most this to a suggestion's latency)");
  o.max_watches = static_cast<int>(c.Int(
      "max-watches", o.max_watches, 1, 1'000'000,
      "WatchSuggestions streams served at once (each: a thread and a Redis "
      "connection); more are refused RESOURCE_EXHAUSTED"));
  o.max_watches_per_tenant = static_cast<int>(
      c.Int("max-watches-per-tenant", o.max_watches_per_tenant, 0, 1'000'000,
            "of those, at most this many for one tenant (0: half of "
            "--max-watches), so one tenant cannot take them all"));
  const auto stall = c.Duration(
      "watch-stall-limit", std::chrono::seconds(60),
      "a WatchSuggestions client that reads nothing for this long while "
      "updates wait for it is cancelled, freeing its thread and place (at "
      "least 1s)");
  if (stall < std::chrono::seconds(1)) {
    c.Reject("watch-stall-limit", "must be at least 1s");
  }
  o.watch_stall_limit = absl::FromChrono(stall);
  const bool rebuild =
      c.Bool("rebuild-state", false,
             "rebuild notify's Redis state from the verdicts topic (after "
             "Redis lost it; after rebound-scoring --rebuild-state) and exit; "
             "running instances hold until it is done");
  const std::string key_file = c.String(
      "page-token-key-file", "",
      "a file whose bytes seal ListSuggestions page tokens (the same on every "
      "replica; empty: a built-in key, so tokens are tamper-evident but not "
      "secret-sealed)");
  if (!key_file.empty()) {
    std::ifstream in(key_file, std::ios::binary);
    std::stringstream key;
    if (!in || !(key << in.rdbuf()) || key.str().size() < 16) {
      c.Reject("page-token-key-file",
               "cannot read '" + key_file + "' or it holds under 16 bytes");
    } else {
      o.page_token_key = key.str();
    }
  }
  o.read_connections = static_cast<int>(
      c.Int("redis-read-connections", o.read_connections, 1, 1024,
            "Redis connections the API's unary calls share (one per call at a "
            "time; more calls wait up to 5 s, then RESOURCE_EXHAUSTED)"));
  if (auto exit = rebound::FinishServiceFlags(c, "rebound-notify", "notify",
                                              f.log_level)) {
    return *exit;
  }
  auto policy = rebound::notify::LoadRetryPolicyConfig(policy_path);
  if (!policy.ok()) {
    std::cerr << "rebound-notify: setting 'retry-policy': "
              << policy.status().message() << "\n";
    return 2;
  }
  if (rebuild) {
    // A one-shot job: a signal ends it (a rebuild cut short leaves the state
    // marked lost, and is run again).
    rebound::UnblockTerminationSignals(signals);
    rebound::notify::RebuildOptions ro;
    ro.brokers = k.brokers;
    ro.verdicts_topic = k.verdicts_topic;
    ro.events_topic = events_topic;
    ro.store = k.store;
    auto report = rebound::notify::RebuildState(ro, *policy);
    if (!report.ok()) {
      rebound::log::Error("rebuild failed; run it again",
                          {{"error", std::string(report.status().message())}});
      return 1;
    }
    rebound::log::Info("state rebuilt",
                       {{"keys_removed", report->keys_removed},
                        {"verdicts", report->verdicts},
                        {"profile_updates", report->events},
                        {"open_invites", report->open_invites}});
    return 0;
  }
  return rebound::RunService<rebound::notify::NotifyServer>(
      signals, f, [&](std::shared_ptr<prometheus::Registry> registry) {
        return rebound::notify::NotifyServer::Start(o, *policy, registry);
      });
}
