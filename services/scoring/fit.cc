#include "services/scoring/fit.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "services/scoring/evaluation.h"

namespace rebound::scoring {
namespace {

constexpr const char* kPriorNames[kFitReasons] = {
    "spammy_profile", "off_target_approach", "perceived_competitor",
    "credibility_guard"};

int ReasonIndex(rebound::v1::DeclineReason r) {
  const int i = static_cast<int>(r) - 1;
  return i >= 0 && i < kFitReasons ? i : -1;
}

std::array<double, kFitReasons> Logits(const FitModel& m, const FitExample& e) {
  std::array<double, kFitReasons> z = m.priors;
  for (size_t k = 0; k < e.x.size() && k < m.weights.size(); ++k) {
    for (int r = 0; r < kFitReasons; ++r) z[r] += m.weights[k] * e.x[k][r];
  }
  return z;
}

}  // namespace

std::vector<std::string> FitWeightNames(const ClassifierConfig& config) {
  std::vector<std::string> names;
  for (const auto& [name, value] : config.values) {
    if (absl::StartsWith(name, "weights.")) names.push_back(name.substr(8));
  }
  return names;  // std::map order: sorted.
}

FitExample Features(const ClassifierConfig& config,
                    const std::vector<std::string>& names,
                    const DeclineContext& context, int label) {
  FitExample out;
  out.label = label;
  out.x.assign(names.size(), {});
  ClassifierConfig unit = config;
  for (const auto& n : names) unit.values["weights." + n] = 0;
  for (size_t k = 0; k < names.size(); ++k) {
    unit.values["weights." + names[k]] = 1;
    const rebound::v1::DeclineVerdict v = Classify(unit, context);
    for (const auto& s : v.signals()) {
      const int r = ReasonIndex(s.reason());
      if (r >= 0) out.x[k][r] += s.weight();
    }
    unit.values["weights." + names[k]] = 0;
  }
  return out;
}

FitModel ModelOf(const ClassifierConfig& config,
                 const std::vector<std::string>& names) {
  FitModel m;
  for (int r = 0; r < kFitReasons; ++r) {
    auto it =
        config.priors.find(static_cast<rebound::v1::DeclineReason>(r + 1));
    m.priors[r] = it == config.priors.end() ? 0 : it->second;
  }
  for (const auto& n : names) m.weights.push_back(config.Get("weights." + n));
  return m;
}

std::array<double, kFitReasons> Predict(const FitModel& model,
                                        const FitExample& e) {
  std::array<double, kFitReasons> z = Logits(model, e);
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double& v : z) sum += (v = std::exp(v - top));
  for (double& v : z) v /= sum;
  return z;
}

FitModel Fit(const std::vector<FitExample>& examples, const FitModel& start,
             const FitOptions& o) {
  FitModel m = start;
  const size_t nw = m.weights.size();
  const size_t np = kFitReasons + nw;
  std::vector<double> mom(np, 0), vel(np, 0), grad(np);
  constexpr double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const double n = std::max<double>(1, static_cast<double>(examples.size()));
  for (int it = 1; it <= o.iterations; ++it) {
    std::fill(grad.begin(), grad.end(), 0);
    for (const auto& e : examples) {
      const auto p = Predict(m, e);
      for (int r = 0; r < kFitReasons; ++r) {
        const double d = (p[r] - (r == e.label ? 1.0 : 0.0)) / n;
        grad[r] += d;
        for (size_t k = 0; k < nw; ++k) grad[kFitReasons + k] += d * e.x[k][r];
      }
    }
    for (size_t k = 0; k < nw; ++k) {
      grad[kFitReasons + k] += 2 * o.l2 * (m.weights[k] - start.weights[k]);
    }
    for (size_t i = 0; i < np; ++i) {
      mom[i] = b1 * mom[i] + (1 - b1) * grad[i];
      vel[i] = b2 * vel[i] + (1 - b2) * grad[i] * grad[i];
      const double step = o.learning_rate * (mom[i] / (1 - std::pow(b1, it))) /
                          (std::sqrt(vel[i] / (1 - std::pow(b2, it))) + eps);
      double& p = i < kFitReasons ? m.priors[i] : m.weights[i - kFitReasons];
      p = std::clamp(p - step, -100.0, 100.0);
    }
  }
  return m;
}

FitScore Score(const FitModel& model, const std::vector<FitExample>& examples) {
  FitScore s;
  s.n = static_cast<int64_t>(examples.size());
  if (examples.empty()) return s;
  std::array<int64_t, kFitReasons> tp{}, predicted{}, support{};
  Reliability reliability;
  int64_t correct = 0;
  for (const auto& e : examples) {
    const auto p = Predict(model, e);
    const int best =
        static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    ++predicted[best];
    ++support[e.label];
    const bool ok = best == e.label;
    if (ok) {
      ++tp[best];
      ++correct;
    }
    s.log_loss -= std::log(std::max(p[e.label], 1e-12));
    reliability.Add(p[best], ok);
  }
  const double n = static_cast<double>(examples.size());
  s.accuracy = static_cast<double>(correct) / n;
  s.log_loss /= n;
  int present = 0;
  for (int r = 0; r < kFitReasons; ++r) {
    if (support[r] == 0) continue;
    ++present;
    const double prec = predicted[r] ? double(tp[r]) / double(predicted[r]) : 0;
    const double rec = double(tp[r]) / double(support[r]);
    s.macro_f1 += prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
  }
  if (present > 0) s.macro_f1 /= present;
  s.ece = reliability.Ece();
  return s;
}

absl::StatusOr<std::string> FittedConfigJson(
    const std::string& base_json, const std::vector<std::string>& names,
    const FitModel& model, const std::string& version) {
  nlohmann::json root = nlohmann::json::parse(base_json, nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError("the base config is not a JSON object");
  }
  root["version"] = version;
  for (int r = 0; r < kFitReasons; ++r) {
    root["priors"][kPriorNames[r]] = std::round(model.priors[r] * 1e4) / 1e4;
  }
  for (size_t k = 0; k < names.size() && k < model.weights.size(); ++k) {
    root["weights"][names[k]] = std::round(model.weights[k] * 1e4) / 1e4;
  }
  std::string out = root.dump(2);
  out.push_back('\n');
  // What the loader refuses is not written.
  if (auto c = ParseClassifierConfig(out); !c.ok()) return c.status();
  return out;
}

}  // namespace rebound::scoring
