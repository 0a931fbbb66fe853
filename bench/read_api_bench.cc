// Notify's unary API under concurrent callers: GetInsights latency of 64
// callers (each a small member) while two callers list a member with the
// most suggestions kept, with the unary calls sharing 1 Redis connection
// (what one mutex over one connection gave) and then the default pool.
// Baseline in the same run: the same callers each making a plain Redis
// round trip (HGETALL of a small member's flags) on a connection of their
// own, the physical limit of one read per call.
//
//   read_api_bench --redis-addr=127.0.0.1:6379 [--callers=64]
//                  [--seconds=10] [--connections=8]
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
#include "prometheus/registry.h"
#include "services/notify/notify_service.h"
#include "services/notify/suggestion_store.h"
#include "state/keys.h"

namespace rebound::bench {
namespace {

using rebound::v1::RetrySuggestion;

struct Figures {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  int64_t calls = 0;
  double seconds = 0;
};

Figures Summarize(std::vector<double> ms, double seconds) {
  Figures f;
  f.calls = static_cast<int64_t>(ms.size());
  f.seconds = seconds;
  if (ms.empty()) return f;
  std::sort(ms.begin(), ms.end());
  f.p50_ms = ms[ms.size() / 2];
  f.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  f.max_ms = ms.back();
  return f;
}

void Print(const std::string& label, const Figures& f) {
  std::cout << absl::StrFormat(
      "  %-34s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  %8.0f calls/s\n",
      label, f.p50_ms, f.p99_ms, f.max_ms, f.calls / f.seconds);
}

// Writes `count` suggestions for `member` (one version each).
bool Seed(notify::SuggestionStore& store, const std::string& tenant,
          const std::string& member, int count) {
  std::vector<notify::SuggestionWrite> writes;
  for (int i = 0; i < count; ++i) {
    RetrySuggestion s;
    s.set_tenant_id(tenant);
    s.set_member_id(member);
    s.set_suggestion_id(absl::StrCat(member, "-s", i));
    s.set_recipient_id(absl::StrCat("r", i));
    s.set_version(1);
    s.set_state(rebound::v1::SUGGESTION_STATE_READY);
    s.mutable_updated_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    writes.push_back({s, {"no_photo", "generic_note"}});
    if (writes.size() == 200 || i == count - 1) {
      auto r = store.PutBatch(writes);
      if (!r.ok()) {
        std::cerr << "seeding failed: " << r.status() << "\n";
        return false;
      }
      writes.clear();
    }
  }
  return true;
}

// `callers` threads for `seconds`, each timing calls of its own: on its
// thread, `caller(c)` returns the call to repeat (true when it
// succeeded); `loaders` more threads repeat `load()`'s call untimed. The
// figures of the successful timed calls.
Figures Measure(int callers, double seconds,
                const std::function<std::function<bool()>(int)>& caller,
                int loaders = 0,
                const std::function<std::function<void()>()>& load = {}) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(callers);
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      std::function<bool()> call = caller(c);
      while (!stop.load()) {
        const absl::Time t0 = absl::Now();
        const bool ok = call();
        if (ok) lat[c].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      }
    });
  }
  for (int l = 0; l < loaders; ++l) {
    threads.emplace_back([&] {
      std::function<void()> call = load();
      while (!stop.load()) call();
    });
  }
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(seconds));
  stop.store(true);
  for (auto& t : threads) t.join();
  const double took = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (const auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  return Summarize(std::move(all), took);
}

// GetInsights of small members from `callers` threads for `seconds`, while
// two threads list the big member page by page.
Figures RunInsights(int port, const std::string& tenant, int callers,
                    int small_members, double seconds) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  return Measure(
      callers, seconds,
      [&](int c) -> std::function<bool()> {
        auto stub = std::shared_ptr(rebound::v1::Notify::NewStub(channel));
        auto random = std::make_shared<std::mt19937>(c);
        return [&, stub, random] {
          rebound::v1::GetInsightsRequest req;
          req.set_tenant_id(tenant);
          req.set_member_id(absl::StrCat(
              "small", (*random)() % static_cast<unsigned>(small_members)));
          rebound::v1::Insights resp;
          grpc::ClientContext ctx;
          return stub->GetInsights(&ctx, req, &resp).ok();
        };
      },
      2,
      [&]() -> std::function<void()> {
        auto stub = std::shared_ptr(rebound::v1::Notify::NewStub(channel));
        return [&, stub] {
          rebound::v1::ListSuggestionsRequest req;
          req.set_tenant_id(tenant);
          req.set_member_id("big");
          req.set_page_size(1);
          rebound::v1::ListSuggestionsResponse resp;
          grpc::ClientContext ctx;
          (void)stub->ListSuggestions(&ctx, req, &resp);
        };
      });
}

// The same callers, each a plain HGETALL on a connection of its own.
Figures RunBaseline(const RedisOptions& redis, const std::string& tenant,
                    int callers, int small_members, double seconds) {
  return Measure(callers, seconds, [&](int c) -> std::function<bool()> {
    auto client = std::make_shared<RedisClient>(redis);
    auto random = std::make_shared<std::mt19937>(c);
    return [&, client, random] {
      const std::string member = absl::StrCat(
          "small", (*random)() % static_cast<unsigned>(small_members));
      return client
          ->Command({"HGETALL", state::MemberKeys(tenant, member).Flags()})
          .ok();
    };
  });
}

int Main(int argc, char** argv) {
  ConfigReader c(argc, argv);
  RedisOptions redis;
  redis.address = c.String("redis-addr", redis.address, "Redis host:port");
  const int callers = static_cast<int>(
      c.Int("callers", 64, 1, 1024, "concurrent GetInsights callers"));
  const double seconds =
      static_cast<double>(c.Int("seconds", 10, 1, 600, "seconds per run"));
  const int connections = static_cast<int>(
      c.Int("connections", 8, 1, 1024, "the pool's size in the second run"));
  if (c.help_requested()) {
    std::cout << c.Usage("read_api_bench");
    return 0;
  }
  if (absl::Status s = c.Finish(); !s.ok()) {
    std::cerr << "read_api_bench: " << s.message() << "\n";
    return 2;
  }
  const std::string tenant =
      absl::StrCat("bench-read-", absl::ToUnixMillis(absl::Now()));
  const int small_members = 200;
  notify::SuggestionStoreOptions so;
  so.redis = redis;
  {
    notify::SuggestionStore seed(so);
    // The big member: as many suggestions as a member keeps.
    if (!Seed(seed, tenant, "big",
              static_cast<int>(so.max_suggestions_per_member))) {
      return 1;
    }
    for (int m = 0; m < small_members; ++m) {
      if (!Seed(seed, tenant, absl::StrCat("small", m), 5)) return 1;
    }
  }
  std::cout << absl::StrFormat(
      "notify read API: %d GetInsights callers (small members) + 2 callers "
      "listing a member with %d suggestions, %.0f s per run\n",
      callers, so.max_suggestions_per_member, seconds);
  RedisClient meter(redis);
  Figures base = RunBaseline(redis, tenant, callers, small_members, seconds);
  Print("baseline: plain HGETALL per call", base);
  Figures runs[2];
  const int sizes[2] = {1, connections};
  for (int i = 0; i < 2; ++i) {
    auto registry = std::make_shared<prometheus::Registry>();
    notify::NotifyService service(so, TenantAuth(), 10, registry, sizes[i]);
    auto server =
        StartGrpcServer("127.0.0.1:0", grpc::InsecureServerCredentials(),
                        &service, 4 << 20, "rebound.v1.Notify");
    if (!server.ok()) {
      std::cerr << server.status() << "\n";
      return 1;
    }
    const RedisCpu before = RedisCpu::Read(meter);
    runs[i] =
        RunInsights(server->port, tenant, callers, small_members, seconds);
    const RedisCpu after = RedisCpu::Read(meter);
    Print(absl::StrCat("GetInsights, ", sizes[i], " connection",
                       sizes[i] == 1 ? "" : "s"),
          runs[i]);
    PrintRedisCost("per GetInsights", before, after,
                   static_cast<double>(std::max<int64_t>(1, runs[i].calls)));
    server->server->Shutdown();
  }
  std::cout << absl::StrFormat(
      "  p99 ratio to the baseline: 1 connection %.1fx, %d connections "
      "%.1fx; p99 %d connections / 1 connection: %.2f\n",
      runs[0].p99_ms / base.p99_ms, connections, runs[1].p99_ms / base.p99_ms,
      connections, runs[1].p99_ms / runs[0].p99_ms);
  return 0;
}

}  // namespace
}  // namespace rebound::bench

int main(int argc, char** argv) { return rebound::bench::Main(argc, argv); }
