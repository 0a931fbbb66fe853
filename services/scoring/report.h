// rebound-evaluate --report: one self-contained HTML page (inline CSS, SVG
// and a few lines of script; nothing fetched) with the back-test's pictures:
// the confusion matrix as a heat map, precision and recall per reason, the
// reliability diagram (confidence against the share right) and, given a
// retry study, acceptance on retry per arm with its intervals.
//
// Every chart is an <svg class="chart" id="..."> whose data marks carry
// class "mark" and data-* attributes with their numbers; the page's script
// measures the drawn marks (data-marks-drawn on each chart, data-charts-drawn
// on <body>), so a headless browser can tell the charts were laid out.
#ifndef REBOUND_SERVICES_SCORING_REPORT_H_
#define REBOUND_SERVICES_SCORING_REPORT_H_

#include <string>

#include "services/scoring/evaluation.h"
#include "services/scoring/retry_evaluation.h"

namespace rebound::scoring {

// `retry` may be null (no retry study: that section says so). `title` is
// text (escaped here).
std::string RenderReport(const Evaluation& evaluation,
                         const RetryEvaluation* retry,
                         const std::string& title);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_REPORT_H_
