// rebound-publish-sample: generates a seeded sample of connection events and
// publishes it through ingest's PublishStream, printing what was acked.
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "tools/ingest_client.h"
#include "tools/sim/event_generator.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string target =
      c.String("ingest-target", "127.0.0.1:50051", "ingest gRPC address");
  int64_t n = c.Int("events", 2000, 1, 100'000'000, "events to publish");
  int64_t seed = c.Int("seed", 42, 0, INT64_MAX, "generator seed");
  int64_t tenants = c.Int("tenants", 3, 1, 1000, "tenants in the sample");
  int64_t batch = c.Int("batch", 200, 1, 100000, "events per batch");
  int64_t window = c.Int("window", 8, 1, 1000, "batches in flight");
  std::string run_id = c.String("run-id", "sample", "prefix of every event_id");
  std::string file = c.String(
      "file", "", "publish this JSON-lines file of ConnectionEvent instead");
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-publish-sample");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-publish-sample: " << s.message() << "\n";
    return 2;
  }
  std::vector<rebound::v1::ConnectionEvent> events;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      std::cerr << "rebound-publish-sample: setting 'file': cannot read '"
                << file << "'\n";
      return 2;
    }
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      rebound::v1::ConnectionEvent e;
      auto st = google::protobuf::util::JsonStringToMessage(line, &e);
      if (!st.ok()) {
        std::cerr << file << ":" << line_no << ": " << st.message() << "\n";
        return 1;
      }
      events.push_back(std::move(e));
    }
  } else {
    rebound::sim::GeneratorOptions g;
    g.seed = static_cast<uint64_t>(seed);
    g.tenants = static_cast<int>(tenants);
    g.run_id = run_id;
    events = rebound::sim::EventGenerator(g).Next(static_cast<int>(n));
  }

  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  rebound::tools::StreamPublishOptions o;
  o.batch_size = static_cast<int>(batch);
  o.window = static_cast<int>(window);
  size_t last_report = 0;
  o.progress = [&](size_t done, size_t total) {
    if (done - last_report >= total / 10 || done == total) {
      last_report = done;
      std::cerr << absl::StrFormat("  published %zu/%zu\n", done, total);
    }
  };
  auto r = rebound::tools::PublishOverStream(channel, events, o);
  std::cout << absl::StrFormat(
      "ingest %s: %zu events in %.2fs (%.0f events/s): published=%zu "
      "duplicates=%zu rejected=%zu failed=%zu; ack latency p50=%.1fms "
      "p99=%.1fms\n",
      target, events.size(), r.seconds, events.size() / r.seconds, r.published,
      r.duplicates, r.rejected, r.failed,
      rebound::tools::Quantile(r.ack_latency_ms, 0.5),
      rebound::tools::Quantile(r.ack_latency_ms, 0.99));
  for (const auto& res : r.results) {
    if (res.outcome() == rebound::v1::OUTCOME_REJECTED ||
        res.outcome() == rebound::v1::OUTCOME_FAILED) {
      std::cout << "  first problem: event " << res.event_id() << " "
                << res.field() << ": " << res.error() << "\n";
      break;
    }
  }
  if (!r.status.ok()) {
    std::cerr << "stream ended: " << r.status.error_message() << "\n";
    return 1;
  }
  return r.published + r.duplicates == events.size() ? 0 : 1;
}
