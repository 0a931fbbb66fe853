// Scoring.AssessDraft latency at a fixed request rate, beside the physical
// limit of its work: a plain Redis round trip (HGETALL of a sender hash)
// at the same rate, and the one pipelined read AssessDraft makes
// (state::ReadDraftState, five commands). Open loop: calls are scheduled
// at fixed times and latency is measured from the scheduled time, so a
// slow call delays nothing it should not (no coordinated omission).
//
// Redis is seeded with `members` senders and recipients (simulated
// requests, accepted or declined, through ScoreStore as scoring writes
// them); each call assesses a draft between two random members.
//
//   assess_bench --redis-addr=127.0.0.1:6379 [--rate=500] [--seconds=10]
//                [--members=500] [--callers=8]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/redis_meter.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/redis_client.h"
#include "grpcpp/grpcpp.h"
#include "services/scoring/scoring_server.h"
#include "state/keys.h"
#include "state/member_state.h"

namespace rebound::bench {
namespace {

struct Figures {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  int64_t calls = 0, failed = 0;
  double seconds = 0, cpu_us_per_call = 0;
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// `rate` calls a second for `seconds`, shared by `callers` threads (each
// with the state make(i) gives it); latency from each call's slot.
Figures RunAtRate(
    double rate, double seconds, int callers,
    const std::function<std::function<bool(int64_t)>(int)>& make) {
  const int64_t total = static_cast<int64_t>(rate * seconds);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> failed{0};
  std::vector<std::vector<double>> ms(callers);
  const auto start =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  const double cpu0 = CpuSeconds();
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      auto call = make(c);
      while (true) {
        const int64_t i = next.fetch_add(1);
        if (i >= total) return;
        const auto slot = start + std::chrono::nanoseconds(
                                      static_cast<int64_t>(i * 1e9 / rate));
        std::this_thread::sleep_until(slot);
        if (!call(i)) failed.fetch_add(1);
        ms[c].push_back(std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - slot)
                            .count());
      }
    });
  }
  for (auto& t : threads) t.join();
  Figures f;
  f.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::vector<double> all;
  for (auto& v : ms) all.insert(all.end(), v.begin(), v.end());
  f.calls = static_cast<int64_t>(all.size());
  f.failed = failed.load();
  f.cpu_us_per_call =
      (CpuSeconds() - cpu0) * 1e6 / std::max<int64_t>(1, f.calls);
  if (all.empty()) return f;
  std::sort(all.begin(), all.end());
  f.p50_ms = all[all.size() / 2];
  f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  f.max_ms = all.back();
  return f;
}

void Print(const std::string& label, const Figures& f) {
  std::cout << absl::StrFormat(
      "  %-36s p50 %6.3f ms  p99 %6.3f ms  max %7.3f ms  %6.0f calls/s  "
      "%6.1f us cpu/call (this process)%s\n",
      label, f.p50_ms, f.p99_ms, f.max_ms, f.calls / f.seconds,
      f.cpu_us_per_call,
      f.failed ? absl::StrCat("  FAILED ", f.failed) : std::string());
}

rebound::v1::ProfileSnapshot Profile(std::mt19937& random) {
  rebound::v1::ProfileSnapshot p;
  p.set_has_photo(random() % 5 != 0);
  p.set_connection_count(20 + random() % 900);
  p.set_completeness(0.3 + (random() % 70) / 100.0);
  p.set_account_age_days(30 + random() % 3000);
  p.set_headline("Engineer | Platform");
  p.set_industry(random() % 2 ? "Software" : "Retail");
  p.set_company(absl::StrCat("Company", random() % 20));
  p.set_seniority(rebound::v1::SENIORITY_SENIOR);
  return p;
}

// Each member sends `per_member` requests (accepted or declined) to
// random others, written as scoring writes them.
bool Seed(const scoring::ScoreStoreOptions& so,
          const scoring::ClassifierConfig& classifier,
          const std::string& tenant, int members, int per_member) {
  scoring::ScoreStore store(so);
  if (auto s = store.Connect(); !s.ok()) {
    std::cerr << "redis: " << s << "\n";
    return false;
  }
  std::mt19937 random(7);
  const absl::Time now = absl::Now();
  int n = 0;
  for (int m = 0; m < members; ++m) {
    std::vector<rebound::v1::ConnectionEvent> events;
    for (int k = 0; k < per_member; ++k) {
      const std::string r =
          absl::StrCat("m", (m + 1 + random() % (members - 1)) % members);
      const std::string req = absl::StrCat("q", m, "-", k);
      const absl::Time at =
          now - absl::Hours(24 * 30) +
          absl::Minutes(static_cast<int64_t>(random() % 40000));
      rebound::v1::ConnectionEvent e;
      e.set_event_id(absl::StrCat("e", ++n));
      e.set_tenant_id(tenant);
      e.set_sender_id(absl::StrCat("m", m));
      e.set_recipient_id(r);
      e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
      auto* sent = e.mutable_request_sent();
      sent->set_request_id(req);
      *sent->mutable_sender_profile() = Profile(random);
      *sent->mutable_recipient_profile() = Profile(random);
      events.push_back(e);
      rebound::v1::ConnectionEvent end = e;
      end.set_event_id(absl::StrCat("e", ++n));
      end.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at) + 3600);
      if (random() % 2) {
        end.mutable_request_accepted()->set_request_id(req);
      } else {
        end.mutable_request_declined()->set_request_id(req);
        end.mutable_request_declined()->set_kind(
            rebound::v1::DECLINE_KIND_IGNORED);
      }
      events.push_back(end);
    }
    rebound::v1::ConnectionEvent profile;
    profile.set_event_id(absl::StrCat("e", ++n));
    profile.set_tenant_id(tenant);
    profile.set_sender_id(absl::StrCat("m", m));
    profile.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(now));
    *profile.mutable_profile_updated()->mutable_profile() = Profile(random);
    events.push_back(profile);
    std::vector<scoring::ScoreStore::Step> steps;
    for (const auto& e : events)
      steps.push_back(scoring::ScoreStore::Step::Of(e, {}));
    auto done = store.RunSteps(steps, [&](const scoring::DeclineContext& c) {
      return scoring::Classify(classifier, c);
    });
    if (!done.ok()) {
      std::cerr << "seeding: " << done.status() << "\n";
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  ConfigReader c(argc, argv);
  RedisOptions redis;
  redis.address = c.String("redis-addr", redis.address, "Redis host:port");
  const double rate =
      static_cast<double>(c.Int("rate", 500, 1, 100000, "calls a second"));
  const double seconds =
      static_cast<double>(c.Int("seconds", 10, 1, 600, "seconds per run"));
  const int members = static_cast<int>(
      c.Int("members", 500, 2, 1000000, "members seeded in Redis"));
  const int callers = static_cast<int>(
      c.Int("callers", 8, 1, 256, "threads sharing the schedule"));
  const std::string classifier_path = c.String(
      "classifier-config", "config/classifier.json", "classifier config");
  const std::string policy_path = c.String(
      "retry-policy", "config/retry_policy.json", "retry policy config");
  if (c.help_requested()) {
    std::cout << c.Usage("assess_bench");
    return 0;
  }
  if (absl::Status s = c.Finish(); !s.ok()) {
    std::cerr << "assess_bench: " << s.message() << "\n";
    return 2;
  }
  auto classifier = scoring::LoadClassifierConfig(classifier_path);
  auto policy = notify::LoadRetryPolicyConfig(policy_path);
  if (!classifier.ok() || !policy.ok()) {
    std::cerr << "assess_bench: "
              << (!classifier.ok() ? classifier.status() : policy.status())
              << "\n";
    return 2;
  }
  const std::string tenant =
      absl::StrCat("bench-assess-", absl::ToUnixMillis(absl::Now()));
  scoring::ScoreStoreOptions so;
  so.redis = redis;
  if (!Seed(so, *classifier, tenant, members, 20)) return 1;

  scoring::ScoringReadService service(so, TenantAuth(), *classifier, *policy,
                                      8);
  auto server =
      StartGrpcServer("127.0.0.1:0", grpc::InsecureServerCredentials(),
                      &service, 4 << 20, "rebound.v1.Scoring");
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "Scoring.AssessDraft at %.0f calls/s for %.0f s (%d callers, %d members "
      "seeded with 20 requests each)\n",
      rate, seconds, callers, members);
  auto pair = [members](int64_t i) {
    const int s = static_cast<int>((i * 7919) % members);
    const int r =
        static_cast<int>((s + 1 + (i * 104729) % (members - 1)) % members);
    return std::make_pair(absl::StrCat("m", s), absl::StrCat("m", r));
  };
  RedisClient meter(redis);
  // Baselines: what any design needs, at the same rate.
  const Figures plain = RunAtRate(rate, seconds, callers, [&](int) {
    auto client = std::make_shared<RedisClient>(redis);
    return std::function<bool(int64_t)>([&, client](int64_t i) {
      return client
          ->Command(
              {"HGETALL", state::MemberKeys(tenant, pair(i).first).Sender()})
          .ok();
    });
  });
  Print("baseline: plain Redis round trip", plain);
  const Figures reads = RunAtRate(rate, seconds, callers, [&](int) {
    auto client = std::make_shared<RedisClient>(redis);
    return std::function<bool(int64_t)>([&, client](int64_t i) {
      const auto [s, r] = pair(i);
      return state::ReadDraftState(*client, tenant, s, r).ok();
    });
  });
  Print("AssessDraft's reads alone (5 cmds)", reads);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port),
                                     grpc::InsecureChannelCredentials());
  std::mt19937 random(11);
  const rebound::v1::ProfileSnapshot recipient = Profile(random);
  const RedisCpu before = RedisCpu::Read(meter);
  const Figures assess = RunAtRate(rate, seconds, callers, [&](int) {
    auto stub = std::shared_ptr<rebound::v1::Scoring::Stub>(
        rebound::v1::Scoring::NewStub(channel));
    return std::function<bool(int64_t)>([&, stub](int64_t i) {
      const auto [s, r] = pair(i);
      rebound::v1::AssessDraftRequest req;
      req.set_tenant_id(tenant);
      req.set_sender_id(s);
      req.set_recipient_id(r);
      *req.mutable_request()->mutable_recipient_profile() = recipient;
      req.mutable_request()->set_note(
          i % 2 ? "Loved your talk on payments; would be glad to connect."
                : "Quick call about our platform? Free trial this week.");
      rebound::v1::Assessment out;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
      return stub->AssessDraft(&ctx, req, &out).ok();
    });
  });
  const RedisCpu after = RedisCpu::Read(meter);
  Print("AssessDraft over gRPC", assess);
  PrintRedisCost("per AssessDraft", before, after,
                 static_cast<double>(std::max<int64_t>(1, assess.calls)));
  std::cout << absl::StrFormat(
      "  p99 AssessDraft / plain round trip: %.1fx; / its reads alone: %.1fx; "
      "cpu per call beyond the reads: %.1f us (client and server share this "
      "process)\n",
      assess.p99_ms / plain.p99_ms, assess.p99_ms / reads.p99_ms,
      assess.cpu_us_per_call - reads.cpu_us_per_call);
  server->server->Shutdown();
  return assess.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace rebound::bench

int main(int argc, char** argv) { return rebound::bench::Main(argc, argv); }
