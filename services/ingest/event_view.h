// A rebound.v1.ConnectionEvent read in place: the fields ingest checks and
// routes on, with strings as views into the event's encoded bytes (or into
// a parsed message). Reading an event this way allocates nothing; protobuf's
// parser, which copies every string into its own allocation, is kept for
// the encodings this reader leaves to it.
#ifndef REBOUND_SERVICES_INGEST_EVENT_VIEW_H_
#define REBOUND_SERVICES_INGEST_EVENT_VIEW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rebound/v1/events.pb.h"

namespace rebound::ingest {

struct TimestampView {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

struct ProfileView {
  bool has_photo = false;
  int64_t connection_count = 0;
  int64_t follower_count = 0;
  double completeness = 0;
  int32_t account_age_days = 0;
  std::string_view headline;
  std::string_view industry;
  std::string_view company;
  int32_t seniority = 0;
  int32_t utc_offset_minutes = 0;
  int32_t spam_reports = 0;
};

// The payload that is set; fields of the other kinds stay at their defaults.
struct PayloadView {
  std::string_view request_id;  // Every kind but profile_updated.
  // request_sent
  std::string_view note;
  int32_t channel = 0;
  std::optional<ProfileView> sender_profile;
  std::optional<ProfileView> recipient_profile;
  int32_t mutual_connections = 0;
  // request_declined
  int32_t kind = 0;
  // profile_updated
  std::optional<ProfileView> profile;
};

struct EventView {
  std::string_view event_id;
  std::string_view tenant_id;
  std::optional<TimestampView> occurred_at;
  std::string_view sender_id;
  std::string_view recipient_id;
  rebound::v1::ConnectionEvent::PayloadCase payload_case =
      rebound::v1::ConnectionEvent::PAYLOAD_NOT_SET;
  PayloadView payload;
  // Every string is known to be UTF-8 (ReadEventView checked them all, as
  // protobuf's parser does); a view of a message built in-process is not.
  bool utf8_checked = false;
};

// The view of a parsed event; its strings point into `event`.
EventView ViewOf(const rebound::v1::ConnectionEvent& event);

// Reads `bytes` as a ConnectionEvent without copying them: true with `out`
// filled (strings pointing into `bytes`) when it reads exactly as protobuf
// would parse it. False, `out` unspecified, when protobuf's parser has to
// decide: broken or unusual encodings (a string that is not UTF-8, a cut
// field, a group, a known field with another wire type, a singular field or
// a second payload given twice, which protobuf merges or replaces).
bool ReadEventView(std::string_view bytes, EventView* out);

// Every field of `view` as text (doubles by their bits, so NaN compares
// equal to itself; utf8_checked left out): two views are the same event
// exactly when these are equal. For tests and the fuzz targets.
std::string FieldsOf(const EventView& view);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_EVENT_VIEW_H_
