#include "services/scoring/event_lines.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace rebound::scoring {
namespace {

// protobuf's message quotes the input (field names included) and may span
// lines: control characters become \xNN, so a reason is one printable line
// whatever the input holds (found by fuzz/event_lines_fuzz: a key "\n" gave
// an empty reason).
std::string OneLine(std::string_view message) {
  std::string out;
  for (char c : message.substr(0, 300)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += absl::StrFormat("\\x%02x", u);
    } else {
      out += c;
    }
  }
  return out.empty() ? "not a rebound.v1.ConnectionEvent" : out;
}

}  // namespace

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
    return absl::InvalidArgumentError(
        OneLine(std::string_view(s.message().data(), s.message().size())));
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
