// scoring_bench: events/s through scoring's whole loop (consume -> Redis
// scripts -> classify -> verdict produced and confirmed -> offset stored),
// classification alone (us per decline), and, in the same run:
// - the baseline: the minimal idempotent update any design needs per event
//   (one script: SET marker NX EX + three HINCRBY, pipelined 256 a round
//   trip), the physical limit of the Redis work;
// - scoring's own ceiling: the very same ScoreStore calls made in a tight
//   loop with no Kafka.
// Each part prints Redis CPU per event (INFO cpu / commandstats deltas) and
// the commands that took it. Prints scoring's ratio to the baseline.
//
//   scoring_bench --kafka-brokers=127.0.0.1:P --redis-addr=127.0.0.1:R
//                 [--requests=6000]
#include <sys/resource.h>

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/redis_meter.h"
#include "common/config.h"
#include "common/kafka_admin.h"
#include "common/kafka_publisher.h"
#include "common/log.h"
#include "services/ingest/kafka_record.h"
#include "services/scoring/offline_state.h"
#include "services/scoring/scoring_server.h"
#include "state/keys.h"
#include "tools/sim/scenario.h"

namespace {

using Clock = std::chrono::steady_clock;
using rebound::v1::ConnectionEvent;

// CPU seconds this process used so far (every thread).
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Moves a stream into its own tenant so runs never share Redis keys.
std::vector<ConnectionEvent> Retenant(std::vector<ConnectionEvent> events,
                                      const std::string& tenant) {
  for (auto& e : events) {
    std::string t = e.tenant_id();
    e.set_tenant_id(tenant);
    e.set_sender_id(t + "." + e.sender_id());
    if (!e.recipient_id().empty())
      e.set_recipient_id(t + "." + e.recipient_id());
  }
  return events;
}

}  // namespace

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string brokers =
      c.RequiredString("kafka-brokers", "Kafka bootstrap servers");
  const rebound::RedisOptions redis_options = rebound::ReadRedisOptions(c);
  const std::string& redis = redis_options.address;
  int requests = static_cast<int>(c.Int("requests", 6000, 100, 1'000'000,
                                        "simulated requests (~3 events each)"));
  const bool overlap = c.Bool(
      "overlap-redis-writes", true,
      "scoring's --overlap-redis-writes in the pipeline part (false: each "
      "batch's writes sent at once, the next batch read after them)");
  std::string config_path = c.String(
      "classifier-config", "config/classifier.json", "classifier config");
  if (c.help_requested()) {
    std::cout << c.Usage("scoring_bench");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "scoring_bench: " << s.message() << "\n";
    return 2;
  }
  rebound::log::InitLogging("scoring-bench", "error");
  auto classifier = rebound::scoring::LoadClassifierConfig(config_path);
  if (!classifier.ok()) {
    std::cerr << classifier.status().message() << "\n";
    return 2;
  }
  rebound::sim::ScenarioOptions so;
  so.requests = requests;
  auto scenario = rebound::sim::GenerateScenario(so);
  const size_t n = scenario.events.size();
  std::string run =
      absl::StrCat(getpid(), "-", absl::ToUnixSeconds(absl::Now()));
  std::cout << absl::StrFormat(
      "scoring_bench: %zu events (%d simulated requests), broker %s, redis "
      "%s\n",
      n, requests, brokers, redis);

  // 1. Classification alone, on contexts replayed in memory.
  {
    rebound::scoring::OfflineState state;
    std::vector<rebound::scoring::DeclineContext> contexts;
    for (const auto& e : scenario.events) {
      if (auto ctx = state.ContextFor(e)) contexts.push_back(std::move(*ctx));
      state.Apply(e);
    }
    size_t sink = 0;
    auto t = Clock::now();
    for (int rep = 0; rep < 5; ++rep) {
      for (const auto& ctx : contexts) {
        sink += rebound::scoring::Classify(*classifier, ctx).signals_size();
      }
    }
    double us = Since(t) * 1e6 / (5.0 * contexts.size());
    std::cout << absl::StrFormat(
        "  classification alone        %8.2f us per decline (%zu "
        "declines/expiries, %zu signals)\n",
        us, contexts.size(), sink / 5);
  }

  rebound::RedisOptions meter_options = redis_options;
  meter_options.wait_replicas = 0;
  rebound::RedisClient meter(meter_options);
  using rebound::bench::PrintRedisCost;
  using rebound::bench::RedisCpu;

  // 2a. The baseline: the minimal idempotent update per event.
  double minimal_rate = 0, minimal_us = 0;
  {
    rebound::RedisClient client(redis_options);
    client.AddScript("minimal", R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'a', 1)
redis.call('HINCRBY', KEYS[2], 'b', 1)
redis.call('HINCRBY', KEYS[2], 'c', 1)
return 1
)lua");
    const std::string tenant = "bench-minimal-" + run;
    std::vector<rebound::ScriptCall> calls;
    RedisCpu before = RedisCpu::Read(meter);
    auto t = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      const auto& e = scenario.events[i];
      const rebound::state::MemberKeys m(tenant, e.sender_id());
      calls.push_back({"minimal",
                       {m.prefix() + ":ev:" + e.event_id(), m.Sender()},
                       {"2592000"}});
      if (calls.size() == 256 || i + 1 == n) {
        auto done = client.RunScripts(calls);
        if (!done.ok()) {
          std::cerr << done.status().message() << "\n";
          return 1;
        }
        calls.clear();
      }
    }
    minimal_rate = n / Since(t);
    std::cout << absl::StrFormat(
        "  baseline: minimal update    %8.0f events/s (SET NX EX + 3 HINCRBY "
        "per event, 256 per round trip)\n",
        minimal_rate);
    minimal_us = PrintRedisCost("baseline", before, RedisCpu::Read(meter), n);
  }

  // 2b. Scoring's ceilings: the same store calls, no Kafka. "sequential" makes
  // one RunSteps per event; "batched" groups them as the consumer does (up
  // to 256 events per RunSteps: a round trip of reads, then one
  // transaction, each decline classified at its place).
  double ceiling = 0;
  // 0: sequential, 1: batched, 2: batched with each batch's writes sent
  // behind the next batch's reads (PrepareSteps), as the consumer does.
  for (int mode : {0, 1, 2}) {
    const bool batched = mode > 0;
    const char* name = mode == 0   ? "sequential"
                       : mode == 1 ? "batched"
                                   : "overlapped";
    rebound::scoring::ScoreStoreOptions o;
    o.redis = redis_options;
    rebound::scoring::ScoreStore store(o);
    if (auto s = store.Connect(); !s.ok()) {
      std::cerr << s.message() << "\n";
      return 1;
    }
    auto events = Retenant(scenario.events,
                           absl::StrCat("bench-ceiling-", mode, "-", run));
    const auto classify = [&](const rebound::scoring::DeclineContext& c) {
      return rebound::scoring::Classify(*classifier, c);
    };
    std::vector<rebound::scoring::ScoreStore::Step> steps;
    RedisCpu before = RedisCpu::Read(meter);
    auto t = Clock::now();
    for (size_t i = 0; i < events.size(); ++i) {
      steps.push_back(
          rebound::scoring::ScoreStore::Step::Of(events[i], std::nullopt));
      if (batched && steps.size() < 256 && i + 1 < events.size()) continue;
      absl::Status s;
      if (mode == 2) {
        s = store.FinishWrites();
        if (s.ok()) s = store.PrepareSteps(steps, classify).status();
      } else {
        s = store.RunSteps(steps, classify).status();
      }
      if (!s.ok()) {
        std::cerr << s.message() << "\n";
        return 1;
      }
      steps.clear();
    }
    if (mode == 2) {
      absl::Status s = store.FinishWrites();
      if (s.ok() && store.has_held()) s = store.SendHeld();
      if (s.ok()) s = store.FinishWrites();
      if (!s.ok()) {
        std::cerr << s.message() << "\n";
        return 1;
      }
    }
    double rate = n / Since(t);
    std::cout << absl::StrFormat("  redis ceiling, %-12s %8.0f events/s\n",
                                 name, rate);
    PrintRedisCost(absl::StrCat("scoring ", name), before,
                   RedisCpu::Read(meter), n);
    ceiling = std::max(ceiling, rate);
  }

  // 3. The whole loop: events already in Kafka, one scoring instance.
  std::string topic = "bench-scoring-" + run;
  auto events = Retenant(scenario.events, "bench-pipeline-" + run);
  {
    rebound::PublisherOptions po;
    po.brokers = brokers;
    auto pub = rebound::Publisher::Create(po);
    if (!pub.ok()) {
      std::cerr << pub.status().message() << "\n";
      return 1;
    }
    // Create the topics first (scoring would, too).
    rebound::scoring::ScoringOptions tmp;
    (void)tmp;
    struct Noop : rebound::Publisher::PendingRecord {
      void Delivered(const rebound::Delivery&) override {}
    };
    auto until = absl::Now() + absl::Seconds(30);
    while (!(*pub)->available() && absl::Now() < until)
      absl::SleepFor(absl::Milliseconds(50));
    absl::Status created = rebound::EnsureTopics(
        (*pub)->handle(), {{topic, 6, 1}}, std::chrono::seconds(30));
    if (!created.ok()) {
      std::cerr << created.message() << "\n";
      return 1;
    }
    for (const auto& e : events) {
      auto s = (*pub)->Produce(
          topic, rebound::ingest::RecordKey(e), e.SerializeAsString(),
          rebound::ingest::CloudEventHeaders(e, "/bench"),
          absl::Now() + absl::Seconds(30), std::make_unique<Noop>());
      if (!s.ok()) {
        std::cerr << s.message() << "\n";
        return 1;
      }
    }
    (void)(*pub)->Flush(std::chrono::seconds(60));
  }
  rebound::scoring::ScoringServerOptions o;
  o.listen = "127.0.0.1:0";
  o.scoring.brokers = brokers;
  o.scoring.group_id = topic;
  o.scoring.events_topic = topic;
  o.scoring.verdicts_topic = topic + "-verdicts";
  o.scoring.dead_letter_topic = topic + "-dlq";
  o.scoring.store.redis = redis_options;
  o.scoring.store.overlap_writes = overlap;
  RedisCpu before = RedisCpu::Read(meter);
  auto t = Clock::now();
  const double cpu_before = ProcessCpuSeconds();
  auto server = rebound::scoring::ScoringServer::Start(
      o, *classifier, std::make_shared<prometheus::Registry>());
  if (!server.ok()) {
    std::cerr << server.status().message() << "\n";
    return 1;
  }
  // Time from the first event consumed, so group join is not counted.
  Clock::time_point first{};
  while ((*server)->consumer()->processed() < static_cast<int64_t>(n) &&
         Since(t) < 600) {
    if (first == Clock::time_point{} && (*server)->consumer()->processed() > 0)
      first = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  double secs = Since(first);
  int64_t done = (*server)->consumer()->processed();
  RedisCpu after = RedisCpu::Read(meter);
  const double cpu_us = (ProcessCpuSeconds() - cpu_before) * 1e6 / done;
  (void)(*server)->Shutdown();
  double rate = done / secs;
  std::cout << absl::StrFormat(
      "  scoring pipeline            %8.0f events/s (%lld events: consume, "
      "Redis, classify, verdict confirmed, offset stored; writes %s)\n"
      "    scoring cpu (this process)       %6.2f us/event (%.2f cores)\n",
      rate, static_cast<long long>(done),
      overlap ? "overlapped with the next batch" : "sent at once", cpu_us,
      cpu_us * rate / 1e6);
  const double pipeline_us =
      PrintRedisCost("scoring pipeline", before, after, done);
  std::cout << absl::StrFormat(
      "ratio pipeline/own ceiling: %.2f\n"
      "ratio pipeline/baseline (minimal update) events/s: %.2f (goal >= 0.5)\n"
      "redis cpu per event, pipeline vs baseline: %.2f vs %.2f us (%.1fx)\n",
      rate / ceiling, rate / minimal_rate, pipeline_us, minimal_us,
      pipeline_us / minimal_us);
  return 0;
}
