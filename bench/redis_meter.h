// Where Redis spends its CPU over a stretch of work: INFO cpu and INFO
// commandstats read before and after, printed per event. For benchmarks
// only (a shared Redis also counts other clients' work).
#ifndef REBOUND_BENCH_REDIS_METER_H_
#define REBOUND_BENCH_REDIS_METER_H_

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/redis_client.h"

namespace rebound::bench {

struct RedisCpu {
  double cpu_seconds = 0;  // used_cpu_sys + used_cpu_user (all threads).
  double main_thread_seconds = 0;
  struct Command {
    double calls = 0, usec = 0;
  };
  std::map<std::string, Command> commands;

  // Summed over every master of a cluster.
  static RedisCpu Read(RedisClient& redis) {
    RedisCpu out;
    auto infos = redis.ForEachNode({"INFO", "everything"});
    if (!infos.ok()) return out;
    for (const auto& info : *infos) out.Add(info.str);
    return out;
  }

  void Add(const std::string& info) {
    RedisCpu& out = *this;
    for (absl::string_view line : absl::StrSplit(info, "\r\n")) {
      std::vector<absl::string_view> kv = absl::StrSplit(line, ':');
      if (kv.size() != 2) continue;
      double v = 0;
      if (kv[0] == "used_cpu_sys" || kv[0] == "used_cpu_user") {
        if (absl::SimpleAtod(kv[1], &v)) out.cpu_seconds += v;
      } else if (kv[0] == "used_cpu_sys_main_thread" ||
                 kv[0] == "used_cpu_user_main_thread") {
        if (absl::SimpleAtod(kv[1], &v)) out.main_thread_seconds += v;
      } else if (absl::StartsWith(kv[0], "cmdstat_")) {
        Command c;
        for (absl::string_view f : absl::StrSplit(kv[1], ',')) {
          std::vector<absl::string_view> p = absl::StrSplit(f, '=');
          if (p.size() != 2) continue;
          if (p[0] == "calls") (void)absl::SimpleAtod(p[1], &c.calls);
          if (p[0] == "usec") (void)absl::SimpleAtod(p[1], &c.usec);
        }
        Command& sum = out.commands[std::string(kv[0].substr(8))];
        sum.calls += c.calls;
        sum.usec += c.usec;
      }
    }
  }
};

// Prints Redis CPU per event between two readings and the commands that
// took it (EVALSHA's time includes the commands its scripts ran, which are
// also listed on their own). Returns Redis CPU us per event.
inline double PrintRedisCost(const std::string& label, const RedisCpu& a,
                             const RedisCpu& b, double events) {
  const double us = (b.cpu_seconds - a.cpu_seconds) * 1e6 / events;
  const double main_us =
      (b.main_thread_seconds - a.main_thread_seconds) * 1e6 / events;
  std::cout << absl::StrFormat(
      "    redis cpu %-22s %7.2f us/event (main thread %.2f)\n", label, us,
      main_us);
  struct Row {
    std::string name;
    double calls, usec;
  };
  std::vector<Row> rows;
  for (const auto& [name, c] : b.commands) {
    RedisCpu::Command before;
    if (auto it = a.commands.find(name); it != a.commands.end())
      before = it->second;
    const double calls = c.calls - before.calls;
    if (calls <= 0) continue;
    rows.push_back({name, calls, c.usec - before.usec});
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& x, const Row& y) { return x.usec > y.usec; });
  for (size_t i = 0; i < rows.size() && i < 8; ++i) {
    const Row& r = rows[i];
    std::cout << absl::StrFormat(
        "      %-16s %6.2f calls/event %7.2f us/call %7.2f us/event\n", r.name,
        r.calls / events, r.usec / r.calls, r.usec / events);
  }
  return us;
}

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_REDIS_METER_H_
