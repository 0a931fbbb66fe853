#include "services/ingest/validator.h"

#include <functional>
#include <string>

#include "gtest/gtest.h"

namespace rebound::ingest {
namespace {

using rebound::v1::ConnectionEvent;

const absl::Time kNow = absl::FromUnixSeconds(1'790'000'000);

ConnectionEvent ValidSent() {
  ConnectionEvent e;
  e.set_event_id("evt-1");
  e.set_tenant_id("acme");
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  e.set_sender_id("m-1");
  e.set_recipient_id("m-2");
  auto* s = e.mutable_request_sent();
  s->set_request_id("req-1");
  s->set_note("Hi Ana, I enjoyed your talk on pricing.");
  s->set_channel(rebound::v1::CHANNEL_SEARCH);
  s->mutable_sender_profile()->set_completeness(0.8);
  s->mutable_sender_profile()->set_connection_count(250);
  s->mutable_recipient_profile()->set_completeness(1.0);
  s->mutable_recipient_profile()->set_utc_offset_minutes(-300);
  s->set_mutual_connections(3);
  return e;
}

struct Case {
  std::string name;
  std::function<void(ConnectionEvent&)> mutate;
  std::string field;       // Expected field; empty means valid.
  std::string reason_has;  // A fragment the reason must hold.
};

class ValidateTable : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateTable, NamesFieldAndReason) {
  const Case& c = GetParam();
  ConnectionEvent e = ValidSent();
  c.mutate(e);
  auto err = Validate(e, kNow);
  if (c.field.empty()) {
    EXPECT_FALSE(err.has_value()) << err->field << ": " << err->reason;
    return;
  }
  ASSERT_TRUE(err.has_value()) << "expected an error on " << c.field;
  EXPECT_EQ(err->field, c.field);
  EXPECT_NE(err->reason.find(c.reason_has), std::string::npos)
      << "reason: " << err->reason;
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Events, ValidateTable,
    ::testing::Values(
        Case{"valid", [](ConnectionEvent&) {}, "", ""},
        Case{"missing_event_id", [](ConnectionEvent& e) { e.clear_event_id(); },
             "event_id", "required"},
        Case{"event_id_bad_chars",
             [](ConnectionEvent& e) { e.set_event_id("a b"); }, "event_id",
             "letters, digits"},
        Case{"event_id_too_long",
             [](ConnectionEvent& e) { e.set_event_id(std::string(129, 'x')); },
             "event_id", "at most 128"},
        Case{"missing_tenant", [](ConnectionEvent& e) { e.clear_tenant_id(); },
             "tenant_id", "required"},
        Case{"tenant_uppercase",
             [](ConnectionEvent& e) { e.set_tenant_id("Acme"); }, "tenant_id",
             "lowercase"},
        Case{"tenant_leading_dash",
             [](ConnectionEvent& e) { e.set_tenant_id("-acme"); }, "tenant_id",
             "starting with"},
        Case{"tenant_too_short",
             [](ConnectionEvent& e) { e.set_tenant_id("a"); }, "tenant_id",
             "2..63"},
        Case{"missing_occurred_at",
             [](ConnectionEvent& e) { e.clear_occurred_at(); }, "occurred_at",
             "required"},
        Case{"far_future",
             [](ConnectionEvent& e) {
               e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow) +
                                                    3600);
             },
             "occurred_at", "in the future"},
        Case{"small_skew_ok",
             [](ConnectionEvent& e) {
               e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow) +
                                                    60);
             },
             "", ""},
        Case{
            "ancient",
            [](ConnectionEvent& e) { e.mutable_occurred_at()->set_seconds(5); },
            "occurred_at", "2000-01-01"},
        Case{"bad_nanos",
             [](ConnectionEvent& e) { e.mutable_occurred_at()->set_nanos(-1); },
             "occurred_at.nanos", "out of range"},
        Case{"missing_sender", [](ConnectionEvent& e) { e.clear_sender_id(); },
             "sender_id", "required"},
        Case{"sender_with_slash",
             [](ConnectionEvent& e) { e.set_sender_id("a/b"); }, "sender_id",
             "'/'"},
        // Ids are limited in characters (code points), as documented: 43
        // CJK characters are 129 bytes and valid; 129 characters are not.
        Case{"cjk_sender_43_chars",
             [](ConnectionEvent& e) { e.set_sender_id(Repeat("\u9ad8", 43)); },
             "", ""},
        Case{"cjk_sender_128_chars",
             [](ConnectionEvent& e) { e.set_sender_id(Repeat("\u9ad8", 128)); },
             "", ""},
        Case{"emoji_request_128_chars",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_request_id(
                   Repeat("\U0001F600", 128));
             },
             "", ""},
        Case{"sender_129_chars",
             [](ConnectionEvent& e) { e.set_sender_id(Repeat("\u00e9", 129)); },
             "sender_id", "129 characters, at most 128"},
        Case{"sender_only_spaces",
             [](ConnectionEvent& e) { e.set_sender_id("   "); }, "sender_id",
             "white space"},
        Case{"recipient_only_nbsp_and_ideographic_space",
             [](ConnectionEvent& e) { e.set_recipient_id("\u00a0\u3000"); },
             "recipient_id", "white space"},
        Case{"sender_inner_space_ok",
             [](ConnectionEvent& e) { e.set_sender_id("ana maria"); }, "", ""},
        Case{"sender_c1_control",
             [](ConnectionEvent& e) { e.set_sender_id("ana\u0085"); },
             "sender_id", "control"},
        Case{"sender_del",
             [](ConnectionEvent& e) { e.set_sender_id("ana\x7f"); },
             "sender_id", "control"},
        Case{"request_id_unit_separator",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_request_id("req\x1f" "1");
             },
             "request_sent.request_id", "control"},
        Case{"request_id_only_spaces",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_request_id(" ");
             },
             "request_sent.request_id", "white space"},
        Case{"missing_recipient",
             [](ConnectionEvent& e) { e.clear_recipient_id(); }, "recipient_id",
             "required"},
        Case{"self_request",
             [](ConnectionEvent& e) { e.set_recipient_id("m-1"); },
             "recipient_id", "differ"},
        Case{"missing_payload",
             [](ConnectionEvent& e) { e.clear_request_sent(); }, "payload",
             "required"},
        Case{"missing_request_id",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->clear_request_id();
             },
             "request_sent.request_id", "required"},
        Case{"note_300_ok",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_note(std::string(300, 'a'));
             },
             "", ""},
        Case{"note_301",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_note(std::string(301, 'a'));
             },
             "request_sent.note", "301 characters, at most 300"},
        Case{"note_300_multibyte_ok",
             [](ConnectionEvent& e) {
               // 300 code points, 600 bytes: the limit counts characters.
               e.mutable_request_sent()->set_note(Repeat("\xc3\xa9", 300));
             },
             "", ""},
        Case{"note_not_utf8",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_note("caf\xe9");
             },
             "request_sent.note", "UTF-8"},
        Case{"note_overlong_utf8",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_note("\xc0\xaf");
             },
             "request_sent.note", "UTF-8"},
        Case{"bad_channel",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_channel(
                   static_cast<rebound::v1::Channel>(99));
             },
             "request_sent.channel", "not a known"},
        Case{"missing_sender_profile",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->clear_sender_profile();
             },
             "request_sent.sender_profile", "required"},
        Case{"completeness_above_1",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()
                   ->mutable_sender_profile()
                   ->set_completeness(1.5);
             },
             "request_sent.sender_profile.completeness", "0..1"},
        Case{"negative_connections",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()
                   ->mutable_recipient_profile()
                   ->set_connection_count(-1);
             },
             "request_sent.recipient_profile.connection_count", "out of range"},
        Case{"utc_offset_out_of_range",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()
                   ->mutable_recipient_profile()
                   ->set_utc_offset_minutes(900);
             },
             "request_sent.recipient_profile.utc_offset_minutes", "-720..840"},
        Case{"negative_spam_reports",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()
                   ->mutable_sender_profile()
                   ->set_spam_reports(-3);
             },
             "request_sent.sender_profile.spam_reports", "out of range"},
        Case{"negative_mutuals",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->set_mutual_connections(-2);
             },
             "request_sent.mutual_connections", "out of range"},
        Case{"declined_without_kind",
             [](ConnectionEvent& e) {
               e.mutable_request_declined()->set_request_id("req-1");
             },
             "request_declined.kind", "required"},
        Case{"declined_ok",
             [](ConnectionEvent& e) {
               e.mutable_request_declined()->set_request_id("req-1");
               e.mutable_request_declined()->set_kind(
                   rebound::v1::DECLINE_KIND_IGNORED);
             },
             "", ""},
        Case{"accepted_without_request_id",
             [](ConnectionEvent& e) { e.mutable_request_accepted(); },
             "request_accepted.request_id", "required"},
        Case{"view_without_request_id_ok",
             [](ConnectionEvent& e) { e.mutable_profile_viewed(); }, "", ""},
        Case{"profile_update_needs_profile",
             [](ConnectionEvent& e) { e.mutable_profile_updated(); },
             "profile_updated.profile", "required"},
        Case{"profile_update_without_recipient_ok",
             [](ConnectionEvent& e) {
               e.clear_recipient_id();
               e.mutable_profile_updated()->mutable_profile()->set_has_photo(
                   true);
             },
             "", ""},
        Case{"event_too_large",
             [](ConnectionEvent& e) {
               e.mutable_request_sent()->mutable_sender_profile()->set_headline(
                   std::string(70'000, 'h'));
             },
             "event", "at most 65536"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Utf8, CountsCodePoints) {
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("\xc3\xa9t\xc3\xa9"), 3u);
  EXPECT_EQ(CountCodePoints("\xf0\x9f\x98\x80"), 1u);
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // A UTF-16 surrogate.
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x98"));  // Truncated.
}

TEST(Utf8, PrefixEndsBetweenCharacters) {
  EXPECT_EQ(Utf8Prefix("abc", 5), "abc");
  EXPECT_EQ(Utf8Prefix("abcdef", 3), "abc");
  // "é" is two bytes: a cut inside it backs off before it.
  EXPECT_EQ(Utf8Prefix("a\xc3\xa9z", 2), "a");
  EXPECT_EQ(Utf8Prefix("a\xc3\xa9z", 3), "a\xc3\xa9");
  EXPECT_EQ(Utf8Prefix("\xf0\x9f\x98\x80", 3), "");
}

TEST(FieldError, StatusNamesField) {
  FieldError e{"request_sent.note", "is not valid UTF-8"};
  absl::Status s = e.ToStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "request_sent.note: is not valid UTF-8");
}

}  // namespace
}  // namespace rebound::ingest
