#include "services/notify/suggestion_store.h"

#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "state/event_fields.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "state/scripts.h"
#include "state/works.h"

namespace rebound::notify {
namespace {

using rebound::v1::RetrySuggestion;

std::string Secs(absl::Duration d) {
  return std::to_string(absl::ToInt64Seconds(d));
}

// Scoring's state of the invite's request (state/member_state.h): nil when
// scoring does not hold it, "pending" while it is open.
std::vector<std::string> RequestStateRead(
    const SuggestionStore::PendingInvite& p) {
  return {"HGET", state::MemberKeys(p.tenant, p.sender).Request(p.request_id),
          "state"};
}
bool IsOpen(const RedisValue& request_state) {
  return request_state.str == "pending";
}

}  // namespace

std::string StreamKey(const std::string& tenant, const std::string& member) {
  return member.empty() ? state::TenantKeys(tenant).Stream()
                        : state::MemberKeys(tenant, member).Stream();
}

SuggestionStore::SuggestionStore(SuggestionStoreOptions options)
    : options_(std::move(options)),
      redis_(options_.redis),
      epoch_(state::NotifyEpochKey(), "rebound-notify --rebuild-state") {
  redis_.AddScript("put", state::kPutSuggestionScript);
  redis_.AddScript("tenant", state::kAppendTenantStreamScript);
}

absl::StatusOr<std::vector<SuggestionStore::PendingInvite>>
SuggestionStore::StaleInvites(absl::Duration stale_after, int limit,
                              absl::Duration keep) {
  auto tenants = redis_.Command({"SMEMBERS", state::TenantsKey()});
  if (!tenants.ok()) return tenants.status();
  std::vector<PendingInvite> out;
  if (tenants->array.empty()) return out;
  std::vector<std::vector<std::string>> clock_reads;
  clock_reads.reserve(tenants->array.size());
  for (const auto& tv : tenants->array) {
    clock_reads.push_back(state::ReadTenantClock(tv.str));
  }
  auto clocks = redis_.Pipeline(clock_reads);
  if (!clocks.ok()) return clocks.status();
  const absl::Time now = absl::Now();
  const std::string forget_closed_before = absl::StrFormat(
      "(%.0f", state::kClosedInviteBase + absl::ToUnixSeconds(now - keep));
  for (size_t t = 0; t < tenants->array.size(); ++t) {
    const std::string& tenant = tenants->array[t].str;
    const absl::Time tenant_now = now + state::TenantClockLag((*clocks)[t]);
    const std::string pending = state::TenantKeys(tenant).Pending();
    auto v = redis_.Pipeline(
        {{"ZRANGEBYSCORE", pending, "-inf",
          std::to_string(absl::ToUnixSeconds(tenant_now - stale_after)),
          "WITHSCORES", "LIMIT", "0", std::to_string(limit)},
         {"ZREMRANGEBYSCORE", pending,
          absl::StrFormat("%.0f", state::kClosedInviteBase),
          forget_closed_before}});
    if (!v.ok()) return v.status();
    const auto& page = (*v)[0].array;
    const size_t first = out.size();
    for (size_t i = 0; i + 1 < page.size(); i += 2) {
      PendingInvite p;
      p.tenant = tenant;
      if (!state::ParsePendingEntry(page[i].str, &p.sender, &p.recipient,
                                    &p.request_id)) {
        continue;
      }
      double at = 0;
      (void)absl::SimpleAtod(page[i + 1].str, &at);
      p.sent_at = absl::FromUnixSeconds(static_cast<int64_t>(at));
      p.tenant_now = tenant_now;
      out.push_back(std::move(p));
    }
    // Still open? Scoring's request state says (state/member_state.h).
    std::vector<std::vector<std::string>> states;
    for (size_t i = first; i < out.size(); ++i) {
      states.push_back(RequestStateRead(out[i]));
    }
    if (states.empty()) continue;
    auto got = redis_.Pipeline(states);
    if (!got.ok()) return got.status();
    for (size_t i = first; i < out.size(); ++i) {
      const RedisValue& state = (*got)[i - first];
      out[i].known = !state.is_nil();
      out[i].open = IsOpen(state);
    }
  }
  return out;
}

absl::Status SuggestionStore::ForgetPending(
    const std::vector<PendingInvite>& invites) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(invites.size());
  for (const auto& p : invites) {
    commands.push_back(
        state::RemoveOpenInvite(p.tenant, p.sender, p.recipient, p.request_id));
  }
  if (commands.empty()) return absl::OkStatus();
  auto v = redis_.Pipeline(commands);
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::StatusOr<int64_t> SuggestionStore::TrackOpenInvites(
    const std::vector<PendingInvite>& invites) {
  std::vector<std::vector<std::string>> states;
  states.reserve(invites.size());
  for (const auto& p : invites) states.push_back(RequestStateRead(p));
  if (states.empty()) return 0;
  auto got = redis_.Pipeline(states);
  if (!got.ok()) return got.status();
  // The rule scoring writes by (state::AddOpenInvite).
  std::vector<std::vector<std::string>> adds;
  std::set<std::string> tenants;
  for (size_t i = 0; i < invites.size(); ++i) {
    if (!IsOpen((*got)[i])) continue;
    const PendingInvite& p = invites[i];
    adds.push_back(state::AddOpenInvite(p.tenant, p.sender, p.recipient,
                                        p.request_id,
                                        absl::ToUnixSeconds(p.sent_at)));
    tenants.insert(p.tenant);
  }
  if (adds.empty()) return 0;
  for (const auto& t : tenants)
    adds.push_back({"SADD", state::TenantsKey(), t});
  auto added = redis_.Pipeline(adds);
  if (!added.ok()) return added.status();
  return static_cast<int64_t>(adds.size() - tenants.size());
}

namespace {

// Acceptance by note style, channel and send hour for the member and its
// tenant, from their encoded tallies (state/works.h).
std::vector<rebound::v1::ApproachStats> WhatWorks(const RedisValue& member,
                                                  const RedisValue& tenant) {
  const auto mine = state::DecodeWorks(member.str);
  const auto all = state::DecodeWorks(tenant.str);
  auto rate = [](const state::Tally& t, rebound::v1::ApproachRate* out) {
    out->set_answered(t.answered);
    out->set_accepted(t.accepted);
    out->set_rate(t.answered > 0 ? static_cast<double>(t.accepted) /
                                       static_cast<double>(t.answered)
                                 : 0.0);
    const auto [low, high] = state::WilsonInterval(t.accepted, t.answered);
    out->set_low(low);
    out->set_high(high);
  };
  std::vector<rebound::v1::ApproachStats> out;
  for (int cell = 0; cell < state::kWorksCells; ++cell) {
    if (mine[cell].answered == 0 && all[cell].answered == 0) continue;
    rebound::v1::ApproachStats a;
    if (cell < state::kNoteStyles) {
      a.set_dimension("note_style");
      a.set_value(std::string(
          state::NoteStyleName(static_cast<state::NoteStyle>(cell))));
    } else if (cell < state::kNoteStyles + state::kChannels) {
      a.set_dimension("channel");
      a.set_value(rebound::v1::Channel_Name(
          static_cast<rebound::v1::Channel>(cell - state::kNoteStyles)));
    } else {
      a.set_dimension("send_hour");
      a.set_value(absl::StrFormat(
          "%02d", cell - state::kNoteStyles - state::kChannels));
    }
    rate(mine[cell], a.mutable_member());
    rate(all[cell], a.mutable_tenant());
    out.push_back(std::move(a));
  }
  return out;
}

// The `top` most frequent red flags of a member's flag hash.
std::vector<std::pair<std::string, int64_t>> TopRedFlags(
    const RedisValue& flags, int top) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [k, val] : HashFields(flags)) {
    int64_t n = 0;
    (void)absl::SimpleAtoi(val, &n);
    out.emplace_back(k, n);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (static_cast<int>(out.size()) > top) out.resize(std::max(top, 0));
  return out;
}

}  // namespace

absl::StatusOr<SuggestionStore::InsightsData> SuggestionStore::Insights(
    const std::string& tenant, const std::string& member, int top_red_flags) {
  const state::MemberKeys m(tenant, member);
  std::vector<std::vector<std::string>> reads =
      state::MemberScoresReads(tenant, member);
  const size_t works = reads.size();
  reads.push_back({"GET", m.Works()});
  reads.push_back({"GET", state::TenantKeys(tenant).Works()});
  const size_t flags = reads.size();
  reads.push_back({"HGETALL", m.Flags()});
  const size_t index = reads.size();
  reads.push_back({"ZREVRANGE", m.Suggestions(), "0", "-1"});
  auto replies = redis_.Pipeline(reads);
  if (!replies.ok()) return replies.status();
  const auto& v = *replies;
  InsightsData out;
  auto scores = state::DecodeMemberScores(tenant, member, v.data());
  if (scores.ok()) {
    out.scores = std::move(*scores);
  } else if (!absl::IsNotFound(scores.status())) {
    return scores.status();
  }
  out.works = WhatWorks(v[works], v[works + 1]);
  out.red_flags = TopRedFlags(v[flags], top_red_flags);
  const std::vector<RedisValue>& ids = v[index].array;
  if (ids.empty()) return out;
  std::vector<std::vector<std::string>> states;
  states.reserve(ids.size());
  for (const auto& id : ids) {
    states.push_back({"HGET", m.Suggestion(id.str), "state"});
  }
  auto got = redis_.Pipeline(states);
  if (!got.ok()) return got.status();
  for (const RedisValue& s : *got) {
    if (!s.is_nil()) ++out.suggestions_by_state[s.str];
  }
  return out;
}

absl::Status SuggestionStore::Ping() {
  auto v = redis_.Command({"PING"});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::StatusOr<std::vector<state::PolicyInputs>>
SuggestionStore::ReadPolicyInputs(const std::vector<state::PolicyKey>& keys) {
  std::vector<std::vector<std::string>> first = epoch_.Check();
  std::vector<RedisValue> replies;
  auto inputs = state::ReadPolicyInputs(redis_, keys, std::move(first),
                                        epoch_.adopted() ? &replies : nullptr);
  if (inputs.ok() && epoch_.adopted()) {
    if (auto s = epoch_.Verify(replies.back()); !s.ok()) return s;
  }
  return inputs;
}

absl::Status SuggestionStore::EnsureEpoch(bool may_create) {
  return epoch_.Ensure(redis_, may_create);
}

absl::Status SuggestionStore::AdoptRebuiltEpoch() {
  return epoch_.AdoptRebuilt(redis_);
}

absl::Status SuggestionStore::CheckEpoch() { return epoch_.CheckNow(redis_); }

absl::StatusOr<int64_t> SuggestionStore::RemoveNotifyState() {
  // The epoch first: no instance adopts it again while the keys go.
  auto epoch = redis_.Command({"DEL", state::NotifyEpochKey()});
  if (!epoch.ok()) return epoch.status();
  return state::RemoveKeys(redis_, state::IsNotifyKey);
}

absl::Status SuggestionStore::SetNewEpoch() { return epoch_.SetNew(redis_); }

bool SuggestionStore::RefreshDue(const std::string& member_prefix,
                                 absl::Time now) {
  // Bounded: when full it starts over, and every member refreshes once.
  if (refreshed_.size() >= kRefreshedMembers) refreshed_.clear();
  auto it = refreshed_.find(member_prefix);
  return it == refreshed_.end() || now - it->second >= kRefreshEvery;
}

absl::StatusOr<RetrySuggestion> SuggestionStore::Put(
    const RetrySuggestion& suggestion,
    const std::vector<std::string>& red_flags) {
  auto stored = PutBatch({{suggestion, red_flags}});
  if (!stored.ok()) return stored.status();
  return std::move((*stored)[0]);
}

absl::StatusOr<std::vector<RetrySuggestion>> SuggestionStore::PutBatch(
    const std::vector<SuggestionWrite>& writes) {
  std::vector<ScriptCall> puts;
  puts.reserve(writes.size());
  if (auto s = redis_.Connect(); !s.ok()) return s;
  // Standalone: the tenant stream is appended by the put itself.
  const bool with_tenant = !redis_.cluster();
  const absl::Time now = absl::Now();
  // Per put: the member it refreshes, if it asks to ("" if not).
  std::vector<std::string> refreshes;
  refreshes.reserve(writes.size());
  for (const auto& w : writes) {
    const RetrySuggestion& s = w.suggestion;
    const state::MemberKeys m(s.tenant_id(), s.member_id());
    // Every put of the member in this batch asks: the first may be a replay
    // that returns before its EXPIREs.
    refreshes.push_back(RefreshDue(m.prefix(), now) ? m.prefix() : "");
    const state::TenantKeys tk(s.tenant_id());
    const int64_t created_ms =
        s.created_at().seconds() * 1000 + s.created_at().nanos() / 1'000'000;
    ScriptCall call{
        "put",
        {m.Suggestion(s.suggestion_id()), m.Suggestions(), m.Waiting(),
         m.Retries(s.recipient_id()), m.Flags(), m.Stream()},
        {s.SerializeAsString(), std::to_string(s.version()),
         std::to_string(created_ms),
         rebound::v1::SuggestionState_Name(s.state()), s.suggestion_id(),
         s.should_retry() ? "1" : "0",
         s.state() == rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE ? "1"
                                                                       : "0",
         std::to_string(options_.member_stream_max),
         Secs(options_.suggestion_ttl),
         std::to_string(options_.max_suggestions_per_member),
         with_tenant ? std::to_string(options_.tenant_stream_max) : "",
         refreshes.back().empty() ? "0" : "1"}};
    if (with_tenant) call.keys.push_back(tk.Stream());
    call.args.insert(call.args.end(), w.red_flags.begin(), w.red_flags.end());
    puts.push_back(std::move(call));
  }
  std::vector<RetrySuggestion> stored;
  if (writes.empty()) return stored;
  auto put = redis_.RunScripts(puts);
  if (!put.ok()) return put.status();
  // Refreshed: the members whose put asked for it and wrote (a version
  // written before returns before its EXPIREs).
  for (size_t i = 0; i < puts.size(); ++i) {
    if (!refreshes[i].empty() && !(*put)[i].str.empty()) {
      refreshed_[refreshes[i]] = now;
    }
  }
  // Not written: a replay, or a newer version is stored already.
  std::vector<std::vector<std::string>> gets;
  std::vector<size_t> replayed;
  for (size_t i = 0; i < writes.size(); ++i) {
    stored.push_back(writes[i].suggestion);
    if (!(*put)[i].str.empty()) continue;
    const RetrySuggestion& s = writes[i].suggestion;
    gets.push_back({"HGET",
                    state::MemberKeys(s.tenant_id(), s.member_id())
                        .Suggestion(s.suggestion_id()),
                    "data"});
    replayed.push_back(i);
  }
  if (!gets.empty()) {
    auto data = redis_.Pipeline(gets);
    if (!data.ok()) return data.status();
    for (size_t j = 0; j < replayed.size(); ++j) {
      RetrySuggestion got;
      const RedisValue& v = (*data)[j];
      // The same version (a replay) or a newer one (this write came too
      // late): the caller gets what is stored, never a copy that is not.
      if (!v.is_nil() && got.ParseFromString(v.str) &&
          got.version() >= stored[replayed[j]].version()) {
        stored[replayed[j]] = std::move(got);
      }
    }
  }
  // Standalone: each version reached the tenant stream with its write (a
  // replay's, when it was first written).
  if (with_tenant) return stored;
  // Cluster: the tenant stream is in another slot; appended behind a marker
  // per version, so a replay appends what a failure left out, once.
  std::vector<ScriptCall> appends;
  appends.reserve(stored.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    const RetrySuggestion& s = stored[i];
    const state::TenantKeys tk(s.tenant_id());
    appends.push_back(
        {"tenant",
         {tk.Stream(), tk.StreamMarker(s.suggestion_id(), s.version())},
         {s.SerializeAsString(), Secs(options_.marker_ttl),
          std::to_string(options_.tenant_stream_max)}});
  }
  if (appends.empty()) return stored;
  auto appended = redis_.RunScripts(appends);
  if (!appended.ok()) return appended.status();
  return stored;
}

bool SuggestionStore::Decode(const std::string& bytes, const std::string& key,
                             RetrySuggestion* out) const {
  if (out->ParseFromString(bytes)) return true;
  log::Warn("stored suggestion does not decode; skipped", {{"key", key}});
  if (options_.corrupt != nullptr) options_.corrupt->Increment();
  return false;
}

absl::StatusOr<std::optional<RetrySuggestion>> SuggestionStore::Get(
    const std::string& tenant, const std::string& member, const std::string& id,
    bool* corrupt) {
  const std::string key = state::MemberKeys(tenant, member).Suggestion(id);
  auto v = redis_.Command({"HGET", key, "data"});
  if (!v.ok()) return v.status();
  if (v->is_nil()) return std::optional<RetrySuggestion>();
  RetrySuggestion s;
  if (!Decode(v->str, key, &s)) {
    if (corrupt != nullptr) *corrupt = true;
    return std::optional<RetrySuggestion>();
  }
  return std::optional<RetrySuggestion>(std::move(s));
}

absl::StatusOr<std::vector<RetrySuggestion>> SuggestionStore::ReadIndexed(
    const std::string& tenant, const std::string& member,
    const std::vector<RedisValue>& ids, size_t count) {
  const state::MemberKeys m(tenant, member);
  std::vector<std::vector<std::string>> gets;
  for (size_t i = 0; i < ids.size() && i < count; ++i)
    gets.push_back({"HGET", m.Suggestion(ids[i].str), "data"});
  std::vector<RetrySuggestion> out;
  if (gets.empty()) return out;
  auto data = redis_.Pipeline(gets);
  if (!data.ok()) return data.status();
  for (size_t i = 0; i < data->size(); ++i) {
    const RedisValue& d = (*data)[i];
    RetrySuggestion s;
    if (!d.is_nil() && Decode(d.str, gets[i][1], &s))
      out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<RetrySuggestion>> SuggestionStore::List(
    const std::string& tenant, const std::string& member) {
  auto ids = redis_.Command({"ZREVRANGE",
                             state::MemberKeys(tenant, member).Suggestions(),
                             "0", "-1"});
  if (!ids.ok()) return ids.status();
  return ReadIndexed(tenant, member, ids->array, ids->array.size());
}

absl::StatusOr<SuggestionStore::Page> SuggestionStore::ListAfter(
    const std::string& tenant, const std::string& member,
    const std::optional<PageCursor>& after, int64_t count,
    const std::function<bool(const RetrySuggestion&)>& wanted) {
  // The whole index (bounded by max_suggestions_per_member) in one read:
  // one consistent order to find the cursor in.
  auto index = redis_.Command({"ZREVRANGE",
                               state::MemberKeys(tenant, member).Suggestions(),
                               "0", "-1", "WITHSCORES"});
  if (!index.ok()) return index.status();
  std::vector<PageCursor> entries;
  for (size_t i = 0; i + 1 < index->array.size(); i += 2) {
    double score = 0;
    if (!absl::SimpleAtod(index->array[i + 1].str, &score)) continue;
    entries.push_back({static_cast<int64_t>(score), index->array[i].str});
  }
  // Past the cursor: strictly after it in (score, id) descending.
  size_t pos = 0;
  if (after) {
    while (pos < entries.size() &&
           (entries[pos].created_ms > after->created_ms ||
            (entries[pos].created_ms == after->created_ms &&
             entries[pos].suggestion_id >= after->suggestion_id))) {
      ++pos;
    }
  }
  Page page;
  std::optional<PageCursor> last;
  while (pos < entries.size()) {
    // Enough for the page and one more (to know whether more follow).
    const size_t want =
        static_cast<size_t>(count) + 1 - page.suggestions.size();
    const size_t chunk = std::min(entries.size() - pos,
                                  wanted ? std::max<size_t>(want, 64) : want);
    std::vector<RedisValue> ids;
    for (size_t i = pos; i < pos + chunk; ++i) {
      RedisValue v;
      v.type = RedisValue::Type::kString;
      v.str = entries[i].suggestion_id;
      ids.push_back(std::move(v));
    }
    const state::MemberKeys m(tenant, member);
    std::vector<std::vector<std::string>> gets;
    for (const auto& id : ids)
      gets.push_back({"HGET", m.Suggestion(id.str), "data"});
    auto data = redis_.Pipeline(gets);
    if (!data.ok()) return data.status();
    for (size_t i = 0; i < data->size(); ++i) {
      const RedisValue& d = (*data)[i];
      RetrySuggestion s;
      // Expired (its index entry outlives it) or corrupt: never served.
      if (d.is_nil() || !Decode(d.str, gets[i][1], &s)) continue;
      if (wanted && !wanted(s)) continue;
      if (static_cast<int64_t>(page.suggestions.size()) == count) {
        page.next = last;
        return page;
      }
      last = entries[pos + i];
      page.suggestions.push_back(std::move(s));
    }
    pos += chunk;
  }
  return page;
}

absl::StatusOr<std::vector<std::string>> SuggestionStore::WaitingOnProfile(
    const std::string& tenant, const std::string& member) {
  auto v =
      redis_.Command({"SMEMBERS", state::MemberKeys(tenant, member).Waiting()});
  if (!v.ok()) return v.status();
  std::vector<std::string> out;
  for (const auto& e : v->array) out.push_back(e.str);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<StreamEntry>> SuggestionStore::Read(
    const std::string& tenant, const std::string& member,
    const std::string& after_id, absl::Duration block, int count) {
  std::vector<std::string> argv = {"XREAD", "COUNT", std::to_string(count)};
  if (block > absl::ZeroDuration()) {
    argv.push_back("BLOCK");
    argv.push_back(std::to_string(absl::ToInt64Milliseconds(block)));
  }
  argv.push_back("STREAMS");
  argv.push_back(StreamKey(tenant, member));
  argv.push_back(after_id);
  auto v = redis_.Command(argv);
  if (!v.ok()) return v.status();
  std::vector<StreamEntry> out;
  if (v->is_nil()) return out;
  // [[key, [[id, [field, value]], ...]]]
  for (const auto& stream : v->array) {
    if (stream.array.size() != 2) continue;
    for (const auto& entry : stream.array[1].array) {
      if (entry.array.size() != 2) continue;
      StreamEntry e;
      e.id = entry.array[0].str;
      const auto& fields = entry.array[1].array;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "s") {
          e.corrupt = !Decode(fields[i + 1].str,
                              stream.array[0].str + " " + e.id, &e.suggestion);
        }
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

absl::StatusOr<std::string> SuggestionStore::LastEntryId(
    const std::string& tenant, const std::string& member) {
  auto v = redis_.Command(
      {"XREVRANGE", StreamKey(tenant, member), "+", "-", "COUNT", "1"});
  if (!v.ok()) return v.status();
  if (v->array.empty() || v->array[0].array.empty()) return std::string("0-0");
  return v->array[0].array[0].str;
}

absl::StatusOr<uint64_t> SuggestionStore::StreamClockMs(
    const std::string& tenant, const std::string& member) {
  // A script naming the stream's key runs where the stream is (a Redis
  // Cluster sends a keyless TIME to any master).
  auto v = redis_.Command(
      {"EVAL", "return redis.call('TIME')", "1", StreamKey(tenant, member)});
  if (!v.ok()) return v.status();
  uint64_t seconds = 0, micros = 0;
  if (v->array.size() != 2 || !absl::SimpleAtoi(v->array[0].str, &seconds) ||
      !absl::SimpleAtoi(v->array[1].str, &micros)) {
    return absl::InternalError("redis: unexpected TIME reply");
  }
  return seconds * 1000 + micros / 1000;
}

absl::StatusOr<std::string> SuggestionStore::FirstEntryId(
    const std::string& tenant, const std::string& member) {
  auto v = redis_.Command(
      {"XRANGE", StreamKey(tenant, member), "-", "+", "COUNT", "1"});
  if (!v.ok()) return v.status();
  if (v->array.empty() || v->array[0].array.empty()) return std::string();
  return v->array[0].array[0].str;
}

}  // namespace rebound::notify
