// The answer to one batch, kept in plain structs while its events are in
// flight and written straight to rebound.v1.PublishResponse wire bytes when
// the batch completes: no protobuf message, and no allocation per event for
// its echoed event_id.
#ifndef REBOUND_SERVICES_INGEST_PUBLISH_RESPONSE_H_
#define REBOUND_SERVICES_INGEST_PUBLISH_RESPONSE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "rebound/v1/ingest.pb.h"

namespace rebound::ingest {

// One event's EventResult, but its index (its position) and event_id (a
// range of the batch's id buffer).
struct EventAnswer {
  rebound::v1::Outcome outcome = rebound::v1::OUTCOME_UNSPECIFIED;
  int32_t code = 0;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t retry_after_ms = 0;
  uint32_t id_begin = 0;
  uint32_t id_size = 0;
  std::string field;
  std::string error;
};

// The response's per-outcome counts.
struct AnswerCounts {
  uint32_t published = 0;
  uint32_t duplicates = 0;
  uint32_t rejected = 0;
  uint32_t failed = 0;
  uint32_t valid = 0;
};

AnswerCounts Count(absl::Span<const EventAnswer> answers);

// The PublishResponse for `answers` (EventResult i has index i and the
// event_id at answers[i]'s range of `ids`), as protobuf would serialize it.
std::string EncodePublishResponse(uint64_t batch_id,
                                  absl::Span<const EventAnswer> answers,
                                  std::string_view ids,
                                  const AnswerCounts& counts);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_PUBLISH_RESPONSE_H_
