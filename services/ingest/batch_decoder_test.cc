#include "services/ingest/batch_decoder.h"

#include <string>

#include "gtest/gtest.h"

namespace rebound::ingest {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::PublishRequest;

ConnectionEvent Sent(const std::string& id, const std::string& note) {
  ConnectionEvent e;
  e.set_event_id(id);
  e.set_tenant_id("acme");
  e.mutable_occurred_at()->set_seconds(1'790'000'000);
  e.set_sender_id("m-1");
  e.set_recipient_id("m-2");
  auto* s = e.mutable_request_sent();
  s->set_request_id("req-" + id);
  s->set_note(note);
  s->mutable_sender_profile()->set_headline("Pricing at Acme");
  s->mutable_recipient_profile()->set_company("Globex");
  return e;
}

// Replaces the first `from` in `bytes` by `to` (same length).
std::string Patch(std::string bytes, const std::string& from,
                  const std::string& to) {
  auto at = bytes.find(from);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(from.size(), to.size());
  bytes.replace(at, from.size(), to);
  return bytes;
}

TEST(DecodeBatch, KeepsEachEventsBytesAsReceived) {
  PublishRequest r;
  r.set_batch_id(42);
  *r.add_events() = Sent("e1", "Hello there");
  *r.add_events() = Sent("e2", "Ça va? 👋");
  const std::string wire = r.SerializeAsString();
  google::protobuf::Arena arena;
  auto b = DecodeBatch(wire, &arena);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->batch_id, 42u);
  ASSERT_EQ(b->events.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto& d = b->events[i];
    ASSERT_FALSE(d.error.has_value());
    EXPECT_EQ(d.event.event_id, r.events(i).event_id());
    EXPECT_EQ(d.event.payload.note, r.events(i).request_sent().note());
    EXPECT_EQ(std::string(d.encoded), r.events(i).SerializeAsString());
  }
}

TEST(DecodeBatch, UndecodableEventIsNamedAloneTheOthersDecode) {
  PublishRequest r;
  *r.add_events() = Sent("e1", "fine");
  *r.add_events() = Sent("e2", "BADNOTE");
  *r.add_events() = Sent("e3", "fine too");
  // A note that is not UTF-8: protobuf refuses the whole message, so the
  // event is decoded on its own and the field found by walking its bytes.
  std::string wire =
      Patch(r.SerializeAsString(), "BADNOTE", std::string("BA\xff\xfe\xfdTE"));
  google::protobuf::Arena arena;
  auto b = DecodeBatch(wire, &arena);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->events.size(), 3u);
  EXPECT_FALSE(b->events[0].error.has_value());
  EXPECT_FALSE(b->events[2].error.has_value());
  EXPECT_EQ(b->events[2].event.event_id, "e3");
  ASSERT_TRUE(b->events[1].error.has_value());
  EXPECT_EQ(b->events[1].error->field, "request_sent.note");
  EXPECT_EQ(b->events[1].error->reason, "is not valid UTF-8");
}

TEST(DiagnoseUndecodable, NamesNestedStringFields) {
  std::string wire = Sent("e1", "ok").SerializeAsString();
  auto e =
      DiagnoseUndecodable(Patch(wire, "Globex", std::string("Glo\xc0\x80x")));
  EXPECT_EQ(e.field, "request_sent.recipient_profile.company");
  EXPECT_EQ(e.reason, "is not valid UTF-8");
  e = DiagnoseUndecodable(Patch(wire, "acme", std::string("ac\xed\xa0")));
  EXPECT_EQ(e.field, "tenant_id");
}

TEST(DiagnoseUndecodable, NamesBrokenLengths) {
  ConnectionEvent ev = Sent("e1", "ok");
  std::string wire = ev.SerializeAsString();
  // Cut inside the request_sent payload: its length runs past the end.
  auto e = DiagnoseUndecodable(wire.substr(0, wire.size() - 3));
  EXPECT_EQ(e.field, "request_sent");
  EXPECT_NE(e.reason.find("length"), std::string::npos) << e.reason;
}

TEST(DecodeBatch, BrokenRequestFramingFailsTheBatch) {
  PublishRequest r;
  *r.add_events() = Sent("e1", "fine");
  std::string wire = r.SerializeAsString();
  google::protobuf::Arena arena;
  auto cut = DecodeBatch(wire.substr(0, wire.size() - 5), &arena);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(cut.status().message().find("events[0]"), std::string::npos)
      << cut.status();
  auto junk = DecodeBatch(std::string("\x07\x07\x07", 3), &arena);
  EXPECT_FALSE(junk.ok());
  // An event's length prefix padded to six bytes: protobuf refuses the
  // request, and so does ingest (ReadVarint32 alone would take it).
  const std::string event = Sent("e2", "fine").SerializeAsString();
  ASSERT_LT(event.size(), 128u);
  std::string padded = "\x12";
  padded += static_cast<char>(event.size() | 0x80);
  padded += std::string("\x80\x80\x80\x80\x00", 5);
  padded += event;
  PublishRequest back;
  EXPECT_FALSE(back.ParseFromString(padded));
  auto bad = DecodeBatch(padded, &arena);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("events[0]"), std::string::npos)
      << bad.status();
  // Padded within five bytes, both read it.
  std::string five = "\x12";
  five += static_cast<char>(event.size() | 0x80);
  five += std::string("\x80\x80\x00", 3);
  five += event;
  ASSERT_TRUE(back.ParseFromString(five));
  auto ok = DecodeBatch(five, &arena);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->events.size(), 1u);
}

TEST(DecodeBatch, TrailingZeroTagOrCutVarintFailsTheBatch) {
  PublishRequest r;
  *r.add_events() = Sent("e1", "fine");
  const std::string wire = r.SerializeAsString();
  google::protobuf::Arena arena;
  ASSERT_TRUE(DecodeBatch(wire, &arena).ok());
  EXPECT_FALSE(DecodeBatch(wire + std::string(1, '\0'), &arena).ok());
  EXPECT_FALSE(DecodeBatch(wire + std::string(1, '\x80'), &arena).ok());
  // Protobuf's own parser agrees.
  PublishRequest back;
  EXPECT_FALSE(back.ParseFromString(wire + std::string(1, '\x80')));
}

// Found by fuzz/batch_decoder_fuzz: tags protobuf's parser refuses and
// CodedInputStream::ReadTag lets by. Each case is checked against protobuf
// itself, then against the decoder.
TEST(DecodeBatch, RefusesTheFieldTagsProtobufRefuses) {
  PublishRequest r;
  *r.add_events() = Sent("e1", "fine");
  const std::string wire = r.SerializeAsString();
  google::protobuf::Arena arena;
  auto same_as_protobuf = [&](const std::string& bytes, bool want_ok) {
    PublishRequest back;
    ASSERT_EQ(back.ParseFromString(bytes), want_ok);
    auto got = DecodeBatch(bytes, &arena);
    EXPECT_EQ(got.ok(), want_ok) << got.status();
  };
  // An unknown field (number 99, fixed32) with its tag padded to ten bytes
  // (the fuzzer's case) or six; at five, both read it.
  same_as_protobuf(wire + std::string("\x9d\x86\x80\x80\x80\x80\x80\x80\x80"
                                      "\x00xxxx",
                                      14),
                   false);
  same_as_protobuf(wire + std::string("\x9d\x86\x80\x80\x80\x00xxxx", 10),
                   false);
  same_as_protobuf(wire + std::string("\x9d\x86\x80\x80\x00xxxx", 9), true);
  // Field number 0 with a real wire type.
  same_as_protobuf(wire + std::string("\x05xxxx", 5), false);
  // An unknown group (field 20) skipped whole; with a long tag inside, or
  // cut before its end, refused.
  same_as_protobuf(wire + std::string("\xa3\x01\x08\x01\xa4\x01", 6), true);
  same_as_protobuf(
      wire + std::string("\xa3\x01\x88\x80\x80\x80\x80\x00\x01\xa4\x01", 11),
      false);
  same_as_protobuf(wire + std::string("\xa3\x01\x08\x01", 4), false);
}

TEST(DecodeBatch, StopsAtTheEventLimit) {
  PublishRequest r;
  for (int i = 0; i < 5; ++i)
    *r.add_events() = Sent("e" + std::to_string(i), "x");
  google::protobuf::Arena arena;
  ASSERT_TRUE(DecodeBatch(r.SerializeAsString(), &arena, 5).ok());
  auto over = DecodeBatch(r.SerializeAsString(), &arena, 4);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(over.status().message().find("at most 4"), std::string::npos)
      << over.status();
}

}  // namespace
}  // namespace rebound::ingest
