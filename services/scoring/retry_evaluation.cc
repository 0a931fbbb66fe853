#include "services/scoring/retry_evaluation.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/intervals.h"
#include "nlohmann/json.hpp"

namespace rebound::scoring {

namespace {

const char* const kArms[] = {"follow", "immediate", "wait", "never"};

void Count(ArmCounts& c, const ArmRecord& r) {
  ++c.pairs;
  c.retried += r.retried ? 1 : 0;
  c.accepted += r.accepted ? 1 : 0;
}

std::string Rate(const ArmCounts& c) {
  if (c.retried == 0) return "-";
  auto [lo, hi] = WilsonInterval(c.accepted, c.retried);
  return absl::StrFormat(
      "%.3f [%.3f, %.3f]",
      static_cast<double>(c.accepted) / static_cast<double>(c.retried), lo, hi);
}

std::string Ratio(const ArmCounts& a, const ArmCounts& b, double goal) {
  auto r = RatioOfRates(a.accepted, a.retried, b.accepted, b.retried);
  if (!r) return "undefined (a rate is 0)";
  return absl::StrFormat("%.2fx [%.2f, %.2f]  goal >= %.1fx: %s", r->ratio,
                         r->low, r->high, goal,
                         r->ratio >= goal ? "met" : "NOT met");
}

std::string ReasonName(rebound::v1::DeclineReason r) {
  std::string name = rebound::v1::DeclineReason_Name(r);
  const std::string prefix = "DECLINE_REASON_";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

}  // namespace

absl::StatusOr<ArmRecord> ParseArmLine(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  ArmRecord r;
  auto str = [&](const char* key, std::string& out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", key, "' must be a string"));
    }
    out = it->get<std::string>();
    return absl::OkStatus();
  };
  auto flag = [&](const char* key, bool& out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_boolean()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", key, "' must be true or false"));
    }
    out = it->get<bool>();
    return absl::OkStatus();
  };
  if (auto s = str("arm", r.arm); !s.ok()) return s;
  bool known = false;
  for (const char* a : kArms) known = known || r.arm == a;
  if (!known) {
    return absl::InvalidArgumentError(
        "'arm' must be follow, immediate, wait or never");
  }
  std::string reason;
  if (auto s = str("true_reason", reason); !s.ok()) return s;
  if (!rebound::v1::DeclineReason_Parse(reason, &r.true_reason)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'true_reason' is not a DeclineReason: '", reason, "'"));
  }
  for (auto [key, out] :
       {std::pair<const char*, bool*>{"advice_found", &r.advice_found},
        {"should_retry", &r.should_retry},
        {"retried", &r.retried},
        {"accepted", &r.accepted}}) {
    if (auto s = flag(key, *out); !s.ok()) return s;
  }
  if (r.accepted && !r.retried) {
    return absl::InvalidArgumentError("'accepted' without 'retried'");
  }
  if (auto it = j.find("obstacles"); it != j.end()) {
    if (!it->is_array()) {
      return absl::InvalidArgumentError("'obstacles' must be a list");
    }
    for (const auto& o : *it) {
      if (!o.is_string()) {
        return absl::InvalidArgumentError("'obstacles' must hold strings");
      }
      r.obstacles.push_back(o.get<std::string>());
    }
  }
  return r;
}

RetryEvaluation EvaluateArms(const std::vector<ArmRecord>& records) {
  RetryEvaluation e;
  for (const char* a : kArms) e.arms[a];
  for (const ArmRecord& r : records) {
    Count(e.arms[r.arm], r);
    Count(e.by_reason[r.true_reason][r.arm], r);
    if ((r.arm == "immediate" || r.arm == "wait") && r.advice_found) {
      Count(r.should_retry ? e.told_to_retry : e.told_not_to_retry, r);
    }
    if (r.arm == "follow" && r.retried) {
      if (r.obstacles.empty()) Count(e.follow_clear, r);
      for (const auto& o : r.obstacles) Count(e.follow_left[o], r);
    }
  }
  return e;
}

std::string FormatRetryEvaluation(const RetryEvaluation& e) {
  std::string out =
      "retry study: acceptance on retry per arm (95% Wilson intervals)\n";
  absl::StrAppendFormat(&out, "  %-10s %7s %8s %9s  %-26s %s\n", "arm", "pairs",
                        "retried", "accepted", "acceptance on retry",
                        "accepted per pair");
  for (const char* a : kArms) {
    const ArmCounts& c = e.arms.at(a);
    absl::StrAppendFormat(&out, "  %-10s %7d %8d %9d  %-26s %.3f\n", a, c.pairs,
                          c.retried, c.accepted, Rate(c),
                          c.pairs == 0 ? 0.0
                                       : static_cast<double>(c.accepted) /
                                             static_cast<double>(c.pairs));
  }
  const ArmCounts& follow = e.arms.at("follow");
  absl::StrAppend(&out, "  follow / immediate: ",
                  Ratio(follow, e.arms.at("immediate"), 2.0), "\n");
  absl::StrAppend(&out, "  follow / wait:      ",
                  Ratio(follow, e.arms.at("wait"), 1.5), "\n");

  absl::StrAppend(&out, "\nper true reason (acceptance on retry, n):\n");
  absl::StrAppendFormat(&out, "  %-24s %-20s %-20s %s\n", "reason", "follow",
                        "immediate", "wait");
  for (const auto& entry : e.by_reason) {
    const auto& arms =
        entry.second;  // named: clang refuses to capture a binding
    auto cell = [&](const char* a) -> std::string {
      auto it = arms.find(a);
      if (it == arms.end() || it->second.retried == 0) return "-";
      return absl::StrFormat("%.3f (%d)",
                             static_cast<double>(it->second.accepted) /
                                 static_cast<double>(it->second.retried),
                             it->second.retried);
    };
    absl::StrAppendFormat(&out, "  %-24s %-20s %-20s %s\n",
                          ReasonName(entry.first), cell("follow"),
                          cell("immediate"), cell("wait"));
  }

  absl::StrAppend(
      &out,
      "\nDO_NOT_RETRY: retries that ignored the advice (immediate, wait)\n");
  absl::StrAppendFormat(&out, "  told not to retry: %d retried, %s\n",
                        e.told_not_to_retry.retried, Rate(e.told_not_to_retry));
  absl::StrAppendFormat(&out, "  told to retry:     %d retried, %s\n",
                        e.told_to_retry.retried, Rate(e.told_to_retry));

  absl::StrAppendFormat(&out,
                        "\nwhat the advice left (follow-arm retries, %d):\n",
                        follow.retried);
  absl::StrAppendFormat(&out, "  %-12s %8s %7s  %s\n", "left", "retries",
                        "share", "acceptance");
  auto row = [&](const std::string& name, const ArmCounts& c) {
    absl::StrAppendFormat(&out, "  %-12s %8d %6.1f%%  %s\n", name, c.retried,
                          follow.retried == 0
                              ? 0.0
                              : 100.0 * static_cast<double>(c.retried) /
                                    static_cast<double>(follow.retried),
                          Rate(c));
  };
  row("nothing", e.follow_clear);
  for (const auto& [name, c] : e.follow_left) row(name, c);
  return out;
}

}  // namespace rebound::scoring
