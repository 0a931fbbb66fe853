// rebound-e2e: drives the running pipeline end to end and reports it.
//
// Pipeline mode (default): opens a WatchSuggestions stream per tenant on
// notify, publishes a JSON-lines file of events through ingest (optionally
// at a fixed rate), prints suggestions as they stream out, and ends with a
// summary: events in, suggestions by state and action, and end-to-end
// latency from ingest's ack of a decline to its suggestion on the watch
// stream (p50/p99).
//
// --survive-restarts (for pods restarted or killed mid-run, e.g. the
// Kubernetes test): events FAILED or never answered are sent again with the
// same ids until each is answered (published or duplicate), watches start
// from the beginning and resume with their last token whenever the stream
// breaks, and the run fails if any (suggestion id, version) arrives twice.
// With --scoring-target, every sender's counters in scoring must then equal
// what the file holds (sent, accepted, declined: each request once).
//
// Kafka baseline mode (--kafka-baseline): produces records at the same rate
// with the same producer settings ingest uses (idempotent, acks=all) and
// consumes them in the same process, reporting produce -> consume latency.
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config.h"
#include "common/kafka_admin.h"
#include "common/kafka_publisher.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "librdkafka/rdkafkacpp.h"
#include "rebound/v1/notify.grpc.pb.h"
#include "rebound/v1/scoring.grpc.pb.h"
#include "state/event_fields.h"
#include "tools/ingest_client.h"

namespace {

using rebound::tools::Quantile;
using rebound::tools::SteadyNow;

struct Settings {
  std::string ingest, notify, scoring, file, brokers, topic, tokens;
  bool survive = false;
  double rate = 0;
  int64_t show = 10;
  int64_t count = 10000;
  double timeout_s = 120;
};

std::string TokenFor(const std::string& spec, const std::string& tenant) {
  for (const auto& pair : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits(':', 1));
    if (kv.size() == 2 && kv[0] == tenant) return kv[1];
  }
  return "";
}

std::string Short(const rebound::v1::RetrySuggestion& s) {
  std::vector<std::string> actions;
  for (const auto& a : s.actions()) {
    std::string k = rebound::v1::ActionKind_Name(a.kind());
    actions.push_back(k.substr(std::string("ACTION_KIND_").size()));
  }
  std::string reason = rebound::v1::DeclineReason_Name(s.reason())
                           .substr(std::string("DECLINE_REASON_").size());
  std::string state = rebound::v1::SuggestionState_Name(s.state()).substr(
      std::string("SUGGESTION_STATE_").size());
  return absl::StrFormat("[%s] %s -> %s: %s (%.2f) %s; %s", s.tenant_id(),
                         s.member_id(), s.recipient_id(), reason,
                         s.confidence(), state, absl::StrJoin(actions, ", "));
}

// Every sender's counters in scoring against the file: each request counted
// once as sent, and once by its first outcome (accepted; declined, ignored or
// reported as declined). True when every sender matches; with `show`,
// prints the first mismatches and a summary line.
bool CheckScores(const Settings& cfg,
                 const std::vector<rebound::v1::ConnectionEvent>& events,
                 bool show) {
  struct Want {
    std::set<std::string> sent, accepted, declined, decided;
  };
  std::map<std::pair<std::string, std::string>, Want> want;
  for (const auto& e : events) {
    // Sends and outcomes only: a view changes no counter.
    const std::string& id = rebound::state::RequestIdOf(e);
    if (id.empty() || e.has_profile_viewed()) continue;
    Want& w = want[{e.tenant_id(), e.sender_id()}];
    if (e.has_request_sent()) {
      w.sent.insert(id);
      continue;
    }
    if (!w.decided.insert(id).second) continue;  // The first outcome decides.
    if (e.has_request_accepted()) w.accepted.insert(id);
    if (e.has_request_declined()) w.declined.insert(id);
  }
  auto scoring = rebound::v1::Scoring::NewStub(
      grpc::CreateChannel(cfg.scoring, grpc::InsecureChannelCredentials()));
  size_t checked = 0, wrong = 0;
  for (const auto& [who, w] : want) {
    if (w.sent.empty() && w.decided.empty()) continue;
    rebound::v1::GetMemberScoresRequest req;
    req.set_tenant_id(who.first);
    req.set_member_id(who.second);
    rebound::v1::MemberScores got;
    grpc::Status s;
    for (int attempt = 0; attempt < 20; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
      std::string auth = TokenFor(cfg.tokens, who.first);
      if (!auth.empty()) ctx.AddMetadata("authorization", "Bearer " + auth);
      s = scoring->GetMemberScores(&ctx, req, &got);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    ++checked;
    const auto& a = got.as_sender();
    const bool same = s.ok() &&
                      a.sent() == static_cast<int64_t>(w.sent.size()) &&
                      a.accepted() == static_cast<int64_t>(w.accepted.size()) &&
                      a.declined() == static_cast<int64_t>(w.declined.size());
    if (same) continue;
    if (++wrong <= 5 && show) {
      std::cout << absl::StrFormat(
          "  scores of %s/%s: %s sent %d accepted %d declined %d, want %zu "
          "%zu %zu\n",
          who.first, who.second, s.ok() ? "" : s.error_message(), a.sent(),
          a.accepted(), a.declined(), w.sent.size(), w.accepted.size(),
          w.declined.size());
    }
  }
  if (show) {
    std::cout << absl::StrFormat(
        "  scores: %zu senders checked against the file, %zu differ\n", checked,
        wrong);
  }
  return wrong == 0 && checked > 0;
}

// This process's CPU time so far (user + system), in seconds.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int Pipeline(const Settings& cfg) {
  std::ifstream in(cfg.file);
  if (!in) {
    std::cerr << "rebound-e2e: setting 'file': cannot read '" << cfg.file
              << "'\n";
    return 2;
  }
  std::vector<rebound::v1::ConnectionEvent> events;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    rebound::v1::ConnectionEvent e;
    if (!google::protobuf::util::JsonStringToMessage(line, &e).ok()) continue;
    events.push_back(std::move(e));
  }
  std::set<std::string> tenants;
  std::map<std::string, size_t> decision_index;  // tenant/event_id -> index
  for (size_t i = 0; i < events.size(); ++i) {
    tenants.insert(events[i].tenant_id());
    if (events[i].has_request_declined() || events[i].has_request_expired()) {
      decision_index[events[i].tenant_id() + "/" + events[i].event_id()] = i;
    }
  }

  auto notify = rebound::v1::Notify::NewStub(
      grpc::CreateChannel(cfg.notify, grpc::InsecureChannelCredentials()));
  std::mutex mu;
  std::map<std::string, double> arrived;  // tenant/suggestion_id -> steady s
  std::map<std::string, rebound::v1::RetrySuggestion> suggestions;
  int64_t printed = 0;
  // Watch contexts in use, so the end can cancel them (a resuming watch
  // opens a new one per connection).
  std::set<grpc::ClientContext*> contexts;
  std::atomic<bool> stopping{false};
  std::vector<std::thread> watchers;
  std::set<std::pair<std::string, int64_t>> seen_versions;
  int64_t repeated = 0;
  std::atomic<int64_t> resumes{0};
  for (const auto& tenant : tenants) {
    watchers.emplace_back([&, tenant] {
      std::string token;  // Resume after this (--survive-restarts).
      while (!stopping.load()) {
        grpc::ClientContext ctx;
        std::string auth = TokenFor(cfg.tokens, tenant);
        if (!auth.empty()) ctx.AddMetadata("authorization", "Bearer " + auth);
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stopping.load()) break;
          contexts.insert(&ctx);
        }
        rebound::v1::WatchSuggestionsRequest req;
        req.set_tenant_id(tenant);
        if (cfg.survive) {
          if (token.empty()) req.set_from_beginning(true);
          req.set_resume_token(token);
        }
        auto reader = notify->WatchSuggestions(&ctx, req);
        rebound::v1::SuggestionUpdate u;
        while (reader->Read(&u)) {
          double now = SteadyNow();
          std::lock_guard<std::mutex> lock(mu);
          token = u.resume_token();
          std::string key = tenant + "/" + u.suggestion().suggestion_id();
          if (!seen_versions.insert({key, u.suggestion().version()}).second) {
            ++repeated;
          }
          arrived.emplace(key, now);
          suggestions[key] = u.suggestion();
          if (printed < cfg.show) {
            ++printed;
            std::cout << "  suggestion: " << Short(u.suggestion()) << "\n"
                      << std::flush;
          }
        }
        grpc::Status s = reader->Finish();
        {
          std::lock_guard<std::mutex> lock(mu);
          contexts.erase(&ctx);
        }
        if (stopping.load()) break;
        if (!cfg.survive && s.error_code() == grpc::StatusCode::CANCELLED)
          break;
        std::cerr << "watch " << tenant << ": "
                  << (s.ok() ? "ended" : s.error_message()) << "\n";
        if (!cfg.survive) break;
        ++resumes;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    });
  }
  // The watches start "from now"; give them a moment to be in place.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // The load generator's own CPU from here on (the file is read): it shares
  // the machine with the pipeline.
  const double cpu_before = ProcessCpuSeconds();

  auto ingest =
      grpc::CreateChannel(cfg.ingest, grpc::InsecureChannelCredentials());
  rebound::tools::StreamPublishOptions po;
  po.events_per_second = cfg.rate;
  po.batch_size =
      cfg.rate > 0 ? std::max(1, static_cast<int>(cfg.rate / 50)) : 200;
  po.batch_size = std::min(po.batch_size, 500);
  // A paced run lasts events/rate seconds: the stream must outlive it.
  double expected_s = cfg.rate > 0 ? events.size() / cfg.rate : 0;
  po.deadline = std::chrono::milliseconds(
      static_cast<int64_t>((std::max(120.0, expected_s * 1.5 + 60)) * 1000));
  if (tenants.size() == 1)
    po.metadata = "Bearer " + TokenFor(cfg.tokens, *tenants.begin());
  if (po.metadata == "Bearer ") po.metadata.clear();
  auto r = cfg.survive
               ? rebound::tools::PublishWithRetries(ingest, events, po, 60)
               : rebound::tools::PublishOverStream(ingest, events, po);
  std::cout << absl::StrFormat(
      "published %zu events in %.1fs (%.0f/s): published=%zu duplicates=%zu "
      "rejected=%zu failed=%zu\n",
      events.size(), r.seconds, events.size() / r.seconds, r.published,
      r.duplicates, r.rejected, r.failed);
  std::cout.flush();  // Watchers of the output learn publishing is over.

  // Wait for a suggestion per decline/expiry.
  double until = SteadyNow() + cfg.timeout_s;
  while (SteadyNow() < until) {
    {
      std::lock_guard<std::mutex> lock(mu);
      size_t got = 0;
      for (const auto& [key, idx] : decision_index) got += arrived.count(key);
      if (got >= decision_index.size()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping.store(true);
    for (auto* ctx : contexts) ctx->TryCancel();
  }
  for (auto& t : watchers) t.join();

  std::vector<double> latency_ms;
  // The same, split at the file's last RequestSent: while sends flow (the
  // mix of a live stream), and the history's drain after it (outcomes
  // only: the simulator's ends with every expiry, which come 180 days
  // after their sends, so its last seconds are nearly all verdicts).
  size_t last_send = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].has_request_sent()) last_send = i;
  }
  std::vector<double> flowing_ms, drain_ms;
  std::map<std::string, int64_t> by_state, by_action, by_category;
  size_t matched = 0, before_ack = 0;
  for (const auto& [key, idx] : decision_index) {
    auto it = arrived.find(key);
    if (it == arrived.end()) continue;
    ++matched;
    if (r.acked_at[idx] > 0 && it->second < r.acked_at[idx]) {
      // On the watch before its event was answered: a suggestion stored
      // earlier (a watch from the beginning; the event sent again), no
      // latency of this run.
      ++before_ack;
    } else if (r.acked_at[idx] > 0) {
      latency_ms.push_back((it->second - r.acked_at[idx]) * 1000);
      (idx < last_send ? flowing_ms : drain_ms).push_back(latency_ms.back());
    }
    const auto& s = suggestions[key];
    ++by_state[rebound::v1::SuggestionState_Name(s.state())];
    std::set<std::string> cats;
    for (const auto& a : s.actions()) {
      ++by_action[rebound::v1::ActionKind_Name(a.kind())];
      cats.insert(rebound::v1::ActionCategory_Name(a.category()));
    }
    for (const auto& c : cats) ++by_category[c];
  }
  const double cpu_used = ProcessCpuSeconds() - cpu_before;
  std::cout << "\nsummary\n";
  std::cout << absl::StrFormat("  events in: %zu (published %zu)\n",
                               events.size(), r.published);
  std::cout << absl::StrFormat(
      "  declines/expiries: %zu, suggestions streamed for %zu\n",
      decision_index.size(), matched);
  std::cout << "  suggestions by state:";
  for (const auto& [k, v] : by_state)
    std::cout << " " << k.substr(17) << "=" << v;
  std::cout << "\n  suggestions by lever:";
  for (const auto& [k, v] : by_category)
    std::cout << " " << k.substr(16) << "=" << v;
  std::cout << "\n  actions:";
  for (const auto& [k, v] : by_action)
    std::cout << " " << k.substr(12) << "=" << v;
  std::cout << absl::StrFormat(
      "\n  end-to-end latency (ingest ack -> suggestion on the watch stream): "
      "p50 %.1f ms, p99 %.1f ms (%zu samples)\n",
      Quantile(latency_ms, 0.5), Quantile(latency_ms, 0.99), latency_ms.size());
  std::cout << absl::StrFormat(
      "    of which while sends flow: p50 %.1f ms, p99 %.1f ms (%zu "
      "samples); after the last send (%zu events, outcomes only): p50 %.1f "
      "ms, p99 %.1f ms (%zu samples)\n",
      Quantile(flowing_ms, 0.5), Quantile(flowing_ms, 0.99), flowing_ms.size(),
      events.empty() ? 0 : events.size() - 1 - last_send,
      Quantile(drain_ms, 0.5), Quantile(drain_ms, 0.99), drain_ms.size());
  if (before_ack > 0) {
    std::cout << absl::StrFormat(
        "    not timed: %zu suggestions on the watch before their event was "
        "answered (stored earlier: a watch from the beginning, the event sent "
        "again)\n",
        before_ack);
  }
  std::cout << absl::StrFormat(
      "  load generator: %.1f us CPU per event (publishing and watching, "
      "after reading the file)\n",
      events.empty() ? 0.0
                     : cpu_used * 1e6 / static_cast<double>(events.size()));
  bool ok = matched == decision_index.size();
  if (cfg.survive) {
    const bool all_answered =
        r.published + r.duplicates == events.size() && r.failed == 0;
    std::cout << absl::StrFormat(
        "  survive-restarts: publish attempts %d, every event answered "
        "(published or duplicate): %s; watch resumes %d, (suggestion, "
        "version) delivered twice: %d\n",
        r.attempts, all_answered ? "yes" : "NO", resumes.load(), repeated);
    ok = ok && all_answered && r.rejected == 0 && repeated == 0;
  }
  if (!cfg.scoring.empty()) {
    // Events after a partition's last decline may still be on their way (a
    // restarted scoring replays): the counters get a minute to settle.
    const double until = SteadyNow() + 60;
    while (!CheckScores(cfg, events, false) && SteadyNow() < until) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    ok = CheckScores(cfg, events, true) && ok;
  }
  return ok ? 0 : 1;
}

// Produce -> consume latency of Kafka itself at `rate`, same producer
// settings as ingest.
int KafkaBaseline(const Settings& cfg) {
  // Bounded: a broker that goes away mid-run (its stack stopped by another
  // script) must not leave this waiting forever.
  const double limit_s =
      (cfg.rate > 0 ? static_cast<double>(cfg.count) / cfg.rate : 60.0) + 120;
  std::thread([limit_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(limit_s));
    std::cerr << absl::StrFormat(
        "rebound-e2e: the kafka baseline did not finish within %.0f s (is "
        "the broker still up?)\n",
        limit_s);
    std::_Exit(1);
  }).detach();
  rebound::PublisherOptions po;
  po.brokers = cfg.brokers;
  auto pub = rebound::Publisher::Create(po);
  if (!pub.ok()) {
    std::cerr << pub.status().message() << "\n";
    return 1;
  }
  for (int i = 0; i < 100 && !(*pub)->available(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (auto s = rebound::EnsureTopics((*pub)->handle(), {{cfg.topic, 6, 1}},
                                     std::chrono::seconds(30));
      !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", cfg.brokers},
                                          {"group.id", cfg.topic + "-baseline"},
                                          {"auto.offset.reset", "latest"},
                                          {"fetch.wait.max.ms", "10"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      std::cerr << "baseline consumer " << k << ": " << err << "\n";
      return 1;
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    std::cerr << "baseline consumer: " << err << "\n";
    return 1;
  }
  consumer->subscribe({cfg.topic});
  // Let the consumer join before producing.
  for (int i = 0; i < 100; ++i) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    std::vector<RdKafka::TopicPartition*> a;
    consumer->assignment(a);
    bool assigned = !a.empty();
    RdKafka::TopicPartition::destroy(a);
    if (assigned) break;
  }
  std::vector<double> latency_ms;
  double first_at = 0, last_at = 0;  // Reader thread until joined.
  std::atomic<bool> done{false};
  const double start = SteadyNow();
  std::thread reader([&] {
    while (true) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
      if (m->err() != RdKafka::ERR_NO_ERROR || m->len() != sizeof(double)) {
        if (done.load() && m->err() == RdKafka::ERR__TIMED_OUT) break;
        continue;
      }
      double sent;
      memcpy(&sent, m->payload(), sizeof(sent));
      // The first 2 s warm the consumer's fetch sessions up; not counted.
      if (sent < start + 2) continue;
      const double at = SteadyNow();
      if (latency_ms.empty()) first_at = at;
      last_at = at;
      latency_ms.push_back((at - sent) * 1000);
    }
  });
  struct Noop : rebound::Publisher::PendingRecord {
    void Delivered(const rebound::Delivery&) override {}
  };
  // rate 0: flat out, the queue kept full (waits while it is).
  for (int64_t i = 0; i < cfg.count; ++i) {
    if (cfg.rate > 0) {
      double due = start + i / cfg.rate;
      while (SteadyNow() < due)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    double now = SteadyNow();
    std::string value(reinterpret_cast<const char*>(&now), sizeof(now));
    while (!(*pub)
                ->Produce(cfg.topic, absl::StrCat("k", i), value, {},
                          absl::Now() + absl::Seconds(30),
                          std::make_unique<Noop>())
                .ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  (void)(*pub)->Flush(std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  done.store(true);
  reader.join();
  consumer->close();
  const double consumed_span = last_at - first_at;
  if (cfg.rate > 0) {
    std::cout << absl::StrFormat(
        "kafka produce -> consume at %.0f records/s: p50 %.1f ms, p99 %.1f ms "
        "(%zu samples)\n",
        cfg.rate, Quantile(latency_ms, 0.5), Quantile(latency_ms, 0.99),
        latency_ms.size());
  } else {
    std::cout << absl::StrFormat(
        "kafka produce -> consume flat out: %.0f records/s consumed (%zu "
        "records after the first 2 s, in %.1f s); p50 %.1f ms, p99 %.1f ms\n",
        consumed_span > 0 ? (latency_ms.size() - 1) / consumed_span : 0.0,
        latency_ms.size(), consumed_span, Quantile(latency_ms, 0.5),
        Quantile(latency_ms, 0.99));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  Settings s;
  bool baseline =
      c.Bool("kafka-baseline", false, "measure Kafka produce -> consume only");
  s.ingest = c.String("ingest-target", "127.0.0.1:50051", "ingest address");
  s.notify = c.String("notify-target", "127.0.0.1:50053", "notify address");
  s.scoring = c.String("scoring-target", "",
                       "scoring address: check every sender's counters");
  s.survive = c.Bool("survive-restarts", false,
                     "retry unanswered events, resume broken watches, fail "
                     "on a suggestion version delivered twice");
  s.file = c.String("file", "", "JSON lines of ConnectionEvent to publish");
  s.tokens = c.String("tenant-tokens", "", "tenant:token,... for the watches");
  s.rate = c.Double("rate", 0, 0, 1e7,
                    "events per second (0 = as fast as possible)");
  s.show =
      c.Int("show", 10, 0, 1'000'000, "suggestions to print as they arrive");
  s.timeout_s = c.Double("timeout-seconds", 120, 1, 86400,
                         "longest wait for suggestions");
  s.brokers =
      c.String("kafka-brokers", "", "baseline: Kafka bootstrap servers");
  s.topic = c.String("topic", "e2e-baseline", "baseline: topic");
  s.count = c.Int("count", 10000, 1, 100'000'000, "baseline: records");
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-e2e");
    return 0;
  }
  if (auto st = c.Finish(); !st.ok()) {
    std::cerr << "rebound-e2e: " << st.message() << "\n";
    return 2;
  }
  if (baseline) {
    if (s.brokers.empty()) {
      std::cerr << "rebound-e2e: --kafka-baseline needs --kafka-brokers (and "
                   "--rate, or 0 for flat out)\n";
      return 2;
    }
    return KafkaBaseline(s);
  }
  return Pipeline(s);
}
