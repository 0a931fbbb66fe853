// Back-testing the classifier: compares verdicts with known true reasons
// (from the simulator, or a team's own labels) and reports per-reason
// precision, recall, F1 and a confusion matrix.
#ifndef REBOUND_SERVICES_SCORING_EVALUATION_H_
#define REBOUND_SERVICES_SCORING_EVALUATION_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "rebound/v1/scoring.pb.h"

namespace rebound::scoring {

// One labelled decline or expiry: {"tenant_id", "event_id", "true_reason"}
// with true_reason a DeclineReason name, e.g. "DECLINE_REASON_SPAMMY_PROFILE".
struct TruthRecord {
  std::string tenant_id;
  std::string event_id;
  rebound::v1::DeclineReason true_reason =
      rebound::v1::DECLINE_REASON_UNSPECIFIED;
};

// One JSON line of truth. Errors name the missing or malformed key.
absl::StatusOr<TruthRecord> ParseTruthLine(const std::string& line);
// The JSON line for `truth` (what ParseTruthLine reads).
std::string TruthToJson(const TruthRecord& truth);

// Calibration: stated confidence against the share right, in 10 equal
// bins of confidence (the reliability diagram and the expected calibration
// error, ECE).
class Reliability {
 public:
  static constexpr int kBins = 10;
  struct Bin {
    int64_t n = 0;
    double confidence_sum = 0;
    int64_t correct = 0;
  };
  void Add(double confidence, bool correct);
  const std::array<Bin, kBins>& bins() const { return bins_; }
  int64_t n() const { return n_; }
  // Sum over bins of |mean confidence - accuracy| weighted by the bin's
  // share; 0 with nothing added.
  double Ece() const;

 private:
  std::array<Bin, kBins> bins_{};
  int64_t n_ = 0;
};

struct ReasonMetrics {
  int64_t true_positive = 0;
  int64_t predicted = 0;  // Verdicts with this primary reason (matched ones).
  int64_t support = 0;    // Truth records with this reason.
  double precision = 0;
  double recall = 0;
  double f1 = 0;
};

struct Evaluation {
  // Per true reason present in the truth, plus reasons only predicted.
  std::map<rebound::v1::DeclineReason, ReasonMetrics> per_reason;
  // confusion[truth][predicted] over matched pairs.
  std::map<rebound::v1::DeclineReason,
           std::map<rebound::v1::DeclineReason, int64_t>>
      confusion;
  // Mean F1 over the reasons present in the truth, undetermined aside (a
  // truth of "no cause" is not a reason to find; its cases still lower the
  // precision of the reason they were called).
  double macro_f1 = 0;
  double accuracy = 0;
  int64_t matched = 0;
  int64_t truth_without_verdict = 0;
  int64_t verdicts_without_truth = 0;
  // The matched verdicts' confidence against being right.
  Reliability reliability;
};

// Accumulates truth and verdicts (in any order), keyed by tenant + event id
// (verdict_id is the decline's event_id).
class Evaluator {
 public:
  void AddTruth(const TruthRecord& truth);
  void AddVerdict(const rebound::v1::DeclineVerdict& verdict);
  // Metrics over everything added so far.
  Evaluation Compute() const;

 private:
  std::map<std::pair<std::string, std::string>, rebound::v1::DeclineReason>
      truth_;
  std::map<std::pair<std::string, std::string>, rebound::v1::DeclineReason>
      predicted_;
  std::map<std::pair<std::string, std::string>, double> confidence_;
};

// A human-readable report: per-reason table, macro-F1, confusion matrix.
std::string FormatEvaluation(const Evaluation& e);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_EVALUATION_H_
