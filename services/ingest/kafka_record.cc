#include "services/ingest/kafka_record.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace rebound::ingest {

using rebound::v1::ConnectionEvent;

std::string RecordKey(const ConnectionEvent& event) {
  return absl::StrCat(event.tenant_id(), "/", event.sender_id(), "/",
                      event.recipient_id());
}

std::string CloudEventType(const ConnectionEvent& event) {
  switch (event.payload_case()) {
    case ConnectionEvent::kRequestSent:
      return "rebound.v1.RequestSent";
    case ConnectionEvent::kRequestAccepted:
      return "rebound.v1.RequestAccepted";
    case ConnectionEvent::kRequestDeclined:
      return "rebound.v1.RequestDeclined";
    case ConnectionEvent::kRequestWithdrawn:
      return "rebound.v1.RequestWithdrawn";
    case ConnectionEvent::kRequestExpired:
      return "rebound.v1.RequestExpired";
    case ConnectionEvent::kProfileViewed:
      return "rebound.v1.ProfileViewed";
    case ConnectionEvent::kProfileUpdated:
      return "rebound.v1.ProfileUpdated";
    case ConnectionEvent::PAYLOAD_NOT_SET:
      break;
  }
  return "rebound.v1.ConnectionEvent";
}

Headers CloudEventHeaders(const ConnectionEvent& event,
                          const std::string& source_prefix) {
  absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds()) +
                  absl::Nanoseconds(event.occurred_at().nanos());
  return rebound::CloudEventHeaders(
      event.event_id(), CloudEventType(event),
      absl::StrCat(source_prefix, "/", event.tenant_id()), at,
      RecordKey(event));
}

}  // namespace rebound::ingest
