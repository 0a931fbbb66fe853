#include "services/ingest/batch_decoder.h"

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/wire_format_lite.h"

namespace rebound::ingest {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
using rebound::v1::ConnectionEvent;

CodedInputStream Reader(std::string_view bytes) {
  return CodedInputStream(reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size()));
}

// After ReadTag() returned 0: whether that was the end of `bytes` and not a
// zero tag or a cut varint.
bool AtCleanEnd(CodedInputStream& in, std::string_view bytes) {
  return in.ConsumedEntireMessage() &&
         static_cast<size_t>(in.CurrentPosition()) == bytes.size();
}

// Reads a length prefix and returns the bytes it frames, or nullopt when the
// prefix is broken, is not one protobuf reads (more than five bytes, or 2^31
// and above) or runs past the end.
std::optional<std::string_view> ReadDelimited(CodedInputStream& in,
                                              std::string_view whole) {
  const int start = in.CurrentPosition();
  uint64_t len = 0;
  if (!in.ReadVarint64(&len) || in.CurrentPosition() - start > 5 ||
      len > INT32_MAX) {
    return std::nullopt;
  }
  const size_t at = static_cast<size_t>(in.CurrentPosition());
  if (len > whole.size() - at) return std::nullopt;
  if (!in.Skip(static_cast<int>(len))) return std::nullopt;
  return whole.substr(at, len);
}

// The next field tag, read as protobuf's parser reads one: 0 at the end (or
// on a zero tag, which AtCleanEnd tells apart), nullopt for what the parser
// refuses and CodedInputStream::ReadTag lets by: a tag of more than five
// bytes (it reads up to ten and drops the high bits) or field number 0.
std::optional<uint32_t> ReadFieldTag(CodedInputStream& in) {
  const int start = in.CurrentPosition();
  const uint32_t tag = in.ReadTag();
  if (in.CurrentPosition() - start > 5) return std::nullopt;
  if (tag != 0 && WireFormatLite::GetTagFieldNumber(tag) == 0) {
    return std::nullopt;
  }
  return tag;
}

// Skips the field `tag` starts, as protobuf's parser does for an unknown
// field: a group's own fields are read with the same tag rule, nested at
// most `depth` (the parser's recursion limit) deep.
bool SkipUnknownField(CodedInputStream& in, uint32_t tag, int depth = 100) {
  if (WireFormatLite::GetTagWireType(tag) !=
      WireFormatLite::WIRETYPE_START_GROUP) {
    return WireFormatLite::SkipField(&in, tag);
  }
  if (--depth < 0) return false;
  const uint32_t end =
      WireFormatLite::MakeTag(WireFormatLite::GetTagFieldNumber(tag),
                              WireFormatLite::WIRETYPE_END_GROUP);
  while (true) {
    auto inner = ReadFieldTag(in);
    if (!inner || *inner == 0) return false;  // Broken, or cut before its end.
    if (*inner == end) return true;
    if (WireFormatLite::GetTagWireType(*inner) ==
        WireFormatLite::WIRETYPE_END_GROUP) {
      return false;  // Another group's end.
    }
    if (!SkipUnknownField(in, *inner, depth)) return false;
  }
}

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

// Walks `bytes` as a `type` message; reports the first string that is not
// UTF-8 or the first broken field encoding.
std::optional<FieldError> FindBadField(std::string_view bytes,
                                       const Descriptor* type,
                                       const std::string& prefix) {
  const std::string self = prefix.empty() ? "event" : prefix;
  CodedInputStream in = Reader(bytes);
  while (true) {
    uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const FieldDescriptor* f =
        type->FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    bool delimited = WireFormatLite::GetTagWireType(tag) ==
                     WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (f != nullptr && delimited &&
        (f->type() == FieldDescriptor::TYPE_STRING ||
         f->type() == FieldDescriptor::TYPE_MESSAGE)) {
      const std::string path = Join(prefix, f->name());
      auto sub = ReadDelimited(in, bytes);
      if (!sub) return FieldError{path, "has a broken length prefix"};
      if (f->type() == FieldDescriptor::TYPE_STRING) {
        if (!IsValidUtf8(*sub)) return FieldError{path, "is not valid UTF-8"};
      } else if (auto e = FindBadField(*sub, f->message_type(), path)) {
        return e;
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) {
      return FieldError{
          f != nullptr ? Join(prefix, f->name()) : self,
          absl::StrCat("has a broken encoding (field number ",
                       WireFormatLite::GetTagFieldNumber(tag), ")")};
    }
  }
  if (!AtCleanEnd(in, bytes)) {
    return FieldError{self, "has a broken encoding (bad field tag)"};
  }
  return std::nullopt;
}

// Protobuf logs (ERROR, to stderr) every non-UTF-8 string it fails to
// parse. Ingest answers those to their sender, field named, so a bad
// client must not flood the log: this handler drops exactly those
// messages, process-wide, and passes every other one on.
google::protobuf::LogHandler* previous_handler = nullptr;

void DropUtf8ParseErrors(google::protobuf::LogLevel level, const char* filename,
                         int line, const std::string& message) {
  if (level < google::protobuf::LOGLEVEL_FATAL &&
      message.find("invalid UTF-8 data when parsing") != std::string::npos) {
    return;
  }
  if (previous_handler != nullptr) {
    previous_handler(level, filename, line, message);
  }
}

void QuietUtf8ParseErrors() {
  static std::once_flag once;
  std::call_once(once, [] {
    previous_handler = google::protobuf::SetLogHandler(&DropUtf8ParseErrors);
  });
}

}  // namespace

FieldError DiagnoseUndecodable(std::string_view encoded) {
  if (auto e = FindBadField(encoded, ConnectionEvent::descriptor(), "")) {
    return *e;
  }
  return FieldError{"event", "is not a valid rebound.v1.ConnectionEvent"};
}

absl::StatusOr<DecodedBatch> DecodeBatch(std::string_view bytes,
                                         google::protobuf::Arena* arena,
                                         size_t max_events) {
  DecodedBatch batch;
  if (absl::Status s = DecodeBatchInto(bytes, arena, &batch, max_events);
      !s.ok()) {
    return s;
  }
  return batch;
}

absl::Status DecodeBatchInto(std::string_view bytes,
                             google::protobuf::Arena* arena, DecodedBatch* out,
                             size_t max_events) {
  QuietUtf8ParseErrors();
  DecodedBatch& batch = *out;
  batch.batch_id = 0;
  batch.validate_only = false;
  batch.events.clear();
  CodedInputStream in = Reader(bytes);
  while (true) {
    const auto read = ReadFieldTag(in);
    if (!read) {
      return absl::InvalidArgumentError(
          "request: not a rebound.v1.PublishRequest (bad field tag)");
    }
    const uint32_t tag = *read;
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire = WireFormatLite::GetTagWireType(tag);
    if (field == rebound::v1::PublishRequest::kBatchIdFieldNumber &&
        wire == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t id = 0;
      if (!in.ReadVarint64(&id)) {
        return absl::InvalidArgumentError("batch_id: broken varint");
      }
      batch.batch_id = id;
      continue;
    }
    if (field == rebound::v1::PublishRequest::kValidateOnlyFieldNumber &&
        wire == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t v = 0;
      if (!in.ReadVarint64(&v)) {
        return absl::InvalidArgumentError("validate_only: broken varint");
      }
      batch.validate_only = v != 0;
      continue;
    }
    if (field == rebound::v1::PublishRequest::kEventsFieldNumber &&
        wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      auto encoded = ReadDelimited(in, bytes);
      if (!encoded) {
        return absl::InvalidArgumentError(
            absl::StrCat("events[", batch.events.size(),
                         "]: broken length prefix; the request is cut or "
                         "corrupt"));
      }
      if (batch.events.size() == max_events) {
        // Stop before decoding a flood of (possibly tiny) events.
        return absl::InvalidArgumentError(
            absl::StrCat("events: batch of more than ", max_events,
                         " events, at most ", max_events));
      }
      DecodedEvent& d = batch.events.emplace_back();
      d.encoded = *encoded;
      if (ReadEventView(*encoded, &d.event)) continue;
      // Unusual or broken: protobuf decides, and says what is wrong.
      auto* event =
          google::protobuf::Arena::CreateMessage<ConnectionEvent>(arena);
      if (event->ParseFromArray(encoded->data(),
                                static_cast<int>(encoded->size()))) {
        d.event = ViewOf(*event);
      } else {
        d.event = EventView{};
        d.error = DiagnoseUndecodable(*encoded);
      }
      continue;
    }
    // Unknown request fields are skipped, as protobuf would.
    if (!SkipUnknownField(in, tag)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request: broken encoding at field ", field));
    }
  }
  if (!AtCleanEnd(in, bytes)) {
    return absl::InvalidArgumentError(
        "request: not a rebound.v1.PublishRequest (bad field tag)");
  }
  return absl::OkStatus();
}

}  // namespace rebound::ingest
