#include "services/ingest/kafka_record.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/pipeline.h"
#include "common/time_format.h"

namespace rebound::ingest {

using rebound::v1::ConnectionEvent;

std::string RecordKey(const ConnectionEvent& event) {
  return RecordKey(ViewOf(event));
}

std::string RecordKey(const EventView& event) {
  return pipeline::RecordKey(event.tenant_id, event.sender_id);
}

std::string CloudEventType(const ConnectionEvent& event) {
  return CloudEventType(event.payload_case());
}

std::string CloudEventType(ConnectionEvent::PayloadCase payload) {
  return std::string(CloudEventTypeName(payload));
}

std::string_view CloudEventTypeName(ConnectionEvent::PayloadCase payload) {
  switch (payload) {
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
  const EventView view = ViewOf(event);
  return CloudEventHeaders(view, RecordKey(view), source_prefix);
}

namespace {

absl::Time OccurredAt(const EventView& event) {
  const TimestampView at = event.occurred_at.value_or(TimestampView{});
  return absl::FromUnixSeconds(at.seconds) + absl::Nanoseconds(at.nanos);
}

}  // namespace

CloudEventHeaderRefs::CloudEventHeaderRefs(const EventView& event,
                                           std::string_view key,
                                           std::string_view source_prefix)
    : time_(FormatRfc3339Utc(OccurredAt(event))) {
  source_.reserve(source_prefix.size() + 1 + event.tenant_id.size());
  source_.append(source_prefix).append(1, '/').append(event.tenant_id);
  refs_ = CloudEventHeaderLayout(event.event_id,
                                 CloudEventTypeName(event.payload_case),
                                 source_, time_, key);
}

Headers CloudEventHeaders(const EventView& event, const std::string& key,
                          const std::string& source_prefix) {
  return ToHeaders(CloudEventHeaderRefs(event, key, source_prefix).refs());
}

}  // namespace rebound::ingest
