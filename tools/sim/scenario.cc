#include "tools/sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "nlohmann/json.hpp"

namespace rebound::sim {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineKind;
using rebound::v1::DeclineReason;
using rebound::v1::ProfileSnapshot;
using rebound::v1::Seniority;

namespace {

// Industries, each with specialties of several words: members of one
// specialty write near-identical headlines, which is what makes a competitor.
struct Industry {
  const char* name;
  const char* specialties[4];
};
const Industry kIndustries[] = {
    {"Software",
     {"Cloud Security Platforms", "Developer Tooling Products",
      "Data Infrastructure Engineering", "Mobile Payments Apps"}},
    {"Financial Services",
     {"Wealth Management Advisory", "Credit Risk Analytics",
      "Payments Compliance Programs", "Venture Debt Lending"}},
    {"Healthcare",
     {"Clinical Trials Operations", "Digital Health Products",
      "Medical Devices Regulatory", "Hospital Staffing Solutions"}},
    {"Retail",
     {"Ecommerce Growth Marketing", "Supply Chain Planning",
      "Store Operations Excellence", "Merchandising Analytics"}},
    {"Education",
     {"Online Learning Design", "Student Recruitment Campaigns",
      "Edtech Partnerships", "Curriculum Development"}},
    {"Manufacturing",
     {"Industrial Automation Systems", "Quality Engineering",
      "Procurement Strategy", "Factory Robotics Integration"}},
};
const char* const kCompanies[] = {
    "Northwind", "Contoso", "Initech",   "Globex",    "Umbrella", "Hooli",
    "Vandelay",  "Stark",   "Wayne",     "Acme",      "Soylent",  "Tyrell",
    "Cyberdyne", "Wonka",   "Gringotts", "Pied Piper"};
// Roles per seniority (index = Seniority value).
const char* const kRoles[8][4] = {
    {"Professional", "Professional", "Professional", "Professional"},
    {"Junior Analyst", "Sales Development Rep", "Associate Engineer",
     "Marketing Coordinator"},
    {"Senior Engineer", "Account Executive", "Product Designer",
     "Senior Consultant"},
    {"Engineering Manager", "Product Manager", "Sales Manager",
     "Marketing Manager"},
    {"Director of Sales", "Head of Product", "Director of Engineering",
     "Head of Marketing"},
    {"VP Sales", "VP Engineering", "VP Marketing", "VP Operations"},
    {"CEO", "CTO", "CFO", "COO"},
    {"Founder", "Co-founder", "Managing Partner", "Owner"},
};
const int kOffsets[] = {-480, -300, -240, 0, 60, 120, 330, 540, 600};

// Notes. {company} is the recipient's company, {topic} their specialty.
const char* const kPitchNotes[] = {
    "I help companies like {company} cut costs by 30%. Do you have 15 minutes "
    "for a quick call this week?",
    "Would you be open to a quick demo of our platform?",
    "We have a limited offer this month: 20% discount for new customers. "
    "Interested?",
    "Hi, our platform gets {topic} teams more qualified leads. Can I book a "
    "meeting to walk you through pricing?",
    "Looking to buy a better CRM? Happy to send you a free trial of our "
    "product.",
    "I help companies grow revenue fast. 15 minutes on Thursday?",
    "Quick call? We are offering a discount on our platform for {topic} "
    "teams, limited seats.",
};
const char* const kValueFirstNotes[] = {
    "Loved your post on {topic}. Thought you might like a guide I wrote on "
    "it, no strings attached.",
    "Congrats on the growth at {company}!",
    "Enjoyed your talk on {topic}; happy to share my notes.",
    "Happy to make an intro to a friend who works on {topic} if useful.",
    "Thought you might find this benchmark on {topic} useful - happy to "
    "share.",
};
const char* const kPersonalNotes[] = {
    "Hi, we met at the {topic} meetup last week - great chatting!",
    "We spoke briefly after the panel; would be glad to stay in touch.",
    "Fellow {topic} person here, we have a few mutual friends.",
};
const char* const kGenericNotes[] = {
    "Hi! I'd love to connect.",
    "Hello, I'd like to add you to my professional network.",
    "Let's connect.",
};

enum class Style { kNormal, kSalesy, kSpammy };
// Which table a note came from.
enum class NoteKind { kNone, kPitch, kValueFirst, kPersonal, kGeneric };

struct Member {
  std::string id;
  ProfileSnapshot profile;
  Style style = Style::kNormal;
  int industry = 0;
  int specialty = 0;
  // Local hours [active_start, active_end) on weekdays (and weekends when
  // `weekends`): when they deal with invitations.
  int active_start = 8;
  int active_end = 19;
  bool weekends = false;
  bool vip = false;
};

// A request with a truth record (declined, or expired with or without a
// view), as the retry study needs it.
struct SentRecord {
  int tenant = 0;
  size_t s = 0;
  size_t r = 0;
  std::string request_id;
  std::string note;
  NoteKind note_kind = NoteKind::kNone;
  rebound::v1::Channel channel = rebound::v1::CHANNEL_UNSPECIFIED;
  ProfileSnapshot sender_profile;
  int mutual_connections = 0;
  absl::Time sent_at;
  absl::Time answered_at;
  DeclineReason truth = rebound::v1::DECLINE_REASON_UNSPECIFIED;
  DeclineKind kind = rebound::v1::DECLINE_KIND_UNSPECIFIED;
};

struct Pending {
  ConnectionEvent event;
  absl::Time at;
  int64_t seq = 0;
  DeclineReason truth = rebound::v1::DECLINE_REASON_UNSPECIFIED;
};

constexpr DeclineReason kSpammy = rebound::v1::DECLINE_REASON_SPAMMY_PROFILE;
constexpr DeclineReason kOffTarget =
    rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH;
constexpr DeclineReason kCompetitor =
    rebound::v1::DECLINE_REASON_PERCEIVED_COMPETITOR;
constexpr DeclineReason kCredibility =
    rebound::v1::DECLINE_REASON_CREDIBILITY_GUARD;
constexpr DeclineReason kNotSeen = rebound::v1::DECLINE_REASON_NOT_SEEN;
constexpr DeclineReason kUndetermined =
    rebound::v1::DECLINE_REASON_UNDETERMINED;

class Generator {
 public:
  explicit Generator(const ScenarioOptions& o) : o_(o), rng_(o.seed) {}

  Scenario Run();
  // After Run(): the retry study on the history Run() generated.
  RetryStudy Retries(const std::vector<rebound::v1::RetrySuggestion>& advice,
                     const RetryStudyOptions& options);

 private:
  double U() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool P(double p) { return U() < p; }
  size_t Pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  template <typename T, size_t N>
  const T& PickOf(const T (&a)[N]) {
    return a[Pick(N)];
  }

  Member NewMember(int index);
  void Emit(ConnectionEvent e, absl::Time at,
            DeclineReason truth = rebound::v1::DECLINE_REASON_UNSPECIFIED);
  ConnectionEvent Envelope(int tenant, const Member& sender,
                           const std::string& recipient_id);

  // Member pickers over one tenant; `pred` filters, with a fallback to any
  // member so a small population never stalls.
  template <typename Pred>
  size_t PickMember(int tenant, Pred pred, size_t not_this = SIZE_MAX);
  size_t PickRecipient(int tenant, size_t sender, absl::Time at, bool want_vip);

  std::string Note(Style style, const Member& recipient, double pitch_boost);
  std::string Fill(const char* tmpl, const Member& recipient);
  absl::Time Local(absl::Time t, const Member& m, int hour, int minute);
  absl::Time GoodTime(absl::Time t, const Member& recipient);
  absl::Time BadTime(absl::Time t, const Member& recipient);
  absl::Time NextActive(absl::Time t, const Member& recipient);
  bool InWindow(absl::Time t, const Member& m);
  DeclineKind Kind(double ignored, double declined, double unknown);

  // One request in a pair and its outcome.
  void Request(int tenant, size_t s, size_t r, absl::Time at,
               const std::string& note, bool viewed, DeclineReason truth,
               int outcome, DeclineKind kind,
               NoteKind note_kind = NoteKind::kNone);
  // The first time at or after `after` when the recipient's clock shows the
  // local time `like` showed (a member's habit).
  absl::Time SameLocalTimeAfter(absl::Time after, absl::Time like,
                                const Member& recipient);
  void MaybeUpdateProfile(int tenant, size_t m, absl::Time at);

  const ScenarioOptions& o_;
  std::mt19937_64 rng_;
  std::vector<std::string> tenants_;
  std::vector<std::vector<Member>> members_;
  std::vector<Pending> pending_;
  // Pair -> time its last request closes: a product allows one pending
  // request per pair.
  std::map<std::tuple<int, size_t, size_t>, absl::Time> pair_busy_;
  int64_t seq_ = 0;
  int64_t next_request_ = 0;
  // Set by Note(): the kind of the note it returned.
  NoteKind last_note_kind_ = NoteKind::kNone;
  std::vector<SentRecord> records_;
};

enum Outcome { kAccept, kDecline, kExpire, kWithdraw };

Member Generator::NewMember(int index) {
  Member m;
  m.id = absl::StrFormat("m%04d", index + 1);
  double roll = U();
  m.style = roll < 0.10   ? Style::kSpammy
            : roll < 0.25 ? Style::kSalesy
                          : Style::kNormal;
  m.industry = static_cast<int>(Pick(std::size(kIndustries)));
  m.specialty = static_cast<int>(Pick(4));
  ProfileSnapshot& p = m.profile;
  double s = U();
  Seniority seniority = s < 0.20   ? rebound::v1::SENIORITY_ENTRY
                        : s < 0.48 ? rebound::v1::SENIORITY_SENIOR
                        : s < 0.70 ? rebound::v1::SENIORITY_MANAGER
                        : s < 0.83 ? rebound::v1::SENIORITY_DIRECTOR
                        : s < 0.90 ? rebound::v1::SENIORITY_VP
                        : s < 0.95 ? rebound::v1::SENIORITY_CXO
                                   : rebound::v1::SENIORITY_OWNER;
  if (m.style == Style::kSpammy) {
    seniority =
        P(0.5) ? rebound::v1::SENIORITY_OWNER : rebound::v1::SENIORITY_ENTRY;
    p.set_has_photo(P(0.15));
    p.set_connection_count(static_cast<int64_t>(U() * U() * 45));
    p.set_completeness(0.05 + 0.4 * U());
    p.set_account_age_days(static_cast<int>(1 + U() * U() * 150));
    p.set_spam_reports(P(0.45) ? 0 : static_cast<int>(1 + Pick(6)));
    p.set_follower_count(p.connection_count() + static_cast<int64_t>(U() * 20));
  } else {
    p.set_has_photo(P(0.93));
    p.set_connection_count(P(0.03) ? static_cast<int64_t>(U() * 30)
                                   : static_cast<int64_t>(40 + U() * 3000));
    p.set_completeness(P(0.05) ? 0.2 + 0.2 * U() : 0.45 + 0.55 * U());
    p.set_account_age_days(P(0.03) ? static_cast<int>(U() * 60)
                                   : static_cast<int>(60 + U() * 5000));
    p.set_spam_reports(P(0.02) ? 1 : 0);
    bool senior = seniority >= rebound::v1::SENIORITY_VP;
    m.vip = senior ? P(0.75) : P(0.03);
    p.set_follower_count(m.vip ? static_cast<int64_t>(5000 + U() * U() * 200000)
                               : p.connection_count() +
                                     static_cast<int64_t>(U() * U() * 4000));
  }
  p.set_seniority(seniority);
  p.set_industry(kIndustries[m.industry].name);
  p.set_company(PickOf(kCompanies));
  p.set_headline(
      absl::StrCat(kRoles[seniority][Pick(4)], " | ",
                   kIndustries[m.industry].specialties[m.specialty]));
  p.set_utc_offset_minutes(PickOf(kOffsets));
  double w = U();
  if (w < 0.1) {
    m.active_start = 6;
    m.active_end = 14;
  } else if (w < 0.2) {
    m.active_start = 17;
    m.active_end = 23;
    m.weekends = true;
  }
  return m;
}

ConnectionEvent Generator::Envelope(int tenant, const Member& sender,
                                    const std::string& recipient_id) {
  ConnectionEvent e;
  e.set_tenant_id(tenants_[tenant]);
  e.set_sender_id(sender.id);
  e.set_recipient_id(recipient_id);
  return e;
}

void Generator::Emit(ConnectionEvent e, absl::Time at, DeclineReason truth) {
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
  pending_.push_back({std::move(e), at, seq_++, truth});
}

template <typename Pred>
size_t Generator::PickMember(int tenant, Pred pred, size_t not_this) {
  const auto& ms = members_[tenant];
  for (int tries = 0; tries < 200; ++tries) {
    size_t i = Pick(ms.size());
    if (i != not_this && pred(ms[i])) return i;
  }
  size_t i = Pick(ms.size());
  return i == not_this ? (i + 1) % ms.size() : i;
}

size_t Generator::PickRecipient(int tenant, size_t sender, absl::Time at,
                                bool want_vip) {
  size_t r = sender;
  for (int tries = 0; tries < 20; ++tries) {
    r = PickMember(
        tenant, [&](const Member& m) { return !want_vip || m.vip; }, sender);
    auto it = pair_busy_.find({tenant, sender, r});
    if (it == pair_busy_.end() || it->second < at) break;
  }
  return r;
}

std::string Generator::Fill(const char* tmpl, const Member& recipient) {
  std::string topic =
      kIndustries[recipient.industry].specialties[recipient.specialty];
  return absl::StrReplaceAll(
      tmpl, {{"{company}", recipient.profile.company()}, {"{topic}", topic}});
}

std::string Generator::Note(Style style, const Member& recipient,
                            double pitch_boost) {
  auto pitch = [&] {
    last_note_kind_ = NoteKind::kPitch;
    return Fill(PickOf(kPitchNotes), recipient);
  };
  auto none = [&] {
    last_note_kind_ = NoteKind::kNone;
    return std::string();
  };
  auto generic = [&] {
    last_note_kind_ = NoteKind::kGeneric;
    return std::string(PickOf(kGenericNotes));
  };
  auto value = [&] {
    last_note_kind_ = NoteKind::kValueFirst;
    return Fill(PickOf(kValueFirstNotes), recipient);
  };
  if (P(pitch_boost)) return pitch();
  double r = U();
  switch (style) {
    case Style::kSpammy:
      if (r < 0.40) return pitch();
      if (r < 0.75) return none();
      return generic();
    case Style::kSalesy:
      if (r < 0.50) return pitch();
      if (r < 0.65) return none();
      if (r < 0.80) return generic();
      return value();
    case Style::kNormal:
      break;
  }
  if (r < 0.04) return pitch();
  if (r < 0.42) return none();
  if (r < 0.60) return generic();
  if (r < 0.82) return value();
  last_note_kind_ = NoteKind::kPersonal;
  return Fill(PickOf(kPersonalNotes), recipient);
}

// `t`'s day in the member's local time, at hour:minute local.
absl::Time Generator::Local(absl::Time t, const Member& m, int hour,
                            int minute) {
  absl::Duration offset = absl::Minutes(m.profile.utc_offset_minutes());
  absl::CivilDay day = absl::ToCivilDay(t + offset, absl::UTCTimeZone());
  return absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(),
                                           hour, minute),
                         absl::UTCTimeZone()) -
         offset;
}

bool Generator::InWindow(absl::Time t, const Member& m) {
  absl::CivilHour local = absl::ToCivilHour(
      t + absl::Minutes(m.profile.utc_offset_minutes()), absl::UTCTimeZone());
  auto wd = absl::GetWeekday(absl::CivilDay(local));
  bool weekend = wd == absl::Weekday::saturday || wd == absl::Weekday::sunday;
  if (weekend && !m.weekends) return false;
  return local.hour() >= m.active_start && local.hour() < m.active_end;
}

absl::Time Generator::NextActive(absl::Time t, const Member& m) {
  for (int h = 0; h < 24 * 8; ++h) {
    absl::Time c = t + absl::Hours(h);
    if (InWindow(c, m)) {
      return h == 0 ? c : c + absl::Minutes(static_cast<int>(Pick(50)));
    }
  }
  return t;
}

absl::Time Generator::GoodTime(absl::Time t, const Member& recipient) {
  absl::Time at =
      Local(t, recipient,
            recipient.active_start +
                static_cast<int>(Pick(static_cast<size_t>(
                    recipient.active_end - recipient.active_start))),
            static_cast<int>(Pick(60)));
  return InWindow(at, recipient) ? at : NextActive(at, recipient);
}

absl::Time Generator::BadTime(absl::Time t, const Member& recipient) {
  // Small hours: outside every member's window.
  return Local(t, recipient, 1 + static_cast<int>(Pick(4)),
               static_cast<int>(Pick(60)));
}

DeclineKind Generator::Kind(double ignored, double declined, double unknown) {
  double r = U();
  if (r < ignored) return rebound::v1::DECLINE_KIND_IGNORED;
  if (r < ignored + declined) return rebound::v1::DECLINE_KIND_DECLINED;
  if (r < ignored + declined + unknown) {
    return rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN;
  }
  return rebound::v1::DECLINE_KIND_REPORTED_SPAM;
}

void Generator::Request(int tenant, size_t s, size_t r, absl::Time at,
                        const std::string& note, bool viewed,
                        DeclineReason truth, int outcome, DeclineKind kind,
                        NoteKind note_kind) {
  Member& sender = members_[tenant][s];
  const Member& recipient = members_[tenant][r];
  std::string request_id = absl::StrCat("req-", ++next_request_);

  ConnectionEvent sent = Envelope(tenant, sender, recipient.id);
  auto* p = sent.mutable_request_sent();
  p->set_request_id(request_id);
  p->set_note(note);
  p->set_channel(static_cast<rebound::v1::Channel>(1 + Pick(6)));
  *p->mutable_sender_profile() = sender.profile;
  *p->mutable_recipient_profile() = recipient.profile;
  p->set_mutual_connections(
      sender.style == Style::kSpammy ? 0 : static_cast<int>(Pick(40)));
  SentRecord record;
  record.tenant = tenant;
  record.s = s;
  record.r = r;
  record.request_id = request_id;
  record.note = note;
  record.note_kind = note_kind;
  record.channel = p->channel();
  record.sender_profile = p->sender_profile();
  record.mutual_connections = static_cast<int>(p->mutual_connections());
  record.sent_at = at;
  record.truth = truth;
  record.kind =
      outcome == kDecline ? kind : rebound::v1::DECLINE_KIND_UNSPECIFIED;
  Emit(std::move(sent), at);

  // Most acceptances arrive within a day (~63%) or a week (~88%); people
  // act on invitations in their active hours.
  absl::Time decided;
  if (outcome == kExpire) {
    decided = at + o_.expire_after;
  } else if (outcome == kWithdraw) {
    decided = at + absl::Hours(48 + static_cast<int64_t>(U() * 18 * 24));
  } else {
    double d = U();
    absl::Duration delay =
        outcome == kAccept ? (d < 0.63   ? absl::Minutes(10 + U() * 22 * 60)
                              : d < 0.88 ? absl::Hours(24 + U() * 6 * 24)
                                         : absl::Hours(24 * 7 + U() * 21 * 24))
                           : absl::Hours(2 + U() * 10 * 24);
    decided = NextActive(at + delay, recipient);
  }
  if (decided <= at + absl::Minutes(2)) decided = at + absl::Minutes(2);
  if (viewed) {
    absl::Time v = at + absl::Minutes(1) +
                   absl::Seconds(static_cast<int64_t>(
                       U() * absl::ToDoubleSeconds(
                                 std::min(decided - at, absl::Hours(72)) -
                                 absl::Minutes(2))));
    ConnectionEvent view = Envelope(tenant, sender, recipient.id);
    // Some products do not know which request a view belongs to.
    view.mutable_profile_viewed()->set_request_id(P(0.9) ? request_id : "");
    Emit(std::move(view), v);
  }
  ConnectionEvent end = Envelope(tenant, sender, recipient.id);
  switch (outcome) {
    case kAccept:
      end.mutable_request_accepted()->set_request_id(request_id);
      break;
    case kDecline:
      end.mutable_request_declined()->set_request_id(request_id);
      end.mutable_request_declined()->set_kind(kind);
      if (kind == rebound::v1::DECLINE_KIND_REPORTED_SPAM) {
        // Later snapshots show the report.
        sender.profile.set_spam_reports(sender.profile.spam_reports() + 1);
      }
      break;
    case kExpire:
      end.mutable_request_expired()->set_request_id(request_id);
      break;
    default:
      end.mutable_request_withdrawn()->set_request_id(request_id);
      break;
  }
  Emit(std::move(end), decided, truth);
  pair_busy_[{tenant, s, r}] = decided;
  if (truth != rebound::v1::DECLINE_REASON_UNSPECIFIED) {
    record.answered_at = decided;
    records_.push_back(std::move(record));
  }
}

void Generator::MaybeUpdateProfile(int tenant, size_t i, absl::Time at) {
  Member& m = members_[tenant][i];
  if (m.style == Style::kSpammy ? !P(0.01) : !P(0.003)) return;
  ConnectionEvent up = Envelope(tenant, m, "");
  auto* pu = up.mutable_profile_updated();
  if (m.style == Style::kSpammy) {
    // Built value: no longer looks spammy.
    m.profile.set_has_photo(true);
    m.profile.set_connection_count(m.profile.connection_count() + 150);
    m.profile.set_completeness(std::min(1.0, m.profile.completeness() + 0.45));
    m.style = Style::kNormal;
    pu->add_changed_fields("has_photo");
    pu->add_changed_fields("completeness");
  } else {
    m.profile.set_follower_count(m.profile.follower_count() + 50);
  }
  m.profile.set_connection_count(m.profile.connection_count() + 20);
  pu->add_changed_fields("connection_count");
  *pu->mutable_profile() = m.profile;
  Emit(std::move(up), at - absl::Hours(1));
}

Scenario Generator::Run() {
  for (int t = 0; t < o_.tenants; ++t) {
    tenants_.push_back(absl::StrCat(o_.tenant_prefix, t + 1));
    std::vector<Member> ms;
    for (int i = 0; i < std::max(o_.members_per_tenant, 4); ++i) {
      ms.push_back(NewMember(i));
    }
    members_.push_back(std::move(ms));
  }
  std::vector<absl::Time> times;
  for (int i = 0; i < o_.requests; ++i) {
    times.push_back(o_.start + absl::Seconds(static_cast<int64_t>(
                                   U() * absl::ToDoubleSeconds(o_.send_span))));
  }
  // In time order, so profiles (photos added, spam reports) evolve forward.
  std::sort(times.begin(), times.end());

  auto normal = [](const Member& m) { return m.style != Style::kSpammy; };
  auto spammy = [](const Member& m) { return m.style == Style::kSpammy; };
  for (absl::Time at : times) {
    int tenant = static_cast<int>(Pick(tenants_.size()));
    double roll = U();
    int outcome =
        roll < o_.decline_share                     ? kDecline
        : roll < o_.decline_share + o_.expire_share ? kExpire
        : roll < o_.decline_share + o_.expire_share + o_.withdraw_share
            ? kWithdraw
            : kAccept;
    DeclineReason cause = rebound::v1::DECLINE_REASON_UNSPECIFIED;
    // Draws only when a variant asks, so the defaults' stream is unchanged.
    if (outcome == kDecline && o_.undetermined_share > 0 &&
        P(o_.undetermined_share)) {
      cause = kUndetermined;
    } else if (outcome == kDecline ||
               (outcome == kExpire && P(o_.silent_expiry_share))) {
      double c = U();
      cause = c < o_.spammy_share                         ? kSpammy
              : c < o_.spammy_share + o_.off_target_share ? kOffTarget
              : c < o_.spammy_share + o_.off_target_share + o_.competitor_share
                  ? kCompetitor
                  : kCredibility;
    } else if (outcome == kExpire) {
      cause = kNotSeen;
    }

    size_t s = 0, r = 0;
    std::string note;
    bool viewed = false;
    // Everyone sends at odd hours now and then.
    bool bad_time = P(o_.bad_time_rate);
    DeclineKind kind = rebound::v1::DECLINE_KIND_IGNORED;
    std::optional<absl::Duration> retry_after;
    const auto& ms = members_[tenant];
    switch (cause) {
      case kSpammy:
        s = P(1 - o_.noise) ? PickMember(tenant, spammy)
                            : PickMember(tenant, normal);
        r = PickRecipient(tenant, s, at, false);
        note = Note(ms[s].style, ms[r], 0);
        viewed = P(0.85);
        kind = Kind(0.40, 0.20, 0.22);
        break;
      case kOffTarget: {
        double v = U();
        bool pitch = v < 0.55 || P(0.2);
        bad_time = (v >= 0.55 && v < 0.8) || P(0.15);
        if (v >= 0.8) retry_after = absl::Hours(24 * 3 + U() * 24 * 15);
        s = pitch && P(0.5) ? PickMember(tenant,
                                         [](const Member& m) {
                                           return m.style == Style::kSalesy;
                                         })
                            : PickMember(tenant, normal);
        r = PickRecipient(tenant, s, at, false);
        note = Note(ms[s].style, ms[r], pitch ? 1 - o_.noise / 2 : 0);
        viewed = P(0.45);
        kind = Kind(0.60, 0.32, 0.03);
        break;
      }
      case kCompetitor: {
        r = PickMember(tenant, normal);
        const Member& rec = ms[r];
        bool hallmark = P(1 - o_.noise);
        s = PickMember(
            tenant,
            [&](const Member& m) {
              return m.style != Style::kSpammy && m.industry == rec.industry &&
                     m.profile.company() != rec.profile.company() &&
                     (!hallmark || m.specialty == rec.specialty);
            },
            r);
        note = Note(ms[s].style, ms[r], 0);
        viewed = P(0.9);
        kind = Kind(0.50, 0.48, 0.02);
        break;
      }
      case kCredibility: {
        r = PickMember(tenant, [](const Member& m) { return m.vip; });
        bool junior = P(1 - o_.noise);
        s = PickMember(
            tenant,
            [&](const Member& m) {
              return m.style != Style::kSpammy &&
                     (!junior ||
                      m.profile.seniority() <= rebound::v1::SENIORITY_SENIOR);
            },
            r);
        note = Note(ms[s].style, ms[r], 0);
        viewed = P(0.7);
        kind = Kind(0.80, 0.20, 0);
        break;
      }
      case kUndetermined:
        // Declined for nothing the stream shows.
        s = P(0.9) ? PickMember(tenant, normal) : PickMember(tenant, spammy);
        r = PickRecipient(tenant, s, at, false);
        note = Note(ms[s].style, ms[r], 0);
        viewed = P(0.6);
        kind = Kind(0.55, 0.42, 0.02);
        break;
      default: {
        // Accepted, withdrawn, expired unseen: ordinary traffic.
        s = P(outcome == kAccept ? 0.95 : 0.8) ? PickMember(tenant, normal)
                                               : PickMember(tenant, spammy);
        r = PickRecipient(tenant, s, at, false);
        // Senior influencers rarely take requests from juniors.
        if (outcome == kAccept && ms[r].vip &&
            ms[s].profile.seniority() <= rebound::v1::SENIORITY_SENIOR &&
            P(0.7)) {
          r = PickRecipient(tenant, s, at, false);
        }
        note = Note(ms[s].style, ms[r], 0);
        viewed = outcome == kAccept     ? P(0.6)
                 : outcome == kWithdraw ? P(0.3)
                                        : false;
        if (outcome == kAccept && P(0.02)) {
          retry_after = absl::Hours(24 * (40 + U() * 80));
        }
        break;
      }
    }
    if (outcome == kExpire && cause != kNotSeen) viewed = true;
    // Variants: people invite their own field; pitches where the approach
    // was not the problem.
    if (cause != kCompetitor && o_.homophily > 0 && P(o_.homophily)) {
      const bool vip = cause == kCredibility;
      const int industry = ms[s].industry;
      r = PickMember(
          tenant,
          [&](const Member& m) {
            return m.industry == industry && (!vip || m.vip);
          },
          s);
      // The note again, for this recipient, of the same kind when a pitch.
      note = Note(ms[s].style, ms[r],
                  last_note_kind_ == NoteKind::kPitch ? 1.0 : 0);
    }
    if (cause != kOffTarget && cause != kNotSeen &&
        cause != rebound::v1::DECLINE_REASON_UNSPECIFIED &&
        o_.stray_pitch > 0 && P(o_.stray_pitch)) {
      note = Note(ms[s].style, ms[r], 1.0);
    }
    NoteKind note_kind = last_note_kind_;
    absl::Time sent_at = bad_time ? BadTime(at, ms[r]) : GoodTime(at, ms[r]);
    MaybeUpdateProfile(tenant, s,
                       retry_after ? sent_at - *retry_after : sent_at);
    if (retry_after) {
      // An earlier request to the same person, withdrawn unanswered.
      absl::Time prior = sent_at - *retry_after;
      Request(tenant, s, r, prior, Note(ms[s].style, ms[r], 0), false,
              rebound::v1::DECLINE_REASON_UNSPECIFIED, kWithdraw,
              rebound::v1::DECLINE_KIND_UNSPECIFIED);
      // The withdrawal must come before the retry.
      Pending& w = pending_.back();
      absl::Time latest = sent_at - absl::Hours(1);
      if (w.at > latest) {
        w.at = std::max(prior + absl::Hours(1), latest - absl::Hours(12));
        w.event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(w.at));
      }
    }
    Request(tenant, s, r, sent_at, note, viewed, cause, outcome, kind,
            note_kind);
  }

  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Pending& a, const Pending& b) {
                     return a.at != b.at ? a.at < b.at : a.seq < b.seq;
                   });
  Scenario out;
  out.events.reserve(pending_.size());
  int64_t n = 0;
  for (auto& p : pending_) {
    p.event.set_event_id(absl::StrCat(o_.run_id, "-", ++n));
    if (p.truth != rebound::v1::DECLINE_REASON_UNSPECIFIED) {
      out.truth.push_back({p.event.tenant_id(), p.event.event_id(), p.truth});
    }
    out.events.push_back(std::move(p.event));
  }
  return out;
}

absl::Time Generator::SameLocalTimeAfter(absl::Time after, absl::Time like,
                                         const Member& recipient) {
  absl::CivilMinute local = absl::ToCivilMinute(
      like + absl::Minutes(recipient.profile.utc_offset_minutes()),
      absl::UTCTimeZone());
  absl::Time t = Local(after, recipient, local.hour(), local.minute());
  while (t < after) t += absl::Hours(24);
  return t;
}

RetryStudy Generator::Retries(
    const std::vector<rebound::v1::RetrySuggestion>& advice,
    const RetryStudyOptions& options) {
  pending_.clear();
  // The last version of each request's decline suggestion (stale-invite
  // suggestions are about withdrawing, not retrying).
  std::map<std::pair<std::string, std::string>,
           const rebound::v1::RetrySuggestion*>
      latest;
  for (const auto& a : advice) {
    if (a.request_id().empty() || a.suggestion_id().rfind("stale:", 0) == 0) {
      continue;
    }
    auto& slot = latest[{a.tenant_id(), a.request_id()}];
    if (slot == nullptr || a.version() > slot->version()) slot = &a;
  }
  std::normal_distribution<double> tolerance(0, options.world.tolerance_sigma);
  RetryStudy study;
  for (size_t index = 0; index < records_.size(); ++index) {
    const SentRecord& rec = records_[index];
    // Each pair's draws come from its own stream: one pair's arm does not
    // move another's.
    rng_.seed(options.seed * 1000003 + index);
    const Member& sender = members_[rec.tenant][rec.s];
    const Member& recipient = members_[rec.tenant][rec.r];
    RetryArmRecord arm;
    arm.tenant_id = tenants_[rec.tenant];
    arm.sender_id = sender.id;
    arm.recipient_id = recipient.id;
    arm.request_id = rec.request_id;
    arm.true_reason = rec.truth;
    arm.first_kind = rec.kind;
    arm.arm = static_cast<RetryArm>(Pick(4));
    auto found = latest.find({arm.tenant_id, rec.request_id});
    const rebound::v1::RetrySuggestion* sug =
        found == latest.end() ? nullptr : found->second;
    arm.advice_found = sug != nullptr;
    if (sug != nullptr) {
      arm.should_retry = sug->should_retry();
      arm.advised_reason = sug->reason();
    }
    double pair_tolerance = std::exp(tolerance(rng_));
    double roll = U();

    bool retry = false;
    ProfileSnapshot profile = rec.sender_profile;
    bool profile_changed = false;
    std::string note = rec.note;
    bool pitch = rec.note_kind == NoteKind::kPitch;
    bool value_or_personal = rec.note_kind == NoteKind::kValueFirst ||
                             rec.note_kind == NoteKind::kPersonal;
    bool engaged = false;
    bool intro = false;
    absl::Time send;
    absl::Time earliest = rec.answered_at + absl::Hours(1);
    switch (arm.arm) {
      case RetryArm::kFollow: {
        if (sug == nullptr || !sug->should_retry()) break;
        retry = true;
        bool drop_pitch = false, lead_value = false, personalise = false;
        for (const auto& act : sug->actions()) {
          switch (act.kind()) {
            case rebound::v1::ACTION_KIND_ADD_PHOTO:
              profile_changed |= !profile.has_photo();
              profile.set_has_photo(true);
              break;
            case rebound::v1::ACTION_KIND_GROW_CONNECTIONS:
              if (profile.connection_count() < act.target()) {
                profile.set_connection_count(act.target());
                profile_changed = true;
              }
              break;
            case rebound::v1::ACTION_KIND_COMPLETE_PROFILE:
              if (profile.completeness() < act.target() / 100.0) {
                profile.set_completeness(std::min(1.0, act.target() / 100.0));
                profile_changed = true;
              }
              break;
            case rebound::v1::ACTION_KIND_ENGAGE_FIRST:
              engaged = true;
              break;
            case rebound::v1::ACTION_KIND_MUTUAL_INTRO:
              intro = true;
              break;
            case rebound::v1::ACTION_KIND_DROP_PITCH:
              drop_pitch = true;
              break;
            case rebound::v1::ACTION_KIND_LEAD_WITH_VALUE:
              lead_value = true;
              break;
            case rebound::v1::ACTION_KIND_PERSONALISE:
              personalise = true;
              break;
            default:  // Timing comes from the suggestion's times.
              break;
          }
        }
        // The new note: what the advice asked for, then what of the old
        // note it did not ask to drop.
        std::vector<std::string> parts;
        if (lead_value)
          parts.push_back(Fill(PickOf(kValueFirstNotes), recipient));
        if (personalise)
          parts.push_back(Fill(PickOf(kPersonalNotes), recipient));
        if (rec.note_kind == NoteKind::kPitch) {
          if (!drop_pitch) parts.push_back(rec.note);
        } else if (!rec.note.empty() &&
                   (parts.empty() || rec.note_kind != NoteKind::kGeneric)) {
          parts.push_back(rec.note);
        }
        note = absl::StrJoin(parts, " ");
        pitch = rec.note_kind == NoteKind::kPitch && !drop_pitch;
        value_or_personal |= lead_value || personalise;
        // When: the suggested time, never before the cool-down.
        if (sug->has_retry_at()) {
          send = absl::FromUnixSeconds(sug->retry_at().seconds());
        } else if (sug->has_not_before()) {
          send = absl::FromUnixSeconds(sug->not_before().seconds());
        } else {
          send = rec.answered_at + absl::Hours(24);
        }
        if (sug->has_not_before()) {
          send = std::max(send,
                          absl::FromUnixSeconds(sug->not_before().seconds()));
        }
        send = std::max(send, earliest);
        break;
      }
      case RetryArm::kImmediate:
        retry = true;
        send = SameLocalTimeAfter(earliest, rec.sent_at, recipient);
        break;
      case RetryArm::kWait: {
        retry = true;
        absl::Time after = rec.answered_at + absl::Hours(24 * 21);
        if (sug != nullptr && sug->has_not_before()) {
          after = absl::FromUnixSeconds(sug->not_before().seconds());
        }
        send = SameLocalTimeAfter(std::max(after, earliest), rec.sent_at,
                                  recipient);
        break;
      }
      case RetryArm::kNever:
        break;
    }
    if (!retry) {
      study.arms.push_back(std::move(arm));
      continue;
    }

    RetryFeatures f;
    f.cause = rec.truth;
    f.first_kind = rec.kind;
    f.profile_weak_points = (profile.has_photo() ? 0 : 1) +
                            (profile.completeness() < 0.5 ? 1 : 0) +
                            (profile.connection_count() < 50 ? 1 : 0);
    f.pitch = pitch;
    f.value_or_personal = value_or_personal;
    f.at_active_hour = InWindow(send, recipient);
    f.engaged_first = engaged;
    f.mutual_intro = intro;
    f.rival = sender.industry == recipient.industry &&
              sender.specialty == recipient.specialty &&
              profile.company() != recipient.profile.company();
    f.junior_to_vip =
        recipient.vip && profile.seniority() <= rebound::v1::SENIORITY_SENIOR;
    f.days_since_answer = absl::ToDoubleHours(send - rec.answered_at) / 24;
    arm.p_accept =
        std::min(0.95, RetryAcceptance(f, options.world) * pair_tolerance);
    arm.accepted = roll < arm.p_accept;
    arm.obstacles = RetryObstacles(f);
    arm.retried = true;
    arm.retry_request_id = absl::StrCat("retry-", ++next_request_);

    if (profile_changed) {
      ConnectionEvent up = Envelope(rec.tenant, sender, "");
      auto* pu = up.mutable_profile_updated();
      *pu->mutable_profile() = profile;
      if (profile.has_photo() != rec.sender_profile.has_photo()) {
        pu->add_changed_fields("has_photo");
      }
      if (profile.connection_count() != rec.sender_profile.connection_count()) {
        pu->add_changed_fields("connection_count");
      }
      if (profile.completeness() != rec.sender_profile.completeness()) {
        pu->add_changed_fields("completeness");
      }
      Emit(std::move(up), rec.answered_at + (send - rec.answered_at) / 2);
    }
    ConnectionEvent sent = Envelope(rec.tenant, sender, recipient.id);
    auto* p = sent.mutable_request_sent();
    p->set_request_id(arm.retry_request_id);
    p->set_note(note);
    p->set_channel(rec.channel);
    *p->mutable_sender_profile() = profile;
    *p->mutable_recipient_profile() = recipient.profile;
    p->set_mutual_connections(rec.mutual_connections + (intro ? 1 : 0));
    Emit(std::move(sent), send);
    ConnectionEvent end = Envelope(rec.tenant, sender, recipient.id);
    absl::Time decided;
    if (arm.accepted) {
      end.mutable_request_accepted()->set_request_id(arm.retry_request_id);
      decided = NextActive(send + absl::Minutes(10 + U() * 22 * 60), recipient);
    } else {
      auto* d = end.mutable_request_declined();
      d->set_request_id(arm.retry_request_id);
      d->set_kind(P(0.6) ? rebound::v1::DECLINE_KIND_IGNORED
                         : rebound::v1::DECLINE_KIND_DECLINED);
      decided = NextActive(send + absl::Hours(2 + U() * 10 * 24), recipient);
    }
    Emit(std::move(end), std::max(decided, send + absl::Minutes(2)));
    study.arms.push_back(std::move(arm));
  }
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Pending& a, const Pending& b) {
                     return a.at != b.at ? a.at < b.at : a.seq < b.seq;
                   });
  int64_t n = 0;
  for (auto& p : pending_) {
    p.event.set_event_id(absl::StrCat(o_.run_id, "-r", ++n));
    study.events.push_back(std::move(p.event));
  }
  return study;
}

}  // namespace

bool ApplyVariant(const std::string& name, ScenarioOptions& o) {
  ScenarioOptions v = o;
  if (name == "baseline") {
    // The defaults.
  } else if (name == "homophilous") {
    // Members invite their own industry: shared fields everywhere.
    v.homophily = 0.5;
    v.undetermined_share = 0.06;
  } else if (name == "noisy") {
    // Hallmarks missing more often, stray pitches and odd hours, and
    // declines with no cause at all.
    v.noise = 0.25;
    v.stray_pitch = 0.15;
    v.bad_time_rate = 0.15;
    v.undetermined_share = 0.10;
  } else if (name == "guarded") {
    // A network of senior people: credibility guard is common.
    v.spammy_share = 0.25;
    v.off_target_share = 0.30;
    v.competitor_share = 0.15;
    v.homophily = 0.25;
    v.noise = 0.15;
    v.undetermined_share = 0.05;
  } else if (name == "salesy") {
    // A sales-heavy network: approaches and rivals dominate.
    v.spammy_share = 0.30;
    v.off_target_share = 0.40;
    v.competitor_share = 0.20;
    v.stray_pitch = 0.10;
    v.bad_time_rate = 0.12;
    v.undetermined_share = 0.04;
  } else {
    return false;
  }
  o = v;
  return true;
}

std::vector<std::string> VariantNames() {
  return {"baseline", "homophilous", "noisy", "guarded", "salesy"};
}

const char* RetryArmName(RetryArm arm) {
  switch (arm) {
    case RetryArm::kFollow:
      return "follow";
    case RetryArm::kImmediate:
      return "immediate";
    case RetryArm::kWait:
      return "wait";
    case RetryArm::kNever:
      break;
  }
  return "never";
}

double RetryAcceptance(const RetryFeatures& f, const RetryWorldParams& p) {
  if (f.first_kind == rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
      f.first_kind == rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN) {
    return std::clamp(p.reported, 0.0, 0.95);
  }
  auto cause = [&](DeclineReason r) { return f.cause == r; };
  double a = p.base;
  a *= std::pow(cause(kSpammy) ? p.profile_cause : p.profile_other,
                std::clamp(f.profile_weak_points, 0, 3));
  if (f.pitch) a *= cause(kOffTarget) ? p.pitch_cause : p.pitch_other;
  if (!f.at_active_hour) {
    a *= cause(kOffTarget) || cause(kNotSeen) ? p.off_hours_cause
                                              : p.off_hours_other;
  }
  double reassurance = (f.value_or_personal ? p.reassure_note : 1) *
                       (f.engaged_first ? p.reassure_engaged : 1) *
                       (f.mutual_intro ? p.reassure_intro : 1);
  if (f.rival) {
    a *= std::min(1.0, (cause(kCompetitor) ? p.rival_cause : p.rival_other) *
                           reassurance);
  }
  if (f.junior_to_vip) {
    a *= std::min(1.0, (cause(kCredibility) ? p.junior_cause : p.junior_other) *
                           reassurance);
  }
  // An unseen request is not remembered; an answered one is.
  if (!cause(kNotSeen)) {
    a *= f.days_since_answer < 3    ? p.pushy_3d
         : f.days_since_answer < 14 ? p.pushy_14d
         : f.days_since_answer < 21 ? p.pushy_21d
                                    : 1.0;
  }
  return std::clamp(a, 0.0, 0.95);
}

std::vector<std::string> RetryObstacles(const RetryFeatures& f) {
  std::vector<std::string> out;
  if (f.first_kind == rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
      f.first_kind == rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN) {
    out.push_back("reported");
  }
  if (f.profile_weak_points > 0) out.push_back("profile");
  if (f.pitch) out.push_back("pitch");
  if (!f.at_active_hour) out.push_back("off_hours");
  bool reassured = f.value_or_personal || f.engaged_first || f.mutual_intro;
  if (f.rival && !reassured) out.push_back("rival");
  if (f.junior_to_vip && !reassured) out.push_back("junior");
  if (f.cause != kNotSeen && f.days_since_answer < 14) {
    out.push_back("too_soon");
  }
  return out;
}

RetryStudy GenerateRetryStudy(
    const ScenarioOptions& history,
    const std::vector<rebound::v1::RetrySuggestion>& suggestions,
    const RetryStudyOptions& options) {
  Generator g(history);
  g.Run();
  return g.Retries(suggestions, options);
}

std::string RetryArmToJson(const RetryArmRecord& r) {
  nlohmann::json j = {
      {"tenant_id", r.tenant_id},
      {"sender_id", r.sender_id},
      {"recipient_id", r.recipient_id},
      {"request_id", r.request_id},
      {"retry_request_id", r.retry_request_id},
      {"arm", RetryArmName(r.arm)},
      {"true_reason", rebound::v1::DeclineReason_Name(r.true_reason)},
      {"first_kind", rebound::v1::DeclineKind_Name(r.first_kind)},
      {"advice_found", r.advice_found},
      {"should_retry", r.should_retry},
      {"advised_reason", rebound::v1::DeclineReason_Name(r.advised_reason)},
      {"retried", r.retried},
      {"accepted", r.accepted},
      {"p_accept", r.p_accept},
      {"obstacles", r.obstacles}};
  return j.dump();
}

Scenario GenerateScenario(const ScenarioOptions& options) {
  return Generator(options).Run();
}

std::string TruthToJson(const TruthRecord& truth) {
  nlohmann::json j = {
      {"tenant_id", truth.tenant_id},
      {"event_id", truth.event_id},
      {"true_reason", rebound::v1::DeclineReason_Name(truth.true_reason)}};
  return j.dump();
}

}  // namespace rebound::sim
