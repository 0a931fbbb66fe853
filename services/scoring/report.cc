#include "services/scoring/report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/intervals.h"

namespace rebound::scoring {

using rebound::v1::DeclineReason;

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Label(DeclineReason r) {
  switch (r) {
    case rebound::v1::DECLINE_REASON_SPAMMY_PROFILE:
      return "spammy profile";
    case rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH:
      return "off-target";
    case rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR:
      return "competitor";
    case rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD:
      return "credibility guard";
    case rebound::v1::DECLINE_REASON_NOT_SEEN:
      return "not seen";
    case rebound::v1::DECLINE_REASON_UNDETERMINED:
      return "undetermined";
    default:
      return "unspecified";
  }
}

// White to deep blue by share in [0, 1].
std::string Shade(double share) {
  const double t = std::clamp(share, 0.0, 1.0);
  auto mix = [&](int a, int b) {
    return static_cast<int>(std::lround(a + (b - a) * t));
  };
  return absl::StrFormat("#%02x%02x%02x", mix(0xf7, 0x08), mix(0xfb, 0x30),
                         mix(0xff, 0x6b));
}

std::string ConfusionChart(const Evaluation& e) {
  std::set<DeclineReason> cols;
  for (const auto& [truth, row] : e.confusion) {
    cols.insert(truth);
    for (const auto& [predicted, n] : row) cols.insert(predicted);
  }
  const int cell_w = 96, cell_h = 34, left = 140, top = 40;
  const int width = left + cell_w * static_cast<int>(cols.size()) + 10;
  const int height = top + cell_h * static_cast<int>(e.confusion.size()) + 10;
  std::string svg = absl::StrFormat(
      "<svg class=\"chart\" id=\"confusion-matrix\" role=\"img\" "
      "aria-label=\"confusion matrix\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n",
      width, height, width, height);
  int c = 0;
  for (DeclineReason col : cols) {
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                          "class=\"axis\">%s</text>\n",
                          left + c * cell_w + cell_w / 2, top - 12,
                          Escape(Label(col)));
    ++c;
  }
  int r = 0;
  for (const auto& [truth, row] : e.confusion) {
    int64_t total = 0;
    for (const auto& [p, n] : row) total += n;
    const int y = top + r * cell_h;
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                          "class=\"axis\">%s</text>\n",
                          left - 8, y + cell_h / 2 + 4, Escape(Label(truth)));
    c = 0;
    for (DeclineReason col : cols) {
      auto it = row.find(col);
      const int64_t n = it == row.end() ? 0 : it->second;
      const double share =
          total == 0 ? 0 : static_cast<double>(n) / static_cast<double>(total);
      const int x = left + c * cell_w;
      absl::StrAppendFormat(
          &svg,
          "<rect class=\"mark cell\" x=\"%d\" y=\"%d\" width=\"%d\" "
          "height=\"%d\" fill=\"%s\" data-truth=\"%s\" data-predicted=\"%s\" "
          "data-count=\"%d\" data-share=\"%.4f\"><title>true %s, predicted "
          "%s: %d (%.1f%% of the row)</title></rect>\n",
          x, y, cell_w - 2, cell_h - 2, Shade(share),
          rebound::v1::DeclineReason_Name(truth),
          rebound::v1::DeclineReason_Name(col), n, share, Escape(Label(truth)),
          Escape(Label(col)), n, 100 * share);
      absl::StrAppendFormat(&svg,
                            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                            "class=\"%s\">%d</text>\n",
                            x + cell_w / 2 - 1, y + cell_h / 2 + 4,
                            share > 0.5 ? "on-dark" : "on-light", n);
      ++c;
    }
    ++r;
  }
  svg += "</svg>\n";
  return svg;
}

std::string PerReasonChart(const Evaluation& e) {
  const int left = 140, bar_h = 12, group_h = 40, plot_w = 360, top = 24;
  std::vector<std::pair<DeclineReason, ReasonMetrics>> rows;
  for (const auto& [reason, m] : e.per_reason) {
    if (m.support > 0 || m.predicted > 0) rows.emplace_back(reason, m);
  }
  const int width = left + plot_w + 60;
  const int height = top + group_h * static_cast<int>(rows.size()) + 24;
  std::string svg = absl::StrFormat(
      "<svg class=\"chart\" id=\"per-reason\" role=\"img\" "
      "aria-label=\"precision and recall per reason\" width=\"%d\" "
      "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
      width, height, width, height);
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" "
                        "class=\"precision\"/><text x=\"%d\" y=\"13\">"
                        "precision</text><rect x=\"%d\" y=\"4\" width=\"10\" "
                        "height=\"10\" class=\"recall\"/><text x=\"%d\" "
                        "y=\"13\">recall</text>\n",
                        left, left + 14, left + 90, left + 104);
  int i = 0;
  for (const auto& [reason, m] : rows) {
    const int y = top + i * group_h;
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                          "class=\"axis\">%s</text>\n",
                          left - 8, y + bar_h + 4, Escape(Label(reason)));
    int k = 0;
    for (auto [name, value] :
         {std::pair<const char*, double>{"precision", m.precision},
          {"recall", m.recall}}) {
      const int by = y + k * (bar_h + 2);
      // A zero still gets a hairline, so every bar is drawn.
      const double w = std::max(1.0, value * plot_w);
      absl::StrAppendFormat(
          &svg,
          "<rect class=\"mark bar %s\" x=\"%d\" y=\"%d\" width=\"%.1f\" "
          "height=\"%d\" data-reason=\"%s\" data-value=\"%.4f\"><title>%s "
          "%s: %.3f</title></rect>\n",
          name, left, by, w, bar_h, rebound::v1::DeclineReason_Name(reason),
          value, Escape(Label(reason)), name, value);
      absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%d\">%.3f</text>\n",
                            left + w + 4, by + bar_h - 2, value);
      ++k;
    }
    ++i;
  }
  svg += "</svg>\n";
  return svg;
}

std::string ReliabilityChart(const Evaluation& e) {
  const int left = 50, top = 16, size = 300;
  const int width = left + size + 30, height = top + size + 50;
  auto px = [&](double v) { return left + v * size; };
  auto py = [&](double v) { return top + (1 - v) * size; };
  std::string svg = absl::StrFormat(
      "<svg class=\"chart\" id=\"reliability\" role=\"img\" "
      "aria-label=\"reliability diagram\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n",
      width, height, width, height);
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                        "class=\"frame\"/>\n",
                        left, top, size, size);
  absl::StrAppendFormat(&svg,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "class=\"diagonal\"/>\n",
                        px(0), py(0), px(1), py(1));
  for (double t : {0.0, 0.5, 1.0}) {
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                          "class=\"axis\">%.1f</text><text x=\"%d\" "
                          "y=\"%.1f\" text-anchor=\"end\" "
                          "class=\"axis\">%.1f</text>\n",
                          px(t), top + size + 16, t, left - 6, py(t) + 4, t);
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
                        "stated confidence</text><text x=\"14\" y=\"%.1f\" "
                        "transform=\"rotate(-90 14 %.1f)\" "
                        "text-anchor=\"middle\">share right</text>\n",
                        px(0.5), top + size + 36, py(0.5), py(0.5));
  const auto& rel = e.reliability;
  int64_t biggest = 1;
  for (const auto& b : rel.bins()) biggest = std::max(biggest, b.n);
  for (int i = 0; i < Reliability::kBins; ++i) {
    const auto& b = rel.bins()[i];
    if (b.n == 0) continue;
    const double conf = b.confidence_sum / static_cast<double>(b.n);
    const double acc =
        static_cast<double>(b.correct) / static_cast<double>(b.n);
    // Bar: the bin's share of verdicts along the bottom.
    const double bar_h =
        40.0 * static_cast<double>(b.n) / static_cast<double>(biggest);
    absl::StrAppendFormat(&svg,
                          "<rect class=\"count\" x=\"%.1f\" y=\"%.1f\" "
                          "width=\"%.1f\" height=\"%.1f\"/>\n",
                          px(i / 10.0) + 2, py(0) - bar_h, size / 10.0 - 4,
                          std::max(bar_h, 1.0));
    const double radius = 3 + 5 * std::sqrt(static_cast<double>(b.n) /
                                            static_cast<double>(biggest));
    absl::StrAppendFormat(
        &svg,
        "<circle class=\"mark point\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
        "data-confidence=\"%.4f\" data-accuracy=\"%.4f\" data-n=\"%d\">"
        "<title>confidence %.2f: %d verdicts, %.1f%% right</title>"
        "</circle>\n",
        px(conf), py(acc), radius, conf, acc, b.n, conf, b.n, 100 * acc);
  }
  svg += "</svg>\n";
  return svg;
}

std::string UpliftChart(const RetryEvaluation& r) {
  const int left = 50, top = 16, plot_h = 240, bar_w = 70, gap = 40;
  const char* const arms[] = {"follow", "immediate", "wait"};
  const int width = left + 3 * (bar_w + gap) + 20;
  const int height = top + plot_h + 40;
  auto py = [&](double v) { return top + (1 - v) * plot_h; };
  std::string svg = absl::StrFormat(
      "<svg class=\"chart\" id=\"uplift\" role=\"img\" "
      "aria-label=\"acceptance on retry per arm\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n",
      width, height, width, height);
  for (double t : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                          "class=\"grid\"/><text x=\"%d\" y=\"%.1f\" "
                          "text-anchor=\"end\" class=\"axis\">%.2f</text>\n",
                          left, width - 10, py(t), py(t), left - 6, py(t) + 4,
                          t);
  }
  int i = 0;
  for (const char* arm : arms) {
    auto it = r.arms.find(arm);
    const ArmCounts c = it == r.arms.end() ? ArmCounts{} : it->second;
    const double rate = c.retried == 0 ? 0
                                       : static_cast<double>(c.accepted) /
                                             static_cast<double>(c.retried);
    const auto [lo, hi] = WilsonInterval(c.accepted, c.retried);
    const int x = left + gap / 2 + i * (bar_w + gap);
    absl::StrAppendFormat(
        &svg,
        "<rect class=\"mark bar arm-%s\" x=\"%d\" y=\"%.1f\" width=\"%d\" "
        "height=\"%.1f\" data-arm=\"%s\" data-rate=\"%.4f\" "
        "data-retried=\"%d\" data-accepted=\"%d\"><title>%s: %d of %d "
        "retries accepted (%.3f, 95%% [%.3f, %.3f])</title></rect>\n",
        arm, x, py(rate), bar_w, std::max(1.0, rate * plot_h), arm, rate,
        c.retried, c.accepted, arm, c.accepted, c.retried, rate, lo, hi);
    if (c.retried > 0) {
      const int mid = x + bar_w / 2;
      absl::StrAppendFormat(&svg,
                            "<path class=\"whisker\" d=\"M%d %.1f V%.1f M%d "
                            "%.1f H%d M%d %.1f H%d\"/>\n",
                            mid, py(lo), py(hi), mid - 8, py(lo), mid + 8,
                            mid - 8, py(hi), mid + 8);
    }
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                          "class=\"axis\">%s</text><text x=\"%d\" y=\"%.1f\" "
                          "text-anchor=\"middle\">%.3f</text>\n",
                          x + bar_w / 2, top + plot_h + 18, arm, x + bar_w / 2,
                          py(hi) - 6, rate);
    ++i;
  }
  svg += "</svg>\n";
  return svg;
}

std::string RatioText(const RetryEvaluation& r, const char* a, const char* b,
                      double goal) {
  const auto& x = r.arms.at(a);
  const auto& y = r.arms.at(b);
  auto ratio = RatioOfRates(x.accepted, x.retried, y.accepted, y.retried);
  if (!ratio) return absl::StrCat(a, " / ", b, ": undefined (a rate is 0)");
  return absl::StrFormat(
      "%s / %s: <strong>%.2fx</strong> [%.2f, %.2f] (goal &ge; %.1fx: %s)", a,
      b, ratio->ratio, ratio->low, ratio->high, goal,
      ratio->ratio >= goal ? "met" : "not met");
}

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
figure { margin: 8px 0; } figcaption { color: #555; max-width: 640px; }
svg text { font-size: 11px; fill: #222; } .axis { fill: #444; }
svg text.on-dark { fill: #fff; }
.precision { fill: #2b6cb0; } .recall { fill: #dd6b20; }
.frame { fill: none; stroke: #999; } .diagonal { stroke: #999; stroke-dasharray: 4 3; }
.point { fill: #2b6cb0; fill-opacity: .8; } .count { fill: #cbd5e0; }
.grid { stroke: #e2e8f0; } .whisker { stroke: #222; fill: none; stroke-width: 1.5; }
.arm-follow { fill: #2f855a; } .arm-immediate { fill: #c53030; } .arm-wait { fill: #b7791f; }
.summary span { margin-right: 18px; } .missing { color: #888; }
)";

// Measures what the browser drew: marks with a non-empty box per chart.
constexpr const char* kScript = R"(
(function () {
  var drawn = 0;
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var marks = 0;
    svg.querySelectorAll('.mark').forEach(function (m) {
      var b = m.getBBox();
      if (b.width > 0 && b.height > 0) marks++;
    });
    svg.setAttribute('data-marks-drawn', marks);
    var box = svg.getBoundingClientRect();
    if (marks > 0 && box.width > 0 && box.height > 0) drawn++;
  });
  document.body.setAttribute('data-charts-drawn', drawn);
})();
)";

}  // namespace

std::string RenderReport(const Evaluation& e, const RetryEvaluation* retry,
                         const std::string& title) {
  std::string html = absl::StrCat(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>",
      Escape(title), "</title>\n<style>", kStyle,
      "</style>\n</head>\n<body data-charts=\"", retry == nullptr ? 3 : 4,
      "\">\n<h1>", Escape(title), "</h1>\n");
  absl::StrAppendFormat(
      &html,
      "<p class=\"summary\"><span>macro-F1 <strong>%.3f</strong></span>"
      "<span>accuracy %.3f</span><span>expected calibration error %.3f</span>"
      "<span>%d verdicts matched to truth</span><span>%d truth records "
      "without a verdict</span></p>\n",
      e.macro_f1, e.accuracy, e.reliability.Ece(), e.matched,
      e.truth_without_verdict);
  absl::StrAppend(&html, "<section><h2>Confusion matrix</h2><figure>",
                  ConfusionChart(e),
                  "<figcaption>Rows: the true reason; columns: the verdict's "
                  "primary reason. Shade: the share of the row.</figcaption>"
                  "</figure></section>\n");
  absl::StrAppend(&html,
                  "<section><h2>Precision and recall per reason</h2><figure>",
                  PerReasonChart(e),
                  "<figcaption>Precision: of the verdicts naming a reason, "
                  "the share right; recall: of the declines with that true "
                  "reason, the share found.</figcaption></figure></section>\n");
  absl::StrAppendFormat(
      &html,
      "<section><h2>Reliability</h2><figure>%s<figcaption>Each point is a "
      "tenth of the confidence range: the verdicts' mean stated confidence "
      "against the share whose primary reason was right (on the dashed "
      "diagonal when calibrated; size and the grey bars: how many). Expected "
      "calibration error %.3f.</figcaption></figure></section>\n",
      ReliabilityChart(e), e.reliability.Ece());
  if (retry == nullptr) {
    absl::StrAppend(&html,
                    "<section><h2>Retry study</h2><p class=\"missing\">No "
                    "retry study given (rebound-evaluate --arms).</p>"
                    "</section>\n");
  } else {
    absl::StrAppend(
        &html, "<section><h2>Retry study: acceptance on retry</h2><figure>",
        UpliftChart(*retry), "<figcaption>",
        RatioText(*retry, "follow", "immediate", 2.0), "<br>",
        RatioText(*retry, "follow", "wait", 1.5),
        "<br>Whiskers: 95% Wilson intervals. Follow: did what the suggestion "
        "said; immediate: retried unchanged within a day; wait: unchanged "
        "after the cool-down.</figcaption></figure></section>\n");
  }
  absl::StrAppend(&html, "<script>", kScript, "</script>\n</body>\n</html>\n");
  return html;
}

}  // namespace rebound::scoring
