// Unit tests of the ingest client's pure parts (the publishing itself is
// tested against a real ingest and Kafka in tests/ingest_integration_test.cc).
#include "tools/ingest_client.h"

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

// How PublishWithRetries reads a refused round: ingest's "at most M" event
// limit gives M; gRPC's "larger than max" message limit halves the batch;
// nothing else (or a batch of one, which cannot shrink) gives 0.
TEST(SmallerBatch, ReadsTheLimitOrHalves) {
  using grpc::Status;
  using grpc::StatusCode;
  EXPECT_EQ(tools::SmallerBatch(
                Status(StatusCode::INVALID_ARGUMENT,
                       "events: batch of more than 4 events, at most 4"),
                25),
            4);
  EXPECT_EQ(tools::SmallerBatch(
                Status(StatusCode::RESOURCE_EXHAUSTED,
                       "Received message larger than max (70000 vs. 16384)"),
                25),
            12);
  EXPECT_EQ(tools::SmallerBatch(Status(StatusCode::RESOURCE_EXHAUSTED,
                                       "Received message larger than max"),
                                1),
            0);  // One event over the limit: no batch size helps.
  EXPECT_EQ(tools::SmallerBatch(
                Status(StatusCode::INVALID_ARGUMENT, "at most 30"), 25),
            0);
  EXPECT_EQ(
      tools::SmallerBatch(
          Status(StatusCode::UNAVAILABLE, "at most 4 larger than max"), 25),
      0);
  EXPECT_EQ(tools::SmallerBatch(Status::OK, 25), 0);
}

}  // namespace
}  // namespace rebound
