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
      epoch_(state::EpochKey(), "rebound-scoring --rebuild-state"),
      cache_({.request_ttl = options_.request_ttl,
              .marker_ttl = options_.marker_ttl,
              .recipient_by_script = false,
              .max_entries = options_.cache_entries}) {
  redis_.AddScript("recipient", state::kApplyAsRecipientScript);
}

absl::Status ScoreStore::Connect() { return Ping(); }

absl::Status ScoreStore::CheckEpoch() { return epoch_.CheckNow(redis_); }

absl::Status ScoreStore::Ping() {
  auto v = redis_.Command({"PING"});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::Status ScoreStore::EnsureEpoch(bool may_create) {
  cache_.Forget();
  return epoch_.Ensure(redis_, may_create);
}

absl::Status ScoreStore::AdoptRebuiltEpoch() {
  cache_.Forget();
  return epoch_.AdoptRebuilt(redis_);
}

absl::StatusOr<int64_t> ScoreStore::RemoveScoringState() {
  cache_.Forget();
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
  auto failed = [&](absl::Status s) {
    // Whatever Redis holds now is the truth: load it again.
    cache_.Forget();
    return s;
  };
  if (auto s = redis_.Connect(); !s.ok()) return s;
  cache_.set_recipient_by_script(redis_.cluster());
  // 1. The sender keys not in process yet.
  std::vector<const ConnectionEvent*> events;
  events.reserve(steps.size());
  for (const Step& step : steps) events.push_back(step.event);
  if (auto loads = cache_.LoadsFor(events); !loads.empty()) {
    auto replies = redis_.Pipeline(loads);
    if (!replies.ok()) return failed(replies.status());
    cache_.Loaded(std::move(*replies));
  }
  // 2. In order: each event applied in process; each read takes its
  // sender's side now and its recipient's from Redis after the writes
  // (DeclineOrder keeps later steps off a read's members).
  std::vector<std::vector<RedisValue>> sender_side;
  std::vector<std::vector<std::string>> reads;
  for (const Step& step : steps) {
    if (step.read) {
      sender_side.push_back(cache_.SenderReplies(*step.event));
      const state::MemberKeys r(step.event->tenant_id(),
                                step.event->recipient_id());
      reads.push_back({"HGETALL", r.Recipient()});
      reads.push_back({"GET", r.AcceptHours()});
      continue;
    }
    if (auto s = cache_.Apply(*step.event, step.verdict); !s.ok()) {
      return failed(s);
    }
  }
  for (auto& c : epoch_.Check()) reads.push_back(std::move(c));
  // 3. One round trip: the writes in a transaction, then the reads.
  auto replies = redis_.Transact(cache_.TakeWrites(), reads);
  if (!replies.ok()) return failed(replies.status());
  if (epoch_.adopted()) {
    if (auto s = epoch_.Verify(replies->back()); !s.ok()) return failed(s);
  }
  std::vector<DeclineState> out;
  out.reserve(sender_side.size());
  size_t r = 0;
  for (const Step& step : steps) {
    if (!step.read) continue;
    std::vector<RedisValue>& v = sender_side[r];
    v.push_back(std::move((*replies)[2 * r]));
    v.push_back(std::move((*replies)[2 * r + 1]));
    ++r;
    auto st = DecodeDeclineState(*step.event, v.data());
    if (!st.ok()) return failed(st.status());
    out.push_back(std::move(*st));
  }
  cache_.Trim();
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
