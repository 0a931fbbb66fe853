#include "services/notify/suggestion_store.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/scoring/score_store.h"

namespace rebound::notify {
namespace {

using rebound::v1::RetrySuggestion;

// KEYS: sugg hash, suggs zset, waiting set, pair retries, flags, member
// stream, marker. ARGV: data, version, created_ms, state name, id,
// counts_retry (0/1), waiting (0/1), marker ttl, stream max, flags...
// Returns the stream entry id, or "" when this version was written before
// (or an older version arrived after a newer one).
constexpr char kPutScript[] = R"lua(
if not redis.call('SET', KEYS[7], '1', 'NX', 'EX', ARGV[8]) then return '' end
local version = tonumber(ARGV[2])
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version <= stored then return '' end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'version', version, 'state', ARGV[4])
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[5])
if ARGV[7] == '1' then
  redis.call('SADD', KEYS[3], ARGV[5])
else
  redis.call('SREM', KEYS[3], ARGV[5])
end
if version == 1 then
  if ARGV[6] == '1' then redis.call('INCR', KEYS[4]) end
  for i = 11, #ARGV do redis.call('HINCRBY', KEYS[5], ARGV[i], 1) end
end
return redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[9], '*', 's', ARGV[1])
)lua";

// KEYS: tenant stream, marker. ARGV: data, marker ttl, stream max.
constexpr char kTenantScript[] = R"lua(
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return '' end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 's', ARGV[1])
)lua";

// KEYS: tenant pending zset, closed marker, tenants set. ARGV: kind
// ("sent"/"closed"), member entry, sent_at (s), keep (s), tenant.
constexpr char kPendingScript[] = R"lua(
if ARGV[1] == 'closed' then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[5])
return 1
)lua";

constexpr char kSep = '\x1f';

std::string Member(const std::string& t, const std::string& m) {
  return scoring::MemberTag(t, m);
}

std::string TenantTag(const std::string& t) {
  return absl::StrCat("rb:{", t, "}");
}

}  // namespace

std::string StreamKey(const std::string& tenant, const std::string& member) {
  return member.empty() ? TenantTag(tenant) + ":sugg-stream"
                        : Member(tenant, member) + ":sugg-stream";
}

SuggestionStore::SuggestionStore(SuggestionStoreOptions options)
    : options_(std::move(options)), redis_(options_.redis) {
  redis_.AddScript("put", kPutScript);
  redis_.AddScript("tenant", kTenantScript);
  redis_.AddScript("pending", kPendingScript);
}

absl::Status SuggestionStore::TrackPending(
    const rebound::v1::ConnectionEvent& e, absl::Duration keep) {
  std::string request_id;
  bool sent = false;
  switch (e.payload_case()) {
    case rebound::v1::ConnectionEvent::kRequestSent:
      request_id = e.request_sent().request_id();
      sent = true;
      break;
    case rebound::v1::ConnectionEvent::kRequestAccepted:
      request_id = e.request_accepted().request_id();
      break;
    case rebound::v1::ConnectionEvent::kRequestDeclined:
      request_id = e.request_declined().request_id();
      break;
    case rebound::v1::ConnectionEvent::kRequestWithdrawn:
      request_id = e.request_withdrawn().request_id();
      break;
    case rebound::v1::ConnectionEvent::kRequestExpired:
      request_id = e.request_expired().request_id();
      break;
    default:
      return absl::OkStatus();
  }
  const std::string t = TenantTag(e.tenant_id());
  std::string entry =
      absl::StrCat(e.sender_id(), std::string(1, kSep), e.recipient_id(),
                   std::string(1, kSep), request_id);
  auto v = redis_.RunScript(
      "pending", {t + ":pending", t + ":closed:" + request_id, "rb:tenants"},
      {sent ? "sent" : "closed", entry,
       std::to_string(e.occurred_at().seconds()),
       std::to_string(absl::ToInt64Seconds(keep)), e.tenant_id()});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::StatusOr<std::vector<SuggestionStore::PendingInvite>>
SuggestionStore::PendingBefore(absl::Time before, int limit) {
  auto tenants = redis_.Command({"SMEMBERS", "rb:tenants"});
  if (!tenants.ok()) return tenants.status();
  std::vector<PendingInvite> out;
  for (const auto& tv : tenants->array) {
    const std::string& tenant = tv.str;
    auto v =
        redis_.Command({"ZRANGEBYSCORE", TenantTag(tenant) + ":pending", "-inf",
                        std::to_string(absl::ToUnixSeconds(before)),
                        "WITHSCORES", "LIMIT", "0", std::to_string(limit)});
    if (!v.ok()) return v.status();
    for (size_t i = 0; i + 1 < v->array.size(); i += 2) {
      std::vector<std::string> parts = absl::StrSplit(v->array[i].str, kSep);
      if (parts.size() != 3) continue;
      double at = 0;
      (void)absl::SimpleAtod(v->array[i + 1].str, &at);
      out.push_back({tenant, parts[0], parts[1], parts[2],
                     absl::FromUnixSeconds(static_cast<int64_t>(at))});
    }
  }
  return out;
}

absl::Status SuggestionStore::ForgetPending(const PendingInvite& p) {
  auto v =
      redis_.Command({"ZREM", TenantTag(p.tenant) + ":pending",
                      absl::StrCat(p.sender, std::string(1, kSep), p.recipient,
                                   std::string(1, kSep), p.request_id)});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::Status SuggestionStore::Ping() {
  auto v = redis_.Command({"PING"});
  return v.ok() ? absl::OkStatus() : v.status();
}

absl::StatusOr<PolicyContext> SuggestionStore::ReadPolicyContext(
    const std::string& tenant, const std::string& sender,
    const std::string& recipient) {
  const std::string s = Member(tenant, sender);
  const std::string r = Member(tenant, recipient);
  auto replies = redis_.Pipeline({{"GET", s + ":retries:" + recipient},
                                  {"HGETALL", r + ":rcv"},
                                  {"HGET", s + ":snd", "profile"}});
  if (!replies.ok()) return replies.status();
  PolicyContext c;
  int64_t n = 0;
  if (!(*replies)[0].is_nil() && absl::SimpleAtoi((*replies)[0].str, &n)) {
    c.prior_retries = static_cast<int>(n);
  }
  auto rcv = HashFields((*replies)[1]);
  for (int h = 0; h < 168; ++h) {
    auto it = rcv.find(absl::StrCat("h", h));
    int64_t v = 0;
    if (it != rcv.end() && absl::SimpleAtoi(it->second, &v))
      c.recipient_accept_hours[h] = v;
  }
  if (auto it = rcv.find("utc_offset"); it != rcv.end()) {
    int64_t off = 0;
    if (absl::SimpleAtoi(it->second, &off))
      c.recipient_utc_offset_minutes = static_cast<int>(off);
  }
  if (!(*replies)[2].is_nil()) {
    rebound::v1::ProfileSnapshot p;
    if (p.ParseFromString((*replies)[2].str)) c.sender_profile = p;
  }
  return c;
}

absl::StatusOr<RetrySuggestion> SuggestionStore::Put(
    const RetrySuggestion& suggestion,
    const std::vector<std::string>& red_flags) {
  const std::string& t = suggestion.tenant_id();
  const std::string m = Member(t, suggestion.member_id());
  const std::string id = suggestion.suggestion_id();
  const std::string version = std::to_string(suggestion.version());
  const std::string data = suggestion.SerializeAsString();
  const int64_t created_ms = suggestion.created_at().seconds() * 1000 +
                             suggestion.created_at().nanos() / 1'000'000;
  const bool counts_retry = suggestion.should_retry();
  const bool waiting =
      suggestion.state() == rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE;
  std::vector<std::string> args = {
      data,
      version,
      std::to_string(created_ms),
      rebound::v1::SuggestionState_Name(suggestion.state()),
      id,
      counts_retry ? "1" : "0",
      waiting ? "1" : "0",
      std::to_string(absl::ToInt64Seconds(options_.marker_ttl)),
      std::to_string(options_.member_stream_max),
      "",  // Reserved.
  };
  args.insert(args.end(), red_flags.begin(), red_flags.end());
  auto put = redis_.RunScript(
      "put",
      {m + ":sugg:" + id, m + ":suggs", m + ":waiting",
       m + ":retries:" + suggestion.recipient_id(), m + ":flags",
       m + ":sugg-stream", m + ":sugg-ev:" + id + ":" + version},
      args);
  if (!put.ok()) return put.status();
  // Written before (a replay): the tenant stream gets what was stored then.
  RetrySuggestion stored = suggestion;
  if (put->str.empty()) {
    auto got = Get(t, suggestion.member_id(), id);
    if (!got.ok()) return got.status();
    if (got->has_value() && (*got)->version() == suggestion.version())
      stored = **got;
  }
  auto tenant = redis_.RunScript(
      "tenant",
      {TenantTag(t) + ":sugg-stream",
       TenantTag(t) + ":sugg-ev:" + id + ":" + version},
      {stored.SerializeAsString(),
       std::to_string(absl::ToInt64Seconds(options_.marker_ttl)),
       std::to_string(options_.tenant_stream_max)});
  if (!tenant.ok()) return tenant.status();
  return stored;
}

absl::StatusOr<std::optional<RetrySuggestion>> SuggestionStore::Get(
    const std::string& tenant, const std::string& member,
    const std::string& id) {
  auto v =
      redis_.Command({"HGET", Member(tenant, member) + ":sugg:" + id, "data"});
  if (!v.ok()) return v.status();
  if (v->is_nil()) return std::optional<RetrySuggestion>();
  RetrySuggestion s;
  if (!s.ParseFromString(v->str)) {
    return absl::DataLossError("suggestion '" + id +
                               "' is not a RetrySuggestion");
  }
  return std::optional<RetrySuggestion>(std::move(s));
}

absl::StatusOr<std::vector<RetrySuggestion>> SuggestionStore::List(
    const std::string& tenant, const std::string& member) {
  const std::string m = Member(tenant, member);
  auto ids = redis_.Command({"ZREVRANGE", m + ":suggs", "0", "-1"});
  if (!ids.ok()) return ids.status();
  std::vector<std::vector<std::string>> gets;
  for (const auto& id : ids->array)
    gets.push_back({"HGET", m + ":sugg:" + id.str, "data"});
  std::vector<RetrySuggestion> out;
  if (gets.empty()) return out;
  auto data = redis_.Pipeline(gets);
  if (!data.ok()) return data.status();
  for (const auto& d : *data) {
    RetrySuggestion s;
    if (!d.is_nil() && s.ParseFromString(d.str)) out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SuggestionStore::WaitingOnProfile(
    const std::string& tenant, const std::string& member) {
  auto v = redis_.Command({"SMEMBERS", Member(tenant, member) + ":waiting"});
  if (!v.ok()) return v.status();
  std::vector<std::string> out;
  for (const auto& e : v->array) out.push_back(e.str);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>>
SuggestionStore::RedFlags(const std::string& tenant, const std::string& member,
                          int top) {
  auto v = redis_.Command({"HGETALL", Member(tenant, member) + ":flags"});
  if (!v.ok()) return v.status();
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [k, val] : HashFields(*v)) {
    int64_t n = 0;
    (void)absl::SimpleAtoi(val, &n);
    out.emplace_back(k, n);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (static_cast<int>(out.size()) > top) out.resize(top);
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
        if (fields[i].str == "s")
          e.suggestion.ParseFromString(fields[i + 1].str);
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

absl::StatusOr<std::string> SuggestionStore::FirstEntryId(
    const std::string& tenant, const std::string& member) {
  auto v = redis_.Command(
      {"XRANGE", StreamKey(tenant, member), "-", "+", "COUNT", "1"});
  if (!v.ok()) return v.status();
  if (v->array.empty() || v->array[0].array.empty()) return std::string();
  return v->array[0].array[0].str;
}

}  // namespace rebound::notify
