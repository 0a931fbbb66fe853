// rebound-fit: learns the classifier config (priors and weights) from
// labelled declines — a JSON-lines event file and its truth (the
// simulator's, or a team's own labels: {"tenant_id","event_id",
// "true_reason"}) — by regularised multinomial logistic regression on the
// classifier's own signals (services/scoring/fit.h). Prints k-fold
// cross-validated macro-F1, accuracy, log loss and expected calibration
// error beside the starting config's on the same folds, then fits on
// everything and writes the config (--out), which rebound-scoring and
// rebound-classify load unchanged.
//
//   rebound-fit --events=events.jsonl --truth=truth.jsonl --out=fitted.json
//               [--classifier-config=config/classifier.json] [--folds=5]
//               [--l2=0.01] [--iterations=400] [--seed=1]
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "services/scoring/evaluation.h"
#include "services/scoring/event_lines.h"
#include "services/scoring/fit.h"
#include "services/scoring/offline_state.h"

namespace {

using rebound::scoring::FitExample;
using rebound::scoring::FitScore;

void PrintScore(const std::string& label, const FitScore& s) {
  std::cout << absl::StrFormat(
      "  %-28s macro-F1 %.3f  accuracy %.3f  log loss %.3f  ECE %.3f  (n=%d)\n",
      label, s.macro_f1, s.accuracy, s.log_loss, s.ece, s.n);
}

}  // namespace

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  const std::string events_path = c.RequiredString(
      "events", "events file: ConnectionEvent JSON lines, in order");
  const std::string truth_path = c.RequiredString(
      "truth", "labels: {tenant_id, event_id, true_reason} JSON lines");
  const std::string base_path =
      c.String("classifier-config", "config/classifier.json",
               "starting config (thresholds and phrases are kept)");
  const std::string out_path =
      c.String("out", "", "write the fitted config here");
  const int folds =
      static_cast<int>(c.Int("folds", 5, 2, 100, "cross-validation folds"));
  const double l2 = static_cast<double>(c.Int(
                        "l2-per-million", 10000, 0, 100'000'000,
                        "L2 pull towards the starting weights, per million "
                        "(10000 = 0.01)")) /
                    1e6;
  const int iterations = static_cast<int>(
      c.Int("iterations", 400, 1, 100000, "optimiser iterations"));
  const uint64_t seed =
      static_cast<uint64_t>(c.Int("seed", 1, 0, INT64_MAX, "fold shuffle"));
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-fit");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-fit: " << s.message() << "\n";
    return 2;
  }
  std::ifstream base_in(base_path);
  const std::string base_json((std::istreambuf_iterator<char>(base_in)), {});
  auto base = rebound::scoring::ParseClassifierConfig(base_json);
  if (!base_in || !base.ok()) {
    std::cerr << "rebound-fit: setting 'classifier-config': "
              << (base.ok() ? "cannot read '" + base_path + "'"
                            : std::string(base.status().message()))
              << "\n";
    return 2;
  }
  std::map<std::pair<std::string, std::string>, rebound::v1::DeclineReason>
      truth;
  {
    std::ifstream in(truth_path);
    if (!in) {
      std::cerr << "rebound-fit: cannot read --truth " << truth_path << "\n";
      return 2;
    }
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      auto t = rebound::scoring::ParseTruthLine(line);
      if (!t.ok()) {
        std::cerr << absl::StrFormat("%s:%d: %s\n", truth_path, n,
                                     t.status().message());
        return 1;
      }
      truth[{t->tenant_id, t->event_id}] = t->true_reason;
    }
  }
  std::ifstream in(events_path);
  if (!in) {
    std::cerr << "rebound-fit: cannot read --events " << events_path << "\n";
    return 2;
  }
  const auto names = rebound::scoring::FitWeightNames(*base);
  rebound::scoring::OfflineState state;
  std::vector<FitExample> examples;
  std::string line;
  int64_t line_no = 0, bad = 0, unlabelled = 0;
  while (std::getline(in, line)) {
    ++line_no;
    auto parsed = rebound::scoring::ParseEventLine(line);
    if (!parsed.ok()) {
      ++bad;
      continue;
    }
    if (!parsed->has_value()) continue;
    const auto& e = **parsed;
    if (auto ctx = state.ContextFor(e)) {
      const bool not_seen = rebound::scoring::NotSeen(*base, *ctx);
      auto it = truth.find({e.tenant_id(), e.event_id()});
      const int label =
          it == truth.end() ? -1 : static_cast<int>(it->second) - 1;
      if (!not_seen && label >= 0 && label < rebound::scoring::kFitReasons) {
        examples.push_back(
            rebound::scoring::Features(*base, names, *ctx, label));
      } else if (!not_seen) {
        ++unlabelled;
      }
    }
    state.Apply(e);
  }
  std::cout << absl::StrFormat(
      "rebound-fit: %d labelled declines (%d weights, 4 priors), %d declines "
      "without a decline-reason label, %d bad lines\n",
      examples.size(), names.size(), unlabelled, bad);
  if (examples.size() < static_cast<size_t>(folds) * 10) {
    std::cerr << "rebound-fit: too few labelled declines to fit\n";
    return 1;
  }
  const rebound::scoring::FitModel start =
      rebound::scoring::ModelOf(*base, names);
  const rebound::scoring::FitOptions options{.l2 = l2,
                                             .iterations = iterations};
  std::vector<size_t> order(examples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  std::vector<FitExample> all_held_start, all_held_fit;
  FitScore mean_start, mean_fit;
  std::cout << absl::StrFormat("%d-fold cross-validation (held-out folds):\n",
                               folds);
  for (int f = 0; f < folds; ++f) {
    std::vector<FitExample> train, held;
    for (size_t i = 0; i < order.size(); ++i) {
      (static_cast<int>(i % folds) == f ? held : train)
          .push_back(examples[order[i]]);
    }
    const auto model = rebound::scoring::Fit(train, start, options);
    const FitScore s0 = rebound::scoring::Score(start, held);
    const FitScore s1 = rebound::scoring::Score(model, held);
    PrintScore(absl::StrFormat("fold %d starting config", f + 1), s0);
    PrintScore(absl::StrFormat("fold %d fitted", f + 1), s1);
    for (auto* acc : {&mean_start, &mean_fit}) {
      const FitScore& s = acc == &mean_start ? s0 : s1;
      acc->macro_f1 += s.macro_f1 / folds;
      acc->accuracy += s.accuracy / folds;
      acc->log_loss += s.log_loss / folds;
      acc->ece += s.ece / folds;
      acc->n += s.n;
    }
  }
  PrintScore("mean: starting config", mean_start);
  PrintScore("mean: fitted", mean_fit);
  const auto model = rebound::scoring::Fit(examples, start, options);
  PrintScore("fitted on all (in sample)",
             rebound::scoring::Score(model, examples));
  if (!out_path.empty()) {
    auto json = rebound::scoring::FittedConfigJson(base_json, names, model,
                                                   base->version + "+fit");
    if (!json.ok()) {
      std::cerr << "rebound-fit: the fitted config is refused: "
                << json.status().message() << "\n";
      return 1;
    }
    std::ofstream out(out_path);
    out << *json;
    out.flush();
    if (!out) {
      std::cerr << "rebound-fit: cannot write --out " << out_path << "\n";
      return 1;
    }
    std::cout << "wrote " << out_path << "\n";
  }
  return 0;
}
