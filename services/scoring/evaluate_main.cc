// rebound-evaluate: compares verdicts (DeclineVerdict JSON lines, from
// rebound-classify) with truth ({"tenant_id","event_id","true_reason"} JSON
// lines, from rebound-sim) and prints per-reason precision, recall, F1,
// support, macro-F1 and a confusion matrix. Exit 1 on unreadable input.
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "services/scoring/evaluation.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string verdicts_path =
      c.RequiredString("verdicts", "DeclineVerdict JSON lines");
  std::string truth_path = c.RequiredString("truth", "truth JSON lines");
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
  bool ok = read(truth_path, [&](const std::string& line) -> std::string {
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
  std::cout << rebound::scoring::FormatEvaluation(evaluator.Compute());
  return bad > 0 ? 1 : 0;
}
