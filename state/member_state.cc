#include "state/member_state.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "state/keys.h"

namespace rebound::state {
namespace {

int64_t Int(const std::string& text) {
  int64_t v = 0;
  return absl::SimpleAtoi(text, &v) ? v : 0;
}

}  // namespace

SenderState DecodeSender(const RedisValue& hgetall) {
  SenderState s;
  const auto& a = hgetall.array;
  for (size_t i = 0; i + 1 < a.size(); i += 2) {
    const std::string& f = a[i].str;
    const std::string& v = a[i + 1].str;
    if (f == "sent") {
      s.sent = Int(v);
    } else if (f == "accepted") {
      s.accepted = Int(v);
    } else if (f == "declined") {
      s.declined = Int(v);
    } else if (f == "reported") {
      s.reported = Int(v);
    } else if (f == "pending") {
      s.pending = Int(v);
    } else if (f == "expired") {
      s.expired = Int(v);
    } else if (f == "withdrawn") {
      s.withdrawn = Int(v);
    } else if (f.rfind("reason:", 0) == 0) {
      s.declines_by_reason[f.substr(7)] = Int(v);
    } else if (f == "profile") {
      rebound::v1::ProfileSnapshot p;
      if (p.ParseFromString(v)) s.profile = std::move(p);
    } else if (s.answers.DecodeField(f, v)) {
      // An answer-ring slot.
    } else if (f.size() >= 2 && f[0] == 'd') {
      int slot = 0;
      if (absl::SimpleAtoi(absl::string_view(f).substr(1), &slot) &&
          slot >= 0 && slot < SendDayRing::kSlots) {
        s.send_days.slots[slot] = Int(v);
      }
    }
  }
  return s;
}

PairState DecodePair(const RedisValue& get) {
  PairState p;
  if (get.is_nil()) return p;
  std::vector<absl::string_view> parts = absl::StrSplit(get.str, ':');
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[0], &p.requests)) {
    return PairState();
  }
  std::optional<int64_t>* times[] = {&p.prev_sent_at, &p.last_sent_at,
                                     &p.last_view_at};
  for (int i = 0; i < 3; ++i) {
    int64_t v = 0;
    if (parts[i + 1].empty()) continue;
    if (!absl::SimpleAtoi(parts[i + 1], &v)) return PairState();
    *times[i] = v;
  }
  return p;
}

std::array<int64_t, 168> DecodeAcceptHours(std::string_view bytes) {
  std::array<int64_t, 168> out{};
  for (size_t h = 0; h < out.size() && h * 4 < bytes.size(); ++h) {
    uint32_t v = 0;
    for (size_t b = 0; b < 4; ++b) {
      size_t i = h * 4 + b;
      v = (v << 8) | (i < bytes.size() ? static_cast<uint8_t>(bytes[i]) : 0);
    }
    out[h] = v;
  }
  return out;
}

RecipientState DecodeRecipient(const RedisValue& hgetall,
                               const RedisValue& hours) {
  RecipientState r;
  const auto& a = hgetall.array;
  for (size_t i = 0; i + 1 < a.size(); i += 2) {
    const std::string& f = a[i].str;
    const std::string& v = a[i + 1].str;
    if (f == "received") {
      r.received = Int(v);
    } else if (f == "accepted") {
      r.accepted = Int(v);
    } else if (f == "declined") {
      r.declined = Int(v);
    } else if (f == "utc_offset") {
      int off = 0;
      if (absl::SimpleAtoi(v, &off)) r.utc_offset_minutes = off;
    }
  }
  if (!hours.is_nil()) r.accept_hours = DecodeAcceptHours(hours.str);
  return r;
}

AnswerCounts AllTimeAnswers(const SenderState& s) {
  return AnswerCounts::FromTotals(s.accepted, s.declined, s.reported);
}

rebound::v1::RecentAnswers RecentAnswersOf(const AnswerCounts& c,
                                           bool all_time) {
  rebound::v1::RecentAnswers out;
  out.set_all_time(all_time);
  out.set_accepted(c.accepted);
  out.set_declined(c.declined);
  out.set_ignored(c.ignored);
  out.set_dont_know(c.dont_know);
  out.set_spam(c.spam);
  return out;
}

rebound::v1::RecentAnswers RecentAnswersOf(const SenderState& sender,
                                           int64_t utc_day) {
  const AnswerRing::View view =
      sender.answers.RecentOrAllTime(utc_day, AllTimeAnswers(sender));
  rebound::v1::RecentAnswers out = RecentAnswersOf(view.counts, view.all_time);
  if (view.all_time) return out;  // No window.
  const int64_t week = UtcWeek(utc_day);
  const int64_t first_monday = 7 * (week - (AnswerRing::kWindowWeeks - 1)) - 3;
  out.set_window_weeks(AnswerRing::kWindowWeeks);
  out.set_window_days(static_cast<int32_t>(utc_day - first_monday + 1));
  return out;
}

double AcceptanceRate(const SenderState& s) {
  return (s.accepted + 1.0) / (s.accepted + s.declined + 2.0);
}

double SpamRisk(const SenderState& s) {
  auto it = s.declines_by_reason.find(rebound::v1::DeclineReason_Name(
      rebound::v1::DECLINE_REASON_SPAMMY_PROFILE));
  const double spammy = it == s.declines_by_reason.end() ? 0 : it->second;
  const double bad = 2.0 * s.reported + spammy;
  return bad / (bad + s.accepted + 2.0);
}

double Reputation(const SenderState& s) {
  return 100 * AcceptanceRate(s) * (1 - SpamRisk(s));
}

double Selectivity(const RecipientState& r) {
  return 1 - (r.accepted + 1.0) / (r.received + 2.0);
}

std::vector<std::vector<std::string>> MemberScoresReads(
    const std::string& tenant, const std::string& member) {
  const MemberKeys m(tenant, member);
  return {{"HGETALL", m.Sender()},
          {"HGETALL", m.Recipient()},
          {"GET", m.AcceptHours()},
          ReadTenantClock(tenant)};
}

absl::StatusOr<rebound::v1::MemberScores> ReadMemberScores(
    RedisClient& redis, const std::string& tenant, const std::string& member) {
  auto replies = redis.Pipeline(MemberScoresReads(tenant, member));
  if (!replies.ok()) return replies.status();
  return DecodeMemberScores(tenant, member, replies->data());
}

absl::StatusOr<rebound::v1::MemberScores> DecodeMemberScores(
    const std::string& tenant, const std::string& member, const RedisValue* v) {
  if (v[0].array.empty() && v[1].array.empty() && v[2].is_nil()) {
    return absl::NotFoundError("no events about member '" + member +
                               "' in tenant '" + tenant + "'");
  }
  const SenderState snd = DecodeSender(v[0]);
  const RecipientState rcv = DecodeRecipient(v[1], v[2]);
  rebound::v1::MemberScores out;
  out.set_tenant_id(tenant);
  out.set_member_id(member);
  auto* s = out.mutable_as_sender();
  s->set_sent(snd.sent);
  s->set_accepted(snd.accepted);
  s->set_declined(snd.declined);
  s->set_reported(snd.reported);
  s->set_pending(snd.pending);
  s->set_expired(snd.expired);
  s->set_withdrawn(snd.withdrawn);
  for (const auto& [reason, n] : snd.declines_by_reason) {
    (*s->mutable_declines_by_reason())[reason] = n;
  }
  s->set_acceptance_rate(AcceptanceRate(snd));
  s->set_reputation(Reputation(snd));
  s->set_spam_risk(SpamRisk(snd));
  const int64_t today =
      UtcDay(absl::ToUnixSeconds(absl::Now() + TenantClockLag(v[3])));
  s->set_sent_last_7_days(snd.send_days.SentInDays(today - 6, today));
  *s->mutable_recent_answers() = RecentAnswersOf(snd, today);
  auto* r = out.mutable_as_recipient();
  r->set_received(rcv.received);
  r->set_accepted(rcv.accepted);
  r->set_declined(rcv.declined);
  r->set_selectivity(Selectivity(rcv));
  for (int64_t n : rcv.accept_hours) r->add_accept_hour_of_week(n);
  return out;
}

absl::StatusOr<DraftState> ReadDraftState(RedisClient& redis,
                                          const std::string& tenant,
                                          const std::string& sender,
                                          const std::string& recipient) {
  const MemberKeys s(tenant, sender);
  const MemberKeys r(tenant, recipient);
  auto replies = redis.Pipeline({{"HGETALL", s.Sender()},
                                 {"GET", s.Pair(recipient)},
                                 {"GET", s.Retries(recipient)},
                                 {"HGETALL", r.Recipient()},
                                 {"GET", r.AcceptHours()}});
  if (!replies.ok()) return replies.status();
  const auto& v = *replies;
  DraftState out;
  out.sender = DecodeSender(v[0]);
  out.pair = DecodePair(v[1]);
  if (!v[2].is_nil()) out.prior_retries = Int(v[2].str);
  out.recipient = DecodeRecipient(v[3], v[4]);
  return out;
}

absl::StatusOr<std::vector<PolicyInputs>> ReadPolicyInputs(
    RedisClient& redis, const std::vector<PolicyKey>& keys,
    std::vector<std::vector<std::string>> first,
    std::vector<RedisValue>* first_replies) {
  constexpr size_t kReads = 4;
  const size_t skip = first.size();
  std::vector<std::vector<std::string>> commands = std::move(first);
  commands.reserve(skip + keys.size() * kReads);
  std::vector<size_t> at;  // Each key's first reply.
  at.reserve(keys.size());
  for (const auto& k : keys) {
    const MemberKeys s(k.tenant, k.sender);
    at.push_back(commands.size());
    commands.push_back({"GET", s.Retries(k.recipient)});
    commands.push_back({"HGET", s.Sender(), "profile"});
    if (k.recipient_in_verdict) continue;
    const MemberKeys r(k.tenant, k.recipient);
    commands.push_back({"HGETALL", r.Recipient()});
    commands.push_back({"GET", r.AcceptHours()});
  }
  std::vector<PolicyInputs> out(keys.size());
  if (commands.empty()) return out;
  auto replies = redis.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  if (first_replies != nullptr) {
    first_replies->assign(replies->begin(), replies->begin() + skip);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const RedisValue* v = &(*replies)[at[i]];
    PolicyInputs& in = out[i];
    if (!v[0].is_nil()) in.prior_retries = Int(v[0].str);
    if (!v[1].is_nil()) {
      rebound::v1::ProfileSnapshot p;
      if (p.ParseFromString(v[1].str)) in.sender_profile = std::move(p);
    }
    if (keys[i].recipient_in_verdict) continue;
    in.recipient = DecodeRecipient(v[2], v[3]);
  }
  return out;
}

std::vector<std::string> AddOpenInvite(std::string_view tenant,
                                       std::string_view sender,
                                       std::string_view recipient,
                                       std::string_view request_id,
                                       int64_t sent_at_s) {
  return {"ZADD", TenantKeys(tenant).Pending(), "NX", std::to_string(sent_at_s),
          PendingEntry(sender, recipient, request_id)};
}

std::vector<std::string> RemoveOpenInvite(std::string_view tenant,
                                          std::string_view sender,
                                          std::string_view recipient,
                                          std::string_view request_id) {
  return {"ZREM", TenantKeys(tenant).Pending(),
          PendingEntry(sender, recipient, request_id)};
}

std::vector<std::string> AdvanceTenantClock(std::string_view tenant,
                                            double lag_s) {
  return {"ZADD", TenantKeys(tenant).Clock(), "GT",
          absl::StrFormat("%.3f", std::min(lag_s, 0.0)), "lag"};
}

std::vector<std::string> ReadTenantClock(std::string_view tenant) {
  return {"ZSCORE", TenantKeys(tenant).Clock(), "lag"};
}

absl::Duration TenantClockLag(const RedisValue& reply) {
  double lag = 0;
  if (reply.is_nil() || !absl::SimpleAtod(reply.str, &lag) ||
      !std::isfinite(lag) || lag > 0) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(lag);
}

}  // namespace rebound::state
