// ConsumerFault's bookkeeping: which errors stop a group member, and what
// clears them (its Kafka-facing probe is covered by the service failure
// test on a real broker).
#include "common/kafka_group.h"

#include "gtest/gtest.h"

namespace rebound {
namespace {

TEST(ConsumerFault, OnlyErrorsThatStopConsumingAreFaults) {
  ConsumerFault f;
  EXPECT_FALSE(f.Note(RdKafka::ERR__TRANSPORT, "connection reset"));
  EXPECT_FALSE(f.Note(RdKafka::ERR__ALL_BROKERS_DOWN, "down"));
  EXPECT_FALSE(f.Note(RdKafka::ERR__MAX_POLL_EXCEEDED, "slow"));
  EXPECT_FALSE(f.faulted());
  EXPECT_TRUE(f.Note(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "gone"));
  EXPECT_TRUE(f.faulted());
  for (RdKafka::ErrorCode err :
       {RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED,
        RdKafka::ERR_GROUP_AUTHORIZATION_FAILED, RdKafka::ERR__AUTHENTICATION,
        RdKafka::ERR__UNKNOWN_PARTITION, RdKafka::ERR__FATAL}) {
    EXPECT_TRUE(ConsumerFault::StopsConsuming(err)) << RdKafka::err2str(err);
  }
}

TEST(ConsumerFault, ATopicFaultNeedsPartitionsOrARecordToClear) {
  ConsumerFault f;
  f.Note(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "gone");
  // An empty assignment follows a deletion: the topic is not back.
  f.Assigned(0);
  EXPECT_TRUE(f.faulted());
  f.Assigned(2);
  EXPECT_FALSE(f.faulted());
  f.Note(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "gone again");
  EXPECT_TRUE(f.faulted());
  f.Consumed();
  EXPECT_FALSE(f.faulted());
}

TEST(ConsumerFault, AGroupFaultClearsWhenTheGroupIsJoined) {
  ConsumerFault f;
  f.Note(RdKafka::ERR_GROUP_AUTHORIZATION_FAILED, "denied");
  EXPECT_TRUE(f.faulted());
  f.Assigned(0);
  EXPECT_FALSE(f.faulted());
}

TEST(ConsumerFault, EachKindNeedsItsOwnEvidence) {
  ConsumerFault f;
  // The group refused and the topic gone: a join clears only the group's.
  f.Note(RdKafka::ERR_GROUP_AUTHORIZATION_FAILED, "denied");
  f.Note(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "gone");
  f.Assigned(0);
  EXPECT_TRUE(f.faulted());
  f.Assigned(1);
  EXPECT_FALSE(f.faulted());
  // A fetch not authorised: not even partitions clear it, a record does.
  f.Note(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED, "denied");
  f.Assigned(4);
  EXPECT_TRUE(f.faulted());
  f.Consumed();
  EXPECT_FALSE(f.faulted());
}

TEST(ConsumerFault, AFatalErrorNeverClears) {
  ConsumerFault f;
  f.Note(RdKafka::ERR__FATAL, "fenced");
  f.Note(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART, "and gone");
  f.Assigned(3);
  f.Consumed();
  EXPECT_TRUE(f.faulted());
}

}  // namespace
}  // namespace rebound
