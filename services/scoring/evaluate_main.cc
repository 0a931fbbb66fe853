// rebound-evaluate: compares verdicts (DeclineVerdict JSON lines, from
// rebound-classify) with truth ({"tenant_id","event_id","true_reason"} JSON
// lines, from rebound-sim) and prints per-reason precision, recall, F1,
// support, macro-F1 and a confusion matrix; with --arms, the retry study's
// acceptance on retry per arm (retry_evaluation.h); with --report, an HTML
// page of the pictures (report.h). Exit 1 on unreadable input.
#include <fstream>
#include <iostream>
#include <optional>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "services/scoring/evaluation.h"
#include "services/scoring/report.h"
#include "services/scoring/retry_evaluation.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string verdicts_path =
      c.String("verdicts", "", "DeclineVerdict JSON lines (with --truth)");
  std::string truth_path =
      c.String("truth", "", "truth JSON lines (with --verdicts)");
  std::string arms_path = c.String(
      "arms", "",
      "the retry study's arms file (rebound-sim --retry-study --arms): "
      "prints acceptance on retry per arm and the uplift of following the "
      "advice");
  std::string report_path = c.String(
      "report", "",
      "also write a self-contained HTML page here: confusion matrix, "
      "precision and recall per reason, reliability diagram, and with "
      "--arms the retry study's acceptance per arm (needs --verdicts and "
      "--truth)");
  std::string title =
      c.String("report-title", "Rebound back-test", "the page's title");
  if (verdicts_path.empty() != truth_path.empty()) {
    c.Reject(verdicts_path.empty() ? "verdicts" : "truth",
             "goes with --verdicts and --truth together");
  } else if (verdicts_path.empty() &&
             (arms_path.empty() || !report_path.empty())) {
    c.Reject("verdicts", report_path.empty()
                             ? "is required with --truth (or give --arms)"
                             : "is required with --truth for --report");
  }
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-evaluate");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-evaluate: " << s.message() << "\n";
    return 2;
  }
  rebound::scoring::Evaluator evaluator;
  int64_t bad = 0;
  auto read = [&](const std::string& path, auto&& add) {
    std::ifstream in(path);
    if (!in) {
      std::cerr << "rebound-evaluate: cannot open " << path << "\n";
      return false;
    }
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string why = add(line);
      if (!why.empty()) {
        ++bad;
        std::cerr << absl::StrFormat("%s:%d: skipped: %s\n", path, line_no,
                                     why);
      }
    }
    return true;
  };
  bool ok = true;
  std::optional<rebound::scoring::RetryEvaluation> retry;
  if (!arms_path.empty()) {
    std::vector<rebound::scoring::ArmRecord> arms;
    ok = read(arms_path, [&](const std::string& line) -> std::string {
      auto a = rebound::scoring::ParseArmLine(line);
      if (!a.ok()) return std::string(a.status().message());
      arms.push_back(std::move(*a));
      return "";
    });
    if (!ok) return 2;
    retry = rebound::scoring::EvaluateArms(arms);
    std::cout << rebound::scoring::FormatRetryEvaluation(*retry);
    if (verdicts_path.empty()) return bad > 0 ? 1 : 0;
    std::cout << "\n";
  }
  ok = read(truth_path, [&](const std::string& line) -> std::string {
    auto t = rebound::scoring::ParseTruthLine(line);
    if (!t.ok()) return std::string(t.status().message());
    evaluator.AddTruth(*t);
    return "";
  });
  ok = ok && read(verdicts_path, [&](const std::string& line) -> std::string {
         rebound::v1::DeclineVerdict v;
         auto s = google::protobuf::util::JsonStringToMessage(line, &v);
         if (!s.ok()) return std::string(s.message());
         evaluator.AddVerdict(v);
         return "";
       });
  if (!ok) return 2;
  const rebound::scoring::Evaluation evaluation = evaluator.Compute();
  std::cout << rebound::scoring::FormatEvaluation(evaluation);
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    out << rebound::scoring::RenderReport(evaluation, retry ? &*retry : nullptr,
                                          title);
    out.flush();
    if (!out) {
      std::cerr << "rebound-evaluate: cannot write " << report_path << "\n";
      return 2;
    }
    std::cerr << "rebound-evaluate: report written to " << report_path << "\n";
  }
  return bad > 0 ? 1 : 0;
}
