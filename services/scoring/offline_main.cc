// rebound-classify: back-tests the classifier on a file of connection events
// (protobuf JSON, one event per line, in the order they happened). Replays
// them through OfflineState and writes one DeclineVerdict JSON line per
// decline or expiry; with --suggestions, also the RetrySuggestion JSON lines
// notify would emit for them (notify's policy code, OfflineAdvisor: one per
// verdict, and a new version when a profile update completes its profile
// work). Bad lines are reported (line number and reason) and skipped; the
// exit code is 1 if there were any.
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "services/notify/retry_policy.h"
#include "services/scoring/classifier.h"
#include "services/scoring/evaluation.h"
#include "services/scoring/event_lines.h"
#include "services/scoring/offline_advice.h"
#include "services/scoring/offline_state.h"
#include "state/event_fields.h"

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
  std::string suggestions_path =
      c.String("suggestions", "",
               "also write the retry suggestions notify would emit here "
               "(RetrySuggestion JSON lines, each version of each)");
  std::string policy_path = c.String("retry-policy", "config/retry_policy.json",
                                     "retry policy for --suggestions");
  const bool calibration = c.Bool(
      "acceptance-calibration", false,
      "also assess every request as Scoring.AssessDraft would have just "
      "before it was sent, and print how the predicted P(accept) compares "
      "with the answers (reliability by tenths, ECE)");
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
  std::optional<rebound::scoring::OfflineAdvisor> advisor;
  std::ofstream suggestions_out;
  if (!suggestions_path.empty()) {
    auto policy = rebound::notify::LoadRetryPolicyConfig(policy_path);
    if (!policy.ok()) {
      std::cerr << "rebound-classify: setting 'retry-policy': "
                << policy.status().message() << "\n";
      return 2;
    }
    advisor.emplace(*std::move(policy));
    suggestions_out.open(suggestions_path);
    if (!suggestions_out) {
      std::cerr << "rebound-classify: cannot write --suggestions "
                << suggestions_path << "\n";
      return 2;
    }
  }
  int64_t suggestion_lines = 0;
  auto write_suggestions =
      [&](const std::vector<rebound::v1::RetrySuggestion>& list) {
        for (const auto& s : list) {
          std::string json;
          if (!google::protobuf::util::MessageToJsonString(s, &json).ok()) {
            return false;
          }
          suggestions_out << json << "\n";
          ++suggestion_lines;
        }
        return true;
      };

  rebound::scoring::OfflineState state;
  // --acceptance-calibration: P(accept) of each request sent and not yet
  // answered, and the answered ones' reliability.
  std::map<std::pair<std::string, std::string>, double> predicted;
  rebound::scoring::Reliability acceptance;
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
    if (calibration) {
      if (auto draft = state.DraftFor(e)) {
        const auto v = rebound::scoring::Classify(
            *config, rebound::scoring::DraftDeclineContext(*draft));
        predicted[{e.tenant_id(), e.request_sent().request_id()}] =
            rebound::scoring::AcceptanceProbability(*config, *draft, v);
      } else if (e.has_request_accepted() || e.has_request_declined() ||
                 e.has_request_expired()) {
        // The first answer of a request assessed at its send.
        auto it =
            predicted.find({e.tenant_id(), rebound::state::RequestIdOf(e)});
        if (it != predicted.end()) {
          acceptance.Add(it->second, e.has_request_accepted());
          predicted.erase(it);
        }
      }
    }
    if (auto ctx = state.ContextFor(e)) {
      auto v = rebound::scoring::Classify(*config, *ctx);
      // As scoring publishes it: with what it knew of the two members.
      rebound::scoring::AttachDecisionContext(*ctx, &v);
      if (advisor && !write_suggestions(advisor->OnVerdict(v))) {
        std::cerr << "rebound-classify: cannot serialise a suggestion for "
                  << e.event_id() << "\n";
        return 1;
      }
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
    if (advisor && !write_suggestions(advisor->OnEvent(e))) {
      std::cerr << "rebound-classify: cannot serialise a suggestion after "
                << e.event_id() << "\n";
      return 1;
    }
  }
  if (advisor) {
    suggestions_out.flush();
    if (!suggestions_out) {
      std::cerr << "rebound-classify: write to " << suggestions_path
                << " failed\n";
      return 1;
    }
  }
  out.flush();
  if (!out) {
    std::cerr << "rebound-classify: write to " << out_path << " failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat(
      "rebound-classify: %d events, %d verdicts, %d bad lines (config %s)\n",
      events, verdicts, bad, config->version);
  if (advisor) {
    std::cerr << absl::StrFormat("rebound-classify: %d suggestion versions\n",
                                 suggestion_lines);
  }
  for (const auto& [reason, n] : by_reason) {
    std::cerr << absl::StrFormat("  %-36s %d\n", reason, n);
  }
  if (calibration) {
    const double n = static_cast<double>(std::max<int64_t>(1, acceptance.n()));
    double predicted_sum = 0, accepted = 0;
    for (const auto& b : acceptance.bins()) {
      predicted_sum += b.confidence_sum;
      accepted += static_cast<double>(b.correct);
    }
    std::cerr << absl::StrFormat(
        "acceptance calibration: %d requests assessed at their send and "
        "answered; mean predicted P(accept) %.3f, accepted %.3f; ECE %.3f\n",
        acceptance.n(), predicted_sum / n, accepted / n, acceptance.Ece());
    for (int i = 0; i < rebound::scoring::Reliability::kBins; ++i) {
      const auto& b = acceptance.bins()[i];
      if (b.n == 0) continue;
      std::cerr << absl::StrFormat(
          "  predicted %.1f-%.1f: %6d requests, mean predicted %.3f, "
          "accepted %.3f\n",
          i / 10.0, (i + 1) / 10.0, b.n, b.confidence_sum / b.n,
          static_cast<double>(b.correct) / b.n);
    }
  }
  return bad > 0 ? 1 : 0;
}
