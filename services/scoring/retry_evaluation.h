// The retry study's read-out (rebound-evaluate --arms): acceptance on retry
// per arm with 95% intervals, the uplift of following the advice over
// retrying at once and over only waiting, whether DO_NOT_RETRY was right,
// and what the advice left undone. The arms file is rebound-sim
// --retry-study's (see tools/sim/scenario.h).
#ifndef REBOUND_SERVICES_SCORING_RETRY_EVALUATION_H_
#define REBOUND_SERVICES_SCORING_RETRY_EVALUATION_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rebound/v1/scoring.pb.h"

namespace rebound::scoring {

// One declined pair of the study.
struct ArmRecord {
  std::string arm;  // follow, immediate, wait or never.
  rebound::v1::DeclineReason true_reason =
      rebound::v1::DECLINE_REASON_UNSPECIFIED;
  bool advice_found = false;
  bool should_retry = false;
  bool retried = false;
  bool accepted = false;
  std::vector<std::string> obstacles;  // Left at the retry.
};

// One JSON line of the arms file. Errors name the key.
absl::StatusOr<ArmRecord> ParseArmLine(const std::string& line);

struct ArmCounts {
  int64_t pairs = 0;
  int64_t retried = 0;
  int64_t accepted = 0;
};

struct RetryEvaluation {
  std::map<std::string, ArmCounts> arms;
  // [true reason][arm].
  std::map<rebound::v1::DeclineReason, std::map<std::string, ArmCounts>>
      by_reason;
  // Retries of the immediate and wait arms (which ignore the advice), split
  // by what the advice said: is DO_NOT_RETRY right?
  ArmCounts told_not_to_retry;
  ArmCounts told_to_retry;
  // Follow-arm retries with nothing left, and per obstacle left.
  ArmCounts follow_clear;
  std::map<std::string, ArmCounts> follow_left;
};

RetryEvaluation EvaluateArms(const std::vector<ArmRecord>& records);

// The printed report: the arm table, the two ratios against their goals
// (>= 2x over immediate, >= 1.5x over waiting), per reason, DO_NOT_RETRY,
// obstacles left.
std::string FormatRetryEvaluation(const RetryEvaluation& e);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_RETRY_EVALUATION_H_
