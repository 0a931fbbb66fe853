// Which verdict signals say how the recipient answered rather than why.
// Shared by the classifier (such a signal never names a reason alone) and
// notify's retry policy (no fix is advised on one), header-only so that
// notify needs no link to the classifier.
#ifndef REBOUND_SERVICES_SCORING_SIGNAL_NAMES_H_
#define REBOUND_SERVICES_SCORING_SIGNAL_NAMES_H_

#include <string_view>

namespace rebound::scoring {

// The recipient ignored or declined, looked or did not look at the sender,
// let the request expire after a look: what happened, the same whatever the
// reason, so a fit can only learn how often each reason answers that way.
inline bool IsAnswerSignal(std::string_view name) {
  return name == "decline.ignored" || name == "decline.declined" ||
         name == "recipient.viewed_profile" || name == "recipient.no_view" ||
         name == "request.expired_after_view";
}

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_SIGNAL_NAMES_H_
