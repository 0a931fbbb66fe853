// Decoding of a PublishRequest as it arrives on the wire. Each event is
// decoded on its own, so one undecodable event (say, a note that is not
// UTF-8) is rejected alone with the field named, while the rest of the batch
// goes on; and each event's bytes as received are kept, so ingest forwards
// them to Kafka without encoding the event again.
#ifndef REBOUND_SERVICES_INGEST_BATCH_DECODER_H_
#define REBOUND_SERVICES_INGEST_BATCH_DECODER_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/arena.h"
#include "rebound/v1/ingest.pb.h"
#include "services/ingest/event_view.h"
#include "services/ingest/validator.h"

namespace rebound::ingest {

struct DecodedEvent {
  // The event, read in place (or from protobuf's parse of it, for the
  // encodings ReadEventView leaves to protobuf); unset when it could not be
  // decoded (see `error`).
  EventView event;
  // The event's bytes as received (forwarded to Kafka as they are).
  std::string_view encoded;
  // Why the event could not be decoded: the field and the reason.
  std::optional<FieldError> error;
};

// One batch. Events point into the bytes the batch was decoded from and the
// arena (events protobuf parsed); both must outlive it.
struct DecodedBatch {
  uint64_t batch_id = 0;
  bool validate_only = false;
  std::vector<DecodedEvent> events;
};

// Decodes serialized rebound.v1.PublishRequest `bytes`; events protobuf has
// to parse are parsed on `arena`.
// INVALID_ARGUMENT naming the problem when the request's own framing is
// broken (then no event of it can be trusted) or it holds more than
// `max_events` events (decoding stops there). Protobuf's own log line for
// each non-UTF-8 string is dropped (the sender is told instead).
absl::StatusOr<DecodedBatch> DecodeBatch(
    std::string_view bytes, google::protobuf::Arena* arena,
    size_t max_events = std::numeric_limits<size_t>::max());

// The same into `batch`, which is cleared first and keeps its storage: a
// stream decoding one batch after another reuses it instead of growing a
// fresh vector of events (and faulting in fresh pages) for every batch.
absl::Status DecodeBatchInto(std::string_view bytes,
                             google::protobuf::Arena* arena,
                             DecodedBatch* batch, size_t max_events);

// Why `encoded` does not decode as a rebound.v1.ConnectionEvent: the first
// string field (by path, e.g. "request_sent.note") that is not UTF-8, or the
// first field whose encoding is broken.
FieldError DiagnoseUndecodable(std::string_view encoded);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_BATCH_DECODER_H_
