#include "tests/scoring_test_support.h"

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/redis_client.h"
#include "librdkafka/rdkafkacpp.h"
#include "state/event_fields.h"
#include "state/keys.h"
#include "tools/sim/event_generator.h"

namespace rebound::testing {

using rebound::v1::ConnectionEvent;

rebound::v1::ProfileSnapshot SpammyProfile() {
  rebound::v1::ProfileSnapshot p;
  p.set_has_photo(false);
  p.set_connection_count(3);
  p.set_follower_count(3);
  p.set_completeness(0.1);
  p.set_account_age_days(4);
  p.set_headline("Growth hacker");
  p.set_industry("marketing");
  p.set_company("Unknown");
  p.set_seniority(rebound::v1::SENIORITY_ENTRY);
  p.set_spam_reports(3);
  return p;
}

rebound::v1::ProfileSnapshot NormalProfile() {
  rebound::v1::ProfileSnapshot p;
  p.set_has_photo(true);
  p.set_connection_count(640);
  p.set_follower_count(900);
  p.set_completeness(0.9);
  p.set_account_age_days(2200);
  p.set_headline("Product manager");
  p.set_industry("software");
  p.set_company("Contoso");
  p.set_seniority(rebound::v1::SENIORITY_SENIOR);
  return p;
}

ConnectionEvent& Scenario::Add(const std::string& s, const std::string& r,
                               absl::Time at) {
  ConnectionEvent& e = events_.emplace_back();
  e.set_event_id(absl::StrCat("sc-", ++next_));
  e.set_tenant_id(tenant_);
  e.set_sender_id(s);
  e.set_recipient_id(r);
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
  return e;
}

void Scenario::Sent(const std::string& s, const std::string& r,
                    const std::string& req, absl::Time at,
                    const rebound::v1::ProfileSnapshot& sp,
                    const rebound::v1::ProfileSnapshot& rp,
                    const std::string& note) {
  auto* p = Add(s, r, at).mutable_request_sent();
  p->set_request_id(req);
  p->set_note(note);
  p->set_channel(rebound::v1::CHANNEL_SEARCH);
  *p->mutable_sender_profile() = sp;
  *p->mutable_recipient_profile() = rp;
}

void Scenario::Viewed(const std::string& s, const std::string& r,
                      const std::string& req, absl::Time at) {
  Add(s, r, at).mutable_profile_viewed()->set_request_id(req);
}

void Scenario::Declined(const std::string& s, const std::string& r,
                        const std::string& req, absl::Time at,
                        rebound::v1::DeclineKind kind) {
  auto* d = Add(s, r, at).mutable_request_declined();
  d->set_request_id(req);
  d->set_kind(kind);
}

void Scenario::Accepted(const std::string& s, const std::string& r,
                        const std::string& req, absl::Time at) {
  Add(s, r, at).mutable_request_accepted()->set_request_id(req);
}

void Scenario::Expired(const std::string& s, const std::string& r,
                       const std::string& req, absl::Time at) {
  Add(s, r, at).mutable_request_expired()->set_request_id(req);
}

std::vector<ConnectionEvent> SimulatedStream(const std::string& tenant, int n,
                                             uint64_t seed) {
  sim::GeneratorOptions g;
  g.seed = seed;
  g.run_id = absl::StrCat("sim", seed);
  g.members_per_tenant = 60;
  auto events = sim::EventGenerator(g).Next(n);
  for (auto& e : events) {
    std::string t = e.tenant_id();
    e.set_tenant_id(tenant);
    e.set_sender_id(t + "." + e.sender_id());
    if (!e.recipient_id().empty())
      e.set_recipient_id(t + "." + e.recipient_id());
  }
  return events;
}

std::map<std::string, MemberCounters> ExpectedCounters(
    const std::vector<ConnectionEvent>& events) {
  struct Req {
    std::string sender, recipient;
    bool sent = false;
    int outcome = 0;  // ConnectionEvent payload case of the first outcome.
    bool reported = false;
  };
  std::map<std::string, Req> requests;
  std::set<std::string> seen;
  for (const auto& e : events) {
    if (!seen.insert(e.event_id()).second) continue;
    // Requests' sends and outcomes only (a view changes no counter).
    if (e.has_profile_viewed()) continue;
    const std::string& id = state::RequestIdOf(e);
    if (id.empty()) continue;
    Req& r = requests[id];
    r.sender = e.sender_id();
    r.recipient = e.recipient_id();
    if (e.has_request_sent()) {
      r.sent = true;
    } else if (r.outcome == 0) {
      r.outcome = e.payload_case();
      r.reported = e.has_request_declined() &&
                   (e.request_declined().kind() ==
                        rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
                    e.request_declined().kind() ==
                        rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN);
    }
  }
  std::map<std::string, MemberCounters> out;
  for (const auto& [id, r] : requests) {
    MemberCounters& s = out[r.sender];
    MemberCounters& rc = out[r.recipient];
    if (r.sent) {
      ++s.sent;
      ++rc.received;
      if (r.outcome == 0) ++s.pending;
    }
    switch (r.outcome) {
      case ConnectionEvent::kRequestAccepted:
        ++s.accepted;
        ++rc.received_accepted;
        break;
      case ConnectionEvent::kRequestDeclined:
        ++s.declined;
        if (r.reported) ++s.reported;
        break;
      case ConnectionEvent::kRequestExpired:
        ++s.expired;
        break;
      case ConnectionEvent::kRequestWithdrawn:
        ++s.withdrawn;
        break;
      default:
        break;
    }
  }
  return out;
}

ScoresReader::ScoresReader(const std::string& redis_address)
    : address_(redis_address), store_([&] {
        scoring::ScoreStoreOptions o;
        o.redis.address = redis_address;
        return o;
      }()) {}

absl::StatusOr<rebound::v1::MemberScores> ScoresReader::Get(
    const std::string& tenant, const std::string& member) {
  return store_.GetMemberScores(tenant, member);
}

bool ScoresReader::WaitFor(
    const std::string& tenant, const std::string& member,
    std::function<bool(const rebound::v1::MemberScores&)> done,
    std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    auto m = Get(tenant, member);
    if (m.ok() && done(*m)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool ScoresReader::WaitForCounters(
    const std::string& tenant,
    const std::map<std::string, MemberCounters>& expected,
    std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    mismatch_.clear();
    for (const auto& [member, want] : expected) {
      auto m = Get(tenant, member);
      if (!m.ok()) {
        mismatch_ = member + ": " + std::string(m.status().message());
        break;
      }
      const auto& s = m->as_sender();
      const auto& r = m->as_recipient();
      MemberCounters got{s.sent(),      s.accepted(), s.declined(),
                         s.reported(),  s.pending(),  s.expired(),
                         s.withdrawn(), r.received(), r.accepted()};
      int64_t by_reason = 0;
      for (const auto& [reason, n] : s.declines_by_reason()) by_reason += n;
      if (!(got == want) || by_reason != want.declined + want.expired) {
        mismatch_ = absl::StrCat(
            member, ": sent ", got.sent, "/", want.sent, " accepted ",
            got.accepted, "/", want.accepted, " declined ", got.declined, "/",
            want.declined, " reported ", got.reported, "/", want.reported,
            " pending ", got.pending, "/", want.pending, " expired ",
            got.expired, "/", want.expired, " withdrawn ", got.withdrawn, "/",
            want.withdrawn, " received ", got.received, "/", want.received,
            " received_accepted ", got.received_accepted, "/",
            want.received_accepted, " by_reason ", by_reason);
        break;
      }
    }
    if (mismatch_.empty()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::map<std::string, std::string> ScoresReader::Snapshot(
    const std::string& tenant) {
  RedisOptions o;
  o.address = address_;
  RedisClient redis(o);
  std::map<std::string, std::string> out;
  std::string cursor = "0";
  do {
    auto page =
        redis.Command({"SCAN", cursor, "MATCH",
                       state::MemberKeysPattern(tenant), "COUNT", "1000"});
    if (!page.ok() || page->array.size() != 2) return out;
    cursor = page->array[0].str;
    for (const auto& k : page->array[1].array) {
      const std::string& key = k.str;
      auto type = redis.Command({"TYPE", key});
      if (!type.ok()) continue;
      std::string text;
      if (type->str == "hash") {
        auto h = redis.Command({"HGETALL", key});
        std::map<std::string, std::string> fields;
        for (size_t i = 0; i + 1 < h->array.size(); i += 2) {
          fields[h->array[i].str] = h->array[i + 1].str;
        }
        for (const auto& [f, v] : fields) text += f + "=" + v + "\n";
      } else if (type->str == "zset") {
        auto z = redis.Command({"ZRANGE", key, "0", "-1", "WITHSCORES"});
        for (const auto& v : z->array) text += v.str + "\n";
      } else if (type->str == "string") {
        text = redis.Command({"GET", key})->str;
      } else {
        text = "<" + type->str + ">";
      }
      out[key] = text;
    }
  } while (cursor != "0");
  return out;
}

bool ProduceRaw(const std::string& brokers, const std::string& topic,
                const std::string& key, const std::string& value) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", brokers, err);
  std::unique_ptr<RdKafka::Producer> p(
      RdKafka::Producer::create(conf.get(), err));
  if (!p) return false;
  auto rc = p->produce(topic, RdKafka::Topic::PARTITION_UA,
                       RdKafka::Producer::RK_MSG_COPY,
                       const_cast<char*>(value.data()), value.size(),
                       key.data(), key.size(), 0, nullptr);
  if (rc != RdKafka::ERR_NO_ERROR) return false;
  p->flush(10000);
  return p->outq_len() == 0;
}

}  // namespace rebound::testing
