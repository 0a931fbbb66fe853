#include "services/ingest/kafka_record.h"

#include <map>

#include "gtest/gtest.h"

namespace rebound::ingest {
namespace {

using rebound::v1::ConnectionEvent;

TEST(RecordKey, TenantAndSender) {
  // Every event of a sender, whoever the recipient, gets one key: one
  // partition, one owner of the sender's state.
  ConnectionEvent e;
  e.set_tenant_id("acme");
  e.set_sender_id("m-1");
  e.set_recipient_id("m-2");
  EXPECT_EQ(RecordKey(e), "acme/m-1");
  e.set_recipient_id("m-3");
  EXPECT_EQ(RecordKey(e), "acme/m-1");
  e.clear_recipient_id();
  EXPECT_EQ(RecordKey(e), "acme/m-1");
}

TEST(CloudEventType, OnePerPayload) {
  struct Case {
    std::function<void(ConnectionEvent&)> set;
    std::string type;
  } cases[] = {
      {[](ConnectionEvent& e) { e.mutable_request_sent(); },
       "rebound.v1.RequestSent"},
      {[](ConnectionEvent& e) { e.mutable_request_accepted(); },
       "rebound.v1.RequestAccepted"},
      {[](ConnectionEvent& e) { e.mutable_request_declined(); },
       "rebound.v1.RequestDeclined"},
      {[](ConnectionEvent& e) { e.mutable_request_withdrawn(); },
       "rebound.v1.RequestWithdrawn"},
      {[](ConnectionEvent& e) { e.mutable_request_expired(); },
       "rebound.v1.RequestExpired"},
      {[](ConnectionEvent& e) { e.mutable_profile_viewed(); },
       "rebound.v1.ProfileViewed"},
      {[](ConnectionEvent& e) { e.mutable_profile_updated(); },
       "rebound.v1.ProfileUpdated"},
  };
  for (const auto& c : cases) {
    ConnectionEvent e;
    c.set(e);
    EXPECT_EQ(CloudEventType(e), c.type);
  }
}

TEST(CloudEventHeaders, BinaryModeAttributes) {
  ConnectionEvent e;
  e.set_event_id("evt-42");
  e.set_tenant_id("acme");
  e.set_sender_id("m-1");
  e.set_recipient_id("m-2");
  e.mutable_occurred_at()->set_seconds(1'790'000'000);
  e.mutable_occurred_at()->set_nanos(250'000'000);
  e.mutable_request_declined()->set_request_id("r");
  Headers h = CloudEventHeaders(e, "/rebound/ingest");
  std::map<std::string, std::string> m(h.begin(), h.end());
  EXPECT_EQ(m.size(), h.size()) << "a header appears twice";
  EXPECT_EQ(m["ce_specversion"], "1.0");
  EXPECT_EQ(m["ce_id"], "evt-42");
  EXPECT_EQ(m["ce_type"], "rebound.v1.RequestDeclined");
  EXPECT_EQ(m["ce_source"], "/rebound/ingest/acme");
  EXPECT_EQ(m["ce_time"], "2026-09-21T14:13:20.25Z");
  EXPECT_EQ(m["ce_subject"], "acme/m-1");
  EXPECT_EQ(m["content-type"], "application/protobuf");
}

// What ingest produces (headers by reference from the event read in place)
// is what the Headers form says for the event's fields, header for header,
// for every payload kind and for times absl formats itself; and ingest's
// Headers form of a view is the same.
TEST(CloudEventHeaderRefs, SameHeadersAsCloudEventHeaders) {
  const std::pair<int64_t, int32_t> times[] = {{1'790'000'000, 250'000'000},
                                               {1'790'000'000, 0},
                                               {951'782'400, 1},
                                               {-5, 0},
                                               {253'402'300'800, 0}};
  int kind = 0;
  for (const auto& [seconds, nanos] : times) {
    for (const std::string tenant : {"acme", "a-much-longer-tenant-name"}) {
      ConnectionEvent e;
      e.set_event_id("evt-" + std::to_string(kind));
      e.set_tenant_id(tenant);
      e.set_sender_id("m-1");
      e.set_recipient_id("m-2");
      e.mutable_occurred_at()->set_seconds(seconds);
      e.mutable_occurred_at()->set_nanos(nanos);
      switch (kind++ % 4) {
        case 0:
          e.mutable_request_sent()->set_note("hi");
          break;
        case 1:
          e.mutable_request_declined()->set_request_id("r");
          break;
        case 2:
          e.mutable_profile_updated();
          break;
        default:
          break;  // No payload.
      }
      const EventView view = ViewOf(e);
      const std::string key = RecordKey(view);
      // From the event's fields, independently of how ingest builds them.
      const Headers want = rebound::CloudEventHeaders(
          e.event_id(), CloudEventType(e), "/rebound/ingest/" + e.tenant_id(),
          absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos), key);
      const CloudEventHeaderRefs got(view, key, "/rebound/ingest");
      ASSERT_EQ(got.refs().size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got.refs()[i].name, want[i].first) << i;
        EXPECT_EQ(got.refs()[i].value, want[i].second) << i;
      }
      EXPECT_EQ(CloudEventHeaders(view, key, "/rebound/ingest"), want);
    }
  }
}

}  // namespace
}  // namespace rebound::ingest
