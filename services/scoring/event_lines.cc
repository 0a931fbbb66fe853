#include "services/scoring/event_lines.h"

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"

namespace rebound::scoring {

absl::StatusOr<std::optional<rebound::v1::ConnectionEvent>> ParseEventLine(
    std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
    return std::nullopt;
  }
  rebound::v1::ConnectionEvent e;
  google::protobuf::util::JsonParseOptions parse;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &e, parse);
  if (!s.ok()) {
    std::string why(s.message().data(), s.message().size());
    return absl::InvalidArgumentError(why.substr(0, why.find('\n')));
  }
  if (e.payload_case() == rebound::v1::ConnectionEvent::PAYLOAD_NOT_SET) {
    return absl::InvalidArgumentError("no payload");
  }
  if (e.tenant_id().empty() || e.event_id().empty() || e.sender_id().empty()) {
    return absl::InvalidArgumentError(
        "tenant_id, event_id and sender_id are required");
  }
  return e;
}

}  // namespace rebound::scoring
