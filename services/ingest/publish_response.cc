#include "services/ingest/publish_response.h"

#include <cstring>

namespace rebound::ingest {
namespace {

using rebound::v1::EventResult;
using rebound::v1::PublishResponse;

enum Wire : uint32_t { kVarint = 0, kDelimited = 2 };

// Writers into a buffer sized beforehand (see EncodePublishResponse): each
// returns the position after what it wrote.
char* Varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* Tag(char* p, uint32_t field, Wire wire) {
  return Varint(p, (uint64_t{field} << 3) | wire);
}

// A proto3 scalar: left out when zero. int32 values go out sign-extended to
// 64 bits, as protobuf writes them.
char* Scalar(char* p, uint32_t field, int64_t v) {
  if (v == 0) return p;
  return Varint(Tag(p, field, kVarint), static_cast<uint64_t>(v));
}

char* Bytes(char* p, uint32_t field, std::string_view s) {
  if (s.empty()) return p;
  p = Varint(Tag(p, field, kDelimited), s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// At most: a tag (1 byte here) and a 10-byte varint per scalar, a tag and a
// 5-byte length per string.
constexpr size_t kMaxScalar = 11;
constexpr size_t kMaxStringFraming = 6;

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
  // Sized for the longest encoding, written through a pointer, cut to size.
  size_t most = 6 * kMaxScalar;
  for (const EventAnswer& a : answers) {
    most += kMaxStringFraming + 7 * kMaxScalar + 3 * kMaxStringFraming +
            a.id_size + a.field.size() + a.error.size();
  }
  std::string out(most, '\0');
  char* const begin = out.data();
  char* p = Scalar(begin, PublishResponse::kBatchIdFieldNumber,
                   static_cast<int64_t>(batch_id));
  // One result's body goes here first: its length comes before it.
  std::string scratch;
  for (size_t i = 0; i < answers.size(); ++i) {
    const EventAnswer& a = answers[i];
    const size_t body_most = 7 * kMaxScalar + 3 * kMaxStringFraming +
                             a.id_size + a.field.size() + a.error.size();
    char small[512];
    char* const body = body_most <= sizeof(small)
                           ? small
                           : (scratch.resize(body_most), scratch.data());
    char* q =
        Scalar(body, EventResult::kIndexFieldNumber, static_cast<int64_t>(i));
    q = Bytes(q, EventResult::kEventIdFieldNumber,
              ids.substr(a.id_begin, a.id_size));
    q = Scalar(q, EventResult::kOutcomeFieldNumber, a.outcome);
    q = Bytes(q, EventResult::kFieldFieldNumber, a.field);
    q = Bytes(q, EventResult::kErrorFieldNumber, a.error);
    q = Scalar(q, EventResult::kCodeFieldNumber, a.code);
    q = Scalar(q, EventResult::kPartitionFieldNumber, a.partition);
    q = Scalar(q, EventResult::kOffsetFieldNumber, a.offset);
    q = Scalar(q, EventResult::kRetryAfterMsFieldNumber, a.retry_after_ms);
    p = Bytes(p, PublishResponse::kResultsFieldNumber,
              std::string_view(body, static_cast<size_t>(q - body)));
  }
  p = Scalar(p, PublishResponse::kPublishedFieldNumber, counts.published);
  p = Scalar(p, PublishResponse::kDuplicatesFieldNumber, counts.duplicates);
  p = Scalar(p, PublishResponse::kRejectedFieldNumber, counts.rejected);
  p = Scalar(p, PublishResponse::kFailedFieldNumber, counts.failed);
  p = Scalar(p, PublishResponse::kValidFieldNumber, counts.valid);
  out.resize(static_cast<size_t>(p - begin));
  return out;
}

}  // namespace rebound::ingest
