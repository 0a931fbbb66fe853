// rebound-sim: writes a seeded, realistic multi-tenant stream of connection
// events (protobuf JSON, one ConnectionEvent per line, in time order) and the
// true cause of every decline and expiry (JSON lines), for back-testing the
// classifier with rebound-classify and rebound-evaluate. With --retry-study
// it regenerates the same history and runs the retry study on the advice
// given for it (see scenario.h).
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "tools/sim/scenario.h"

namespace {

// Reads the suggestions, runs the study, writes retries and arms.
int RunRetryStudy(const rebound::sim::ScenarioOptions& history,
                  const rebound::sim::RetryStudyOptions& study,
                  const std::string& suggestions_path,
                  const std::string& retries_path,
                  const std::string& arms_path) {
  std::ifstream in(suggestions_path);
  if (!in) {
    std::cerr << "rebound-sim: cannot open " << suggestions_path << "\n";
    return 2;
  }
  std::vector<rebound::v1::RetrySuggestion> suggestions;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rebound::v1::RetrySuggestion s;
    if (auto st = google::protobuf::util::JsonStringToMessage(line, &s);
        !st.ok()) {
      std::cerr << absl::StrFormat(
          "rebound-sim: %s:%d: not a RetrySuggestion: %s\n", suggestions_path,
          line_no, std::string(st.message()));
      return 2;
    }
    suggestions.push_back(std::move(s));
  }
  std::ofstream retries(retries_path), arms(arms_path);
  if (!retries || !arms) {
    std::cerr << "rebound-sim: cannot write "
              << (!retries ? retries_path : arms_path) << "\n";
    return 2;
  }
  auto result = rebound::sim::GenerateRetryStudy(history, suggestions, study);
  std::string json;
  for (const auto& e : result.events) {
    json.clear();
    if (!google::protobuf::util::MessageToJsonString(e, &json).ok()) {
      std::cerr << "rebound-sim: cannot serialise event " << e.event_id()
                << "\n";
      return 1;
    }
    retries << json << "\n";
  }
  int64_t retried = 0;
  for (const auto& a : result.arms) {
    arms << rebound::sim::RetryArmToJson(a) << "\n";
    retried += a.retried ? 1 : 0;
  }
  retries.flush();
  arms.flush();
  if (!retries || !arms) {
    std::cerr << "rebound-sim: write failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat(
      "rebound-sim: retry study: %d suggestion versions read, %d declined "
      "pairs, %d retried, %d events\n",
      suggestions.size(), result.arms.size(), retried, result.events.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  rebound::sim::ScenarioOptions o;
  o.seed = static_cast<uint64_t>(
      c.Int("seed", 42, 0, INT64_MAX, "generator seed (same seed, same file)"));
  o.tenants = static_cast<int>(c.Int("tenants", 3, 1, 1000, "tenants"));
  o.members_per_tenant = static_cast<int>(
      c.Int("members", 300, 4, 1'000'000, "members per tenant"));
  o.requests = static_cast<int>(
      c.Int("requests", 20000, 1, 50'000'000, "connection requests in total"));
  o.send_span = absl::Hours(
      24 * c.Int("send-days", 90, 1, 36'500,
                 "days over which requests are sent; pending ones expire "
                 "180 days after their send, so a history longer than 180 "
                 "days has expiries in its stream, as a live network does, "
                 "not only in the tail after the last send"));
  const std::string variant = c.String(
      "variant", "baseline",
      "generative variant: baseline, homophilous, noisy, guarded, salesy "
      "(other plausible worlds: cause mix, noise, stray features; see "
      "scenario.cc ApplyVariant)");
  if (!rebound::sim::ApplyVariant(variant, o)) {
    c.Reject("variant",
             "unknown: baseline, homophilous, noisy, guarded or salesy");
  }
  o.run_id = c.String("run-id", "sim", "prefix of every event_id");
  o.tenant_prefix = c.String(
      "tenant-prefix", o.tenant_prefix,
      "tenant ids are this prefix and 1, 2, ... (runs replaying different "
      "histories into one pipeline take different prefixes)");
  std::string out_path =
      c.String("out", "",
               "events file (ConnectionEvent JSON lines); required unless "
               "--retry-study");
  std::string truth_path =
      c.String("truth", "",
               "truth file (one JSON line per decline/expiry); required unless "
               "--retry-study");
  std::string suggestions_path = c.String(
      "retry-study", "",
      "run the retry study on this history: the RetrySuggestion JSON lines "
      "given for it (rebound-classify --suggestions); needs --retries and "
      "--arms");
  std::string retries_path =
      c.String("retries", "",
               "retry study: the retries' events (ConnectionEvent JSON lines)");
  std::string arms_path =
      c.String("arms", "",
               "retry study: one JSON line per declined pair (arm, outcome, "
               "obstacles left), for rebound-evaluate --arms");
  rebound::sim::RetryStudyOptions study;
  study.seed = static_cast<uint64_t>(c.Int(
      "retry-seed", 7, 0, INT64_MAX, "retry study seed (arms and outcomes)"));
  if (suggestions_path.empty() && (out_path.empty() || truth_path.empty())) {
    c.Reject(out_path.empty() ? "out" : "truth", "is required");
  }
  if (!suggestions_path.empty() &&
      (retries_path.empty() || arms_path.empty())) {
    c.Reject("retry-study", "needs --retries and --arms");
  }
  if (suggestions_path.empty() &&
      (!retries_path.empty() || !arms_path.empty())) {
    c.Reject(retries_path.empty() ? "arms" : "retries",
             "is written by the retry study: give --retry-study too");
  }
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-sim");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-sim: " << s.message() << "\n";
    return 2;
  }
  if (!suggestions_path.empty()) {
    return RunRetryStudy(o, study, suggestions_path, retries_path, arms_path);
  }
  std::ofstream out(out_path), truth(truth_path);
  if (!out || !truth) {
    std::cerr << "rebound-sim: cannot write " << (!out ? out_path : truth_path)
              << "\n";
    return 2;
  }
  auto scenario = rebound::sim::GenerateScenario(o);
  google::protobuf::util::JsonPrintOptions print;
  std::string json;
  for (const auto& e : scenario.events) {
    json.clear();
    if (!google::protobuf::util::MessageToJsonString(e, &json, print).ok()) {
      std::cerr << "rebound-sim: cannot serialise event " << e.event_id()
                << "\n";
      return 1;
    }
    out << json << "\n";
  }
  for (const auto& t : scenario.truth) {
    truth << rebound::sim::TruthToJson(t) << "\n";
  }
  out.flush();
  truth.flush();
  if (!out || !truth) {
    std::cerr << "rebound-sim: write failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat("rebound-sim: %d events, %d truth records\n",
                               scenario.events.size(), scenario.truth.size());
  return 0;
}
