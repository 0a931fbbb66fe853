// How a connection event is laid out as a Kafka record: key, CloudEvents
// binary-mode headers, protobuf value.
#ifndef REBOUND_SERVICES_INGEST_KAFKA_RECORD_H_
#define REBOUND_SERVICES_INGEST_KAFKA_RECORD_H_

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "common/kafka_publisher.h"
#include "rebound/v1/events.pb.h"
#include "services/ingest/event_view.h"

namespace rebound::ingest {

using rebound::Headers;

// "tenant_id/sender_id": every event of one sender shares a key and so a
// partition (murmur2, as Java clients compute it): pipeline::RecordKey.
std::string RecordKey(const rebound::v1::ConnectionEvent& event);
std::string RecordKey(const EventView& event);

// CloudEvents type of the payload, e.g. "rebound.v1.RequestSent".
std::string CloudEventType(const rebound::v1::ConnectionEvent& event);
std::string CloudEventType(rebound::v1::ConnectionEvent::PayloadCase payload);
std::string_view CloudEventTypeName(
    rebound::v1::ConnectionEvent::PayloadCase payload);

// CloudEvents Kafka binding, binary mode: ce_specversion, ce_id (= event_id),
// ce_type, ce_source (`source_prefix` + "/" + tenant_id), ce_time (RFC 3339 of
// occurred_at, UTC), ce_subject (the record key), content-type
// application/protobuf.
Headers CloudEventHeaders(const rebound::v1::ConnectionEvent& event,
                          const std::string& source_prefix);
// The same for an event read in place whose record key (RecordKey(), the
// ce_subject) the caller already holds.
Headers CloudEventHeaders(const EventView& event, const std::string& key,
                          const std::string& source_prefix);

// The same headers by reference, as ingest produces them: the values point
// into `event`, `key` and this object, which must outlive the produce call.
// Two allocations at most (ce_source, ce_time) where Headers makes a string
// per header, copied once more into the vector.
class CloudEventHeaderRefs {
 public:
  CloudEventHeaderRefs(const EventView& event, std::string_view key,
                       std::string_view source_prefix);
  CloudEventHeaderRefs(const CloudEventHeaderRefs&) = delete;
  CloudEventHeaderRefs& operator=(const CloudEventHeaderRefs&) = delete;

  absl::Span<const HeaderRef> refs() const { return refs_; }

 private:
  std::string source_;
  std::string time_;
  std::array<HeaderRef, 7> refs_;
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_KAFKA_RECORD_H_
