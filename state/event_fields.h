// Small accessors over the ConnectionEvent envelope shared by scoring's
// online (Redis) and offline (replay) paths and by notify, so all read
// events the same way. Header-only, no dependencies beyond the protos.
#ifndef REBOUND_STATE_EVENT_FIELDS_H_
#define REBOUND_STATE_EVENT_FIELDS_H_

#include <string>

#include "rebound/v1/events.pb.h"

namespace rebound::state {

// The request an event is about; "" for ProfileUpdated and for a
// ProfileViewed that names no request.
inline const std::string& RequestIdOf(const rebound::v1::ConnectionEvent& e) {
  using rebound::v1::ConnectionEvent;
  static const std::string kNone;
  switch (e.payload_case()) {
    case ConnectionEvent::kRequestSent:
      return e.request_sent().request_id();
    case ConnectionEvent::kRequestAccepted:
      return e.request_accepted().request_id();
    case ConnectionEvent::kRequestDeclined:
      return e.request_declined().request_id();
    case ConnectionEvent::kRequestWithdrawn:
      return e.request_withdrawn().request_id();
    case ConnectionEvent::kRequestExpired:
      return e.request_expired().request_id();
    case ConnectionEvent::kProfileViewed:
      return e.profile_viewed().request_id();
    default:
      return kNone;
  }
}

}  // namespace rebound::state

#endif  // REBOUND_STATE_EVENT_FIELDS_H_
