// rebound-classify: back-tests the classifier on a file of connection events
// (protobuf JSON, one event per line, in the order they happened). Replays
// them through OfflineState and writes one DeclineVerdict JSON line per
// decline or expiry. Bad lines are reported (line number and reason) and
// skipped; the exit code is 1 if there were any.
#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "services/scoring/classifier.h"
#include "services/scoring/event_lines.h"
#include "services/scoring/offline_state.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string in_path =
      c.RequiredString("in", "events file: ConnectionEvent JSON lines");
  std::string out_path =
      c.String("out", "-",
               "verdicts file (DeclineVerdict JSON lines); - = "
               "stdout");
  std::string config_path =
      c.String("classifier-config", "config/classifier.json",
               "classifier weights and thresholds");
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-classify");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-classify: " << s.message() << "\n";
    return 2;
  }
  auto config = rebound::scoring::LoadClassifierConfig(config_path);
  if (!config.ok()) {
    std::cerr << "rebound-classify: " << config.status().message() << "\n";
    return 2;
  }
  std::ifstream in(in_path);
  if (!in) {
    std::cerr << "rebound-classify: cannot open --in " << in_path << "\n";
    return 2;
  }
  std::ofstream out_file;
  if (out_path != "-") {
    out_file.open(out_path);
    if (!out_file) {
      std::cerr << "rebound-classify: cannot write --out " << out_path << "\n";
      return 2;
    }
  }
  std::ostream& out = out_path == "-" ? std::cout : out_file;

  rebound::scoring::OfflineState state;
  std::string line;
  int64_t line_no = 0, events = 0, bad = 0, verdicts = 0;
  std::map<std::string, int64_t> by_reason;
  while (std::getline(in, line)) {
    ++line_no;
    auto parsed = rebound::scoring::ParseEventLine(line);
    if (!parsed.ok()) {
      ++bad;
      std::cerr << absl::StrFormat("%s:%d: skipped: %s\n", in_path, line_no,
                                   parsed.status().message());
      continue;
    }
    if (!parsed->has_value()) continue;
    const rebound::v1::ConnectionEvent& e = **parsed;
    ++events;
    if (auto ctx = state.ContextFor(e)) {
      auto v = rebound::scoring::Classify(*config, *ctx);
      std::string json;
      google::protobuf::util::JsonPrintOptions print;
      if (!google::protobuf::util::MessageToJsonString(v, &json, print).ok()) {
        std::cerr << "rebound-classify: cannot serialise verdict for "
                  << e.event_id() << "\n";
        return 1;
      }
      out << json << "\n";
      ++verdicts;
      ++by_reason[rebound::v1::DeclineReason_Name(v.primary_reason())];
    }
    state.Apply(e);
  }
  out.flush();
  if (!out) {
    std::cerr << "rebound-classify: write to " << out_path << " failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat(
      "rebound-classify: %d events, %d verdicts, %d bad lines (config %s)\n",
      events, verdicts, bad, config->version);
  for (const auto& [reason, n] : by_reason) {
    std::cerr << absl::StrFormat("  %-36s %d\n", reason, n);
  }
  return bad > 0 ? 1 : 0;
}
