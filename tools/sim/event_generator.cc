#include "tools/sim/event_generator.h"

#include "absl/strings/str_cat.h"

namespace rebound::sim {

using rebound::v1::ConnectionEvent;
using rebound::v1::ProfileSnapshot;

namespace {

const char* const kIndustries[] = {"software", "finance",   "healthcare",
                                   "retail",   "education", "manufacturing"};
const char* const kCompanies[] = {"Northwind", "Contoso",  "Initech",
                                  "Globex",    "Umbrella", "Hooli",
                                  "Vandelay",  "Stark",    "Wayne"};
const char* const kHeadlines[] = {
    "Product manager", "Sales director", "Software engineer", "Recruiter",
    "Founder & CEO",   "Data scientist", "Marketing lead"};
const char* const kNotes[] = {
    "",
    "",
    "Hi! I'd love to connect.",
    "Loved your post on onboarding metrics - the cohort chart was great.",
    "We met at the fintech meetup last week; happy to share the slides.",
    "I help companies like yours cut cloud costs by 40%. Do you have 15 "
    "minutes for a quick call this week?",
    "Quick question: are you the right person to talk to about buying our "
    "platform? Limited offer this month!",
    "Saw you're hiring data engineers - I wrote a guide on our interview "
    "loop that might help, no strings attached.",
};

}  // namespace

EventGenerator::EventGenerator(GeneratorOptions options)
    : options_(std::move(options)), rng_(options_.seed) {
  for (int t = 0; t < options_.tenants; ++t) {
    tenants_.push_back(absl::StrCat("tenant-", t + 1));
    std::vector<Member> members;
    for (int m = 0; m < options_.members_per_tenant; ++m) {
      members.push_back({absl::StrCat("member-", m + 1), RandomProfile()});
    }
    members_.push_back(std::move(members));
  }
}

ProfileSnapshot EventGenerator::RandomProfile() {
  std::uniform_real_distribution<double> u(0, 1);
  ProfileSnapshot p;
  bool spammy = u(rng_) < 0.15;
  p.set_has_photo(!spammy && u(rng_) < 0.9);
  p.set_connection_count(spammy ? static_cast<int64_t>(u(rng_) * 20)
                                : static_cast<int64_t>(50 + u(rng_) * 2000));
  p.set_follower_count(p.connection_count() +
                       static_cast<int64_t>(u(rng_) * u(rng_) * 50000));
  p.set_completeness(spammy ? 0.1 + 0.3 * u(rng_) : 0.5 + 0.5 * u(rng_));
  p.set_account_age_days(spammy ? static_cast<int>(u(rng_) * 30)
                                : static_cast<int>(100 + u(rng_) * 4000));
  p.set_headline(kHeadlines[rng_() % std::size(kHeadlines)]);
  p.set_industry(kIndustries[rng_() % std::size(kIndustries)]);
  p.set_company(kCompanies[rng_() % std::size(kCompanies)]);
  p.set_seniority(static_cast<rebound::v1::Seniority>(1 + rng_() % 7));
  static const int kOffsets[] = {-480, -300, 0, 60, 120, 330, 540};
  p.set_utc_offset_minutes(kOffsets[rng_() % std::size(kOffsets)]);
  p.set_spam_reports(spammy ? static_cast<int>(rng_() % 5) : 0);
  return p;
}

ConnectionEvent EventGenerator::Envelope(const std::string& tenant,
                                         const std::string& sender,
                                         const std::string& recipient,
                                         absl::Time at) {
  ConnectionEvent e;
  e.set_event_id(absl::StrCat(options_.run_id, "-", ++next_event_));
  e.set_tenant_id(tenant);
  e.set_sender_id(sender);
  e.set_recipient_id(recipient);
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
  return e;
}

void EventGenerator::EmitRequest(std::vector<ConnectionEvent>& out) {
  std::uniform_real_distribution<double> u(0, 1);
  size_t t = rng_() % tenants_.size();
  auto& members = members_[t];
  size_t s = rng_() % members.size();
  size_t r = rng_() % members.size();
  if (r == s) r = (r + 1) % members.size();
  const Member& sender = members[s];
  const Member& recipient = members[r];
  absl::Time at = options_.end - options_.span +
                  absl::Seconds(static_cast<int64_t>(
                      u(rng_) * absl::ToDoubleSeconds(options_.span * 0.9)));
  std::string request_id = absl::StrCat("req-", ++next_request_);

  ConnectionEvent sent = Envelope(tenants_[t], sender.id, recipient.id, at);
  auto* p = sent.mutable_request_sent();
  p->set_request_id(request_id);
  p->set_note(kNotes[rng_() % std::size(kNotes)]);
  p->set_channel(static_cast<rebound::v1::Channel>(1 + rng_() % 6));
  *p->mutable_sender_profile() = sender.profile;
  *p->mutable_recipient_profile() = recipient.profile;
  p->set_mutual_connections(static_cast<int>(rng_() % 40));
  out.push_back(std::move(sent));

  // Most acceptances arrive within a day; declines take longer.
  auto later = [&](double max_hours) {
    at += absl::Seconds(static_cast<int64_t>(60 + u(rng_) * max_hours * 3600));
    if (at > options_.end) at = options_.end;
    return at;
  };
  double roll = u(rng_);
  bool viewed = roll < 0.8 && u(rng_) < 0.7;
  if (viewed) {
    ConnectionEvent v =
        Envelope(tenants_[t], sender.id, recipient.id, later(6));
    v.mutable_profile_viewed()->set_request_id(request_id);
    out.push_back(std::move(v));
  }
  ConnectionEvent end = Envelope(tenants_[t], sender.id, recipient.id,
                                 later(roll < 0.45 ? 24 : 24 * 10));
  if (roll < 0.45) {
    end.mutable_request_accepted()->set_request_id(request_id);
  } else if (roll < 0.8) {
    auto* d = end.mutable_request_declined();
    d->set_request_id(request_id);
    double k = u(rng_);
    d->set_kind(k < 0.6    ? rebound::v1::DECLINE_KIND_IGNORED
                : k < 0.85 ? rebound::v1::DECLINE_KIND_DECLINED
                : k < 0.95 ? rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN
                           : rebound::v1::DECLINE_KIND_REPORTED_SPAM);
  } else if (roll < 0.9) {
    end.mutable_request_expired()->set_request_id(request_id);
  } else {
    end.mutable_request_withdrawn()->set_request_id(request_id);
  }
  out.push_back(std::move(end));

  if (u(rng_) < 0.05) {
    Member& m = members[s];
    m.profile.set_has_photo(true);
    m.profile.set_connection_count(m.profile.connection_count() + 100);
    m.profile.set_completeness(std::min(1.0, m.profile.completeness() + 0.3));
    ConnectionEvent up = Envelope(tenants_[t], m.id, "", later(48));
    auto* pu = up.mutable_profile_updated();
    *pu->mutable_profile() = m.profile;
    pu->add_changed_fields("has_photo");
    pu->add_changed_fields("connection_count");
    pu->add_changed_fields("completeness");
    out.push_back(std::move(up));
  }
}

std::vector<ConnectionEvent> EventGenerator::Next(int n) {
  std::vector<ConnectionEvent> out;
  out.reserve(n + 4);
  while (static_cast<int>(out.size()) < n) EmitRequest(out);
  out.resize(n);
  return out;
}

}  // namespace rebound::sim
