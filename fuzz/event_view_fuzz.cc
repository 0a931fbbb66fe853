// Ingest's in-place event reader against protobuf's parser, on any bytes:
// - when ReadEventView accepts, protobuf parses the same bytes and every
//   field read equals protobuf's (FieldsOf), and the validator answers the
//   in-place view exactly as it answers the parsed message;
// - when protobuf refuses, ReadEventView refuses too (it never accepts what
//   protobuf would not), and DiagnoseUndecodable names a field;
// - what ReadEventView leaves to protobuf is whatever protobuf decides.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "services/ingest/batch_decoder.h"
#include "services/ingest/event_view.h"
#include "services/ingest/validator.h"

using rebound::ingest::EventView;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  rebound::v1::ConnectionEvent parsed;
  const bool pb_ok = parsed.ParseFromArray(data, static_cast<int>(size));
  EventView view;
  const bool view_ok = rebound::ingest::ReadEventView(bytes, &view);
  if (!pb_ok) {
    FUZZ_CHECK(!view_ok, "ReadEventView accepted bytes protobuf refuses");
    auto why = rebound::ingest::DiagnoseUndecodable(bytes);
    FUZZ_CHECK(!why.field.empty() && !why.reason.empty(),
               "undecodable event with no field named");
    return 0;
  }
  if (!view_ok) return 0;  // Left to protobuf, which is what ingest does.
  const EventView reference = rebound::ingest::ViewOf(parsed);
  const std::string got = rebound::ingest::FieldsOf(view);
  const std::string want = rebound::ingest::FieldsOf(reference);
  FUZZ_CHECK(got == want, "fields differ:\n in place %s\n protobuf %s",
             got.c_str(), want.c_str());
  FUZZ_CHECK(view.utf8_checked, "an accepted view must have checked UTF-8");
  // The same verdict from the validator either way.
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  rebound::ingest::ValidatorOptions options;
  auto from_view = rebound::ingest::Validate(view, size, now, options);
  auto from_message = rebound::ingest::Validate(parsed, size, now, options);
  FUZZ_CHECK(from_view == from_message,
             "validator differs: in place %s: %s, protobuf %s: %s",
             from_view ? from_view->field.c_str() : "ok",
             from_view ? from_view->reason.c_str() : "",
             from_message ? from_message->field.c_str() : "ok",
             from_message ? from_message->reason.c_str() : "");
  return 0;
}
