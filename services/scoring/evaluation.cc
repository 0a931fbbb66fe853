#include "services/scoring/evaluation.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace rebound::scoring {

using rebound::v1::DeclineReason;

namespace {

// "DECLINE_REASON_SPAMMY_PROFILE" -> "SPAMMY_PROFILE", for narrow tables.
std::string Short(DeclineReason r) {
  return std::string(
      absl::StripPrefix(rebound::v1::DeclineReason_Name(r), "DECLINE_REASON_"));
}

}  // namespace

absl::StatusOr<TruthRecord> ParseTruthLine(const std::string& line) {
  try {
    auto j = nlohmann::json::parse(line);
    if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
    TruthRecord t;
    for (const char* key : {"tenant_id", "event_id", "true_reason"}) {
      if (!j.contains(key) || !j[key].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": missing or not a string"));
      }
    }
    t.tenant_id = j["tenant_id"].get<std::string>();
    t.event_id = j["event_id"].get<std::string>();
    if (!rebound::v1::DeclineReason_Parse(j["true_reason"].get<std::string>(),
                                          &t.true_reason)) {
      return absl::InvalidArgumentError(
          absl::StrCat("true_reason: unknown reason \"",
                       j["true_reason"].get<std::string>(), "\""));
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", e.what()));
  }
}

std::string TruthToJson(const TruthRecord& truth) {
  nlohmann::json j = {
      {"tenant_id", truth.tenant_id},
      {"event_id", truth.event_id},
      {"true_reason", rebound::v1::DeclineReason_Name(truth.true_reason)}};
  return j.dump();
}

void Reliability::Add(double confidence, bool correct) {
  const double c = std::clamp(confidence, 0.0, 1.0);
  Bin& b = bins_[std::min(kBins - 1, static_cast<int>(c * kBins))];
  ++b.n;
  b.confidence_sum += c;
  b.correct += correct ? 1 : 0;
  ++n_;
}

double Reliability::Ece() const {
  if (n_ == 0) return 0;
  double ece = 0;
  for (const Bin& b : bins_) {
    ece += std::abs(b.confidence_sum - static_cast<double>(b.correct));
  }
  return ece / static_cast<double>(n_);
}

void Evaluator::AddTruth(const TruthRecord& truth) {
  truth_[{truth.tenant_id, truth.event_id}] = truth.true_reason;
}

void Evaluator::AddVerdict(const rebound::v1::DeclineVerdict& verdict) {
  predicted_[{verdict.tenant_id(), verdict.verdict_id()}] =
      verdict.primary_reason();
  confidence_[{verdict.tenant_id(), verdict.verdict_id()}] =
      verdict.confidence();
}

Evaluation Evaluator::Compute() const {
  Evaluation e;
  for (const auto& [key, truth] : truth_) {
    ++e.per_reason[truth].support;
    auto it = predicted_.find(key);
    if (it == predicted_.end()) {
      ++e.truth_without_verdict;
      continue;
    }
    ++e.matched;
    ++e.confusion[truth][it->second];
    ++e.per_reason[it->second].predicted;
    if (it->second == truth) ++e.per_reason[truth].true_positive;
    e.reliability.Add(confidence_.at(key), it->second == truth);
  }
  for (const auto& [key, predicted] : predicted_) {
    if (!truth_.contains(key)) ++e.verdicts_without_truth;
  }
  int64_t correct = 0;
  double f1_sum = 0;
  int present = 0;
  for (auto& [reason, m] : e.per_reason) {
    m.precision = m.predicted ? static_cast<double>(m.true_positive) /
                                    static_cast<double>(m.predicted)
                              : 0;
    m.recall = m.support ? static_cast<double>(m.true_positive) /
                               static_cast<double>(m.support)
                         : 0;
    m.f1 = m.precision + m.recall > 0
               ? 2 * m.precision * m.recall / (m.precision + m.recall)
               : 0;
    correct += m.true_positive;
    // Undetermined is not a reason to find: its cases count against the
    // precision of whatever they were called, not in the average.
    if (m.support > 0 && reason != rebound::v1::DECLINE_REASON_UNDETERMINED) {
      f1_sum += m.f1;
      ++present;
    }
  }
  e.macro_f1 = present ? f1_sum / present : 0;
  e.accuracy =
      e.matched ? static_cast<double>(correct) / static_cast<double>(e.matched)
                : 0;
  return e;
}

std::string FormatEvaluation(const Evaluation& e) {
  std::string out = absl::StrFormat("%-22s %9s %9s %9s %9s\n", "reason",
                                    "precision", "recall", "f1", "support");
  for (const auto& [reason, m] : e.per_reason) {
    absl::StrAppendFormat(&out, "%-22s %9.3f %9.3f %9.3f %9d\n", Short(reason),
                          m.precision, m.recall, m.f1, m.support);
  }
  absl::StrAppendFormat(&out,
                        "macro-F1 %.3f (over the reasons in the truth but "
                        "undetermined), accuracy "
                        "%.3f, matched %d, truth without verdict %d, verdicts "
                        "without truth %d\n",
                        e.macro_f1, e.accuracy, e.matched,
                        e.truth_without_verdict, e.verdicts_without_truth);
  absl::StrAppendFormat(&out,
                        "expected calibration error %.3f (confidence against "
                        "the share right, 10 bins)\n",
                        e.reliability.Ece());
  std::set<DeclineReason> columns;
  for (const auto& [truth, row] : e.confusion) {
    for (const auto& [predicted, n] : row) columns.insert(predicted);
  }
  absl::StrAppend(&out, "confusion (rows: truth, columns: predicted)\n");
  absl::StrAppendFormat(&out, "%-22s", "");
  for (auto c : columns) {
    absl::StrAppendFormat(&out, " %9s", Short(c).substr(0, 9));
  }
  absl::StrAppend(&out, "\n");
  for (const auto& [truth, row] : e.confusion) {
    absl::StrAppendFormat(&out, "%-22s", Short(truth));
    for (auto c : columns) {
      auto it = row.find(c);
      absl::StrAppendFormat(&out, " %9d", it == row.end() ? 0 : it->second);
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace rebound::scoring
