#include "services/scoring/classifier.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/json_config.h"
#include "nlohmann/json.hpp"
#include "services/scoring/signal_names.h"

namespace rebound::scoring {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineKind;
using rebound::v1::DeclineReason;
using rebound::v1::DeclineVerdict;
using rebound::v1::Signal;

namespace {

constexpr DeclineReason kSpammy = rebound::v1::DECLINE_REASON_SPAMMY_PROFILE;
constexpr DeclineReason kOffTarget =
    rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH;
constexpr DeclineReason kCompetitor =
    rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR;
constexpr DeclineReason kCredibility =
    rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD;

// The reasons a seen decline can have, in DESIGN.md's order, with their names
// in the config's "priors" object.
constexpr std::pair<DeclineReason, const char*> kDeclineReasons[] = {
    {kSpammy, "spammy_profile"},
    {kOffTarget, "off_target_approach"},
    {kCompetitor, "perceived_competitor"},
    {kCredibility, "credibility_guard"},
};

// Every name Classify() reads. The loader requires exactly these, so a
// misspelt or forgotten key fails at start, not as a silent 0 in production.
constexpr const char* kWeightNames[] = {
    "sender_no_photo",
    "sender_few_connections",
    "sender_low_completeness",
    "sender_young_account",
    "sender_spam_report",
    "sender_high_send_rate",
    "sender_low_acceptance",
    "sender_established",
    "note_pitch_phrase",
    "note_value_first_phrase",
    "note_personalised",
    "note_long",
    "note_none",
    "timing_outside_active_hours",
    "retry_too_soon",
    "pair_competitor_profile",
    "pair_same_industry",
    "pair_same_company",
    "recipient_many_followers",
    "seniority_gap",
    "recipient_selective",
    "viewed_spammy",
    "viewed_competitor",
    "viewed_credibility",
    "not_viewed_spammy",
    "not_viewed_competitor",
    "not_viewed_credibility",
    "kind_reported_spam",
    "kind_reported_unknown",
    "kind_ignored",
    "kind_declined",
    "expired_after_view",
};
constexpr const char* kThresholdNames[] = {
    "few_connections",          "low_completeness",
    "young_account_days",       "spam_reports_cap",
    "high_send_rate_7d",        "low_acceptance_rate",
    "min_sender_answered",      "established_connections",
    "pitch_phrases_cap",        "value_first_phrases_cap",
    "long_note_chars",          "accept_hours_min_samples",
    "accept_hour_min_share",    "default_active_start_hour",
    "default_active_end_hour",  "retry_min_days",
    "headline_min_word_length", "headline_overlap_min_words",
    "high_followers",           "seniority_gap",
    "selective_rate",           "min_recipient_received",
};

// Weights and thresholds a config may leave out (added after configs were
// written and fitted by tenants), with the value used then. A weight added
// later weighs nothing until a fit (or the shipped config) gives it weight,
// so an older config classifies as it did; so does unseen_ignore_days at 0
// (off). follower_gap_ratio only matters once its weight is given.
const std::map<std::string, double>& OptionalNumbers(
    const std::string& section) {
  static const auto* weights = new std::map<std::string, double>{
      // The note asks a question ("?" in any language): it solicits.
      {"note_question", 0},
      // The sender is more senior than the recipient: no credibility to
      // borrow (against credibility guard).
      {"sender_outranks", 0},
      // The recipient has follower_gap_ratio times the sender's followers.
      {"recipient_follower_gap", 0},
  };
  static const auto* thresholds = new std::map<std::string, double>{
      // An ignore this many days after the request, with no view of the
      // sender, is an inbox cleared unread (NOT_SEEN). 0: never, as
      // DESIGN.md has it (not seen = expired unseen).
      {"unseen_ignore_days", 0},
      {"follower_gap_ratio", 10},
  };
  static const auto* none = new std::map<std::string, double>;
  if (section == "weights") return *weights;
  if (section == "thresholds") return *thresholds;
  return *none;
}

absl::Status Invalid(const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", why));
}

// The values a config may give, so that no weight overflows the softmax and
// no threshold overflows the integer it is compared with or cast to:
// weights and priors are log-odds (the shipped ones are within +-3);
// shares and rates are fractions; hours are hours of a day; the rest are
// counts, days or lengths.
std::pair<double, double> RangeOf(const std::string& section,
                                  const std::string& key) {
  if (section != "thresholds") return {-100, 100};
  static const std::set<std::string> fractions = {
      "low_completeness", "low_acceptance_rate", "accept_hour_min_share",
      "selective_rate"};
  if (fractions.contains(key)) return {0, 1};
  if (key == "default_active_start_hour" || key == "default_active_end_hour") {
    return {0, 24};
  }
  return {0, 1e9};
}

absl::Status ReadNumbers(const nlohmann::json& root, const std::string& section,
                         const char* const* names, size_t n,
                         ClassifierConfig& out) {
  if (!root.contains(section)) return Invalid(section, "missing");
  const auto& obj = root.at(section);
  if (!obj.is_object()) return Invalid(section, "must be an object");
  std::set<std::string> known(names, names + n);
  for (const auto& [key, value] : OptionalNumbers(section)) {
    known.insert(key);
    out.values[absl::StrCat(section, ".", key)] = value;
  }
  for (const auto& [key, value] : obj.items()) {
    if (!known.contains(key)) {
      return Invalid(absl::StrCat(section, ".", key), "unknown name");
    }
    if (!value.is_number()) {
      return Invalid(absl::StrCat(section, ".", key), "must be a number");
    }
    const double v = value.get<double>();
    const auto [lo, hi] = RangeOf(section, key);
    // NaN fails both comparisons' negation: !(v >= lo).
    if (!(v >= lo && v <= hi)) {
      return Invalid(absl::StrCat(section, ".", key),
                     absl::StrCat("must be a number in [", lo, ", ", hi, "]"));
    }
    out.values[absl::StrCat(section, ".", key)] = v;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!obj.contains(names[i])) {
      return Invalid(absl::StrCat(section, ".", names[i]), "missing");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadPhrases(const nlohmann::json& phrases, const std::string& name,
                         std::vector<std::string>& out) {
  std::string key = absl::StrCat("phrases.", name);
  if (!phrases.contains(name)) return Invalid(key, "missing");
  const auto& list = phrases.at(name);
  if (!list.is_array()) return Invalid(key, "must be an array of strings");
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string() || list[i].get<std::string>().empty()) {
      return Invalid(absl::StrCat(key, "[", i, "]"),
                     "must be a non-empty string");
    }
    // Matching is case-insensitive; lowering once here keeps Classify cheap.
    out.push_back(absl::AsciiStrToLower(list[i].get<std::string>()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClassifierConfig> ParseJson(const nlohmann::json& root) {
  if (!root.is_object()) return Invalid("(root)", "must be a JSON object");
  ClassifierConfig c;
  if (!root.contains("version")) return Invalid("version", "missing");
  if (!root["version"].is_string() ||
      root["version"].get<std::string>().empty()) {
    return Invalid("version", "must be a non-empty string");
  }
  c.version = root["version"].get<std::string>();

  if (!root.contains("min_confidence")) {
    return Invalid("min_confidence", "missing");
  }
  if (!root["min_confidence"].is_number()) {
    return Invalid("min_confidence", "must be a number");
  }
  c.min_confidence = root["min_confidence"].get<double>();
  if (c.min_confidence < 0 || c.min_confidence > 1) {
    return Invalid("min_confidence", "must be between 0 and 1");
  }

  if (!root.contains("priors")) return Invalid("priors", "missing");
  const auto& priors = root["priors"];
  if (!priors.is_object()) return Invalid("priors", "must be an object");
  for (const auto& [key, value] : priors.items()) {
    bool known =
        std::any_of(std::begin(kDeclineReasons), std::end(kDeclineReasons),
                    [&k = key](const auto& r) { return k == r.second; });
    if (!known) return Invalid(absl::StrCat("priors.", key), "unknown reason");
    if (!value.is_number()) {
      return Invalid(absl::StrCat("priors.", key), "must be a number");
    }
    const double v = value.get<double>();
    if (!(v >= -100 && v <= 100)) {
      return Invalid(absl::StrCat("priors.", key),
                     "must be a number in [-100, 100]");
    }
  }
  for (const auto& [reason, name] : kDeclineReasons) {
    if (!priors.contains(name)) {
      return Invalid(absl::StrCat("priors.", name), "missing");
    }
    c.priors[reason] = priors[name].get<double>();
  }

  if (auto s = ReadNumbers(root, "weights", kWeightNames,
                           std::size(kWeightNames), c);
      !s.ok()) {
    return s;
  }
  if (auto s = ReadNumbers(root, "thresholds", kThresholdNames,
                           std::size(kThresholdNames), c);
      !s.ok()) {
    return s;
  }

  if (root.contains("acceptance")) {
    const auto& a = root["acceptance"];
    if (!a.is_object()) return Invalid("acceptance", "must be an object");
    struct Number {
      const char* key;
      double* out;
      double lo, hi;
    };
    const Number numbers[] = {
        {"base_rate", &c.acceptance_base_rate, 0.01, 0.99},
        {"prior_strength", &c.acceptance_prior_strength, 0, 1e6},
        {"evidence_scale", &c.acceptance_evidence_scale, 0, 10},
    };
    for (const auto& [key, value] : a.items()) {
      const Number* n = nullptr;
      for (const auto& candidate : numbers) {
        if (key == candidate.key) n = &candidate;
      }
      if (n == nullptr) {
        return Invalid(absl::StrCat("acceptance.", key), "unknown name");
      }
      if (!value.is_number() || !(value.get<double>() >= n->lo) ||
          !(value.get<double>() <= n->hi)) {
        return Invalid(
            absl::StrCat("acceptance.", key),
            absl::StrCat("must be a number in [", n->lo, ", ", n->hi, "]"));
      }
      *n->out = value.get<double>();
    }
  }

  if (!root.contains("phrases")) return Invalid("phrases", "missing");
  const auto& phrases = root["phrases"];
  if (!phrases.is_object()) return Invalid("phrases", "must be an object");
  if (auto s = ReadPhrases(phrases, "pitch", c.pitch_phrases); !s.ok()) {
    return s;
  }
  if (auto s = ReadPhrases(phrases, "value_first", c.value_first_phrases);
      !s.ok()) {
    return s;
  }
  if (auto s = ReadPhrases(phrases, "personal", c.personal_phrases); !s.ok()) {
    return s;
  }
  return c;
}

// --- Evidence helpers -------------------------------------------------------

std::string Lower(const std::string& s) { return absl::AsciiStrToLower(s); }

// Distinct phrases of `phrases` (already lower case) found in `text_lower`.
std::vector<std::string> Matches(const std::string& text_lower,
                                 const std::vector<std::string>& phrases) {
  std::vector<std::string> found;
  for (const auto& p : phrases) {
    if (text_lower.find(p) != std::string::npos) found.push_back(p);
  }
  return found;
}

// Length in Unicode code points, as the note limit is defined.
int64_t CodePoints(const std::string& s) {
  int64_t n = 0;
  for (unsigned char ch : s) {
    if ((ch & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::set<std::string> HeadlineWords(const std::string& headline,
                                    size_t min_length) {
  std::set<std::string> words;
  std::string cur;
  auto flush = [&] {
    if (cur.size() >= min_length) words.insert(cur);
    cur.clear();
  };
  for (char ch : headline) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(ch))) {
      cur.push_back(absl::ascii_tolower(static_cast<unsigned char>(ch)));
    } else {
      flush();
    }
  }
  flush();
  return words;
}

// OWNER is not "more senior" than a CXO for this purpose: both are the top.
int SeniorityRank(rebound::v1::Seniority s) {
  return std::min(static_cast<int>(s),
                  static_cast<int>(rebound::v1::SENIORITY_CXO));
}

class Evidence {
 public:
  explicit Evidence(const ClassifierConfig& config) : config_(config) {
    for (const auto& [reason, name] : kDeclineReasons) {
      logits_[reason] = config.priors.at(reason);
    }
  }

  // Records a fired signal and moves `reason` by `weight`.
  void Add(const std::string& name, double value, DeclineReason reason,
           double weight, std::string detail) {
    Signal s;
    s.set_name(name);
    s.set_value(value);
    s.set_reason(reason);
    s.set_weight(weight);
    s.set_detail(std::move(detail));
    signals_.push_back(std::move(s));
    if (logits_.contains(reason)) logits_[reason] += weight;
  }
  double W(const std::string& name) const {
    return config_.Get(absl::StrCat("weights.", name));
  }
  double T(const std::string& name) const {
    return config_.Get(absl::StrCat("thresholds.", name));
  }
  const std::map<DeclineReason, double>& logits() const { return logits_; }
  std::vector<Signal>& signals() { return signals_; }

 private:
  const ClassifierConfig& config_;
  std::map<DeclineReason, double> logits_;
  std::vector<Signal> signals_;
};

void SenderEvidence(const DeclineContext& ctx, Evidence& ev) {
  if (ctx.request) {
    const auto& p = ctx.request->sender_profile();
    if (!p.has_photo()) {
      ev.Add("sender.no_photo", 1, kSpammy, ev.W("sender_no_photo"),
             "sender has no profile photo");
    }
    if (p.connection_count() < ev.T("few_connections")) {
      ev.Add("sender.few_connections", p.connection_count(), kSpammy,
             ev.W("sender_few_connections"),
             absl::StrFormat("sender has only %d connections",
                             p.connection_count()));
    }
    if (p.completeness() < ev.T("low_completeness")) {
      ev.Add("sender.low_completeness", p.completeness(), kSpammy,
             ev.W("sender_low_completeness"),
             absl::StrFormat("sender's profile is %.0f%% complete",
                             p.completeness() * 100));
    }
    if (p.account_age_days() < ev.T("young_account_days")) {
      ev.Add("sender.young_account", p.account_age_days(), kSpammy,
             ev.W("sender_young_account"),
             absl::StrFormat("sender's account is %d days old",
                             p.account_age_days()));
    }
    if (p.spam_reports() > 0) {
      double n = std::min<double>(p.spam_reports(), ev.T("spam_reports_cap"));
      ev.Add("sender.spam_reports", p.spam_reports(), kSpammy,
             n * ev.W("sender_spam_report"),
             absl::StrFormat("sender has %d spam reports", p.spam_reports()));
    }
    // A genuine-looking profile argues against the most common reason, so it
    // does not win by its prior alone.
    if (p.has_photo() &&
        p.connection_count() >= ev.T("established_connections") &&
        p.completeness() >= ev.T("low_completeness") && p.spam_reports() == 0) {
      ev.Add("sender.established", 1, kSpammy, ev.W("sender_established"),
             "sender has a photo, a network and a complete profile");
    }
  }
  if (ctx.sender_sent_last_7d >= ev.T("high_send_rate_7d")) {
    ev.Add("sender.high_send_rate", ctx.sender_sent_last_7d, kSpammy,
           ev.W("sender_high_send_rate"),
           absl::StrFormat("sender sent %d requests in the previous 7 days",
                           ctx.sender_sent_last_7d));
  }
  int64_t answered = ctx.sender_accepted + ctx.sender_declined;
  if (answered >= ev.T("min_sender_answered")) {
    // Laplace-smoothed, as SenderScores.acceptance_rate.
    double rate = (ctx.sender_accepted + 1.0) / (answered + 2.0);
    if (rate < ev.T("low_acceptance_rate")) {
      ev.Add("sender.low_acceptance", rate, kSpammy,
             ev.W("sender_low_acceptance"),
             absl::StrFormat("only %d of the sender's %d answered requests "
                             "were accepted",
                             ctx.sender_accepted, answered));
    }
  }
}

void NoteEvidence(const ClassifierConfig& config, const DeclineContext& ctx,
                  Evidence& ev) {
  if (!ctx.request) return;
  const std::string& note = ctx.request->note();
  if (note.empty()) {
    ev.Add("note.none", 1, kOffTarget, ev.W("note_none"),
           "no note: nothing was pitched");
    return;
  }
  std::string lower = Lower(note);
  auto pitch = Matches(lower, config.pitch_phrases);
  if (!pitch.empty()) {
    double n = std::min<double>(pitch.size(), ev.T("pitch_phrases_cap"));
    ev.Add("note.pitch_phrases", pitch.size(), kOffTarget,
           n * ev.W("note_pitch_phrase"),
           absl::StrCat("note asks before it gives: \"",
                        absl::StrJoin(pitch, "\", \""), "\""));
  }
  auto value = Matches(lower, config.value_first_phrases);
  if (!value.empty()) {
    double n = std::min<double>(value.size(), ev.T("value_first_phrases_cap"));
    ev.Add("note.value_first_phrases", value.size(), kOffTarget,
           n * ev.W("note_value_first_phrase"),
           absl::StrCat("note brings something first: \"",
                        absl::StrJoin(value, "\", \""), "\""));
  }
  auto personal = Matches(lower, config.personal_phrases);
  const std::string company = Lower(ctx.request->recipient_profile().company());
  bool names_company =
      !company.empty() && lower.find(company) != std::string::npos;
  if (!personal.empty() || names_company) {
    ev.Add("note.personalised", 1, kOffTarget, ev.W("note_personalised"),
           names_company ? "note mentions the recipient's company"
                         : absl::StrCat("note refers to shared context: \"",
                                        personal.front(), "\""));
  }
  // '?', and the fullwidth (CJK), Arabic and Spanish opening question marks.
  if (absl::StrContains(note, "?") || absl::StrContains(note, "\uFF1F") ||
      absl::StrContains(note, "\u061F") || absl::StrContains(note, "\u00BF")) {
    ev.Add("note.question", 1, kOffTarget, ev.W("note_question"),
           "note asks a question");
  }
  int64_t length = CodePoints(note);
  if (length > ev.T("long_note_chars")) {
    ev.Add("note.long", length, kOffTarget, ev.W("note_long"),
           absl::StrFormat("note is %d characters long", length));
  }
}

// Whether the request arrived at an hour the recipient does not act on,
// judged from their own acceptances once there are enough of them, else
// from default working hours (weekdays).
void TimingEvidence(const DeclineContext& ctx, Evidence& ev) {
  if (!ctx.request || !ctx.sent_at) return;
  int offset = ctx.request->recipient_profile().utc_offset_minutes();
  absl::CivilMinute local = absl::ToCivilMinute(
      *ctx.sent_at + absl::Minutes(offset), absl::UTCTimeZone());
  // Monday = 0, as recipient_accept_hours.
  int day = (static_cast<int>(absl::GetWeekday(absl::CivilDay(local))) + 7 -
             static_cast<int>(absl::Weekday::monday)) %
            7;
  int hour = local.hour();
  bool weekend = day >= 5;

  int64_t total = 0;
  for (int64_t n : ctx.recipient_accept_hours) total += n;
  bool outside;
  std::string basis;
  if (total >= ev.T("accept_hours_min_samples")) {
    // Accepts of the same kind of day (weekday/weekend) within an hour of the
    // send hour; single hour-of-week cells are too sparse to judge.
    int64_t near = 0;
    for (int d = 0; d < 7; ++d) {
      if ((d >= 5) != weekend) continue;
      for (int dh = -1; dh <= 1; ++dh) {
        near += ctx.recipient_accept_hours[d * 24 + (hour + dh + 24) % 24];
      }
    }
    double share = static_cast<double>(near) / static_cast<double>(total);
    outside = share < ev.T("accept_hour_min_share");
    basis = absl::StrFormat("%d of their %d acceptances", near, total);
  } else {
    outside = weekend || hour < ev.T("default_active_start_hour") ||
              hour >= ev.T("default_active_end_hour");
    basis = "default working hours";
  }
  if (outside) {
    static const char* const kDays[] = {"Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat", "Sun"};
    ev.Add("timing.outside_active_hours", hour, kOffTarget,
           ev.W("timing_outside_active_hours"),
           absl::StrFormat("sent %s %02d:%02d recipient's time, outside "
                           "their active hours (%s)",
                           kDays[day], hour, local.minute(), basis));
  }
}

void PairEvidence(const DeclineContext& ctx, Evidence& ev) {
  if (ctx.since_prior_request &&
      *ctx.since_prior_request < absl::Hours(24) * ev.T("retry_min_days")) {
    double days = absl::ToDoubleHours(*ctx.since_prior_request) / 24;
    ev.Add("pair.retry_too_soon", days, kOffTarget, ev.W("retry_too_soon"),
           absl::StrFormat("asked again %.1f days after the previous request",
                           days));
  }
  if (!ctx.request) return;
  const auto& s = ctx.request->sender_profile();
  const auto& r = ctx.request->recipient_profile();
  bool same_industry =
      !s.industry().empty() && Lower(s.industry()) == Lower(r.industry());
  bool same_company =
      !s.company().empty() && Lower(s.company()) == Lower(r.company());
  if (same_company) {
    ev.Add("pair.same_company", 1, kCompetitor, ev.W("pair_same_company"),
           "colleagues at the same company");
    return;
  }
  if (!same_industry) return;
  auto min_len = static_cast<size_t>(ev.T("headline_min_word_length"));
  auto sw = HeadlineWords(s.headline(), min_len);
  auto rw = HeadlineWords(r.headline(), min_len);
  std::vector<std::string> common;
  std::set_intersection(sw.begin(), sw.end(), rw.begin(), rw.end(),
                        std::back_inserter(common));
  if (static_cast<double>(common.size()) >=
      ev.T("headline_overlap_min_words")) {
    ev.Add("pair.competitor_profile", common.size(), kCompetitor,
           ev.W("pair_competitor_profile"),
           absl::StrCat("same industry (", s.industry(),
                        "), overlapping headlines (",
                        absl::StrJoin(common, ", "), "), different company"));
  } else {
    ev.Add("pair.same_industry", 1, kCompetitor, ev.W("pair_same_industry"),
           absl::StrCat("same industry (", s.industry(), ")"));
  }
}

void RecipientEvidence(const DeclineContext& ctx, Evidence& ev) {
  if (ctx.request) {
    const auto& s = ctx.request->sender_profile();
    const auto& r = ctx.request->recipient_profile();
    if (r.follower_count() >= ev.T("high_followers")) {
      ev.Add("recipient.many_followers", r.follower_count(), kCredibility,
             ev.W("recipient_many_followers"),
             absl::StrFormat("recipient has %d followers", r.follower_count()));
    }
    const double ratio = ev.T("follower_gap_ratio");
    // A sender without followers counts as one.
    const double gap =
        static_cast<double>(r.follower_count()) /
        static_cast<double>(std::max<int64_t>(1, s.follower_count()));
    if (ratio > 0 && r.follower_count() > 0 && gap >= ratio) {
      ev.Add("pair.follower_gap", gap, kCredibility,
             ev.W("recipient_follower_gap"),
             absl::StrFormat("recipient has %d followers, the sender %d",
                             r.follower_count(), s.follower_count()));
    }
    if (s.seniority() != rebound::v1::SENIORITY_UNSPECIFIED &&
        r.seniority() != rebound::v1::SENIORITY_UNSPECIFIED) {
      int gap = SeniorityRank(r.seniority()) - SeniorityRank(s.seniority());
      if (gap < 0) {
        ev.Add("pair.sender_outranks", -gap, kCredibility,
               ev.W("sender_outranks"),
               absl::StrCat("the sender (",
                            rebound::v1::Seniority_Name(s.seniority()),
                            ") is more senior than the recipient (",
                            rebound::v1::Seniority_Name(r.seniority()), ")"));
      }
      if (gap >= ev.T("seniority_gap")) {
        ev.Add("pair.seniority_gap", gap, kCredibility, ev.W("seniority_gap"),
               absl::StrCat("recipient (",
                            rebound::v1::Seniority_Name(r.seniority()),
                            ") is much more senior than the sender (",
                            rebound::v1::Seniority_Name(s.seniority()), ")"));
      }
    }
  }
  if (ctx.recipient_received >= ev.T("min_recipient_received")) {
    double selectivity =
        1.0 - (ctx.recipient_accepted + 1.0) / (ctx.recipient_received + 2.0);
    if (selectivity >= ev.T("selective_rate")) {
      ev.Add("recipient.selective", selectivity, kCredibility,
             ev.W("recipient_selective"),
             absl::StrFormat("recipient accepted %d of %d requests",
                             ctx.recipient_accepted, ctx.recipient_received));
    }
  }
}

// "They looked you up": a view before deciding points at reasons that come
// from looking at the sender; no view points away from them.
void ViewAndKindEvidence(const DeclineContext& ctx, Evidence& ev) {
  if (ctx.viewed) {
    ev.Add("recipient.viewed_profile", 1, kSpammy, ev.W("viewed_spammy"),
           "recipient viewed the sender's profile before deciding");
    ev.Add("recipient.viewed_profile", 1, kCompetitor,
           ev.W("viewed_competitor"),
           "recipient viewed the sender's profile before deciding");
    ev.Add("recipient.viewed_profile", 1, kCredibility,
           ev.W("viewed_credibility"),
           "recipient viewed the sender's profile before deciding");
  } else {
    ev.Add("recipient.no_view", 1, kSpammy, ev.W("not_viewed_spammy"),
           "recipient decided without viewing the sender's profile");
    ev.Add("recipient.no_view", 1, kCompetitor, ev.W("not_viewed_competitor"),
           "recipient decided without viewing the sender's profile");
    ev.Add("recipient.no_view", 1, kCredibility, ev.W("not_viewed_credibility"),
           "recipient decided without viewing the sender's profile");
  }
  if (ctx.event.has_request_expired()) {
    ev.Add("request.expired_after_view", 1, kCredibility,
           ev.W("expired_after_view"),
           "recipient viewed the sender and left the request pending");
    return;
  }
  switch (ctx.event.request_declined().kind()) {
    case rebound::v1::DECLINE_KIND_REPORTED_SPAM:
      ev.Add("decline.reported_spam", 1, kSpammy, ev.W("kind_reported_spam"),
             "recipient reported the request as spam");
      break;
    case rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN:
      ev.Add("decline.reported_unknown", 1, kSpammy,
             ev.W("kind_reported_unknown"),
             "recipient reported not knowing the sender");
      break;
    case rebound::v1::DECLINE_KIND_IGNORED:
      ev.Add("decline.ignored", 1, kCredibility, ev.W("kind_ignored"),
             "recipient ignored the request");
      break;
    case rebound::v1::DECLINE_KIND_DECLINED:
      ev.Add("decline.declined", 1, kCompetitor, ev.W("kind_declined"),
             "recipient explicitly declined");
      break;
    default:
      break;
  }
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(
      t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)))));
}

}  // namespace

double ClassifierConfig::Get(const std::string& name) const {
  auto it = values.find(name);
  // The loader guarantees every name Classify() reads; a hand-built config
  // missing one contributes nothing rather than crashing a consumer.
  return it == values.end() ? 0.0 : it->second;
}

absl::StatusOr<ClassifierConfig> ParseClassifierConfig(
    const std::string& json) {
  return ParseJsonConfig<ClassifierConfig>(json, ParseJson);
}

absl::StatusOr<ClassifierConfig> LoadClassifierConfig(const std::string& path) {
  return LoadJsonConfig<ClassifierConfig>("classifier config", path,
                                          ParseClassifierConfig);
}

void AttachDecisionContext(const DeclineContext& c,
                           rebound::v1::DeclineVerdict* verdict) {
  auto* out = verdict->mutable_context();
  bool any_hour = false;
  for (int64_t n : c.recipient_accept_hours) any_hour |= n != 0;
  if (any_hour) {
    out->mutable_recipient_accept_hour_of_week()->Add(
        c.recipient_accept_hours.begin(), c.recipient_accept_hours.end());
  }
  if (c.recipient_utc_offset_minutes) {
    out->set_recipient_utc_offset_minutes(*c.recipient_utc_offset_minutes);
  }
  if (c.sender_profile) *out->mutable_sender_profile() = *c.sender_profile;
}

std::string NoteStyle(const ClassifierConfig& config,
                      const rebound::v1::RequestSent& request) {
  if (request.note().empty()) return "none";
  const std::string lower = Lower(request.note());
  auto any = [&](const std::vector<std::string>& phrases) {
    return std::any_of(phrases.begin(), phrases.end(), [&](const auto& p) {
      return lower.find(p) != std::string::npos;
    });
  };
  if (any(config.pitch_phrases)) return "pitch";
  const std::string company = Lower(request.recipient_profile().company());
  if (any(config.personal_phrases) ||
      (!company.empty() && lower.find(company) != std::string::npos)) {
    return "personal";
  }
  if (any(config.value_first_phrases)) return "value_first";
  return "plain";
}

namespace {

// Why the recipient most likely never saw the request, if so: it expired
// and they never viewed the sender; or they ignored it long after it was
// sent (most answers come within a week), again without a look at the
// sender — a pile of invitations cleared unread.
std::optional<Signal> NotSeenSignal(const ClassifierConfig& config,
                                    const DeclineContext& ctx) {
  if (ctx.draft || ctx.viewed) return std::nullopt;
  const ConnectionEvent& e = ctx.event;
  Signal s;
  s.set_reason(rebound::v1::DECLINE_REASON_NOT_SEEN);
  if (e.has_request_expired()) {
    s.set_name("request.expired_unseen");
    s.set_value(1);
    s.set_detail("request expired and the recipient never viewed the sender");
    return s;
  }
  const double days = config.Get("thresholds.unseen_ignore_days");
  if (days <= 0 || !e.has_request_declined() ||
      e.request_declined().kind() != rebound::v1::DECLINE_KIND_IGNORED ||
      !ctx.sent_at || !e.has_occurred_at()) {
    return std::nullopt;
  }
  const double after =
      absl::ToDoubleHours(absl::FromUnixSeconds(e.occurred_at().seconds()) -
                          *ctx.sent_at) /
      24;
  if (after < days) return std::nullopt;
  s.set_name("request.ignored_unseen");
  s.set_value(after);
  s.set_detail(absl::StrFormat(
      "ignored %.0f days after it was sent, without a look at the sender: "
      "most likely cleared unread",
      after));
  return s;
}

}  // namespace

bool NotSeen(const ClassifierConfig& config, const DeclineContext& context) {
  return NotSeenSignal(config, context).has_value();
}

DeclineVerdict Classify(const ClassifierConfig& config,
                        const DeclineContext& ctx) {
  const ConnectionEvent& e = ctx.event;
  DeclineVerdict v;
  v.set_verdict_id(e.event_id());
  v.set_tenant_id(e.tenant_id());
  v.set_sender_id(e.sender_id());
  v.set_recipient_id(e.recipient_id());
  v.set_expired(e.has_request_expired());
  v.set_request_id(e.has_request_expired() ? e.request_expired().request_id()
                                           : e.request_declined().request_id());
  if (e.has_request_declined()) {
    v.set_decline_kind(e.request_declined().kind());
  }
  *v.mutable_decided_at() = e.occurred_at();
  if (ctx.request) *v.mutable_request() = *ctx.request;
  if (ctx.sent_at) SetTime(*ctx.sent_at, v.mutable_sent_at());
  v.set_viewed_before_decision(ctx.viewed);
  v.set_classifier_version(config.version);

  std::map<DeclineReason, double> probability;
  std::vector<Signal> signals;
  if (auto unseen = NotSeenSignal(config, ctx)) {
    signals.push_back(std::move(*unseen));
    probability[rebound::v1::DECLINE_REASON_NOT_SEEN] = 1.0;
    v.set_primary_reason(rebound::v1::DECLINE_REASON_NOT_SEEN);
    v.set_confidence(1.0);
  } else {
    Evidence ev(config);
    if (!ctx.request) {
      ev.Add("request.unknown", 1, rebound::v1::DECLINE_REASON_UNDETERMINED, 0,
             "the request was not seen before its outcome: judged on history "
             "only");
    }
    SenderEvidence(ctx, ev);
    NoteEvidence(config, ctx, ev);
    TimingEvidence(ctx, ev);
    PairEvidence(ctx, ev);
    RecipientEvidence(ctx, ev);
    if (!ctx.draft) ViewAndKindEvidence(ctx, ev);
    // Softmax, shifted by the largest logit so exp() cannot overflow.
    double top = -INFINITY;
    for (const auto& [r, l] : ev.logits()) top = std::max(top, l);
    double sum = 0;
    for (const auto& [r, l] : ev.logits()) sum += std::exp(l - top);
    DeclineReason best = kSpammy;
    double best_p = -1;
    for (const auto& [r, l] : ev.logits()) {
      double p = std::exp(l - top) / sum;
      probability[r] = p;
      // Ties go to the reason listed first (the more common one).
      if (p > best_p) {
        best = r;
        best_p = p;
      }
    }
    // A reason needs evidence of why: one that wins on its prior alone, or
    // on how the recipient answered (ignored, declined, left pending,
    // looked the sender up or not) with nothing about the sender, the note,
    // the timing or the pair weighing for it, is not named, whatever the
    // priors and weights a fit learnt. A report says why, so it counts.
    const bool evidenced = std::any_of(
        ev.signals().begin(), ev.signals().end(), [&](const Signal& s) {
          return s.reason() == best && s.weight() > 0 &&
                 !IsAnswerSignal(s.name());
        });
    v.set_primary_reason(best_p < config.min_confidence || !evidenced
                             ? rebound::v1::DECLINE_REASON_UNDETERMINED
                             : best);
    v.set_confidence(best_p);
    signals = std::move(ev.signals());
  }
  for (int r = rebound::v1::DECLINE_REASON_SPAMMY_PROFILE;
       r <= rebound::v1::DECLINE_REASON_UNDETERMINED; ++r) {
    auto* score = v.add_scores();
    score->set_reason(static_cast<DeclineReason>(r));
    auto it = probability.find(static_cast<DeclineReason>(r));
    score->set_probability(it == probability.end() ? 0.0 : it->second);
  }
  std::stable_sort(signals.begin(), signals.end(),
                   [](const Signal& a, const Signal& b) {
                     if (std::abs(a.weight()) != std::abs(b.weight())) {
                       return std::abs(a.weight()) > std::abs(b.weight());
                     }
                     return a.name() < b.name();
                   });
  for (auto& s : signals) *v.add_signals() = std::move(s);
  return v;
}

}  // namespace rebound::scoring
