#include "services/ingest/publish_response.h"

namespace rebound::ingest {
namespace {

using rebound::v1::EventResult;
using rebound::v1::PublishResponse;

enum Wire : uint32_t { kVarint = 0, kDelimited = 2 };

void Varint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

void Tag(std::string* out, uint32_t field, Wire wire) {
  Varint(out, (uint64_t{field} << 3) | wire);
}

// A proto3 scalar: left out when zero. int32 values go out sign-extended to
// 64 bits, as protobuf writes them.
void Scalar(std::string* out, uint32_t field, int64_t v) {
  if (v == 0) return;
  Tag(out, field, kVarint);
  Varint(out, static_cast<uint64_t>(v));
}

void Bytes(std::string* out, uint32_t field, std::string_view s) {
  if (s.empty()) return;
  Tag(out, field, kDelimited);
  Varint(out, s.size());
  out->append(s);
}

}  // namespace

AnswerCounts Count(absl::Span<const EventAnswer> answers) {
  AnswerCounts c;
  for (const EventAnswer& a : answers) {
    switch (a.outcome) {
      case rebound::v1::OUTCOME_PUBLISHED:
        ++c.published;
        break;
      case rebound::v1::OUTCOME_DUPLICATE:
        ++c.duplicates;
        break;
      case rebound::v1::OUTCOME_REJECTED:
        ++c.rejected;
        break;
      case rebound::v1::OUTCOME_VALID:
        ++c.valid;
        break;
      default:
        ++c.failed;
        break;
    }
  }
  return c;
}

std::string EncodePublishResponse(uint64_t batch_id,
                                  absl::Span<const EventAnswer> answers,
                                  std::string_view ids,
                                  const AnswerCounts& counts) {
  std::string out;
  out.reserve(32 + answers.size() * 64);
  Scalar(&out, PublishResponse::kBatchIdFieldNumber,
         static_cast<int64_t>(batch_id));
  std::string one;
  for (size_t i = 0; i < answers.size(); ++i) {
    const EventAnswer& a = answers[i];
    one.clear();
    Scalar(&one, EventResult::kIndexFieldNumber, static_cast<int64_t>(i));
    Bytes(&one, EventResult::kEventIdFieldNumber,
          ids.substr(a.id_begin, a.id_size));
    Scalar(&one, EventResult::kOutcomeFieldNumber, a.outcome);
    Bytes(&one, EventResult::kFieldFieldNumber, a.field);
    Bytes(&one, EventResult::kErrorFieldNumber, a.error);
    Scalar(&one, EventResult::kCodeFieldNumber, a.code);
    Scalar(&one, EventResult::kPartitionFieldNumber, a.partition);
    Scalar(&one, EventResult::kOffsetFieldNumber, a.offset);
    Tag(&out, PublishResponse::kResultsFieldNumber, kDelimited);
    Varint(&out, one.size());
    out.append(one);
  }
  Scalar(&out, PublishResponse::kPublishedFieldNumber, counts.published);
  Scalar(&out, PublishResponse::kDuplicatesFieldNumber, counts.duplicates);
  Scalar(&out, PublishResponse::kRejectedFieldNumber, counts.rejected);
  Scalar(&out, PublishResponse::kFailedFieldNumber, counts.failed);
  Scalar(&out, PublishResponse::kValidFieldNumber, counts.valid);
  return out;
}

}  // namespace rebound::ingest
