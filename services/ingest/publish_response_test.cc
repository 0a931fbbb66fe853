#include "services/ingest/publish_response.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rebound::ingest {
namespace {

using rebound::v1::EventResult;
using rebound::v1::PublishResponse;

EventAnswer Answer(rebound::v1::Outcome outcome, int32_t code,
                   int32_t partition, int64_t offset, uint32_t id_begin) {
  EventAnswer a;
  a.outcome = outcome;
  a.code = code;
  a.partition = partition;
  a.offset = offset;
  a.id_begin = id_begin;
  a.id_size = 4;
  return a;
}

TEST(EncodePublishResponse, ParsesAsTheResponseProtobufWouldWrite) {
  const std::string ids = "ev-1ev-2ev-3ev-4";
  std::vector<EventAnswer> answers(6);
  answers[0] = Answer(rebound::v1::OUTCOME_PUBLISHED, 0, 3, 1234567890123, 0);
  answers[1] = Answer(rebound::v1::OUTCOME_DUPLICATE, 0, 0, 0, 4);
  answers[2] = Answer(rebound::v1::OUTCOME_REJECTED, 3, 0, 0, 8);
  answers[2].field = "request_sent.note";
  answers[2].error = "is 301 characters, at most 300";
  answers[3] = Answer(rebound::v1::OUTCOME_FAILED, 14, -1, -7, 12);
  answers[3].error = "kafka is unreachable";
  // answers[4]: undecodable, no id, nothing set.
  // A result longer than the encoder's stack buffer for one result.
  answers[5] = Answer(rebound::v1::OUTCOME_REJECTED, 3, 0, 0, 0);
  answers[5].field = "events[5]";
  answers[5].error = "cannot be read: " + std::string(700, 'x');
  const AnswerCounts counts = Count(answers);
  EXPECT_EQ(counts.published, 1u);
  EXPECT_EQ(counts.duplicates, 1u);
  EXPECT_EQ(counts.rejected, 2u);
  EXPECT_EQ(counts.failed, 2u);  // An unanswered one counts as failed.
  EXPECT_EQ(counts.valid, 0u);

  const std::string wire =
      EncodePublishResponse(uint64_t{1} << 40, answers, ids, counts);
  PublishResponse got;
  ASSERT_TRUE(got.ParseFromString(wire));

  PublishResponse want;
  want.set_batch_id(uint64_t{1} << 40);
  for (size_t i = 0; i < answers.size(); ++i) {
    EventResult* r = want.add_results();
    r->set_index(static_cast<uint32_t>(i));
    r->set_event_id(ids.substr(answers[i].id_begin, answers[i].id_size));
    r->set_outcome(answers[i].outcome);
    r->set_field(answers[i].field);
    r->set_error(answers[i].error);
    r->set_code(answers[i].code);
    r->set_partition(answers[i].partition);
    r->set_offset(answers[i].offset);
  }
  want.set_published(1);
  want.set_duplicates(1);
  want.set_rejected(2);
  want.set_failed(2);
  EXPECT_EQ(got.DebugString(), want.DebugString());
  // Byte for byte what protobuf writes (fields in number order, zeros left
  // out, negative int32 sign-extended).
  EXPECT_EQ(wire, want.SerializeAsString());
}

TEST(EncodePublishResponse, EmptyBatchIsAnEmptyMessage) {
  EXPECT_EQ(EncodePublishResponse(0, {}, "", AnswerCounts{}), "");
}

}  // namespace
}  // namespace rebound::ingest
