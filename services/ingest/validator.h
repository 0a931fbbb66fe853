// Validation of connection events before anything is published.
#ifndef REBOUND_SERVICES_INGEST_VALIDATOR_H_
#define REBOUND_SERVICES_INGEST_VALIDATOR_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/utf8.h"
#include "rebound/v1/events.pb.h"
#include "services/ingest/event_view.h"

namespace rebound::ingest {

struct ValidatorOptions {
  // Longest note accepted, in Unicode code points (DESIGN.md: 300).
  int max_note_chars = 300;
  // How far in the future `occurred_at` may lie (clock skew allowance).
  absl::Duration max_future_skew = absl::Minutes(5);
  // Largest serialized event accepted, in bytes.
  size_t max_event_bytes = 64 * 1024;
};

// Which field is wrong and why. `field` is a path in the event, e.g.
// "request_sent.sender_profile.completeness".
struct FieldError {
  std::string field;
  std::string reason;

  // INVALID_ARGUMENT with "field: reason".
  absl::Status ToStatus() const;
  bool operator==(const FieldError&) const = default;
};

// Returns the first problem found in `event`, or nullopt when it may be
// published. Checks run in field order so the answer is deterministic.
// `now` is the reference time for the future-timestamp check.
std::optional<FieldError> Validate(const rebound::v1::ConnectionEvent& event,
                                   absl::Time now,
                                   const ValidatorOptions& options = {});

// The same, for an event whose encoding (`encoded_bytes` long) is at hand,
// which saves computing its size.
std::optional<FieldError> Validate(const rebound::v1::ConnectionEvent& event,
                                   size_t encoded_bytes, absl::Time now,
                                   const ValidatorOptions& options);

// The same checks on an event read in place (see event_view.h).
std::optional<FieldError> Validate(const EventView& event, size_t encoded_bytes,
                                   absl::Time now,
                                   const ValidatorOptions& options);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_VALIDATOR_H_
