#include "services/ingest/event_view.h"

#include <cstring>
#include <random>
#include <string>

#include "common/utf8.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tools/sim/event_generator.h"

namespace rebound::ingest {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::ProfileSnapshot;

std::string Dump(const EventView& v) { return FieldsOf(v); }

ProfileSnapshot Profile(int salt) {
  ProfileSnapshot p;
  p.set_has_photo(true);
  p.set_connection_count(500 + salt);
  p.set_follower_count(-7);  // Out of range, still read as sent.
  p.set_completeness(0.75);
  p.set_account_age_days(-3);
  p.set_headline("Staff engineer · Zürich");
  p.set_industry("Software");
  p.set_company("Acme");
  p.set_seniority(rebound::v1::SENIORITY_DIRECTOR);
  p.set_utc_offset_minutes(-300);
  p.set_spam_reports(2);
  return p;
}

// One event of each payload kind, every field set.
std::vector<ConnectionEvent> OneOfEachKind() {
  ConnectionEvent base;
  base.set_event_id("ev-1");
  base.set_tenant_id("acme");
  base.mutable_occurred_at()->set_seconds(1'700'000'000);
  base.mutable_occurred_at()->set_nanos(-5);
  base.set_sender_id("m-1");
  base.set_recipient_id("m-2");
  std::vector<ConnectionEvent> out;
  ConnectionEvent e = base;
  auto* sent = e.mutable_request_sent();
  sent->set_request_id("r-1");
  sent->set_note("Hi 👋, we met at the meetup");
  sent->set_channel(rebound::v1::CHANNEL_EVENT);
  *sent->mutable_sender_profile() = Profile(1);
  *sent->mutable_recipient_profile() = Profile(2);
  sent->set_mutual_connections(12);
  out.push_back(e);
  e = base;
  e.mutable_request_accepted()->set_request_id("r-2");
  out.push_back(e);
  e = base;
  e.mutable_request_declined()->set_request_id("r-3");
  e.mutable_request_declined()->set_kind(rebound::v1::DECLINE_KIND_IGNORED);
  out.push_back(e);
  e = base;
  e.mutable_request_withdrawn()->set_request_id("r-4");
  out.push_back(e);
  e = base;
  e.mutable_request_expired()->set_request_id("r-5");
  out.push_back(e);
  e = base;
  e.mutable_profile_viewed()->set_request_id("r-6");
  out.push_back(e);
  e = base;
  *e.mutable_profile_updated()->mutable_profile() = Profile(3);
  e.mutable_profile_updated()->add_changed_fields("headline");
  e.mutable_profile_updated()->add_changed_fields("company");
  out.push_back(e);
  e = base;  // No payload.
  out.push_back(e);
  out.push_back(ConnectionEvent());  // Nothing at all.
  return out;
}

std::vector<std::string> Corpus() {
  std::vector<std::string> out;
  for (const auto& e : OneOfEachKind()) out.push_back(e.SerializeAsString());
  rebound::sim::GeneratorOptions g;
  g.seed = 7;
  for (const auto& e : rebound::sim::EventGenerator(g).Next(3000)) {
    out.push_back(e.SerializeAsString());
  }
  return out;
}

TEST(ReadEventView, ReadsEveryEventAsProtobufParsesIt) {
  int kinds_seen = 0;
  for (const std::string& bytes : Corpus()) {
    ConnectionEvent parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    EventView view;
    ASSERT_TRUE(ReadEventView(bytes, &view)) << parsed.DebugString();
    EXPECT_EQ(Dump(view), Dump(ViewOf(parsed)));
    // Its strings were checked as they were read; a message's were not.
    EXPECT_TRUE(view.utf8_checked);
    EXPECT_FALSE(ViewOf(parsed).utf8_checked);
    kinds_seen |= 1 << view.payload_case % 31;
  }
  // The corpus holds every payload kind and none.
  EXPECT_EQ(kinds_seen, (1 << 0) | (0x7F << 10));
}

TEST(ReadEventView, SkipsUnknownFieldsAsProtobufKeepsThemAside) {
  ConnectionEvent e = OneOfEachKind()[0];
  // Unknown fields of every wire type, at the top and inside a profile.
  std::string unknown;
  unknown += '\xF8';  // Field 31, varint.
  unknown += '\x01';
  unknown += '\x05';
  unknown += std::string("\xF9\x01", 2) + std::string(8, 'x');  // Fixed64.
  unknown += std::string("\xFA\x01\x03", 3) + "abc";            // Delimited.
  unknown += std::string("\xFD\x01", 2) + std::string(4, 'y');  // Fixed32.
  e.mutable_request_sent()->mutable_sender_profile()->set_company("");
  std::string bytes = unknown + e.SerializeAsString() + unknown;
  ConnectionEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EventView view;
  ASSERT_TRUE(ReadEventView(bytes, &view));
  EXPECT_EQ(Dump(view), Dump(ViewOf(parsed)));
}

TEST(ReadEventView, LeavesWhatProtobufMergesReplacesOrRefusesToIt) {
  google::protobuf::LogSilencer quiet;
  const std::string sent = OneOfEachKind()[0].SerializeAsString();
  const std::string accepted = OneOfEachKind()[1].SerializeAsString();
  EventView view;
  // A message given twice: protobuf merges the two.
  EXPECT_FALSE(ReadEventView(sent + sent, &view));
  // Another payload kind after the first: protobuf keeps the last.
  ConnectionEvent declined;
  declined.mutable_request_declined()->set_kind(
      rebound::v1::DECLINE_KIND_DECLINED);
  EXPECT_FALSE(ReadEventView(sent + declined.SerializeAsString(), &view));
  // A scalar given twice: the last one wins in protobuf.
  EXPECT_FALSE(ReadEventView(accepted + std::string("\x12\x02xy", 4), &view));
  // Cut short anywhere.
  for (size_t n = 1; n < sent.size(); ++n) {
    ConnectionEvent parsed;
    if (!parsed.ParseFromString(sent.substr(0, n))) {
      EXPECT_FALSE(ReadEventView(sent.substr(0, n), &view)) << n;
    }
  }
  // Not UTF-8 in a string.
  EXPECT_FALSE(ReadEventView(std::string("\x0a\x02\xff\xfe", 4), &view));
  // Tags and lengths padded past what protobuf reads (five bytes): refused
  // by protobuf, so never taken here, even in an unknown field.
  const std::vector<std::string> padded = {
      std::string("\x0a\x83\x80\x80\x80\x80\x00"
                  "abc",
                  10),
      std::string("\x8a\x80\x80\x80\x80\x00\x03"
                  "abc",
                  10),
      sent + std::string("\x32\x83\x80\x80\x80\x80\x00"
                         "xxx",
                         10),
  };
  for (const std::string& bytes : padded) {
    ConnectionEvent parsed;
    EXPECT_FALSE(parsed.ParseFromString(bytes));
    EXPECT_FALSE(ReadEventView(bytes, &view));
  }
  // Padded within five bytes, protobuf reads them; the reader may leave
  // them to it, never disagree.
  for (const std::string& bytes : {std::string("\x0a\x83\x80\x80\x00"
                                               "abc",
                                               8),
                                   std::string("\x8a\x00\x03"
                                               "abc",
                                               6),
                                   sent + std::string("\x32\x83\x80\x80\x80\x00"
                                                      "xxx",
                                                      9)}) {
    ConnectionEvent parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    if (ReadEventView(bytes, &view)) {
      EXPECT_EQ(Dump(view), Dump(ViewOf(parsed)));
    }
  }
  // A group, and a known field with another wire type.
  EXPECT_FALSE(ReadEventView(std::string("\x0b\x0c", 2), &view));
  EXPECT_FALSE(ReadEventView(std::string("\x08\x01", 2), &view));
}

// Whatever bytes it accepts, protobuf accepts too and reads the same: random
// damage to real events never makes the reader disagree with protobuf.
TEST(ReadEventView, NeverDisagreesWithProtobufOnDamagedEvents) {
  google::protobuf::LogSilencer quiet;  // Protobuf logs each non-UTF-8 string.
  const std::vector<std::string> corpus = Corpus();
  std::mt19937_64 rng(99);
  int accepted = 0, left = 0;
  for (int i = 0; i < 60'000; ++i) {
    std::string bytes = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !bytes.empty(); ++k) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
          break;
        case 2:
          bytes.erase(at, 1 + rng() % 4);
          break;
        default:
          bytes.insert(at, 1, static_cast<char>(rng()));
          break;
      }
    }
    EventView view;
    if (!ReadEventView(bytes, &view)) {
      ++left;
      continue;
    }
    ++accepted;
    ConnectionEvent parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes)) << i;
    ASSERT_EQ(Dump(view), Dump(ViewOf(parsed))) << i;
  }
  // Both paths were exercised.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(left, 1000);
}

// The reader checks strings with IsValidUtf8 where protobuf uses its own
// check: they must agree on every input, or the reader would take a string
// protobuf refuses (or the other way round).
TEST(IsValidUtf8, AcceptsExactlyWhatProtobufAccepts) {
  auto protobuf = [](const std::string& s) {
    return google::protobuf::internal::IsStructurallyValidUTF8(
        s.data(), static_cast<int>(s.size()));
  };
  std::string s;
  // Every sequence of one to three bytes.
  for (uint32_t v = 0; v < (1u << 24); ++v) {
    for (size_t len = 1; len <= 3; ++len) {
      if (len < 3 && (v >> (8 * len)) != 0) continue;
      s.assign(len, '\0');
      for (size_t k = 0; k < len; ++k) s[k] = static_cast<char>(v >> (8 * k));
      ASSERT_EQ(IsValidUtf8(s), protobuf(s)) << v << " " << len;
    }
  }
  // Four-byte sequences: every lead and second byte, edge continuations.
  const int edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF};
  for (int a = 0xC0; a <= 0xFF; ++a)
    for (int b = 0; b <= 0xFF; ++b)
      for (int c : edges)
        for (int d : edges) {
          s = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
               static_cast<char>(d)};
          ASSERT_EQ(IsValidUtf8(s), protobuf(s)) << a << " " << b;
        }
  // Longer mixed strings, across the eight-byte ASCII steps.
  std::mt19937_64 rng(5);
  const std::string pieces[] = {"a",
                                "abcdefgh",
                                "\xc3\xa9",
                                "\xe2\x82\xac",
                                "\xf0\x9f\x91\x8b",
                                "\x80",
                                "\xed\xa0\x80",
                                "\xf4\x90\x80\x80",
                                "\xc0\xaf",
                                "\xff"};
  for (int i = 0; i < 200'000; ++i) {
    s.clear();
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) s += pieces[rng() % std::size(pieces)];
    ASSERT_EQ(IsValidUtf8(s), protobuf(s)) << i;
    // And the code points of each, sixteen bytes at a time or not.
    size_t starts = 0;
    for (char ch : s) starts += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    ASSERT_EQ(CountCodePoints(s), starts) << i;
  }
}

// The ASCII fast path reads short strings in overlapping words and long ones
// sixteen bytes at a time: one non-ASCII byte anywhere, at any length, must
// still be seen.
TEST(IsValidUtf8, OneNonAsciiByteAtAnyPlaceAndLength) {
  for (size_t n = 0; n <= 40; ++n) {
    const std::string ascii(n, 'a');
    EXPECT_TRUE(IsValidUtf8(ascii)) << n;
    EXPECT_EQ(CountCodePoints(ascii), n);
    for (size_t at = 0; at < n; ++at) {
      std::string bad = ascii;
      bad[at] = '\x80';  // A lone continuation byte.
      EXPECT_FALSE(IsValidUtf8(bad)) << n << " " << at;
      std::string two = ascii;
      two.replace(at, 1, "\xc3\xa9");  // é: valid, one code point.
      EXPECT_TRUE(IsValidUtf8(two)) << n << " " << at;
      EXPECT_EQ(CountCodePoints(two), n) << n << " " << at;
    }
  }
}

}  // namespace
}  // namespace rebound::ingest
