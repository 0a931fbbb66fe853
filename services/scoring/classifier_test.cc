#include "services/scoring/classifier.h"

#include <cmath>
#include <fstream>
#include <regex>
#include <set>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::scoring {
namespace {

using rebound::v1::DeclineReason;
using ::testing::HasSubstr;

// The shipped config: the archetypes must hold for what production runs.
const ClassifierConfig& Config() {
  static const ClassifierConfig* config = [] {
    auto c = LoadClassifierConfig(REBOUND_SOURCE_DIR "/config/classifier.json");
    EXPECT_TRUE(c.ok()) << c.status();
    return new ClassifierConfig(c.ok() ? *c : ClassifierConfig{});
  }();
  return *config;
}

// Monday 2024-01-08 10:00 UTC; both members at UTC, so working hours.
const absl::Time kSent = absl::FromUnixSeconds(1704708000);

// An ordinary decline: genuine sender, no note, good timing, not viewed.
DeclineContext Base() {
  DeclineContext c;
  c.event.set_event_id("ev-9");
  c.event.set_tenant_id("acme");
  c.event.set_sender_id("s");
  c.event.set_recipient_id("r");
  c.event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kSent) + 3600);
  c.event.mutable_request_declined()->set_request_id("req-1");
  c.event.mutable_request_declined()->set_kind(
      rebound::v1::DECLINE_KIND_IGNORED);
  rebound::v1::RequestSent req;
  req.set_request_id("req-1");
  auto* s = req.mutable_sender_profile();
  s->set_has_photo(true);
  s->set_connection_count(500);
  s->set_follower_count(600);
  s->set_completeness(0.8);
  s->set_account_age_days(1000);
  s->set_headline("Account Executive | Store Operations");
  s->set_industry("Retail");
  s->set_company("Globex");
  s->set_seniority(rebound::v1::SENIORITY_MANAGER);
  auto* r = req.mutable_recipient_profile();
  *r = *s;
  r->set_headline("Data Engineer | Payments Platform");
  r->set_industry("Software");
  r->set_company("Initech");
  c.request = req;
  c.sent_at = kSent;
  c.sender_sent = 10;
  c.sender_accepted = 6;
  c.sender_declined = 3;
  c.recipient_received = 10;
  c.recipient_accepted = 6;
  return c;
}

struct Case {
  std::string name;
  std::function<void(DeclineContext&)> mutate;
  DeclineReason want;
  std::vector<std::string> want_signals;
};

class ArchetypeTest : public ::testing::TestWithParam<Case> {};

TEST_P(ArchetypeTest, ClassifiedWithEvidence) {
  DeclineContext c = Base();
  GetParam().mutate(c);
  auto v = Classify(Config(), c);
  EXPECT_EQ(v.primary_reason(), GetParam().want)
      << rebound::v1::DeclineReason_Name(v.primary_reason()) << " "
      << v.ShortDebugString();
  std::set<std::string> names;
  for (const auto& s : v.signals()) names.insert(s.name());
  for (const auto& want : GetParam().want_signals) {
    EXPECT_TRUE(names.contains(want)) << "missing signal " << want;
  }
  // Scores: all six reasons, summing to 1; confidence = best probability.
  ASSERT_EQ(v.scores_size(), 6);
  double sum = 0, best = 0;
  for (const auto& s : v.scores()) {
    EXPECT_GE(s.probability(), 0);
    sum += s.probability();
    best = std::max(best, s.probability());
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_NEAR(v.confidence(), best, 1e-9);
  for (int i = 1; i < v.signals_size(); ++i) {
    EXPECT_GE(std::abs(v.signals(i - 1).weight()),
              std::abs(v.signals(i).weight()));
  }
  EXPECT_EQ(v.verdict_id(), "ev-9");
  EXPECT_EQ(v.tenant_id(), "acme");
  EXPECT_EQ(v.request_id(), "req-1");
  EXPECT_EQ(v.classifier_version(), Config().version);
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, ArchetypeTest,
    ::testing::Values(
        Case{"spammy",
             [](DeclineContext& c) {
               auto* s = c.request->mutable_sender_profile();
               s->set_has_photo(false);
               s->set_connection_count(4);
               s->set_completeness(0.2);
               s->set_account_age_days(10);
               s->set_spam_reports(2);
               c.viewed = true;
               c.event.mutable_request_declined()->set_kind(
                   rebound::v1::DECLINE_KIND_REPORTED_SPAM);
             },
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             {"sender.no_photo", "sender.few_connections",
              "sender.low_completeness", "sender.young_account",
              "sender.spam_reports", "decline.reported_spam",
              "recipient.viewed_profile"}},
        Case{"spammy_history",
             [](DeclineContext& c) {
               c.request->mutable_sender_profile()->set_has_photo(false);
               c.sender_sent = 200;
               c.sender_accepted = 2;
               c.sender_declined = 60;
               c.sender_sent_last_7d = 120;
               c.viewed = true;
             },
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             {"sender.no_photo", "sender.low_acceptance",
              "sender.high_send_rate"}},
        Case{"off_target_pitch_at_night",
             [](DeclineContext& c) {
               c.request->set_note(
                   "I help companies like yours. Do you have 15 minutes for a "
                   "QUICK CALL about our platform?");
               c.sent_at = kSent - absl::Hours(7);  // 03:00 for the recipient
             },
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             {"note.pitch_phrases", "timing.outside_active_hours"}},
        Case{"off_target_retry",
             [](DeclineContext& c) {
               c.pair_prior_requests = 1;
               c.since_prior_request = absl::Hours(24 * 5);
               c.request->set_note(
                   "Hi again - would you be open to a demo this week? We have "
                   "a limited discount offer for teams like yours, really.");
             },
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             {"pair.retry_too_soon", "note.pitch_phrases", "note.long"}},
        Case{"competitor",
             [](DeclineContext& c) {
               auto* r = c.request->mutable_recipient_profile();
               r->set_industry("Retail");
               r->set_headline("Sales Director | Store Operations");
               r->set_company("Vandelay");
               c.viewed = true;
               c.event.mutable_request_declined()->set_kind(
                   rebound::v1::DECLINE_KIND_DECLINED);
             },
             rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR,
             {"pair.competitor_profile", "decline.declined"}},
        Case{"credibility_guard",
             [](DeclineContext& c) {
               auto* r = c.request->mutable_recipient_profile();
               r->set_seniority(rebound::v1::SENIORITY_CXO);
               r->set_follower_count(80000);
               c.request->mutable_sender_profile()->set_seniority(
                   rebound::v1::SENIORITY_ENTRY);
               c.recipient_received = 40;
               c.recipient_accepted = 3;
               c.viewed = true;
             },
             rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD,
             {"recipient.many_followers", "pair.seniority_gap",
              "recipient.selective", "decline.ignored"}},
        Case{"expired_unseen",
             [](DeclineContext& c) {
               c.event.mutable_request_expired()->set_request_id("req-1");
               c.request->mutable_sender_profile()->set_has_photo(false);
             },
             rebound::v1::DECLINE_REASON_NOT_SEEN,
             {"request.expired_unseen"}},
        // Not seen is an expiry unseen (DESIGN.md): an ignore long after,
        // unviewed, is a decline with the shipped config.
        Case{"ignored_long_after_unviewed_is_a_decline",
             [](DeclineContext& c) {
               c.event.mutable_occurred_at()->set_seconds(
                   absl::ToUnixSeconds(kSent + absl::Hours(24 * 200)));
               c.request->set_note("Quick call about our platform?");
             },
             rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH,
             {"note.pitch_phrases", "decline.ignored"}},
        Case{"expired_after_view_is_a_silent_decline",
             [](DeclineContext& c) {
               c.event.mutable_request_expired()->set_request_id("req-1");
               auto* s = c.request->mutable_sender_profile();
               s->set_has_photo(false);
               s->set_connection_count(3);
               s->set_completeness(0.1);
               c.viewed = true;
             },
             rebound::v1::DECLINE_REASON_SPAMMY_PROFILE,
             {"request.expired_after_view", "sender.no_photo"}},
        Case{"weak_evidence",
             [](DeclineContext&) {},
             rebound::v1::DECLINE_REASON_UNDETERMINED,
             {"sender.established", "note.none"}},
        Case{"decline_without_its_request",
             [](DeclineContext& c) {
               c.request.reset();
               c.sent_at.reset();
             },
             rebound::v1::DECLINE_REASON_UNDETERMINED,
             {"request.unknown"}}),
    [](const auto& info) { return info.param.name; });

// Priors say which reason is likelier before any evidence; they never name
// a reason by themselves, however lopsided a fit made them.
TEST(ClassifierTest, AReasonThatWinsOnItsPriorAloneIsUndetermined) {
  ClassifierConfig lopsided = Config();
  lopsided.priors[rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH] = 6;
  DeclineContext c = Base();  // Nothing weighs for off-target here.
  auto v = Classify(lopsided, c);
  EXPECT_GT(v.confidence(), 0.9);
  EXPECT_EQ(v.primary_reason(), rebound::v1::DECLINE_REASON_UNDETERMINED);
  // One signal for it, and it is named.
  c.request->set_note("Quick call about our platform?");
  v = Classify(lopsided, c);
  EXPECT_EQ(v.primary_reason(),
            rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
}

TEST(ClassifierTest, ExpiryFieldsAndCertainty) {
  DeclineContext c = Base();
  c.event.mutable_request_expired()->set_request_id("req-1");
  auto v = Classify(Config(), c);
  EXPECT_TRUE(v.expired());
  EXPECT_EQ(v.decline_kind(), rebound::v1::DECLINE_KIND_UNSPECIFIED);
  EXPECT_EQ(v.confidence(), 1.0);
  EXPECT_EQ(v.sent_at().seconds(), absl::ToUnixSeconds(kSent));
  EXPECT_EQ(v.request().request_id(), "req-1");
}

// An ignore long after the request with no look at the sender is an inbox
// cleared unread, for a tenant that turns the rule on; a view, an explicit
// decline, a prompt answer or the threshold at 0 (shipped) each make it a
// decline again.
TEST(ClassifierTest, AnIgnoreLongAfterWithNoViewIsNotSeenWhenTurnedOn) {
  auto late = [](DeclineContext c, double days) {
    c.event.mutable_occurred_at()->set_seconds(
        absl::ToUnixSeconds(kSent + absl::Hours(24 * days)));
    c.request->set_note("Quick call about our platform?");
    return c;
  };
  const double threshold = 30;
  ClassifierConfig on = Config();
  on.values["thresholds.unseen_ignore_days"] = threshold;
  auto v = Classify(on, late(Base(), threshold + 1));
  EXPECT_EQ(v.primary_reason(), rebound::v1::DECLINE_REASON_NOT_SEEN);
  EXPECT_EQ(v.confidence(), 1.0);
  ASSERT_EQ(v.signals_size(), 1);
  EXPECT_NEAR(v.signals(0).value(), threshold + 1, 1e-6);
  EXPECT_THAT(v.signals(0).detail(), HasSubstr("cleared unread"));

  const auto decline = rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH;
  EXPECT_EQ(Classify(on, late(Base(), threshold - 1)).primary_reason(),
            decline);
  DeclineContext viewed = late(Base(), threshold + 1);
  viewed.viewed = true;
  EXPECT_EQ(Classify(on, viewed).primary_reason(), decline);
  DeclineContext declined = late(Base(), threshold + 1);
  declined.event.mutable_request_declined()->set_kind(
      rebound::v1::DECLINE_KIND_DECLINED);
  EXPECT_EQ(Classify(on, declined).primary_reason(), decline);
  DeclineContext draft = late(Base(), threshold + 1);
  draft.draft = true;
  EXPECT_NE(Classify(on, draft).primary_reason(),
            rebound::v1::DECLINE_REASON_NOT_SEEN);
  EXPECT_TRUE(NotSeen(on, late(Base(), threshold + 1)));
  EXPECT_FALSE(NotSeen(on, viewed));

  ClassifierConfig off = on;
  off.values["thresholds.unseen_ignore_days"] = 0;
  EXPECT_EQ(Classify(off, late(Base(), 400)).primary_reason(), decline);
  EXPECT_EQ(Config().Get("thresholds.unseen_ignore_days"), 0);
  EXPECT_FALSE(NotSeen(Config(), late(Base(), 400)));
}

std::map<std::string, double> SignalValues(
    const rebound::v1::DeclineVerdict& v) {
  std::map<std::string, double> out;
  for (const auto& s : v.signals()) out[s.name()] = s.value();
  return out;
}

// Signals that hold in every world the classifier was measured on: a note
// that asks a question leans off-target; a sender who outranks the
// recipient has no credibility to borrow; a recipient with many times the
// sender's followers guards it.
TEST(ClassifierTest, QuestionRankAndFollowerGapSignals) {
  DeclineContext c = Base();
  auto fired = SignalValues(Classify(Config(), c));
  EXPECT_FALSE(fired.contains("note.question"));
  EXPECT_FALSE(fired.contains("pair.sender_outranks"));
  EXPECT_FALSE(fired.contains("pair.follower_gap"));

  c.request->set_note("¿Tienes un momento esta semana?");
  c.request->mutable_sender_profile()->set_seniority(
      rebound::v1::SENIORITY_DIRECTOR);
  c.request->mutable_recipient_profile()->set_seniority(
      rebound::v1::SENIORITY_ENTRY);
  auto v = Classify(Config(), c);
  fired = SignalValues(v);
  EXPECT_EQ(fired["note.question"], 1);
  EXPECT_GT(fired["pair.sender_outranks"], 0);
  for (const auto& s : v.signals()) {
    if (s.name() == "note.question") {
      EXPECT_EQ(s.reason(), rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
    }
    if (s.name() == "pair.sender_outranks") {
      EXPECT_EQ(s.reason(), rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD);
      EXPECT_LE(s.weight(), 0) << "outranking must not point at guard";
    }
  }

  const double ratio = Config().Get("thresholds.follower_gap_ratio");
  ASSERT_GT(ratio, 1);
  c = Base();
  c.request->mutable_sender_profile()->set_follower_count(0);
  c.request->mutable_recipient_profile()->set_follower_count(
      static_cast<int64_t>(ratio));
  fired = SignalValues(Classify(Config(), c));
  EXPECT_EQ(fired["pair.follower_gap"], ratio);  // 0 followers count as 1.
  c.request->mutable_recipient_profile()->set_follower_count(
      static_cast<int64_t>(ratio) - 1);
  EXPECT_FALSE(
      SignalValues(Classify(Config(), c)).contains("pair.follower_gap"));
  ClassifierConfig off = Config();
  off.values["thresholds.follower_gap_ratio"] = 0;
  c.request->mutable_recipient_profile()->set_follower_count(1'000'000);
  EXPECT_FALSE(SignalValues(Classify(off, c)).contains("pair.follower_gap"));
}

// "?" is a question in any script: fullwidth (CJK), Arabic, and Spanish's
// opening mark count as well as ASCII's; no question mark, no signal.
TEST(ClassifierTest, AQuestionIsAskedInAnyScript) {
  for (const char* note :
       {"Can we talk?",
        "\u304A\u8A71\u3057\u3067\u304D\u307E\u3059\u304B\uFF1F",
        "\u0647\u0644 \u064A\u0645\u0643\u0646\u0646\u0627 "
        "\u0627\u0644\u062D\u062F\u064A\u062B\u061F",
        "\u00BFHablamos"}) {
    DeclineContext c = Base();
    c.request->set_note(note);
    EXPECT_EQ(SignalValues(Classify(Config(), c))["note.question"], 1) << note;
  }
  DeclineContext c = Base();
  c.request->set_note("Loved your talk at the meetup. Let us stay in touch.");
  EXPECT_FALSE(SignalValues(Classify(Config(), c)).contains("note.question"));
}

// How the recipient answered (ignored, declined, looked at the profile) is
// not why: however much a fit made such a signal weigh for a reason, it
// does not name that reason alone. Evidence of why does.
TEST(ClassifierTest, HowTheRecipientAnsweredDoesNotNameAReasonAlone) {
  ClassifierConfig heavy = Config();
  heavy.values["weights.kind_ignored"] = 8;  // decline.ignored -> guard.
  DeclineContext c = Base();
  auto v = Classify(heavy, c);
  ASSERT_TRUE(SignalValues(v).contains("decline.ignored"));
  EXPECT_GT(v.confidence(), 0.9);
  EXPECT_EQ(v.primary_reason(), rebound::v1::DECLINE_REASON_UNDETERMINED);
  // A recipient far above the sender: evidence of why, and it is named.
  c.request->mutable_recipient_profile()->set_seniority(
      rebound::v1::SENIORITY_CXO);
  c.request->mutable_sender_profile()->set_seniority(
      rebound::v1::SENIORITY_ENTRY);
  v = Classify(heavy, c);
  ASSERT_TRUE(SignalValues(v).contains("pair.seniority_gap"));
  EXPECT_EQ(v.primary_reason(), rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD);
}

TEST(ClassifierTest, LearnedAcceptHoursOverrideWorkingHours) {
  // A night owl: every acceptance at 02:00 on weekdays. 02:30 is in hours,
  // 10:00 (a default working hour) is not.
  DeclineContext c = Base();
  for (int d = 0; d < 5; ++d) c.recipient_accept_hours[d * 24 + 2] = 4;
  c.sent_at = kSent - absl::Hours(8) + absl::Minutes(30);
  auto names = [](const rebound::v1::DeclineVerdict& v) {
    std::set<std::string> n;
    for (const auto& s : v.signals()) n.insert(s.name());
    return n;
  };
  EXPECT_FALSE(
      names(Classify(Config(), c)).contains("timing.outside_active_hours"));
  c.sent_at = kSent;
  EXPECT_TRUE(
      names(Classify(Config(), c)).contains("timing.outside_active_hours"));
}

std::string ShippedJson() {
  std::ifstream in(REBOUND_SOURCE_DIR "/config/classifier.json");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The shipped config's number for `key` (whatever a fit made it), as written.
std::string NumberOf(const std::string& json, const std::string& key) {
  std::smatch m;
  const std::regex re("\"" + key + "\": (-?[0-9.eE+-]+)");
  if (!std::regex_search(json, m, re)) return "<no " + key + ">";
  return m[0].str();
}

TEST(ClassifierConfigTest, ErrorsNameTheKey) {
  const std::string good = ShippedJson();
  ASSERT_TRUE(ParseClassifierConfig(good).ok());
  struct {
    std::string from, to, key;
  } cases[] = {
      {"\"note_long\"", "\"note_lnog\"", "weights.note_lnog"},
      {"\"few_connections\": 30", "\"few_connections\": \"30\"",
       "thresholds.few_connections"},
      {",\n    " + NumberOf(good, "credibility_guard"), "",
       "priors.credibility_guard"},
      {"\"min_confidence\": 0.4", "\"min_confidence\": 4", "min_confidence"},
      {"\"pitch\": [", "\"pitch\": 1, \"x\": [", "phrases.pitch"},
      {"\"version\"", "\"versoin\"", "version"},
  };
  for (const auto& c : cases) {
    std::string bad = absl::StrReplaceAll(good, {{c.from, c.to}});
    ASSERT_NE(bad, good) << c.from;
    auto r = ParseClassifierConfig(bad);
    ASSERT_FALSE(r.ok()) << c.key;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.key));
  }
  // A weight removed entirely is missing, not silently 0.
  std::string missing =
      absl::StrReplaceAll(good, {{NumberOf(good, "note_long") + ",", ""}});
  ASSERT_NE(missing, good);
  EXPECT_THAT(std::string(ParseClassifierConfig(missing).status().message()),
              HasSubstr("weights.note_long: missing"));
  EXPECT_FALSE(ParseClassifierConfig("{not json").ok());
}

// Found by fuzz/classifier_config_fuzz: a threshold of 7.8e36 was accepted
// and cast to an integer (undefined behaviour); weights of any size could
// overflow the softmax. Every number now has a range (nlohmann itself
// refuses what overflows a double, 1e999).
TEST(ClassifierConfigTest, NumbersOutOfRangeAreRefused) {
  const std::string good = ShippedJson();
  struct {
    std::string from, to, key;
  } cases[] = {
      {"\"headline_min_word_length\": 4",
       "\"headline_min_word_length\": 7.77778e+36",
       "thresholds.headline_min_word_length: must be a number in [0, 1e+09]"},
      {"\"few_connections\": 30", "\"few_connections\": -1",
       "thresholds.few_connections"},
      {"\"selective_rate\": 0.7", "\"selective_rate\": 1.5",
       "thresholds.selective_rate: must be a number in [0, 1]"},
      {NumberOf(good, "note_long"), "\"note_long\": 1e300",
       "weights.note_long: must be a number in [-100, 100]"},
      {NumberOf(good, "note_long"), "\"note_long\": 1e999", "number overflow"},
      {NumberOf(good, "spammy_profile"), "\"spammy_profile\": -1e300",
       "priors.spammy_profile: must be a number in [-100, 100]"},
  };
  for (const auto& c : cases) {
    std::string bad = absl::StrReplaceAll(good, {{c.from, c.to}});
    ASSERT_NE(bad, good) << c.from;
    auto r = ParseClassifierConfig(bad);
    ASSERT_FALSE(r.ok()) << c.key;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.key));
  }
}

// A threshold added after configs were fitted may be left out: it takes
// its default (unseen_ignore_days: 0, off, so an older config classifies as
// it did). It is checked like the others when given.
TEST(ClassifierConfigTest, AnOptionalThresholdTakesItsDefault) {
  const std::string good = ShippedJson();
  const std::string key = NumberOf(good, "unseen_ignore_days");
  ASSERT_NE(key, "<no unseen_ignore_days>");
  std::string without = absl::StrReplaceAll(good, {{",\n    " + key, ""}});
  ASSERT_NE(without, good);
  auto c = ParseClassifierConfig(without);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("thresholds.unseen_ignore_days"), 0);
  auto bad = ParseClassifierConfig(
      absl::StrReplaceAll(good, {{key, "\"unseen_ignore_days\": -2"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("thresholds.unseen_ignore_days"));
}

// Weights added after configs were fitted may be left out too: they weigh
// nothing then, so an older config classifies as it did.
TEST(ClassifierConfigTest, AnOptionalWeightWeighsNothingWhenLeftOut) {
  const std::string good = ShippedJson();
  std::string without = good;
  for (const char* name :
       {"note_question", "sender_outranks", "recipient_follower_gap"}) {
    const std::string entry = NumberOf(good, name);
    ASSERT_NE(entry, absl::StrCat("<no ", name, ">"));
    std::string next = absl::StrReplaceAll(without, {{entry + ",", ""}});
    if (next == without)
      next = absl::StrReplaceAll(without, {{",\n    " + entry, ""}});
    ASSERT_NE(next, without) << name;
    without = next;
  }
  auto c = ParseClassifierConfig(without);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("weights.note_question"), 0);
  EXPECT_EQ(c->Get("weights.sender_outranks"), 0);
  EXPECT_EQ(c->Get("weights.recipient_follower_gap"), 0);
}

TEST(ClassifierConfigTest, LoadErrorsNameTheFile) {
  auto r = LoadClassifierConfig("/nonexistent/classifier.json");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("/nonexistent/classifier.json"));
  std::string path = ::testing::TempDir() + "/bad_classifier.json";
  std::ofstream(path) << absl::StrReplaceAll(ShippedJson(),
                                             {{"\"guide\"", "7"}});
  r = LoadClassifierConfig(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("phrases.value_first["));
}

}  // namespace
}  // namespace rebound::scoring
