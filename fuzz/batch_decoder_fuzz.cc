// Ingest's batch decoder against protobuf's parser of the same request with
// its events kept as bytes (raw_request.proto), on any bytes:
// - the decoder refuses the batch exactly when protobuf cannot frame it
//   (or it holds more events than the limit);
// - otherwise batch_id, validate_only and the events (count, and each
//   event's bytes) are protobuf's, each event is undecodable exactly when
//   protobuf refuses to parse it as a ConnectionEvent (with a field named),
//   and a decodable event's fields are protobuf's.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/raw_request.pb.h"
#include "google/protobuf/arena.h"
#include "services/ingest/batch_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMaxEvents = 64;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  rebound::fuzz::RawPublishRequest raw;
  const bool framed = raw.ParseFromArray(data, static_cast<int>(size));
  google::protobuf::Arena arena;
  auto batch = rebound::ingest::DecodeBatch(bytes, &arena, kMaxEvents);
  const bool too_many =
      framed && static_cast<size_t>(raw.events_size()) > kMaxEvents;
  if (!framed || too_many) {
    // A request protobuf frames but with too many events may still be cut
    // short by the decoder before it sees a framing error; either way no
    // event of it is answered.
    FUZZ_CHECK(!batch.ok(), "decoder accepted a batch protobuf %s",
               framed ? "frames with too many events" : "cannot frame");
    return 0;
  }
  FUZZ_CHECK(batch.ok(), "decoder refused a batch protobuf frames: %s",
             std::string(batch.status().message()).c_str());
  FUZZ_CHECK(batch->batch_id == raw.batch_id(), "batch_id differs");
  FUZZ_CHECK(batch->validate_only == raw.validate_only(),
             "validate_only differs");
  FUZZ_CHECK(batch->events.size() == static_cast<size_t>(raw.events_size()),
             "%zu events decoded, protobuf frames %d", batch->events.size(),
             raw.events_size());
  for (size_t i = 0; i < batch->events.size(); ++i) {
    const auto& d = batch->events[i];
    const std::string& encoded = raw.events(static_cast<int>(i));
    FUZZ_CHECK(d.encoded == encoded, "event %zu: bytes differ", i);
    rebound::v1::ConnectionEvent parsed;
    const bool ok = parsed.ParseFromString(encoded);
    FUZZ_CHECK(ok == !d.error.has_value(), "event %zu: protobuf %s, decoder %s",
               i, ok ? "parses" : "refuses",
               d.error ? d.error->reason.c_str() : "decodes");
    if (!ok) {
      FUZZ_CHECK(!d.error->field.empty(), "event %zu: no field named", i);
      continue;
    }
    const std::string got = rebound::ingest::FieldsOf(d.event);
    const std::string want =
        rebound::ingest::FieldsOf(rebound::ingest::ViewOf(parsed));
    FUZZ_CHECK(got == want, "event %zu: fields differ:\n %s\n %s", i,
               got.c_str(), want.c_str());
  }
  return 0;
}
