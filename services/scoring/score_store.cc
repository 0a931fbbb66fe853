#include "services/scoring/score_store.h"

#include "absl/container/flat_hash_set.h"
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

ScoreStoreOptions WithNoteStyle(ScoreStoreOptions options,
                                const ClassifierConfig& classifier) {
  if (!options.note_style) {
    auto config = std::make_shared<const ClassifierConfig>(classifier);
    options.note_style = [config](const rebound::v1::RequestSent& request) {
      return NoteStyle(*config, request);
    };
  }
  return options;
}

std::function<bool(const state::SenderCounts&)> AtRiskJudge(
    const notify::AccountSafetyConfig& config) {
  return [config](const state::SenderCounts& c) {
    notify::SenderActivity a;
    a.sent = c.sent;
    a.pending = c.pending;
    a.sent_last_7_days = c.sent_this_week;
    a.recent = state::RecentAnswersOf(c.recent, c.recent_all_time);
    return notify::AssessAccount(config, a).at_risk();
  };
}

ScoreStore::ScoreStore(ScoreStoreOptions options)
    : options_(std::move(options)),
      redis_(options_.redis),
      probe_(options_.redis),
      epoch_(state::EpochKey(), "rebound-scoring --rebuild-state"),
      cache_({.request_ttl = options_.request_ttl,
              .marker_ttl = options_.marker_ttl,
              .recipient_by_script = false,
              .max_entries = options_.cache_entries,
              .note_style = options_.note_style,
              .at_risk = options_.at_risk}) {
  redis_.AddScript("recipient", state::kApplyAsRecipientScript);
  redis_.AddScript("fence-generation", state::kNextFenceGenerationScript);
  redis_.AddScript("raise-fence", state::kRaiseFenceScript);
}

absl::Status ScoreStore::Claim(const std::vector<std::string>& fields) {
  if (fields.empty()) return absl::OkStatus();
  if (auto s = redis_.Connect(); !s.ok()) return s;
  auto g = redis_.RunScript("fence-generation", {state::FenceGenerationKey()},
                            {absl::StrCat(absl::ToUnixMillis(absl::Now()))});
  if (!g.ok()) return g.status();
  if (g->type != RedisValue::Type::kInteger) {
    return absl::InternalError("redis: fence claim answered no generation");
  }
  std::vector<std::string> args = {absl::StrCat(g->integer)};
  args.insert(args.end(), fields.begin(), fields.end());
  if (!redis_.cluster()) {
    auto raised = redis_.RunScript("raise-fence", {state::FenceKey()}, args);
    if (!raised.ok()) return raised.status();
  } else {
    // Every slot's copy: a transaction checks the one in its slot. In
    // chunks, pipelined per master.
    constexpr int kChunk = 2048;
    for (int from = 0; from < kRedisClusterSlots; from += kChunk) {
      std::vector<ScriptCall> calls;
      calls.reserve(kChunk);
      for (int slot = from; slot < from + kChunk; ++slot) {
        calls.push_back(
            {"raise-fence", {RedisSlotCopy(state::FenceKey(), slot)}, args});
      }
      auto raised = redis_.RunScripts(calls);
      if (!raised.ok()) return raised.status();
    }
  }
  for (const auto& f : fields) fence_[f] = g->integer;
  SetGuard();
  return absl::OkStatus();
}

void ScoreStore::Release(const std::vector<std::string>& fields) {
  for (const auto& f : fields) fence_.erase(f);
  SetGuard();
}

void ScoreStore::SetGuard() {
  if (fence_.empty()) {
    redis_.set_guard(std::nullopt);
    return;
  }
  TransactGuard guard{state::FenceKey(), {}};
  guard.fields.assign(fence_.begin(), fence_.end());
  redis_.set_guard(std::move(guard));
}

absl::Status ScoreStore::Connect() { return Ping(); }

absl::Status ScoreStore::CheckEpoch() { return epoch_.CheckNow(redis_); }

absl::Status ScoreStore::CheckEpochCopies() {
  if (!epoch_.adopted()) return absl::OkStatus();
  return epoch_.CheckNow(probe_);
}

absl::Status ScoreStore::Ping() {
  auto v = redis_.Command({"PING"});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::Status ScoreStore::EnsureEpoch(bool may_create) {
  ForgetCached();
  return epoch_.Ensure(redis_, may_create);
}

absl::Status ScoreStore::AdoptRebuiltEpoch() {
  ForgetCached();
  return epoch_.AdoptRebuilt(redis_);
}

absl::StatusOr<int64_t> ScoreStore::RemoveScoringState() {
  cache_.Forget();
  // The epoch first: no instance adopts it again while the keys go.
  auto epoch = redis_.Command({"DEL", state::EpochKey()});
  if (!epoch.ok()) return epoch.status();
  return state::RemoveKeys(redis_, state::IsScoringKey);
}

absl::Status ScoreStore::SetNewEpoch() { return epoch_.SetNew(redis_); }

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::ReadDeclineState(
    const ConnectionEvent& event) {
  if (auto s = redis_.Connect(); !s.ok()) return s;
  cache_.set_recipient_by_script(redis_.cluster());
  auto reads = Load({&event}, {&event});
  if (!reads.ok()) return reads.status();
  return StateNow(event, *reads);
}

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::ApplyBatchThenRead(
    const Batch& events, const ConnectionEvent& decline) {
  if (auto s = ApplyBatch(events); !s.ok()) return s;
  return ReadDeclineState(decline);
}

ScoreStore::Loads ScoreStore::LoadsFor(
    const std::vector<const ConnectionEvent*>& events,
    const std::vector<const ConnectionEvent*>& readers) {
  Loads l;
  l.calls = cache_.LoadsFor(events);
  l.cache_loads = l.calls.size();
  absl::flat_hash_set<std::string> seen;
  for (const ConnectionEvent* e : readers) {
    const state::MemberKeys r(e->tenant_id(), e->recipient_id());
    std::string key = r.Recipient();
    if (!seen.insert(key).second) continue;
    l.calls.push_back({"HGETALL", key});
    l.calls.push_back({"GET", r.AcceptHours()});
    l.recipients.push_back(std::move(key));
  }
  return l;
}

ScoreStore::RecipientReads ScoreStore::Loaded(const Loads& l,
                                              std::vector<RedisValue> replies) {
  RecipientReads out;
  const size_t loads = l.cache_loads;
  for (size_t i = 0; i < l.recipients.size(); ++i) {
    out[l.recipients[i]] = {std::move(replies[loads + 2 * i]),
                            std::move(replies[loads + 2 * i + 1])};
  }
  replies.resize(loads);
  cache_.Loaded(std::move(replies));
  return out;
}

absl::StatusOr<ScoreStore::RecipientReads> ScoreStore::Load(
    const std::vector<const ConnectionEvent*>& events,
    const std::vector<const ConnectionEvent*>& readers) {
  Loads l = LoadsFor(events, readers);
  cache_.set_reads_before_taken_writes(false);
  if (l.calls.empty()) return RecipientReads();
  auto replies = redis_.Pipeline(l.calls);
  if (!replies.ok()) {
    cache_.Forget();
    return replies.status();
  }
  return Loaded(l, std::move(*replies));
}

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::StateNow(
    const ConnectionEvent& event, const RecipientReads& reads) {
  std::vector<RedisValue> v = cache_.SenderReplies(event);
  const std::string key =
      state::MemberKeys(event.tenant_id(), event.recipient_id()).Recipient();
  auto it = reads.find(key);
  if (it == reads.end()) {
    return absl::InternalError("recipient not read before its decline");
  }
  v.push_back(it->second.first);
  v.push_back(it->second.second);
  cache_.AdjustRecipient(key, &v[3], &v[4]);
  return DecodeDeclineState(event, v.data());
}

absl::StatusOr<std::vector<ScoreStore::Decided>> ScoreStore::RunSteps(
    const std::vector<Step>& steps, const Classifier& classify) {
  auto decided = StartSteps(steps, classify);
  if (!decided.ok()) return decided.status();
  if (auto s = FinishWrites(); !s.ok()) return s;
  return decided;
}

absl::Status ScoreStore::FinishWrites() {
  if (!redis_.transact_in_flight()) return absl::OkStatus();
  auto replies = redis_.TransactFinish();
  absl::Status s = replies.status();
  if (s.ok() && epoch_.adopted()) {
    s = replies->empty() ? absl::InternalError("redis: epoch not read")
                         : epoch_.Verify(replies->back());
  }
  // Whatever Redis holds now is the truth: load it again.
  // Held writes were decided on top of these: they go if these fail.
  if (!s.ok()) {
    held_.reset();
    cache_.Forget();
  }
  return s;
}

absl::StatusOr<std::vector<ScoreStore::Decided>> ScoreStore::StartSteps(
    const std::vector<Step>& steps, const Classifier& classify) {
  return Steps(steps, classify, /*hold=*/false);
}

absl::StatusOr<std::vector<ScoreStore::Decided>> ScoreStore::PrepareSteps(
    const std::vector<Step>& steps, const Classifier& classify) {
  return Steps(steps, classify, /*hold=*/true);
}

absl::Status ScoreStore::SendHeld() {
  if (!held_) return absl::InternalError("scoring: no writes held");
  auto writes = std::move(*held_);
  held_.reset();
  absl::Status s = redis_.TransactStart(writes, epoch_.Check());
  if (!s.ok()) cache_.Forget();
  return s;
}

void ScoreStore::DropHeld() {
  if (!held_) return;
  held_.reset();
  cache_.Forget();  // It holds what the dropped writes would have written.
}

absl::StatusOr<std::vector<ScoreStore::Decided>> ScoreStore::Steps(
    const std::vector<Step>& steps, const Classifier& classify, bool hold) {
  auto failed = [&](absl::Status s) {
    // Whatever Redis holds now is the truth: load it again.
    cache_.Forget();
    return s;
  };
  if (auto s = redis_.Connect(); !s.ok()) return s;
  cache_.set_recipient_by_script(redis_.cluster());
  if (held_ && !hold) {
    return absl::InternalError("scoring: writes held (PrepareSteps) unsent");
  }
  // 1. One round trip of reads: the sender keys not in process yet, and
  // the recipients of the declines to classify; ahead of the writes held
  // from the previous call, if any, in the same write.
  std::vector<const ConnectionEvent*> events, readers;
  events.reserve(steps.size());
  for (const Step& step : steps) {
    events.push_back(step.event);
    if (step.classify) readers.push_back(step.event);
  }
  absl::StatusOr<RecipientReads> reads;
  held_went_out_ = false;
  if (held_) {
    // The reads run before the held writes (one connection, in order):
    // the keys those writes touch are in process, and the recipients read
    // are moved by them here (SenderCache::AdjustRecipient), so what this
    // batch sees does not depend on when Redis runs them.
    Loads l = LoadsFor(events, readers);
    auto writes = std::move(*held_);
    held_.reset();
    auto replies =
        redis_.ReadThenTransactStart(l.calls, writes, epoch_.Check());
    held_went_out_ = redis_.transact_in_flight();
    if (!replies.ok()) return failed(replies.status());
    cache_.set_reads_before_taken_writes(true);
    reads = Loaded(l, std::move(*replies));
  } else {
    reads = Load(events, readers);
  }
  if (!reads.ok()) return reads.status();
  // 2. In order, in process: each decline to classify decided at its place
  // (seeing exactly the steps before it), then every step applied.
  std::vector<Decided> out;
  out.reserve(readers.size());
  for (const Step& step : steps) {
    const rebound::v1::DeclineVerdict* verdict = step.verdict;
    if (step.classify) {
      auto st = StateNow(*step.event, *reads);
      if (!st.ok()) return failed(st.status());
      Decided d;
      if (st->stored_verdict) {
        d.verdict = std::move(*st->stored_verdict);
        d.stored = true;
      } else {
        d.verdict = classify(st->context);
        AttachDecisionContext(st->context, &d.verdict);
      }
      out.push_back(std::move(d));
      verdict = &out.back().verdict;
    }
    if (auto s = cache_.Apply(*step.event, verdict, step.record_ms); !s.ok()) {
      return failed(s);
    }
  }
  // 3. One transaction of every write, and the epoch read after it, sent
  // (FinishWrites reads its outcome); held to go behind the next call's
  // reads on one Redis node (a cluster spreads them over several).
  if (hold && options_.overlap_writes && !redis_.cluster()) {
    held_ = cache_.TakeWrites();
  } else if (auto s = redis_.TransactStart(cache_.TakeWrites(), epoch_.Check());
             !s.ok()) {
    return failed(s);
  }
  // The keys of the writes just taken stay in process until the next
  // call's reads are made (Trim keeps the young generation's keys).
  cache_.Trim();
  return out;
}

absl::StatusOr<ScoreStore::DeclineState> ScoreStore::DecodeDeclineState(
    const ConnectionEvent& event, const RedisValue* v) {
  const state::SenderState snd = state::DecodeSender(v[0]);
  const auto& req = v[1].array;
  const state::PairState pair = state::DecodePair(v[2]);
  if (req.size() != 7) {
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
  c.recipient_utc_offset_minutes = rcv.utc_offset_minutes;
  c.sender_profile = snd.profile;
  // The verdict that decided the request, if this event is the one that
  // got it (a replay); another outcome event of a decided request gets a
  // verdict of its own. Kept whole ("verdict"), or without the request
  // snapshot it carried when that is the hash's own ("verdict_nr", put
  // back here; state/sender_cache.cc).
  const bool whole = !req[3].is_nil();
  if (whole || !req[6].is_nil()) {
    rebound::v1::DeclineVerdict verdict;
    if (verdict.ParseFromString(whole ? req[3].str : req[6].str) &&
        verdict.verdict_id() == event.event_id() && (whole || c.request)) {
      if (!whole) *verdict.mutable_request() = *c.request;
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
  return RunSteps(steps, nullptr).status();
}

absl::StatusOr<state::DraftState> ScoreStore::ReadDraftState(
    const std::string& tenant, const std::string& sender,
    const std::string& recipient) {
  return state::ReadDraftState(redis_, tenant, sender, recipient);
}

absl::StatusOr<rebound::v1::MemberScores> ScoreStore::GetMemberScores(
    const std::string& tenant, const std::string& member) {
  return state::ReadMemberScores(redis_, tenant, member);
}

}  // namespace rebound::scoring
