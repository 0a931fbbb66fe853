#include "services/scoring/score_store.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/scoring/event_fields.h"

namespace rebound::scoring {
namespace {

using rebound::v1::ConnectionEvent;

// KEYS: snd, req, pair, sends, marker.
// ARGV: type, occurred_at (s), marker ttl (s), request ttl (s), then per type:
//   sent: request_id, RequestSent bytes
//   accepted / withdrawn: request_id
//   declined: request_id, reported (0/1), reason, verdict bytes
//   expired: request_id, reason, verdict bytes
//   viewed: request_id ("" when unknown)
//   profile: ProfileSnapshot bytes
// Returns 1 when applied, 0 when the event had been applied before.
constexpr char kSenderScript[] = R"lua(
if not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[3]) then return 0 end
local snd, req, pair, sends = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t, at, rttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local function terminal(s)
  return s == 'accepted' or s == 'declined' or s == 'withdrawn' or s == 'expired'
end
-- The first terminal event decides the request; later ones are ignored.
local function finish(state, counter)
  local prev = redis.call('HGET', req, 'state')
  if terminal(prev) then return false end
  redis.call('HSET', req, 'state', state, 'decided_at', at)
  if prev == 'pending' then redis.call('HINCRBY', snd, 'pending', -1) end
  redis.call('HINCRBY', snd, counter, 1)
  redis.call('EXPIRE', req, rttl)
  return true
end
if t == 'sent' then
  -- A request counts once, whatever event ids carry it.
  if redis.call('HEXISTS', req, 'sent_at') == 1 then return 0 end
  local prev = redis.call('HGET', req, 'state')
  redis.call('HSET', req, 'sent_at', at, 'request', ARGV[6])
  if not prev then
    redis.call('HSET', req, 'state', 'pending')
    redis.call('HINCRBY', snd, 'pending', 1)
  end
  redis.call('EXPIRE', req, rttl)
  redis.call('HINCRBY', snd, 'sent', 1)
  redis.call('ZADD', sends, at, ARGV[5])
  redis.call('ZREMRANGEBYSCORE', sends, '-inf', at - 30 * 86400)
  local last = redis.call('HGET', pair, 'last_sent_at')
  if last then redis.call('HSET', pair, 'prev_sent_at', last) end
  redis.call('HSET', pair, 'last_sent_at', at)
  redis.call('HINCRBY', pair, 'requests', 1)
elseif t == 'accepted' then
  finish('accepted', 'accepted')
elseif t == 'withdrawn' then
  finish('withdrawn', 'withdrawn')
elseif t == 'declined' then
  if finish('declined', 'declined') then
    if ARGV[6] == '1' then redis.call('HINCRBY', snd, 'reported', 1) end
    redis.call('HINCRBY', snd, 'reason:' .. ARGV[7], 1)
    redis.call('HSET', req, 'verdict', ARGV[8])
  end
elseif t == 'expired' then
  if finish('expired', 'expired') then
    redis.call('HINCRBY', snd, 'reason:' .. ARGV[6], 1)
    redis.call('HSET', req, 'verdict', ARGV[7])
  end
elseif t == 'viewed' then
  if ARGV[5] ~= '' then
    redis.call('HSET', req, 'viewed', 1, 'viewed_at', at)
    redis.call('EXPIRE', req, rttl)
  else
    redis.call('HSET', pair, 'last_view_at', at)
  end
elseif t == 'profile' then
  redis.call('HSET', snd, 'profile', ARGV[5], 'profile_at', at)
end
-- Derived scores, from the counters (all integers, so replays agree).
local c = redis.call('HMGET', snd, 'accepted', 'declined', 'reported',
                     'reason:DECLINE_REASON_SPAMMY_PROFILE')
local acc, dec = tonumber(c[1] or 0), tonumber(c[2] or 0)
local rep, spammy = tonumber(c[3] or 0), tonumber(c[4] or 0)
local rate = (acc + 1) / (acc + dec + 2)
local bad = 2 * rep + spammy
local risk = bad / (bad + acc + 2)
redis.call('HSET', snd, 'acceptance_rate', string.format('%.6f', rate),
           'spam_risk', string.format('%.6f', risk),
           'reputation', string.format('%.4f', 100 * rate * (1 - risk)))
return 1
)lua";

// KEYS: rcv, marker. ARGV: type, marker ttl (s), occurred_at (s), utc offset
// minutes of the recipient from the request's snapshot ("" unknown).
// Returns 1 applied, 0 seen before.
constexpr char kRecipientScript[] = R"lua(
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return 0 end
local rcv, t = KEYS[1], ARGV[1]
if ARGV[4] ~= '' then redis.call('HSET', rcv, 'utc_offset', ARGV[4]) end
if t == 'sent' then
  redis.call('HINCRBY', rcv, 'received', 1)
elseif t == 'accepted' then
  redis.call('HINCRBY', rcv, 'accepted', 1)
  -- Hour of week in the recipient's local time (Monday 00:00 = 0), from the
  -- offset their latest request snapshot carried; unknown offset, no hour.
  local off = redis.call('HGET', rcv, 'utc_offset')
  if off then
    local lt = tonumber(ARGV[3]) + tonumber(off) * 60
    local days = math.floor(lt / 86400)
    local how = ((days + 3) % 7) * 24 + math.floor((lt % 86400) / 3600)
    redis.call('HINCRBY', rcv, 'h' .. how, 1)
  end
elseif t == 'declined' then
  redis.call('HINCRBY', rcv, 'declined', 1)
end
local c = redis.call('HMGET', rcv, 'received', 'accepted')
local got, acc = tonumber(c[1] or 0), tonumber(c[2] or 0)
redis.call('HSET', rcv, 'selectivity',
           string.format('%.6f', 1 - (acc + 1) / (got + 2)))
return 1
)lua";

std::string Seconds(absl::Duration d) {
  return std::to_string(absl::ToInt64Seconds(d));
}

int64_t UnixSeconds(const google::protobuf::Timestamp& ts) {
  return ts.seconds();
}

int64_t Num(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  int64_t v = 0;
  if (it != m.end()) (void)absl::SimpleAtoi(it->second, &v);
  return v;
}

double Real(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  double v = 0;
  if (it != m.end()) (void)absl::SimpleAtod(it->second, &v);
  return v;
}

}  // namespace

std::string MemberTag(const std::string& tenant, const std::string& member) {
  return absl::StrCat("rb:{", tenant, "/", member, "}");
}

ScoreStore::ScoreStore(ScoreStoreOptions options)
    : options_(std::move(options)), redis_(options_.redis) {
  redis_.AddScript("sender", kSenderScript);
  redis_.AddScript("recipient", kRecipientScript);
}

absl::Status ScoreStore::Connect() { return Ping(); }

absl::Status ScoreStore::Ping() {
  auto v = redis_.Command({"PING"});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::ReadDeclineState(
    const ConnectionEvent& event) {
  const std::string s = MemberTag(event.tenant_id(), event.sender_id());
  const std::string r = MemberTag(event.tenant_id(), event.recipient_id());
  const std::string& request_id = RequestIdOf(event);
  const int64_t decided = UnixSeconds(event.occurred_at());
  auto replies = redis_.Pipeline({
      {"HGETALL", s + ":snd"},
      {"HGETALL", s + ":req:" + request_id},
      {"HGETALL", s + ":pair:" + event.recipient_id()},
      {"ZRANGEBYSCORE", s + ":sends", std::to_string(decided - 40 * 86400),
       "+inf", "WITHSCORES"},
      {"HGETALL", r + ":rcv"},
      {"EXISTS", s + ":ev:" + event.event_id() + ":s"},
  });
  if (!replies.ok()) return replies.status();
  auto snd = HashFields((*replies)[0]);
  auto req = HashFields((*replies)[1]);
  auto pair = HashFields((*replies)[2]);
  auto rcv = HashFields((*replies)[4]);
  bool applied = (*replies)[5].integer == 1;

  DeclineState out;
  DeclineContext& c = out.context;
  c.event = event;
  if (auto it = req.find("request"); it != req.end()) {
    rebound::v1::RequestSent sent;
    if (sent.ParseFromString(it->second)) c.request = std::move(sent);
  }
  if (req.contains("sent_at"))
    c.sent_at = absl::FromUnixSeconds(Num(req, "sent_at"));
  c.viewed = Num(req, "viewed") == 1 ||
             (pair.contains("last_view_at") && c.sent_at &&
              Num(pair, "last_view_at") >= absl::ToUnixSeconds(*c.sent_at));
  c.sender_sent = Num(snd, "sent");
  c.sender_accepted = Num(snd, "accepted");
  c.sender_declined = Num(snd, "declined");
  c.sender_reported = Num(snd, "reported");
  if (c.sent_at) {
    int64_t sent = absl::ToUnixSeconds(*c.sent_at);
    const auto& z = (*replies)[3].array;
    for (size_t i = 0; i + 1 < z.size(); i += 2) {
      double at = 0;
      (void)absl::SimpleAtod(z[i + 1].str, &at);
      if (at >= sent - 7 * 86400 && at < sent) ++c.sender_sent_last_7d;
    }
    // The pair's previous request, when this one is the latest.
    int64_t requests = Num(pair, "requests");
    c.pair_prior_requests = requests > 0 ? requests - 1 : 0;
    if (pair.contains("prev_sent_at") && Num(pair, "last_sent_at") == sent) {
      c.since_prior_request = absl::Seconds(sent - Num(pair, "prev_sent_at"));
    }
  }
  c.recipient_received = Num(rcv, "received");
  c.recipient_accepted = Num(rcv, "accepted");
  for (int h = 0; h < 168; ++h)
    c.recipient_accept_hours[h] = Num(rcv, absl::StrCat("h", h));
  if (applied) {
    rebound::v1::DeclineVerdict v;
    if (auto it = req.find("verdict");
        it != req.end() && v.ParseFromString(it->second)) {
      out.stored_verdict = std::move(v);
    }
  }
  return out;
}

absl::Status ScoreStore::CallsFor(const ConnectionEvent& event,
                                  const rebound::v1::DeclineVerdict* verdict,
                                  std::vector<ScriptCall>* calls) {
  const std::string s = MemberTag(event.tenant_id(), event.sender_id());
  const std::string& request_id = RequestIdOf(event);
  const std::string at = std::to_string(UnixSeconds(event.occurred_at()));
  std::vector<std::string> keys = {
      s + ":snd", s + ":req:" + request_id, s + ":pair:" + event.recipient_id(),
      s + ":sends", s + ":ev:" + event.event_id() + ":s"};
  std::vector<std::string> args = {"", at, Seconds(options_.marker_ttl),
                                   Seconds(options_.request_ttl)};
  std::string recipient_type;  // Empty: nothing for the recipient.
  std::string utc_offset;
  switch (event.payload_case()) {
    case ConnectionEvent::kRequestSent:
      args[0] = "sent";
      args.push_back(request_id);
      args.push_back(event.request_sent().SerializeAsString());
      recipient_type = "sent";
      if (event.request_sent().has_recipient_profile()) {
        utc_offset = std::to_string(
            event.request_sent().recipient_profile().utc_offset_minutes());
      }
      break;
    case ConnectionEvent::kRequestAccepted:
      args[0] = "accepted";
      args.push_back(request_id);
      recipient_type = "accepted";
      break;
    case ConnectionEvent::kRequestDeclined:
      if (verdict == nullptr)
        return absl::InternalError("decline without verdict");
      args[0] = "declined";
      args.push_back(request_id);
      args.push_back(event.request_declined().kind() ==
                                 rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
                             event.request_declined().kind() ==
                                 rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN
                         ? "1"
                         : "0");
      args.push_back(
          rebound::v1::DeclineReason_Name(verdict->primary_reason()));
      args.push_back(verdict->SerializeAsString());
      recipient_type = "declined";
      break;
    case ConnectionEvent::kRequestExpired:
      if (verdict == nullptr)
        return absl::InternalError("expiry without verdict");
      args[0] = "expired";
      args.push_back(request_id);
      args.push_back(
          rebound::v1::DeclineReason_Name(verdict->primary_reason()));
      args.push_back(verdict->SerializeAsString());
      break;
    case ConnectionEvent::kRequestWithdrawn:
      args[0] = "withdrawn";
      args.push_back(request_id);
      break;
    case ConnectionEvent::kProfileViewed:
      args[0] = "viewed";
      args.push_back(request_id);
      break;
    case ConnectionEvent::kProfileUpdated:
      args[0] = "profile";
      args.push_back(event.profile_updated().profile().SerializeAsString());
      break;
    case ConnectionEvent::PAYLOAD_NOT_SET:
      return absl::InvalidArgumentError("payload: not set");
  }
  calls->push_back({"sender", std::move(keys), std::move(args)});
  if (recipient_type.empty()) return absl::OkStatus();
  const std::string r = MemberTag(event.tenant_id(), event.recipient_id());
  // The recipient counts a request once and its outcome once, whatever event
  // ids carry them (the sender side's "first outcome wins" rule).
  const std::string marker =
      absl::StrCat(r, ":ev:req:", request_id,
                   recipient_type == "sent" ? ":sent" : ":outcome");
  calls->push_back(
      {"recipient",
       {r + ":rcv", marker},
       {recipient_type, Seconds(options_.marker_ttl), at, utc_offset}});
  return absl::OkStatus();
}

absl::Status ScoreStore::Apply(const ConnectionEvent& event,
                               const rebound::v1::DeclineVerdict* verdict) {
  return ApplyBatch({{&event, verdict}});
}

absl::Status ScoreStore::ApplyBatch(
    const std::vector<std::pair<const ConnectionEvent*,
                                const rebound::v1::DeclineVerdict*>>& events) {
  std::vector<ScriptCall> calls;
  calls.reserve(events.size() * 2);
  for (const auto& [event, verdict] : events) {
    if (auto s = CallsFor(*event, verdict, &calls); !s.ok()) return s;
  }
  // One round trip; the scripts run in order and each is idempotent, so a
  // batch cut short by a failure can simply be sent again.
  auto done = redis_.RunScripts(calls);
  return done.ok() ? absl::OkStatus() : done.status();
}

absl::StatusOr<rebound::v1::MemberScores> ScoreStore::GetMemberScores(
    const std::string& tenant, const std::string& member) {
  const std::string m = MemberTag(tenant, member);
  auto replies =
      redis_.Pipeline({{"HGETALL", m + ":snd"}, {"HGETALL", m + ":rcv"}});
  if (!replies.ok()) return replies.status();
  auto snd = HashFields((*replies)[0]);
  auto rcv = HashFields((*replies)[1]);
  if (snd.empty() && rcv.empty()) {
    return absl::NotFoundError("no events about member '" + member +
                               "' in tenant '" + tenant + "'");
  }
  rebound::v1::MemberScores out;
  out.set_tenant_id(tenant);
  out.set_member_id(member);
  auto* s = out.mutable_as_sender();
  s->set_sent(Num(snd, "sent"));
  s->set_accepted(Num(snd, "accepted"));
  s->set_declined(Num(snd, "declined"));
  s->set_reported(Num(snd, "reported"));
  s->set_pending(Num(snd, "pending"));
  s->set_expired(Num(snd, "expired"));
  s->set_withdrawn(Num(snd, "withdrawn"));
  for (const auto& [k, v] : snd) {
    if (k.rfind("reason:", 0) == 0) {
      (*s->mutable_declines_by_reason())[k.substr(7)] = Num(snd, k);
    }
  }
  s->set_acceptance_rate(
      snd.contains("acceptance_rate") ? Real(snd, "acceptance_rate") : 0.5);
  s->set_reputation(snd.contains("reputation") ? Real(snd, "reputation") : 50);
  s->set_spam_risk(Real(snd, "spam_risk"));
  auto* r = out.mutable_as_recipient();
  r->set_received(Num(rcv, "received"));
  r->set_accepted(Num(rcv, "accepted"));
  r->set_declined(Num(rcv, "declined"));
  r->set_selectivity(rcv.contains("selectivity") ? Real(rcv, "selectivity")
                                                 : 0.5);
  for (int h = 0; h < 168; ++h)
    r->add_accept_hour_of_week(Num(rcv, absl::StrCat("h", h)));
  return out;
}

}  // namespace rebound::scoring
