// Ingest against the real Kafka broker: what is acked is in Kafka exactly
// once, with the right key, partition, headers and payload; what is invalid
// or duplicate is not; outages and back-pressure are reported as such.
#include <atomic>
#include <future>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/kafka_admin.h"
#include "common/pipeline.h"
#include "common/tenant_auth.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_server.h"
#include "tests/test_support.h"
#include "tools/ingest_client.h"
#include "tools/sim/event_generator.h"
#include "tools/topic_reader.h"

namespace rebound {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::PublishRequest;
using rebound::v1::PublishResponse;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kPartitions = 4;

std::vector<ConnectionEvent> Sample(int n, const std::string& run_id,
                                    uint64_t seed = 7) {
  sim::GeneratorOptions g;
  g.seed = seed;
  g.run_id = run_id;
  g.members_per_tenant = 50;
  return sim::EventGenerator(g).Next(n);
}

class IngestIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    brokers_ = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
    ASSERT_FALSE(brokers_.empty());
    topic_ = testing::UniqueTopic("it-ingest");
  }

  void StartServer(ingest::IngestServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    o.topic_partitions = kPartitions;
    o.service.topic = topic_;
    if (o.publisher.brokers.empty()) o.publisher.brokers = brokers_;
    auto s = ingest::IngestServer::Start(
        o, std::make_shared<prometheus::Registry>());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = rebound::v1::Ingest::NewStub(channel_);
  }

  PublishResponse Publish(const std::vector<ConnectionEvent>& events,
                          grpc::Status* status) {
    PublishRequest req;
    for (const auto& e : events) *req.add_events() = e;
    PublishResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
    *status = stub_->Publish(&ctx, req, &resp);
    return resp;
  }

  // An ingest whose connections age out after `age`, open calls cut after
  // `grace` more.
  void StartAgingServer(std::chrono::milliseconds age,
                        std::chrono::milliseconds grace) {
    ingest::IngestServerOptions o;
    o.connections.max_connection_age = age;
    o.connections.max_connection_age_grace = grace;
    StartServer(o);
  }

  // Every one of `events` is in the topic exactly once.
  void ExpectEachOnceInKafka(const std::vector<ConnectionEvent>& events) {
    std::map<std::string, int> seen;
    for (const auto& rec : ReadAll()) ++seen[rec.Header("ce_id")];
    EXPECT_EQ(seen.size(), events.size());
    for (const auto& e : events)
      EXPECT_EQ(seen[e.event_id()], 1) << e.event_id();
  }

  std::vector<tools::KafkaRecord> ReadAll() {
    auto r = tools::ReadTopic(brokers_, topic_, seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<tools::KafkaRecord>{};
  }

  std::string brokers_;
  std::string topic_;
  std::unique_ptr<ingest::IngestServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rebound::v1::Ingest::Stub> stub_;
};

TEST_F(IngestIntegration, BatchAndStreamEventsLandOnceWithKeyPartitionHeaders) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(1000, "landing");
  // 300 through unary batches of 100, the other 700 through the stream.
  std::map<std::string, rebound::v1::EventResult> acks;
  for (int b = 0; b < 3; ++b) {
    grpc::Status st;
    auto resp =
        Publish(std::vector<ConnectionEvent>(events.begin() + b * 100,
                                             events.begin() + (b + 1) * 100),
                &st);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.published(), 100u);
    for (const auto& r : resp.results()) acks[r.event_id()] = r;
  }
  std::vector<ConnectionEvent> rest(events.begin() + 300, events.end());
  tools::StreamPublishOptions so;
  so.batch_size = 50;
  so.window = 4;
  auto sr = tools::PublishOverStream(channel_, rest, so);
  ASSERT_TRUE(sr.status.ok()) << sr.status.error_message();
  ASSERT_EQ(sr.published, 700u);
  for (const auto& r : sr.results) acks[r.event_id()] = r;
  ASSERT_EQ(acks.size(), 1000u);

  auto records = ReadAll();
  ASSERT_EQ(records.size(), 1000u);
  std::map<std::string, const ConnectionEvent*> sent;
  for (const auto& e : events) sent[e.event_id()] = &e;
  std::set<std::string> seen;
  for (const auto& rec : records) {
    ConnectionEvent got;
    ASSERT_TRUE(got.ParseFromString(rec.value));
    ASSERT_TRUE(seen.insert(got.event_id()).second)
        << got.event_id() << " arrived twice";
    const ConnectionEvent* want = sent[got.event_id()];
    ASSERT_NE(want, nullptr) << "unexpected event " << got.event_id();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, *want))
        << got.DebugString();
    std::string key = absl::StrCat(want->tenant_id(), "/", want->sender_id());
    EXPECT_EQ(rec.key, key);
    EXPECT_EQ(rec.partition, testing::JavaPartition(key, kPartitions)) << key;
    EXPECT_EQ(rec.Header("ce_id"), want->event_id());
    EXPECT_EQ(rec.Header("ce_specversion"), "1.0");
    EXPECT_EQ(rec.Header("ce_source"),
              absl::StrCat("/rebound/ingest/", want->tenant_id()));
    EXPECT_EQ(rec.Header("ce_type").rfind("rebound.v1.", 0), 0u);
    EXPECT_FALSE(rec.Header("ce_time").empty());
    EXPECT_EQ(rec.Header("content-type"), "application/protobuf");
    // The ack told the client where the event is.
    const auto& ack = acks[got.event_id()];
    EXPECT_EQ(ack.outcome(), rebound::v1::OUTCOME_PUBLISHED);
    EXPECT_EQ(ack.partition(), rec.partition);
    EXPECT_EQ(ack.offset(), rec.offset);
  }
  // Events of one sender keep their order within the partition.
  std::map<std::string, std::vector<std::string>> by_key_sent, by_key_got;
  for (const auto& e : events) {
    by_key_sent[absl::StrCat(e.tenant_id(), "/", e.sender_id())].push_back(
        e.event_id());
  }
  for (const auto& rec : records) {
    ConnectionEvent got;
    got.ParseFromString(rec.value);
    by_key_got[rec.key].push_back(got.event_id());
  }
  EXPECT_EQ(by_key_got, by_key_sent);
}

TEST_F(IngestIntegration, InvalidEventIsRejectedWhileTheRestPublish) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(6, "mixed");
  ASSERT_TRUE(events[0].has_request_sent());
  events[1] = events[0];
  events[1].set_event_id("mixed-long-note");
  events[1].mutable_request_sent()->set_note(std::string(301, 'x'));
  events[4].set_tenant_id("Not A Tenant");
  // A note that is not UTF-8: protobuf cannot decode that event at all, yet
  // only it is rejected, with the field named.
  events[2] = events[0];
  events[2].set_event_id("mixed-bad-utf8");
  events[2].mutable_request_sent()->set_note("caf\xc3 \xff\xfe");
  grpc::Status st;
  auto resp = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), 6);
  EXPECT_EQ(resp.published(), 3u);
  EXPECT_EQ(resp.rejected(), 3u);
  EXPECT_EQ(resp.results(1).outcome(), rebound::v1::OUTCOME_REJECTED);
  EXPECT_EQ(resp.results(1).field(), "request_sent.note");
  EXPECT_EQ(resp.results(1).code(), 3);
  EXPECT_EQ(resp.results(2).outcome(), rebound::v1::OUTCOME_REJECTED);
  EXPECT_EQ(resp.results(2).field(), "request_sent.note");
  EXPECT_EQ(resp.results(2).error(), "is not valid UTF-8");
  EXPECT_EQ(resp.results(4).outcome(), rebound::v1::OUTCOME_REJECTED);
  EXPECT_EQ(resp.results(4).field(), "tenant_id");

  // The same over PublishStream.
  auto more = Sample(3, "mixed-stream");
  more[1] = events[2];
  more[1].set_event_id("mixed-stream-bad-utf8");
  auto sr = tools::PublishOverStream(channel_, more);
  ASSERT_TRUE(sr.status.ok()) << sr.status.error_message();
  EXPECT_EQ(sr.published, 2u);
  EXPECT_EQ(sr.rejected, 1u);
  EXPECT_EQ(sr.results[1].field(), "request_sent.note");
  EXPECT_EQ(sr.results[1].error(), "is not valid UTF-8");

  // A counts-only client reads the same outcomes without the results.
  auto counted = Sample(3, "mixed-counted");
  counted[2] = events[4];
  counted[2].set_event_id("mixed-counted-bad-tenant");
  tools::StreamPublishOptions counts_only;
  counts_only.keep_results = false;
  auto cr = tools::PublishOverStream(channel_, counted, counts_only);
  ASSERT_TRUE(cr.status.ok()) << cr.status.error_message();
  EXPECT_EQ(cr.published, 2u);
  EXPECT_EQ(cr.rejected, 1u);
  EXPECT_TRUE(cr.results.empty());
  EXPECT_EQ(cr.ack_latency_ms.size(), 3u);

  auto records = ReadAll();
  ASSERT_EQ(records.size(), 7u);
  for (const auto& rec : records) {
    for (const char* bad :
         {"mixed-long-note", "mixed-bad-utf8", "mixed-stream-bad-utf8",
          "mixed-counted-bad-tenant"}) {
      EXPECT_NE(rec.Header("ce_id"), bad);
    }
    EXPECT_NE(rec.Header("ce_id"), events[4].event_id());
  }
}

TEST_F(IngestIntegration,
       CompressedRequestsAndUnknownFieldsArePublishedAsSent) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(20, "as-sent");
  // A newer client's field (number 999, a varint) this build does not know:
  // forwarded untouched, so newer consumers still see it.
  {
    std::string with_unknown = events[3].SerializeAsString() + "\xb8\x3e\x2a";
    ASSERT_TRUE(events[3].ParseFromString(with_unknown));
    ASSERT_EQ(events[3].SerializeAsString(), with_unknown);
  }
  PublishRequest req;
  for (const auto& e : events) *req.add_events() = e;
  PublishResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
  ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::Status st = stub_->Publish(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.published(), 20u);
  auto records = ReadAll();
  ASSERT_EQ(records.size(), 20u);
  std::map<std::string, std::string> sent;
  for (const auto& e : events) sent[e.event_id()] = e.SerializeAsString();
  for (const auto& rec : records) {
    auto it = sent.find(rec.Header("ce_id"));
    ASSERT_NE(it, sent.end());
    EXPECT_EQ(rec.value, it->second) << "value differs from what was sent";
  }
}

TEST_F(IngestIntegration, ValidateOnlyChecksAndPublishesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(8, "check");
  events[5].set_sender_id("");
  PublishRequest req;
  req.set_validate_only(true);
  for (const auto& e : events) *req.add_events() = e;
  PublishResponse resp;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
    grpc::Status st = stub_->Publish(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  EXPECT_EQ(resp.valid(), 7u);
  EXPECT_EQ(resp.rejected(), 1u);
  EXPECT_EQ(resp.published(), 0u);
  EXPECT_EQ(resp.results(0).outcome(), rebound::v1::OUTCOME_VALID);
  EXPECT_EQ(resp.results(5).field(), "sender_id");
  // Over the stream too.
  tools::StreamPublishOptions so;
  so.validate_only = true;
  auto sr = tools::PublishOverStream(channel_, events, so);
  ASSERT_TRUE(sr.status.ok()) << sr.status.error_message();
  EXPECT_EQ(sr.valid, 7u);
  EXPECT_EQ(sr.rejected, 1u);
  EXPECT_EQ(sr.published, 0u);
  // Nothing was written, and nothing remembered: publishing them for real
  // publishes the valid ones (not DUPLICATE).
  EXPECT_TRUE(ReadAll().empty());
  grpc::Status st;
  auto real = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(real.published(), 7u);
  EXPECT_EQ(ReadAll().size(), 7u);
}

TEST_F(IngestIntegration, AgedConnectionEndsItsStreamAndNothingAckedIsLost) {
  ASSERT_NO_FATAL_FAILURE(StartAgingServer(std::chrono::milliseconds(1000),
                                           std::chrono::milliseconds(1000)));
  auto events = Sample(3000, "aged");
  // Paced to last ~3 s: longer than age + grace, so the server cuts it.
  tools::StreamPublishOptions so;
  so.batch_size = 50;
  so.events_per_second = 1000;
  auto first = tools::PublishOverStream(channel_, events, so);
  ASSERT_FALSE(first.status.ok()) << "the stream outlived its connection";
  EXPECT_EQ(first.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << first.status.error_message();
  EXPECT_GT(first.published, 0u);
  EXPECT_LT(first.published, events.size());
  // The client resends everything on a fresh stream (the channel
  // reconnects): what was acked comes back DUPLICATE, the rest is published.
  auto second = tools::PublishOverStream(channel_, events);
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_EQ(second.published + second.duplicates, events.size());
  EXPECT_GE(second.duplicates, first.published);
  ExpectEachOnceInKafka(events);
}

TEST_F(IngestIntegration, PublishWithRetriesRidesOverAgedConnections) {
  ASSERT_NO_FATAL_FAILURE(StartAgingServer(std::chrono::milliseconds(1000),
                                           std::chrono::milliseconds(500)));
  auto events = Sample(3000, "retried");
  tools::StreamPublishOptions so;
  so.batch_size = 50;
  so.events_per_second = 1200;  // ~2.5 s: cut at least once.
  auto r = tools::PublishWithRetries(channel_, events, so, 6);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_GE(r.attempts, 2) << "the connection was never aged out";
  EXPECT_EQ(r.published + r.duplicates, events.size());
  EXPECT_EQ(r.failed, 0u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(r.results[i].event_id(), events[i].event_id());
  }
  ExpectEachOnceInKafka(events);
}

TEST_F(IngestIntegration, PublishWithRetriesSplitsBatchesTooBigForIngest) {
  // Batches over ingest's event limit are refused "at most 4": the client
  // resends them in batches of 4.
  ingest::IngestServerOptions o;
  o.service.max_batch_events = 4;
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  auto events = Sample(60, "split");
  tools::StreamPublishOptions so;
  so.batch_size = 25;
  auto r = tools::PublishWithRetries(channel_, events, so, 1);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.published, events.size());
  EXPECT_EQ(r.attempts, 2);  // One refused round, one in batches of 4.
  ExpectEachOnceInKafka(events);
}

TEST_F(IngestIntegration, PublishWithRetriesHalvesBatchesOverTheMessageSize) {
  ingest::IngestServerOptions o;
  o.max_message_bytes = 4 * 1024;
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  auto events = Sample(120, "halved");
  tools::StreamPublishOptions so;
  so.batch_size = 120;  // Far over 4 KiB in one message.
  auto r = tools::PublishWithRetries(channel_, events, so, 1);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  // Event sizes vary, so a batch that fits can be written before a later one
  // in the same stream is refused; resent, its events come back DUPLICATE.
  // Every event is accounted for once, and in Kafka once.
  EXPECT_EQ(r.published + r.duplicates, events.size());
  EXPECT_EQ(r.rejected + r.failed, 0u);
  EXPECT_GE(r.attempts, 2);
  ExpectEachOnceInKafka(events);
}

TEST_F(IngestIntegration, MalformedBatchFailsAsAWhole) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  grpc::Status st;
  Publish({}, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("events"), std::string::npos);
  auto too_many = Sample(1001, "big");
  Publish(too_many, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("at most 1000"), std::string::npos);
  auto records = ReadAll();
  EXPECT_TRUE(records.empty());
}

// Per-tenant quotas: a tenant flooding past its events/s gets FAILED
// RESOURCE_EXHAUSTED with a retry delay, nothing of that is published, a
// retry after the delay goes through, and another tenant publishing at the
// same time is neither refused nor held up (every one of its calls answered
// within the stated bound of 5 s; in practice milliseconds).
TEST_F(IngestIntegration, AFloodingTenantIsHeldToItsQuotaAndOthersGoOn) {
  ingest::IngestServerOptions o;
  o.service.quotas.tenant["flood"] = ingest::Quota{200, 200};
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  auto flood = Sample(2000, "flood");
  for (auto& e : flood) e.set_tenant_id("flood");
  auto calm = Sample(300, "calm", 11);
  for (auto& e : calm) e.set_tenant_id("calm");

  size_t flood_published = 0, flood_failed = 0;
  int64_t max_retry_after = 0;
  std::vector<ConnectionEvent> refused;
  bool flood_ok = true;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread flooder([&] {
    for (size_t b = 0; b < flood.size(); b += 100) {
      std::vector<ConnectionEvent> batch(flood.begin() + b,
                                         flood.begin() + b + 100);
      grpc::Status st;
      auto r = Publish(batch, &st);
      if (!st.ok()) {
        flood_ok = false;
        return;
      }
      flood_published += r.published();
      for (int i = 0; i < r.results_size(); ++i) {
        const auto& res = r.results(i);
        if (res.outcome() != rebound::v1::OUTCOME_FAILED) continue;
        ++flood_failed;
        if (res.code() != 8 || res.retry_after_ms() < 1 ||
            res.error().find("quota") == std::string::npos) {
          flood_ok = false;
        }
        max_retry_after = std::max(max_retry_after, res.retry_after_ms());
        refused.push_back(batch[i]);
      }
    }
  });
  double calm_worst_ms = 0;
  size_t calm_published = 0;
  for (size_t b = 0; b < calm.size(); b += 10) {
    std::vector<ConnectionEvent> batch(calm.begin() + b, calm.begin() + b + 10);
    const auto c0 = std::chrono::steady_clock::now();
    grpc::Status st;
    auto r = Publish(batch, &st);
    ASSERT_TRUE(st.ok()) << st.error_message();
    calm_worst_ms =
        std::max(calm_worst_ms, std::chrono::duration<double, std::milli>(
                                    std::chrono::steady_clock::now() - c0)
                                    .count());
    calm_published += r.published();
  }
  flooder.join();
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_TRUE(flood_ok) << "a FAILED flood event lacked code 8, its delay or "
                           "its reason, or a call failed";
  EXPECT_EQ(calm_published, calm.size());
  EXPECT_LT(calm_worst_ms, 5000.0);
  // The bucket: its burst plus its rate over the run, at most.
  EXPECT_GE(flood_published, 200u);
  EXPECT_LE(static_cast<double>(flood_published), 200 + 200 * elapsed_s + 1);
  EXPECT_EQ(flood_published + flood_failed, flood.size());
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(ReadAll().size(), calm_published + flood_published);
  // Retried after the delay it was given, a refused event goes through.
  std::this_thread::sleep_for(milliseconds(max_retry_after + 50));
  grpc::Status st;
  auto again = Publish({refused.front()}, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.published(), 1u);
  std::cout << "calm tenant's slowest call " << calm_worst_ms
            << " ms; flood published " << flood_published << " of "
            << flood.size() << " in " << elapsed_s << " s\n";
}

// An event_id reused for a different event is not a retry: REJECTED on
// event_id (ALREADY_EXISTS), not DUPLICATE, and nothing more is published.
TEST_F(IngestIntegration, AnEventIdReusedForAnotherEventIsRejected) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(3, "reuse");
  grpc::Status st;
  auto first = Publish({events[0]}, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(first.published(), 1u);
  ConnectionEvent changed = events[0];
  changed.mutable_occurred_at()->set_seconds(changed.occurred_at().seconds() -
                                             1);
  ConnectionEvent changed_too = events[1];
  changed_too.set_sender_id(changed_too.sender_id() + "-x");
  // The same event again (a retry), the changed one, and within one batch
  // an id used for two different events.
  auto second = Publish({events[0], changed, events[1], changed_too}, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(second.results(0).outcome(), rebound::v1::OUTCOME_DUPLICATE);
  for (int i : {1, 3}) {
    EXPECT_EQ(second.results(i).outcome(), rebound::v1::OUTCOME_REJECTED) << i;
    EXPECT_EQ(second.results(i).field(), "event_id");
    EXPECT_EQ(second.results(i).code(), 6);  // ALREADY_EXISTS
    EXPECT_NE(second.results(i).error().find("different event"),
              std::string::npos);
  }
  EXPECT_EQ(second.results(2).outcome(), rebound::v1::OUTCOME_PUBLISHED);
  EXPECT_EQ(ReadAll().size(), 2u);
}

// On PublishStream a refused batch is answered with its error and the
// stream goes on: later batches are published and answered.
TEST_F(IngestIntegration, ARefusedBatchOnAStreamIsAnsweredAndTheStreamGoesOn) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto good = Sample(4, "stream-ok");
  auto too_many = Sample(1001, "stream-big");
  auto stub = rebound::v1::Ingest::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
  auto stream = stub->PublishStream(&ctx);
  auto batch = [](uint64_t id, const std::vector<ConnectionEvent>& events,
                  size_t from, size_t to) {
    rebound::v1::PublishRequest r;
    r.set_batch_id(id);
    for (size_t i = from; i < to && i < events.size(); ++i)
      *r.add_events() = events[i];
    return r;
  };
  ASSERT_TRUE(stream->Write(batch(1, good, 0, 2)));
  ASSERT_TRUE(stream->Write(batch(2, good, 0, 0)));  // Empty.
  ASSERT_TRUE(stream->Write(batch(3, too_many, 0, too_many.size())));
  ASSERT_TRUE(stream->Write(batch(4, good, 2, 4)));
  ASSERT_TRUE(stream->WritesDone());
  std::map<uint64_t, rebound::v1::PublishResponse> answers;
  rebound::v1::PublishResponse r;
  while (stream->Read(&r)) answers[r.batch_id()] = r;
  grpc::Status st = stream->Finish();
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[1].published(), 2u);
  EXPECT_FALSE(answers[1].has_error());
  EXPECT_EQ(answers[4].published(), 2u);
  for (uint64_t refused : {2u, 3u}) {
    const auto& a = answers[refused];
    ASSERT_TRUE(a.has_error()) << refused;
    EXPECT_EQ(a.error().code(), 3);
    EXPECT_EQ(a.error().field(), "events");
    EXPECT_EQ(a.results_size(), 0);
    EXPECT_EQ(a.published(), 0u);
  }
  EXPECT_NE(answers[3].error().error().find("at most 1000"), std::string::npos);
  EXPECT_EQ(ReadAll().size(), 4u);
}

// Streams are a bounded resource: past --max-streams-per-tenant one tenant's
// next stream is refused at once (RESOURCE_EXHAUSTED, nothing read from it)
// while another tenant still opens one; past --max-streams anyone's is; a
// closed stream gives its place back.
TEST_F(IngestIntegration, StreamsBeyondTheLimitsAreRefusedAndPlacesComeBack) {
  auto auth = TenantAuth::Parse("ta:token-ta,tb:token-tb,tc:token-tc");
  ASSERT_TRUE(auth.ok()) << auth.status();
  ingest::IngestServerOptions o;
  o.service.auth = *auth;
  o.service.max_streams = 3;
  o.service.max_streams_per_tenant = 2;
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  struct Open {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReaderWriter<PublishRequest, PublishResponse>>
        stream;
  };
  // Opens a stream for `tenant` and sends one batch of `events` (its own
  // tenant's); the answer, or the stream's end status when there is none.
  auto open = [&](const std::string& tenant,
                  const std::vector<ConnectionEvent>& events, Open* out,
                  PublishResponse* answer) -> grpc::Status {
    out->stream.reset();  // Before the context it uses.
    out->ctx = std::make_unique<grpc::ClientContext>();
    out->ctx->set_deadline(std::chrono::system_clock::now() + seconds(30));
    out->ctx->AddMetadata("authorization", "Bearer token-" + tenant);
    out->stream = stub_->PublishStream(out->ctx.get());
    PublishRequest r;
    r.set_batch_id(1);
    for (const auto& e : events) *r.add_events() = e;
    out->stream->Write(r);
    if (out->stream->Read(answer)) return grpc::Status::OK;
    return out->stream->Finish();
  };
  auto events_of = [](const std::string& tenant, int n) {
    auto events = Sample(n, "streams-" + tenant);
    for (auto& e : events) e.set_tenant_id(tenant);
    return events;
  };
  const auto a = events_of("ta", 4), b = events_of("tb", 4),
             c = events_of("tc", 2);
  std::vector<Open> held(3);
  PublishResponse answer;
  ASSERT_TRUE(open("ta", {a[0]}, &held[0], &answer).ok());
  EXPECT_EQ(answer.published(), 1u);
  ASSERT_TRUE(open("ta", {a[1]}, &held[1], &answer).ok());
  EXPECT_EQ(answer.published(), 1u);
  Open refused;
  grpc::Status st = open("ta", {a[2]}, &refused, &answer);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st.error_message().find("at most 2 streams of one tenant"),
            std::string::npos)
      << st.error_message();
  // Another tenant has room: three in all now, the instance's limit.
  ASSERT_TRUE(open("tb", {b[0]}, &held[2], &answer).ok());
  EXPECT_EQ(answer.published(), 1u);
  st = open("tc", {c[0]}, &refused, &answer);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st.error_message().find("serves 3 streams at once"),
            std::string::npos)
      << st.error_message();
  // One closed: its place comes back.
  held[0].stream->WritesDone();
  while (held[0].stream->Read(&answer)) {
  }
  ASSERT_TRUE(held[0].stream->Finish().ok());
  Open again;
  grpc::Status ok;
  const auto until = std::chrono::steady_clock::now() + seconds(10);
  do {
    ok = open("tc", {c[1]}, &again, &answer);
  } while (!ok.ok() && std::chrono::steady_clock::now() < until);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(answer.published(), 1u);
  for (auto* h : {&held[1], &held[2], &again}) {
    h->stream->WritesDone();
    while (h->stream->Read(&answer)) {
    }
    EXPECT_TRUE(h->stream->Finish().ok());
  }
  // Only what was answered published, nothing of a refused stream.
  std::set<std::string> ids;
  for (const auto& rec : ReadAll()) ids.insert(rec.Header("ce_id"));
  EXPECT_EQ(ids, (std::set<std::string>{a[0].event_id(), a[1].event_id(),
                                        b[0].event_id(), c[1].event_id()}));
}

// An event_id longer than ids may be is rejected and echoed only in part
// (128 bytes at most, cut between characters), so a batch of huge ids
// cannot make an answer larger than its request.
TEST_F(IngestIntegration, AnOverlongEventIdIsEchoedInPart) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(2, "long-id");
  std::string id;
  for (int i = 0; i < 300; ++i) id += "\xc3\xa9";  // é, 600 bytes.
  id = "x" + id;  // So a cut at 128 bytes falls inside a character.
  events[0].set_event_id(id);
  grpc::Status st;
  PublishResponse resp = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), 2);
  const auto& r = resp.results(0);
  EXPECT_EQ(r.outcome(), rebound::v1::OUTCOME_REJECTED);
  EXPECT_EQ(r.field(), "event_id");
  EXPECT_EQ(r.event_id(), id.substr(0, 127));
  EXPECT_EQ(resp.results(1).outcome(), rebound::v1::OUTCOME_PUBLISHED);
  EXPECT_EQ(resp.results(1).event_id(), events[1].event_id());
}

// A client that sends batches on PublishStream and never reads the answers
// is held back (HTTP/2 flow control) once max_inflight_batches_per_stream
// are unanswered or answered but not yet written: ingest stops reading
// rather than piling up answers without end.
TEST_F(IngestIntegration, AStreamWhoseAnswersAreNotReadIsHeldBack) {
  ingest::IngestServerOptions o;
  o.service.max_inflight_batches_per_stream = 4;
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  // Each event rejected for the "!" ending its ~123-byte id, which its
  // answer echoes: the answers (~200 KB a batch) outgrow any flow-control
  // window. (This can only pass wrongly, on a machine stalled for 3 s.)
  rebound::v1::PublishRequest req;
  req.set_validate_only(true);
  int n = 0;
  for (auto& e : Sample(1000, "unread")) {
    e.set_event_id(absl::StrCat(std::string(120, 'a'), n++, "!"));
    *req.add_events() = e;
  }
  constexpr int kBatches = 400;
  std::cout << "batch " << req.ByteSizeLong() << " bytes, " << kBatches
            << " sent unread\n";
  grpc::ClientContext ctx;
  auto stream = stub_->PublishStream(&ctx);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i) {
      req.set_batch_id(i + 1);
      if (!stream->Write(req)) return;
      written.store(i + 1);
    }
  });
  // Until the writes stop moving for 3 s (or all went through).
  int last = -1;
  auto moved = std::chrono::steady_clock::now();
  const auto until = moved + seconds(90);
  while (written.load() < kBatches &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (written.load() != last) {
      last = written.load();
      moved = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - moved > seconds(3)) {
      break;
    }
  }
  const int held_at = written.load();
  std::cout << "writes held after " << held_at << " batches\n";
  EXPECT_LT(held_at, kBatches)
      << "ingest read every batch of a client that reads no answer";
  ctx.TryCancel();
  writer.join();
  (void)stream->Finish();
  // It still serves others.
  grpc::Status st;
  Publish(Sample(2, "after-unread"), &st);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST_F(IngestIntegration, DuplicatesAreNotPublishedTwice) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(50, "dup");
  grpc::Status st;
  auto first = Publish(events, &st);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(first.published(), 50u);
  // The same batch again, and the same event twice within one batch.
  auto second = Publish(events, &st);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(second.duplicates(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(second.results(i).partition(), first.results(i).partition());
    EXPECT_EQ(second.results(i).offset(), first.results(i).offset());
  }
  auto fresh = Sample(60, "dup2", 99);
  std::vector<ConnectionEvent> twice = {fresh[55], fresh[55]};
  auto third = Publish(twice, &st);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(third.published(), 1u);
  EXPECT_EQ(third.duplicates(), 1u);
  EXPECT_EQ(third.results(1).offset(), third.results(0).offset());
  // Twice in a batch, already published before: both DUPLICATE, same place.
  std::vector<ConnectionEvent> again = {events[3], events[3]};
  auto repeat = Publish(again, &st);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(repeat.duplicates(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(repeat.results(i).partition(), first.results(3).partition());
    EXPECT_EQ(repeat.results(i).offset(), first.results(3).offset());
  }
  // Same event_id in another tenant is another event.
  ConnectionEvent other = events[0];
  other.set_tenant_id("tenant-other");
  auto fourth = Publish({other}, &st);
  EXPECT_EQ(fourth.published(), 1u);
  // Over the stream as well.
  auto sr = tools::PublishOverStream(channel_, events);
  ASSERT_TRUE(sr.status.ok());
  EXPECT_EQ(sr.duplicates, 50u);
  EXPECT_EQ(ReadAll().size(), 52u);
}

// A new instance reads the ids its predecessor published (within the dedup
// ttl) back from the topic before it serves: the resend of an event the
// predecessor wrote but never answered (a crash) is DUPLICATE, at the
// record's partition and offset, and an id reused for other content is
// still refused. Without the warm-up the same resend is written again.
TEST_F(IngestIntegration, ANewInstanceRemembersWhatItsPredecessorPublished) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(40, "warm");
  grpc::Status st;
  auto first = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(first.published(), 40u);
  ASSERT_TRUE(server_->Shutdown().ok());
  server_.reset();

  ASSERT_NO_FATAL_FAILURE(StartServer());  // A successor, warmed.
  auto again = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.duplicates(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(again.results(i).partition(), first.results(i).partition());
    EXPECT_EQ(again.results(i).offset(), first.results(i).offset());
  }
  ConnectionEvent reused = events[5];
  reused.mutable_occurred_at()->set_seconds(reused.occurred_at().seconds() - 1);
  auto conflict = Publish({reused}, &st);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(conflict.results_size(), 1);
  EXPECT_EQ(conflict.results(0).outcome(), rebound::v1::OUTCOME_REJECTED);
  EXPECT_EQ(conflict.results(0).field(), "event_id");
  ExpectEachOnceInKafka(events);
  ASSERT_TRUE(server_->Shutdown().ok());
  server_.reset();

  ingest::IngestServerOptions cold;
  cold.dedup_warmup_timeout = std::chrono::milliseconds(0);
  ASSERT_NO_FATAL_FAILURE(StartServer(cold));
  auto rewritten = Publish({events[0]}, &st);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(rewritten.published(), 1u);
  EXPECT_EQ(ReadAll().size(), 41u);
}

// A topic the service creates keeps its history for good (retention.ms -1:
// a rebuild of lost Redis state replays it all); one that exists is left as
// the operator made it.
TEST_F(IngestIntegration, TopicsItCreatesKeepTheirHistory) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  RdKafka::Producer* admin = server_->publisher()->handle();
  auto config = TopicConfig(admin, topic_, seconds(30));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)["retention.ms"], "-1");
  const std::string made = testing::UniqueTopic("operator-made");
  ASSERT_TRUE(EnsureTopics(admin, {{made, 1, 1, {{"retention.ms", "3600000"}}}},
                           seconds(30))
                  .ok());
  ASSERT_TRUE(pipeline::EnsureTopics(admin, "test", {made},
                                     pipeline::TopicLayout{1, 1}, seconds(30))
                  .ok());
  auto kept = TopicConfig(admin, made, seconds(30));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ((*kept)["retention.ms"], "3600000");
  auto none =
      TopicConfig(admin, testing::UniqueTopic("never-made"), seconds(10));
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
  EXPECT_TRUE(DeleteTopics(admin, {made}, seconds(30)).ok());
}

// common/kafka_admin: what EnsureTopics made, DeleteTopics removes (the
// bench uses it to leave a long-lived broker as it found it); a topic that
// does not exist is not an error.
TEST_F(IngestIntegration, DeleteTopicsRemovesThemAndToleratesMissingOnes) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  RdKafka::Producer* admin = server_->publisher()->handle();
  ASSERT_TRUE(PartitionCount(admin, topic_, seconds(10)).ok());
  absl::Status s = DeleteTopics(
      admin, {topic_, testing::UniqueTopic("never-created")}, seconds(30));
  ASSERT_TRUE(s.ok()) << s;
  // The broker's metadata may list the topic briefly after the delete.
  absl::StatusOr<int> after = 0;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  do {
    after = PartitionCount(admin, topic_, seconds(1));
  } while (after.ok() && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(after.status().code(), absl::StatusCode::kNotFound)
      << after.status();
}

// Ingest's topic deleted while it runs (Kafka still answers): health goes
// NOT_SERVING and each event of a publish fails UNAVAILABLE at once (not
// after the write timeout), nothing acked;
// with the topic made again, SERVING and publishing.
TEST_F(IngestIntegration, ADeletedTopicTurnsIngestNotServingUntilItIsBack) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_TRUE(
      testing::WaitForHealth(channel_, "rebound.v1.Ingest", 1, seconds(10)));
  RdKafka::Producer* admin = server_->publisher()->handle();
  auto partitions = PartitionCount(admin, topic_, seconds(10));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  ASSERT_TRUE(DeleteTopics(admin, {topic_}, seconds(30)).ok());
  EXPECT_TRUE(
      testing::WaitForHealth(channel_, "rebound.v1.Ingest", 2, seconds(30)));
  auto events = Sample(5, "deleted");
  grpc::Status st;
  auto resp = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.published(), 0u);
  EXPECT_EQ(resp.failed(), events.size());
  for (const auto& r : resp.results()) {
    EXPECT_EQ(r.outcome(), rebound::v1::OUTCOME_FAILED);
    EXPECT_EQ(r.code(), grpc::StatusCode::UNAVAILABLE) << r.error();
    EXPECT_NE(r.error().find("missing or not authorised"), std::string::npos)
        << r.error();
  }
  ASSERT_TRUE(
      EnsureTopics(admin, {{topic_, *partitions, 1}}, seconds(30)).ok());
  EXPECT_TRUE(
      testing::WaitForHealth(channel_, "rebound.v1.Ingest", 1, seconds(30)));
  resp = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.published(), events.size());
  auto count = tools::CountTopic(brokers_, topic_, seconds(30));
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, static_cast<int64_t>(events.size()));
}

// common/kafka_admin TopicWatermarks: every partition's range holds what
// was published (the dedup warm-up and topic_reader read them); a topic the
// broker does not know is NotFound, which the warm-up takes as "nothing to
// remember" -- so no other failure may be reported as NotFound.
TEST_F(IngestIntegration, TopicWatermarksCoverWhatWasPublished) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto events = Sample(30, "marks");
  grpc::Status st;
  auto resp = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.published(), events.size());
  RdKafka::Producer* admin = server_->publisher()->handle();
  auto marks = TopicWatermarks(admin, topic_, seconds(10));
  ASSERT_TRUE(marks.ok()) << marks.status();
  auto partitions = PartitionCount(admin, topic_, seconds(10));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_EQ(static_cast<int>(marks->size()), *partitions);
  int64_t held = 0;
  for (const auto& [p, r] : *marks) {
    EXPECT_LE(r.low, r.high) << p;
    held += r.high - r.low;
  }
  EXPECT_EQ(held, static_cast<int64_t>(events.size()));
  auto missing = TopicWatermarks(admin, testing::UniqueTopic("never-created"),
                                 seconds(10));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound)
      << missing.status();
  // A timeout past what librdkafka's int milliseconds hold is clamped, not
  // overflowed into "no time left".
  auto long_wait = TopicWatermarks(admin, topic_, std::chrono::hours(24 * 365));
  ASSERT_TRUE(long_wait.ok()) << long_wait.status();
  EXPECT_EQ(long_wait->size(), marks->size());
}

TEST_F(IngestIntegration, FullProducerQueueAnswersResourceExhausted) {
  ingest::IngestServerOptions o;
  o.publisher.queue_max_messages = 1;
  // Hold the one queued record so the queue stays full.
  o.publisher.linger_ms = 3000;
  o.service.max_enqueue_wait = absl::Milliseconds(300);
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  auto events = Sample(3, "full");
  grpc::Status st;
  auto resp = Publish(events, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.published(), 1u);
  EXPECT_EQ(resp.failed(), 2u);
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(resp.results(i).outcome(), rebound::v1::OUTCOME_FAILED);
    EXPECT_EQ(resp.results(i).code(),
              static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  }
  // Not acked means not remembered: a retry publishes them.
  auto retry = Publish({events[1], events[2]}, &st);
  EXPECT_EQ(retry.published() + retry.failed(), 2u);
  auto records = ReadAll();
  EXPECT_EQ(records.size(), 1u + retry.published());
}

TEST_F(IngestIntegration, BrokerDownIsUnavailableAndNotServingThenRecovers) {
  testing::PrivateServer kafka("kafka");
  std::string out;
  ASSERT_TRUE(kafka.Start(&out)) << out;
  ingest::IngestServerOptions o;
  o.publisher.brokers = kafka.brokers();
  o.publisher.health_interval = milliseconds(500);
  ASSERT_NO_FATAL_FAILURE(StartServer(o));
  ASSERT_TRUE(
      testing::WaitForHealth(channel_, "rebound.v1.Ingest", 1, seconds(10)));
  grpc::Status st;
  auto before = Publish(Sample(5, "outage-a"), &st);
  ASSERT_EQ(before.published(), 5u);

  ASSERT_TRUE(kafka.Stop(&out)) << out;
  EXPECT_TRUE(
      testing::WaitForHealth(channel_, "rebound.v1.Ingest", 2, seconds(30)))
      << "health stayed SERVING with the broker stopped";
  EXPECT_EQ(testing::HealthStatus(channel_, ""), 2);
  // The last event twice: its second copy is answered like the first.
  auto outage = Sample(5, "outage-b");
  auto with_repeat = outage;
  with_repeat.push_back(outage.back());
  auto during = Publish(with_repeat, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(during.failed(), 6u);
  // The broker's port is where it listens: no answer names it.
  const std::string port = kafka.brokers().substr(kafka.brokers().rfind(':'));
  for (const auto& r : during.results()) {
    EXPECT_EQ(r.outcome(), rebound::v1::OUTCOME_FAILED);
    EXPECT_EQ(r.code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE))
        << r.error();
    EXPECT_EQ(r.error().find(port), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find("127.0.0.1"), std::string::npos) << r.error();
  }
  EXPECT_EQ(during.results(5).error(), during.results(4).error());

  ASSERT_TRUE(kafka.Start(&out)) << out;
  EXPECT_TRUE(
      testing::WaitForHealth(channel_, "rebound.v1.Ingest", 1, seconds(60)))
      << "health did not return to SERVING";
  auto after = Publish(Sample(5, "outage-b"), &st);
  EXPECT_EQ(after.published(), 5u);
  server_.reset();
  auto records = tools::ReadTopic(kafka.brokers(), topic_, seconds(60));
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->size(), 10u);
}

// A record Kafka refuses for good (larger than the broker takes) fails with
// Kafka's reason, and only that: the delivery report's error text must not
// be read from the record's bytes.
TEST(PublisherIntegration, RefusedRecordFailsWithKafkasReason) {
  const std::string brokers = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
  const std::string topic = testing::UniqueTopic("it-refused");
  PublisherOptions o;
  o.brokers = brokers;
  // The client lets it through; the broker (1 MiB) does not.
  o.extra["message.max.bytes"] = "4000000";
  auto p = Publisher::Create(o);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(EnsureTopics((*p)->handle(), {{topic, 1, 1}}, seconds(30)).ok());
  for (int i = 0; i < 300 && !(*p)->available(); ++i)
    std::this_thread::sleep_for(milliseconds(100));
  ASSERT_TRUE((*p)->available());

  struct Outcome : Publisher::PendingRecord {
    explicit Outcome(std::promise<Delivery>* out) : out(out) {
      delete_after_delivery_ = false;
    }
    void Delivered(const Delivery& d) override { out->set_value(d); }
    std::promise<Delivery>* out;
  };
  std::promise<Delivery> delivered;
  Outcome record(&delivered);
  // Incompressible (lz4 would shrink repeated bytes under the limit), with
  // no zero byte that would end a C string early.
  std::string value(2'000'000, 'x');
  std::mt19937 rng(7);
  for (char& c : value) c = static_cast<char>(1 + rng() % 255);
  ASSERT_TRUE((*p)->Produce(topic, "k", value, Headers{},
                            absl::Now() + absl::Seconds(10), &record)
                  .ok());
  auto result = delivered.get_future();
  ASSERT_EQ(result.wait_for(seconds(60)), std::future_status::ready);
  const Delivery d = result.get();
  // Refused for good: sending the same record again fails the same way,
  // so it is not UNAVAILABLE (which clients retry).
  EXPECT_EQ(d.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.status.message(),
            "kafka did not confirm the write: Broker: Message size too large");
  EXPECT_TRUE(DeleteTopics((*p)->handle(), {topic}, seconds(30)).ok());
}

}  // namespace
}  // namespace rebound
