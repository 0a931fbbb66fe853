// Reading a file of connection events, one protobuf-JSON ConnectionEvent per
// line, as the offline tools (rebound-classify) do: each line on its own, a
// bad line reported with its reason and skipped.
#ifndef REBOUND_SERVICES_SCORING_EVENT_LINES_H_
#define REBOUND_SERVICES_SCORING_EVENT_LINES_H_

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "rebound/v1/events.pb.h"

namespace rebound::scoring {

// One line (without its newline): nullopt for a blank line (spaces, tabs,
// a CR); the event when it parses and has a payload, a tenant_id, an
// event_id and a sender_id; otherwise INVALID_ARGUMENT saying why, on one
// line (protobuf's message can quote the input over several).
absl::StatusOr<std::optional<rebound::v1::ConnectionEvent>> ParseEventLine(
    std::string_view line);

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_EVENT_LINES_H_
