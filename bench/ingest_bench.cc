// ingest_bench: throughput and ack latency of events through ingest's gRPC
// PublishStream, against a raw librdkafka producer writing the same records
// (same keys, headers, producer settings) to the same broker in the same run.
// Client, ingest and the raw producer share this process (and the machine
// with the broker); both sides start from encoded events.
//
//   ingest_bench --kafka-brokers=127.0.0.1:PORT [--events=200000]
//                [--batch=500] [--window=16] [--streams=2] [--rounds=8]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/config.h"
#include "common/kafka_admin.h"
#include "common/log.h"
#include "librdkafka/rdkafka.h"
#include "services/ingest/ingest_server.h"
#include "services/ingest/kafka_record.h"
#include "tools/ingest_client.h"
#include "tools/sim/event_generator.h"

namespace {

using Clock = std::chrono::steady_clock;
using rebound::v1::ConnectionEvent;

// User + system CPU seconds of the whole process so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// One /proc/.../stat file: the thread's or process's name and its user +
// system CPU seconds; nullopt when unreadable.
std::optional<std::pair<std::string, double>> StatCpu(
    const std::filesystem::path& stat_path) {
  std::ifstream in(stat_path);
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // The name is in parentheses and may hold spaces; the fields follow ") ".
  size_t open = stat.find('('), close = stat.rfind(") ");
  if (open == std::string::npos || close == std::string::npos) {
    return std::nullopt;
  }
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
  if (fields.size() < 13) return std::nullopt;
  return std::make_pair(stat.substr(open + 1, close - open - 1),
                        (std::stod(fields[11]) + std::stod(fields[12])) /
                            static_cast<double>(sysconf(_SC_CLK_TCK)));
}

// CPU seconds of another process (the broker); 0 when pid is 0 or
// unreadable.
double ProcessCpuSeconds(int pid) {
  if (pid <= 0) return 0;
  auto cpu = StatCpu(absl::StrCat("/proc/", pid, "/stat"));
  return cpu ? cpu->second : 0;
}

int broker_pid = 0;         // --broker-pid
bool thread_cpu = false;    // --thread-cpu
int linger_ms = 5;          // --linger-ms, both sides
bool keep_results = false;  // --keep-results

// CPU seconds per thread name (threads of one name summed) of this process.
std::map<std::string, double> ThreadCpuSeconds() {
  std::map<std::string, double> out;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    if (auto cpu = StatCpu(entry.path() / "stat"))
      out[cpu->first] += cpu->second;
  }
  return out;
}

// "name us/event, ..." for threads that used CPU between two snapshots.
std::string ThreadCpuDelta(const std::map<std::string, double>& before,
                           const std::map<std::string, double>& after,
                           size_t events) {
  std::vector<std::pair<double, std::string>> used;
  for (const auto& [name, secs] : after) {
    auto it = before.find(name);
    double d = secs - (it == before.end() ? 0 : it->second);
    if (d * 1e6 / events >= 0.05) used.emplace_back(d * 1e6 / events, name);
  }
  std::sort(used.rbegin(), used.rend());
  std::string out;
  for (const auto& [us, name] : used)
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, " ",
                    absl::StrFormat("%.2f", us));
  return out;
}

struct Figures {
  double cpu_us_per_event = 0;  // Process CPU time per event, all threads.
  double broker_cpu_us_per_event = 0;  // The broker's, when --broker-pid.
  std::string threads;                 // CPU us/event per thread name.
  double events_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  size_t ok = 0;
};

// CPU used from construction to Fill(): this process's, the broker's (with
// --broker-pid) and by thread name, per event.
class CpuMeter {
 public:
  CpuMeter()
      : process_(CpuSeconds()),
        broker_(ProcessCpuSeconds(broker_pid)),
        threads_(ThreadCpuSeconds()) {}
  void Fill(Figures* f, size_t events) const {
    const double n = static_cast<double>(events);
    f->cpu_us_per_event = (CpuSeconds() - process_) * 1e6 / n;
    f->broker_cpu_us_per_event =
        (ProcessCpuSeconds(broker_pid) - broker_) * 1e6 / n;
    f->threads = ThreadCpuDelta(threads_, ThreadCpuSeconds(), events);
  }

 private:
  const double process_;
  const double broker_;
  const std::map<std::string, double> threads_;
};

// Per-record delivery: latency from produce() to the delivery report. A C
// callback, as ingest's publisher uses (the C++ wrapper's costs more per
// record).
struct LatencyReport {
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m,
                         void* opaque) {
    auto* self = static_cast<LatencyReport*>(opaque);
    auto* sent = static_cast<Clock::time_point*>(m->_private);
    double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - *sent).count();
    delete sent;
    std::lock_guard<std::mutex> lock(self->mu);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++self->ok;
      self->latencies.push_back(ms);
    }
  }
  std::mutex mu;
  size_t ok = 0;
  std::vector<double> latencies;
};

// Each event encoded, as a client holds it before sending.
std::vector<std::string> Encoded(const std::vector<ConnectionEvent>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back(e.SerializeAsString());
  return out;
}

// Produces every record as ingest's publisher would (same settings, C API,
// headers copied once), computing each record's key and CloudEvents headers
// from its event in the loop, as ingest does; only the value's encoding is
// done before the clock, as for the gRPC client's batches.
Figures RawProducer(const std::string& brokers, const std::string& topic,
                    const std::vector<ConnectionEvent>& events,
                    const std::vector<std::string>& values) {
  LatencyReport report;
  // The C API throughout: the raw baseline is librdkafka itself.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  // The settings ingest's publisher uses.
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"bootstrap.servers", brokers},
           {"enable.idempotence", "true"},
           {"acks", "all"},
           {"partitioner", "murmur2_random"},
           {"linger.ms", std::to_string(linger_ms)},
           {"compression.codec", "lz4"},
           {"queue.buffering.max.messages", "100000"}}) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      std::cerr << "raw producer: " << k << ": " << err << "\n";
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &LatencyReport::OnDelivery);
  rd_kafka_conf_set_opaque(conf, &report);
  rd_kafka_t* const rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::cerr << "raw producer: " << err << "\n";
    rd_kafka_conf_destroy(conf);
    return Figures{};
  }
  const absl::Cleanup destroy = [rk] { rd_kafka_destroy(rk); };
  // Connected, producer id acquired and topic metadata known before the
  // clock starts, as ingest's long-lived producer is: one record produced
  // and flushed, then forgotten.
  if (!events.empty()) {
    std::string key = rebound::ingest::RecordKey(events[0]);
    rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(values[0].data()), values[0].size()),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_OPAQUE(new Clock::time_point(Clock::now())), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 10'000);
    std::lock_guard<std::mutex> lock(report.mu);
    report.ok = 0;
    report.latencies.clear();
  }
  const CpuMeter cpu;
  auto start = Clock::now();
  for (size_t i = 0; i < events.size(); ++i) {
    // Key and headers from one view of the event, as ingest builds them
    // from the view it read.
    const rebound::ingest::EventView e = rebound::ingest::ViewOf(events[i]);
    const std::string& value = values[i];
    const std::string key = rebound::ingest::RecordKey(e);
    const rebound::ingest::CloudEventHeaderRefs headers(e, key,
                                                        "/rebound/ingest");
    auto* sent = new Clock::time_point(Clock::now());
    while (true) {
      rd_kafka_headers_t* h = rd_kafka_headers_new(headers.refs().size());
      for (const rebound::HeaderRef& one : headers.refs()) {
        rd_kafka_header_add(
            h, one.name.data(), static_cast<ssize_t>(one.name.size()),
            one.value.data(), static_cast<ssize_t>(one.value.size()));
      }
      rd_kafka_resp_err_t rc = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_HEADERS(h),
          RD_KAFKA_V_OPAQUE(sent), RD_KAFKA_V_END);
      if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      rd_kafka_headers_destroy(h);
      if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::cerr << "raw produce: " << rd_kafka_err2str(rc) << "\n";
        delete sent;
        break;
      }
      rd_kafka_poll(rk, 1);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60'000);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  Figures f;
  cpu.Fill(&f, events.size());
  f.ok = report.ok;
  f.events_per_s = report.ok / secs;
  f.p50_ms = rebound::tools::Quantile(report.latencies, 0.5);
  f.p99_ms = rebound::tools::Quantile(report.latencies, 0.99);
  return f;
}

// validate_only: ingest checks the events and answers without Kafka, which
// measures gRPC both ways + decoding + checks + answers alone.
Figures ThroughIngest(const std::shared_ptr<grpc::Channel>& channel,
                      const std::vector<ConnectionEvent>& events, int batch,
                      int window, int streams, bool validate_only = false) {
  rebound::tools::StreamPublishOptions o;
  o.batch_size = batch;
  o.window = window;
  o.streams = streams;
  o.validate_only = validate_only;
  // Counts and latencies only, as the raw run's delivery reports keep
  // (unless --keep-results).
  o.keep_results = keep_results;
  // Batches are encoded before the clock, as the raw run's values are.
  auto prepared = rebound::tools::PreparePublish(events, o);
  const CpuMeter cpu;
  auto r = rebound::tools::PublishPrepared(channel, prepared, o);
  Figures f;
  cpu.Fill(&f, events.size());
  if (!r.status.ok())
    std::cerr << "stream: " << r.status.error_message() << "\n";
  f.ok = validate_only ? r.valid : r.published;
  f.events_per_s = static_cast<double>(f.ok) / r.seconds;
  f.p50_ms = rebound::tools::Quantile(r.ack_latency_ms, 0.5);
  f.p99_ms = rebound::tools::Quantile(r.ack_latency_ms, 0.99);
  return f;
}

void Print(const char* name, const Figures& f) {
  std::cout << absl::StrFormat(
      "  %-28s %9.0f events/s   ack p50 %7.2f ms   p99 %7.2f ms   cpu %5.2f "
      "us/event%s   (%zu ok)\n",
      name, f.events_per_s, f.p50_ms, f.p99_ms, f.cpu_us_per_event,
      broker_pid > 0
          ? absl::StrFormat(" (broker %.2f)", f.broker_cpu_us_per_event)
          : std::string(),
      f.ok);
  if (thread_cpu)
    std::cout << "      us/event by thread: " << f.threads << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  const rebound::ingest::IngestServerOptions o_defaults;
  std::string brokers =
      c.RequiredString("kafka-brokers", "Kafka bootstrap servers");
  int events_n = static_cast<int>(
      c.Int("events", 200'000, 100, 10'000'000, "events per run"));
  int batch = static_cast<int>(
      c.Int("batch", 500, 1, 1000, "events per PublishStream batch"));
  int window =
      static_cast<int>(c.Int("window", 16, 1, 1000, "batches in flight"));
  int streams = static_cast<int>(
      c.Int("streams", 2, 1, 64,
            "parallel PublishStream calls (events sharded by pair key)"));
  int rounds = static_cast<int>(
      c.Int("rounds", 8, 1, 20,
            "rounds of raw + ingest (order alternating; an even number gives "
            "each side the first place equally often)"));
  bool ingest_only = c.Bool("ingest-only", false,
                            "skip the raw producer (to profile ingest alone)");
  bool checks_only = c.Bool(
      "checks-only", false,
      "only the validate_only runs: gRPC both ways, decoding, checks and "
      "answers, without Kafka (to profile ingest's own work)");
  broker_pid = static_cast<int>(
      c.Int("broker-pid", 0, 0, 1 << 22,
            "the broker's pid, to print its CPU per event too (0: off)"));
  linger_ms = static_cast<int>(
      c.Int("linger-ms", 5, 0, 1000,
            "producer linger.ms, for both sides (ingest's default is 5)"));
  keep_results = c.Bool(
      "keep-results", false,
      "the gRPC client parses and keeps every event's result (default: it "
      "reads each answer's counts, as a high-volume publisher would)");
  const size_t steady_events = static_cast<size_t>(c.Int(
      "steady-events", static_cast<int64_t>(o_defaults.service.dedup_capacity),
      0, 100'000'000,
      "events sent through ingest before the rounds, so it runs as a "
      "long-running server does (default: its dedup window's capacity, "
      "which fills the window; 0: a fresh server)"));
  thread_cpu = c.Bool("thread-cpu", false,
                      "also print each side's CPU per event by thread name");
  if (c.help_requested()) {
    std::cout << c.Usage("ingest_bench");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "ingest_bench: " << s.message() << "\n";
    return 2;
  }
  rebound::log::InitLogging("ingest-bench", "error");
  std::string suffix =
      absl::StrCat(getpid(), "-", absl::ToUnixSeconds(absl::Now()));
  std::string raw_topic = "bench-raw-" + suffix;
  std::string ingest_topic = "bench-ingest-" + suffix;

  rebound::ingest::IngestServerOptions o;
  o.listen = "127.0.0.1:0";
  o.publisher.brokers = brokers;
  o.publisher.linger_ms = linger_ms;
  o.service.topic = ingest_topic;
  auto server = rebound::ingest::IngestServer::Start(
      o, std::make_shared<prometheus::Registry>());
  if (!server.ok()) {
    std::cerr << "ingest: " << server.status().message() << "\n";
    return 1;
  }
  // Each run's topics go when it ends (also when it fails): a long-lived
  // bench broker otherwise piles up partitions and slows down as it does.
  absl::Cleanup drop_topics = [&] {
    if (auto s = rebound::DeleteTopics((*server)->publisher()->handle(),
                                       {raw_topic, ingest_topic},
                                       std::chrono::seconds(30));
        !s.ok()) {
      std::cerr << "ingest_bench: " << s.message() << "\n";
    }
  };
  if (auto s = rebound::EnsureTopics((*server)->publisher()->handle(),
                                     {{raw_topic, o.topic_partitions, 1}},
                                     std::chrono::seconds(30));
      !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(o.max_message_bytes);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                grpc::InsecureChannelCredentials(), args);

  std::cout << absl::StrFormat(
      "ingest_bench: %d events/run (%d per batch, %d batches in flight per "
      "stream, %d streams), broker %s, %d rounds; ingest first warmed with "
      "%zu events\n",
      events_n, batch, window, streams, brokers, rounds, steady_events);
  // Warm-up: connections, producer ids, topic metadata; and ingest brought
  // to the steady state of a long-running server, its dedup window full
  // (every new id then forgets the oldest) rather than still growing.
  {
    rebound::sim::GeneratorOptions g;
    g.run_id = "warm-" + suffix;
    rebound::sim::EventGenerator warm_events(g);
    auto warm = warm_events.Next(2000);
    RawProducer(brokers, raw_topic, warm, Encoded(warm));
    ThroughIngest(channel, warm, batch, window, streams);
    for (size_t done = warm.size(); done < steady_events;) {
      const size_t n = std::min<size_t>(200'000, steady_events - done);
      ThroughIngest(channel, warm_events.Next(n), batch, window, streams);
      done += n;
    }
  }
  std::vector<double> ratios, cpu_ratios, checks_cpu;
  std::vector<double> raw_eps, ingest_eps, raw_cpu, ingest_cpu;
  for (int r = 0; r < rounds; ++r) {
    rebound::sim::GeneratorOptions g;
    g.seed = 1000 + r;
    g.run_id = absl::StrCat("bench-", suffix, "-", r);
    auto events = rebound::sim::EventGenerator(g).Next(events_n);
    std::cout << "round " << r + 1 << ":\n";
    auto run_raw = [&] {
      Figures f = RawProducer(brokers, raw_topic, events, Encoded(events));
      Print("raw librdkafka producer", f);
      return f;
    };
    auto run_ingest = [&] {
      Figures f = ThroughIngest(channel, events, batch, window, streams);
      Print("gRPC PublishStream -> ingest", f);
      return f;
    };
    if (ingest_only) {
      run_ingest();
      continue;
    }
    if (checks_only) {
      Print("gRPC PublishStream -> ingest, validate_only",
            ThroughIngest(channel, events, batch, window, streams,
                          /*validate_only=*/true));
      continue;
    }
    // The order alternates so drift on the machine (the broker's JIT and
    // GC, other tenants) does not favour one side.
    Figures raw, ing;
    if (r % 2 == 0) {
      raw = run_raw();
      ing = run_ingest();
    } else {
      ing = run_ingest();
      raw = run_raw();
    }
    Figures checks = ThroughIngest(channel, events, batch, window, streams,
                                   /*validate_only=*/true);
    Print("  of which gRPC+checks alone", checks);
    checks_cpu.push_back(checks.cpu_us_per_event);
    ratios.push_back(ing.events_per_s / raw.events_per_s);
    raw_eps.push_back(raw.events_per_s);
    ingest_eps.push_back(ing.events_per_s);
    raw_cpu.push_back(raw.cpu_us_per_event);
    ingest_cpu.push_back(ing.cpu_us_per_event);
    cpu_ratios.push_back(raw.cpu_us_per_event / ing.cpu_us_per_event);
    std::cout << absl::StrFormat(
        "  ratio ingest/raw: throughput %.2f, CPU per event (raw/ingest) "
        "%.2f\n",
        ratios.back(), cpu_ratios.back());
  }
  if (ratios.empty()) return 0;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  std::cout << absl::StrFormat(
      "over %d rounds: throughput ratio ingest/raw median %.2f (min %.2f, max "
      "%.2f; goal >= 0.7); CPU-per-event ratio raw/ingest median %.2f\n",
      rounds, median(ratios), *std::min_element(ratios.begin(), ratios.end()),
      *std::max_element(ratios.begin(), ratios.end()), median(cpu_ratios));
  std::cout << absl::StrFormat(
      "per side, median over the rounds: ingest %.0f events/s at %.2f "
      "us/event, raw %.0f events/s at %.2f us/event (ratio of the medians: "
      "throughput %.2f, CPU %.2f)\n",
      median(ingest_eps), median(ingest_cpu), median(raw_eps), median(raw_cpu),
      median(ingest_eps) / median(raw_eps),
      median(raw_cpu) / median(ingest_cpu));
  std::cout << absl::StrFormat(
      "gRPC both ways + decoding + checks + answers (validate_only, no Kafka): "
      "median %.2f us/event\n",
      median(checks_cpu));
  return 0;
}
