#include "services/scoring/score_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "state/event_fields.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "state/scripts.h"

namespace rebound::scoring {
namespace {

using rebound::v1::ConnectionEvent;

std::string Seconds(absl::Duration d) {
  return std::to_string(absl::ToInt64Seconds(d));
}

std::optional<int64_t> Int(const RedisValue& v) {
  int64_t n = 0;
  if (v.is_nil() || !absl::SimpleAtoi(v.str, &n)) return std::nullopt;
  return n;
}

}  // namespace

bool DeclineOrder::MustWait(const ConnectionEvent& e) const {
  return members_.contains({e.tenant_id(), e.sender_id()}) ||
         members_.contains({e.tenant_id(), e.recipient_id()});
}

void DeclineOrder::Queued(const ConnectionEvent& e) {
  if (!NeedsVerdict(e)) return;
  members_.insert({e.tenant_id(), e.sender_id()});
  members_.insert({e.tenant_id(), e.recipient_id()});
}

ScoreStore::ScoreStore(ScoreStoreOptions options)
    : options_(std::move(options)),
      redis_(options_.redis),
      epoch_(state::EpochKey(), "rebound-scoring --rebuild-state") {
  redis_.AddScript("sender", state::kApplyAsSenderScript);
  redis_.AddScript("recipient", state::kApplyAsRecipientScript);
}

absl::Status ScoreStore::Connect() { return Ping(); }

absl::Status ScoreStore::CheckEpoch() { return epoch_.CheckNow(redis_); }

absl::Status ScoreStore::Ping() {
  auto v = redis_.Command({"PING"});
  return v.ok() ? absl::OkStatus() : v.status();
}

std::vector<std::vector<std::string>> ScoreStore::DeclineReads(
    const ConnectionEvent& event) {
  const state::MemberKeys s(event.tenant_id(), event.sender_id());
  const state::MemberKeys r(event.tenant_id(), event.recipient_id());
  return {
      {"HGETALL", s.Sender()},
      {"HMGET", s.Request(state::RequestIdOf(event)), "sent_at", "request",
       "viewed", "verdict", "pn", "pp"},
      {"GET", s.Pair(event.recipient_id())},
      {"HGETALL", r.Recipient()},
      {"GET", r.AcceptHours()},
  };
}

absl::Status ScoreStore::EnsureEpoch(bool may_create) {
  return epoch_.Ensure(redis_, may_create);
}

absl::Status ScoreStore::AdoptRebuiltEpoch() {
  return epoch_.AdoptRebuilt(redis_);
}

absl::StatusOr<int64_t> ScoreStore::RemoveScoringState() {
  auto removed = state::RemoveKeys(redis_, state::IsScoringKey);
  if (!removed.ok()) return removed.status();
  auto epoch = redis_.Command({"DEL", state::EpochKey()});
  if (!epoch.ok()) return epoch.status();
  return removed;
}

absl::Status ScoreStore::SetNewEpoch() { return epoch_.SetNew(redis_); }

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::ReadDeclineState(
    const ConnectionEvent& event) {
  return ApplyBatchThenRead({}, event);
}

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::ApplyBatchThenRead(
    const Batch& events, const ConnectionEvent& decline) {
  std::vector<Step> steps;
  steps.reserve(events.size() + 1);
  for (const auto& [event, verdict] : events) steps.push_back({event, verdict});
  steps.push_back({&decline, nullptr, true});
  auto states = RunSteps(steps);
  if (!states.ok()) return states.status();
  return std::move(states->front());
}

absl::StatusOr<std::vector<ScoreStore::DeclineState>> ScoreStore::RunSteps(
    const std::vector<Step>& steps) {
  std::vector<RedisStep> calls;
  calls.reserve(steps.size() * 2 + 1);
  // Where each read's replies start.
  std::vector<size_t> reads;
  for (const Step& step : steps) {
    if (step.read) {
      reads.push_back(calls.size());
      for (auto& c : DeclineReads(*step.event)) calls.push_back(std::move(c));
      continue;
    }
    if (auto s = CallsFor(*step.event, step.verdict, &calls); !s.ok()) return s;
  }
  for (auto& c : epoch_.Check()) calls.push_back(std::move(c));
  auto replies = redis_.RunSteps(calls);
  if (!replies.ok()) return replies.status();
  if (epoch_.adopted()) {
    if (auto s = epoch_.Verify(replies->back()); !s.ok()) return s;
  }
  std::vector<DeclineState> out;
  out.reserve(reads.size());
  size_t r = 0;
  for (const Step& step : steps) {
    if (!step.read) continue;
    auto st = DecodeDeclineState(*step.event, replies->data() + reads[r++]);
    if (!st.ok()) return st.status();
    out.push_back(std::move(*st));
  }
  return out;
}

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::DecodeDeclineState(
    const ConnectionEvent& event, const RedisValue* v) {
  const state::SenderState snd = state::DecodeSender(v[0]);
  const auto& req = v[1].array;
  const state::PairState pair = state::DecodePair(v[2]);
  if (req.size() != 6) {
    return absl::InternalError("redis: unexpected HMGET reply shape");
  }
  const state::RecipientState rcv = state::DecodeRecipient(v[3], v[4]);

  DeclineState out;
  DeclineContext& c = out.context;
  c.event = event;
  if (!req[1].is_nil()) {
    rebound::v1::RequestSent sent;
    if (sent.ParseFromString(req[1].str)) c.request = std::move(sent);
  }
  if (auto at = Int(req[0])) c.sent_at = absl::FromUnixSeconds(*at);
  const auto& last_view = pair.last_view_at;
  c.viewed =
      Int(req[2]).value_or(0) == 1 ||
      (last_view && c.sent_at && *last_view >= absl::ToUnixSeconds(*c.sent_at));
  c.sender_sent = snd.sent;
  c.sender_accepted = snd.accepted;
  c.sender_declined = snd.declined;
  c.sender_reported = snd.reported;
  if (c.sent_at) {
    const int64_t sent = absl::ToUnixSeconds(*c.sent_at);
    const int64_t day = state::UtcDay(sent);
    c.sender_sent_last_7d = snd.send_days.SentInDays(day - 7, day - 1);
    if (auto before = Int(req[4])) {
      // Kept with the request when it was sent: the pair's requests counted
      // before it and the send time of the last of them.
      c.pair_prior_requests = *before;
      if (auto prev = Int(req[5]); prev && *prev <= sent) {
        c.since_prior_request = absl::Seconds(sent - *prev);
      }
    } else {
      // A request stored before these fields: the pair's previous request,
      // when this one is the latest.
      c.pair_prior_requests = pair.requests > 0 ? pair.requests - 1 : 0;
      const auto& last = pair.last_sent_at;
      const auto& prev = pair.prev_sent_at;
      if (prev && last && *last == sent) {
        c.since_prior_request = absl::Seconds(sent - *prev);
      }
    }
  }
  c.recipient_received = rcv.received;
  c.recipient_accepted = rcv.accepted;
  c.recipient_accept_hours = rcv.accept_hours;
  if (!req[3].is_nil()) {
    // The verdict that decided the request, if this event is the one that
    // got it (a replay); another outcome event of a decided request gets a
    // verdict of its own.
    rebound::v1::DeclineVerdict verdict;
    if (verdict.ParseFromString(req[3].str) &&
        verdict.verdict_id() == event.event_id()) {
      out.stored_verdict = std::move(verdict);
    }
  }
  return out;
}

absl::Status ScoreStore::CallsFor(const ConnectionEvent& event,
                                  const rebound::v1::DeclineVerdict* verdict,
                                  std::vector<RedisStep>* calls) {
  const state::MemberKeys s(event.tenant_id(), event.sender_id());
  const std::string& request_id = state::RequestIdOf(event);
  const std::string at = std::to_string(event.occurred_at().seconds());
  ScriptCall call{
      "sender",
      {s.Sender(), s.Request(request_id), s.Pair(event.recipient_id())},
      {"", at, Seconds(options_.request_ttl)}};
  auto& args = call.args;
  const char* recipient_kind = nullptr;  // Nothing for the recipient.
  std::string utc_offset;
  switch (event.payload_case()) {
    case ConnectionEvent::kRequestSent:
      args[0] = "sent";
      args.push_back(event.request_sent().SerializeAsString());
      recipient_kind = "sent";
      if (event.request_sent().has_recipient_profile()) {
        utc_offset = std::to_string(
            event.request_sent().recipient_profile().utc_offset_minutes());
      }
      break;
    case ConnectionEvent::kRequestAccepted:
      args[0] = "accepted";
      recipient_kind = "accepted";
      break;
    case ConnectionEvent::kRequestDeclined: {
      if (verdict == nullptr)
        return absl::InternalError("decline without verdict");
      const auto kind = event.request_declined().kind();
      args[0] = "declined";
      args.push_back(kind == rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
                             kind == rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN
                         ? "1"
                         : "0");
      args.push_back(
          rebound::v1::DeclineReason_Name(verdict->primary_reason()));
      args.push_back(verdict->SerializeAsString());
      recipient_kind = "declined";
      break;
    }
    case ConnectionEvent::kRequestExpired:
      if (verdict == nullptr)
        return absl::InternalError("expiry without verdict");
      args[0] = "expired";
      args.push_back(
          rebound::v1::DeclineReason_Name(verdict->primary_reason()));
      args.push_back(verdict->SerializeAsString());
      break;
    case ConnectionEvent::kRequestWithdrawn:
      args[0] = "withdrawn";
      break;
    case ConnectionEvent::kProfileViewed:
      args[0] = "viewed";
      args.push_back(request_id.empty() ? "0" : "1");
      break;
    case ConnectionEvent::kProfileUpdated:
      args[0] = "profile";
      args.push_back(event.profile_updated().profile().SerializeAsString());
      break;
    case ConnectionEvent::PAYLOAD_NOT_SET:
      return absl::InvalidArgumentError("payload: not set");
  }
  calls->push_back(std::move(call));
  if (recipient_kind == nullptr) return absl::OkStatus();
  const state::MemberKeys r(event.tenant_id(), event.recipient_id());
  // The recipient counts a request once and its outcome once, whatever
  // event ids carry them (the sender side's "first outcome wins" rule).
  const bool outcome = recipient_kind[0] != 's';
  calls->push_back(ScriptCall{
      "recipient",
      {r.Recipient(), r.AcceptHours(), r.ReceivedMarker(request_id, outcome)},
      {recipient_kind, Seconds(options_.marker_ttl), at,
       std::move(utc_offset)}});
  return absl::OkStatus();
}

absl::Status ScoreStore::Apply(const ConnectionEvent& event,
                               const rebound::v1::DeclineVerdict* verdict) {
  return ApplyBatch({{&event, verdict}});
}

absl::Status ScoreStore::ApplyBatch(const Batch& events) {
  // One round trip; the scripts run in order and each is idempotent, so a
  // batch cut short by a failure can simply be sent again.
  std::vector<Step> steps;
  steps.reserve(events.size());
  for (const auto& [event, verdict] : events) steps.push_back({event, verdict});
  return RunSteps(steps).status();
}

absl::StatusOr<rebound::v1::MemberScores> ScoreStore::GetMemberScores(
    const std::string& tenant, const std::string& member) {
  return state::ReadMemberScores(redis_, tenant, member);
}

}  // namespace rebound::scoring
