// Learning the classifier's priors and weights from labelled declines
// (rebound-fit): a regularised multinomial logistic regression over the
// four decline reasons whose features are the classifier's own signals, so
// a fitted config is used by Classify unchanged.
//
// Classify is linear in its weights: every signal adds value x weight to
// one reason's log-odds. So a decline's features are read off the
// classifier itself: with only weight k set to 1 (the rest 0), the signals'
// weights summed per reason give x[k][r], and
//   logit_r = prior_r + sum_k w_k * x[k][r].
// Fitting minimises the mean negative log-likelihood plus
// l2 * sum_k (w_k - w0_k)^2, pulling each weight towards the starting
// config's (the shipped one: little labelled data changes it little).
#ifndef REBOUND_SERVICES_SCORING_FIT_H_
#define REBOUND_SERVICES_SCORING_FIT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/scoring/classifier.h"

namespace rebound::scoring {

inline constexpr int kFitReasons = 4;  // SPAMMY_PROFILE..CREDIBILITY_GUARD.

struct FitExample {
  // x[k][r]: weight k's contribution per unit weight to reason r (index
  // = DeclineReason - 1).
  std::vector<std::array<double, kFitReasons>> x;
  int label = 0;  // The true reason's index.
};

struct FitModel {
  std::array<double, kFitReasons> priors{};
  std::vector<double> weights;  // In FitWeightNames() order.
};

// The config's weight names ("sender_no_photo", ...), sorted.
std::vector<std::string> FitWeightNames(const ClassifierConfig& config);

// The features of one decline (its context as Classify sees it).
FitExample Features(const ClassifierConfig& config,
                    const std::vector<std::string>& names,
                    const DeclineContext& context, int label);

// The starting model: the config's priors and weights.
FitModel ModelOf(const ClassifierConfig& config,
                 const std::vector<std::string>& names);

struct FitOptions {
  double l2 = 0.01;
  int iterations = 400;
  double learning_rate = 0.05;
};
// Adam on the full batch from `start`; weights kept within the loader's
// [-100, 100].
FitModel Fit(const std::vector<FitExample>& examples, const FitModel& start,
             const FitOptions& options);

// The posterior over the four reasons.
std::array<double, kFitReasons> Predict(const FitModel& model,
                                        const FitExample& example);

struct FitScore {
  double macro_f1 = 0, accuracy = 0, log_loss = 0;
  // Expected calibration error of the top probability (10 equal bins).
  double ece = 0;
  int64_t n = 0;
};
FitScore Score(const FitModel& model, const std::vector<FitExample>& examples);

// `config` with the model's priors and weights, as a config file's JSON
// (`base_json`, the file it came from, with priors and weights replaced and
// `version` set).
absl::StatusOr<std::string> FittedConfigJson(
    const std::string& base_json, const std::vector<std::string>& names,
    const FitModel& model, const std::string& version);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_FIT_H_
