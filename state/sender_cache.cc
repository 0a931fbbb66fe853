#include "state/sender_cache.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "state/event_fields.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "state/send_days.h"

namespace rebound::state {
namespace {

using rebound::v1::ConnectionEvent;

int64_t IntOf(const absl::flat_hash_map<std::string, std::string>& f,
              const std::string& name) {
  auto it = f.find(name);
  int64_t n = 0;
  if (it == f.end() || !absl::SimpleAtoi(it->second, &n)) return 0;
  return n;
}

// The pair string "requests:prev:last:view" (times in s, "" unknown); a
// value that does not parse reads as empty, as in the script.
struct Pair {
  int64_t n = 0;
  std::string prev, last, view;
};

bool IsInt(absl::string_view s, bool allow_empty) {
  if (s.empty()) return allow_empty;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

Pair ParsePair(const std::optional<std::string>& v) {
  Pair p;
  if (!v) return p;
  std::vector<absl::string_view> parts = absl::StrSplit(*v, ':');
  if (parts.size() != 4 || parts[0].empty() || parts[0][0] == '-' ||
      !IsInt(parts[0], false) || !IsInt(parts[1], true) ||
      !IsInt(parts[2], true) || !IsInt(parts[3], true)) {
    return p;
  }
  if (!absl::SimpleAtoi(parts[0], &p.n)) return Pair{};
  p.prev = std::string(parts[1]);
  p.last = std::string(parts[2]);
  p.view = std::string(parts[3]);
  return p;
}

std::string PairString(const Pair& p) {
  return std::to_string(p.n) + ":" + p.prev + ":" + p.last + ":" + p.view;
}

// "rb:{t/m}" of a member key: escaped ids hold no '}'.
std::string PrefixOf(const std::string& key) {
  const size_t close = key.find('}');
  return close == std::string::npos ? key : key.substr(0, close + 1);
}

RedisValue StringValue(std::string s) {
  RedisValue v;
  v.type = RedisValue::Type::kString;
  v.str = std::move(s);
  return v;
}

bool Terminal(const std::string& state) {
  return state == "accepted" || state == "declined" || state == "withdrawn" ||
         state == "expired";
}

const char* KindOf(const ConnectionEvent& e) {
  switch (e.payload_case()) {
    case ConnectionEvent::kRequestSent:
      return "sent";
    case ConnectionEvent::kRequestAccepted:
      return "accepted";
    case ConnectionEvent::kRequestDeclined:
      return "declined";
    case ConnectionEvent::kRequestWithdrawn:
      return "withdrawn";
    case ConnectionEvent::kRequestExpired:
      return "expired";
    case ConnectionEvent::kProfileViewed:
      return "viewed";
    case ConnectionEvent::kProfileUpdated:
      return "profile";
    default:
      return nullptr;
  }
}

// Whether `key` is kept in process: in the young generation, or in the old
// one, whence it moves to the young one.
template <typename Map>
bool Kept(Map& young, Map& old, const std::string& key) {
  if (young.contains(key)) return true;
  auto node = old.extract(key);
  if (node.empty()) return false;
  young.insert(std::move(node));
  return true;
}

}  // namespace

std::vector<std::vector<std::string>> SenderCache::LoadsFor(
    const std::vector<const ConnectionEvent*>& events) {
  std::vector<std::vector<std::string>> out;
  pending_loads_.clear();
  absl::flat_hash_set<std::string> asked;
  auto hash = [&](std::string key) {
    if (Kept(young_.hashes, old_.hashes, key) || !asked.insert(key).second) {
      return;
    }
    out.push_back({"HGETALL", key});
    pending_loads_.push_back({Load::kHash, std::move(key), {}});
  };
  auto str = [&](std::string key) {
    if (Kept(young_.strings, old_.strings, key) || !asked.insert(key).second) {
      return;
    }
    out.push_back({"GET", key});
    pending_loads_.push_back({Load::kString, std::move(key), {}});
  };
  for (const ConnectionEvent* e : events) {
    const MemberKeys s(e->tenant_id(), e->sender_id());
    const std::string& request = RequestIdOf(*e);
    const bool view_of_pair = e->has_profile_viewed() && request.empty();
    // What Apply and SenderReplies read: the sender hash, the request (but
    // for a profile or a view of the pair), the pair (a send, a view of
    // the pair, a decline's or expiry's context).
    if (!e->has_profile_viewed()) hash(s.Sender());
    if (!e->has_profile_updated() && !view_of_pair) {
      hash(s.Request(request));
    }
    if (e->has_request_sent() || view_of_pair || e->has_request_declined() ||
        e->has_request_expired()) {
      str(s.Pair(e->recipient_id()));
    }
    // The recipient's keys this process increments: their types checked
    // (and the stored utc offset read) once, before the first write, so
    // that a key of the wrong type fails the load, not a command in the
    // middle of a transaction (which Redis would not undo).
    if (options_.recipient_by_script ||
        !(e->has_request_sent() || e->has_request_accepted() ||
          e->has_request_declined())) {
      continue;
    }
    const MemberKeys r(e->tenant_id(), e->recipient_id());
    std::string rcv = r.Recipient();
    if (!Kept(young_.recipient_offsets, old_.recipient_offsets, rcv) &&
        asked.insert(rcv).second) {
      out.push_back({"HGET", rcv, "utc_offset"});
      pending_loads_.push_back({Load::kOffset, rcv, rcv});
    }
    std::string hours = r.AcceptHours();
    if (e->has_request_accepted() &&
        !Kept(young_.hours_checked, old_.hours_checked, hours) &&
        asked.insert(hours).second) {
      out.push_back({"STRLEN", hours});
      pending_loads_.push_back({Load::kChecked, std::move(hours), {}});
    }
  }
  return out;
}

void SenderCache::Loaded(std::vector<RedisValue> replies) {
  for (size_t i = 0; i < pending_loads_.size() && i < replies.size(); ++i) {
    Load& l = pending_loads_[i];
    RedisValue& v = replies[i];
    switch (l.kind) {
      case Load::kHash: {
        Hash& h = young_.hashes[l.key];
        for (size_t k = 0; k + 1 < v.array.size(); k += 2) {
          h.fields.emplace(std::move(v.array[k].str),
                           std::move(v.array[k + 1].str));
        }
        break;
      }
      case Load::kString: {
        Str& s = young_.strings[l.key];
        if (!v.is_nil()) s.value = std::move(v.str);
        break;
      }
      case Load::kOffset:
        young_.recipient_offsets[l.recipient_key] = v.is_nil() ? "" : v.str;
        break;
      case Load::kChecked:
        young_.hours_checked.insert(std::move(l.key));
        break;
    }
  }
  pending_loads_.clear();
}

void SenderCache::Set(Hash& h, const std::string& field, std::string value) {
  h.fields[field] = std::move(value);
  h.dirty.insert(field);
}

void SenderCache::Other(const std::string& tag, RedisStep step) {
  auto [it, added] = recipient_index_.try_emplace(tag, recipient_.size());
  if (added) recipient_.push_back({tag, {}});
  recipient_[it->second].second.push_back(std::move(step));
}

void SenderCache::AdjustRecipient(const std::string& recipient_key,
                                  RedisValue* hash, RedisValue* hours) const {
  if (reads_before_taken_) {
    if (auto it = taken_deltas_.find(recipient_key);
        it != taken_deltas_.end()) {
      MoveRecipient(it->second, hash, hours);
    }
  }
  if (auto it = recipient_deltas_.find(recipient_key);
      it != recipient_deltas_.end()) {
    MoveRecipient(it->second, hash, hours);
  }
}

void SenderCache::MoveRecipient(const RecipientDelta& d, RedisValue* hash,
                                RedisValue* hours) {
  auto field = [&](const char* name, std::optional<std::string> value,
                   int64_t add) {
    if (!value && add == 0) return;
    hash->type = RedisValue::Type::kArray;
    auto& a = hash->array;
    for (size_t i = 0; i + 1 < a.size(); i += 2) {
      if (a[i].str != name) continue;
      if (value) {
        a[i + 1].str = *value;
      } else {
        int64_t n = 0;
        if (!absl::SimpleAtoi(a[i + 1].str, &n)) n = 0;
        a[i + 1].str = std::to_string(n + add);
      }
      return;
    }
    a.push_back(StringValue(name));
    a.push_back(StringValue(value ? *value : std::to_string(add)));
  };
  field("received", std::nullopt, d.received);
  field("accepted", std::nullopt, d.accepted);
  field("declined", std::nullopt, d.declined);
  field("utc_offset", d.utc_offset, 0);
  for (int64_t how : d.hours) {
    // BITFIELD ... OVERFLOW SAT INCRBY u32 #how 1: a big-endian cell.
    if (hours->is_nil()) *hours = StringValue("");
    std::string& s = hours->str;
    const size_t at = static_cast<size_t>(how) * 4;
    if (s.size() < at + 4) s.resize(at + 4, '\0');
    uint32_t v = 0;
    for (size_t b = 0; b < 4; ++b)
      v = (v << 8) | static_cast<uint8_t>(s[at + b]);
    if (v != UINT32_MAX) ++v;
    for (size_t b = 0; b < 4; ++b) {
      s[at + b] = static_cast<char>((v >> (8 * (3 - b))) & 0xff);
    }
  }
}

absl::Status SenderCache::Apply(const ConnectionEvent& event,
                                const rebound::v1::DeclineVerdict* verdict,
                                int64_t record_ms) {
  absl::Status applied = ApplyEvent(event, verdict, record_ms);
  if (applied.ok() && options_.at_risk &&
      event.payload_case() != ConnectionEvent::kProfileViewed &&
      event.payload_case() != ConnectionEvent::kProfileUpdated) {
    UpdateRisk(event);
  }
  return applied;
}

SenderCounts CountsAsOf(const SenderState& sender, int64_t utc_day) {
  SenderCounts c;
  c.sent = sender.sent;
  c.accepted = sender.accepted;
  c.declined = sender.declined;
  c.reported = sender.reported;
  c.pending = sender.pending;
  c.sent_this_week = sender.send_days.SentInDays(utc_day - 6, utc_day);
  const AnswerRing::View recent =
      sender.answers.RecentOrAllTime(utc_day, AllTimeAnswers(sender));
  c.recent = recent.counts;
  c.recent_all_time = recent.all_time;
  return c;
}

void SenderCache::UpdateRisk(const ConnectionEvent& event) {
  const MemberKeys s(event.tenant_id(), event.sender_id());
  const std::string key = s.Sender();
  auto it = young_.hashes.find(key);
  if (it == young_.hashes.end()) return;
  Hash& snd = it->second;
  SenderState state;
  state.sent = IntOf(snd.fields, "sent");
  state.accepted = IntOf(snd.fields, "accepted");
  state.declined = IntOf(snd.fields, "declined");
  state.reported = IntOf(snd.fields, "reported");
  state.pending = IntOf(snd.fields, "pending");
  if (auto f = snd.fields.find(AnswerRing::kBeforeField);
      f != snd.fields.end()) {
    state.answers.DecodeField(f->first, f->second);
  }
  for (int i = 0; i < SendDayRing::kSlots; ++i) {
    state.send_days.slots[i] = IntOf(snd.fields, "d" + std::to_string(i));
  }
  for (int i = 0; i < AnswerRing::kSlots; ++i) {
    auto f = snd.fields.find(AnswerRing::Field(i));
    if (f != snd.fields.end()) state.answers.DecodeField(f->first, f->second);
  }
  const bool now = options_.at_risk(
      CountsAsOf(state, UtcDay(event.occurred_at().seconds())));
  auto was = snd.fields.find("at_risk");
  const bool flipped = (was != snd.fields.end() && was->second == "1") != now;
  if (!flipped && !now) return;
  if (flipped) {
    if (dirty_keys_.insert(key).second) dirty_order_.push_back(key);
    Set(snd, "at_risk", now ? "1" : "0");
  }
  const TenantKeys t(event.tenant_id());
  Other(t.prefix(), std::vector<std::string>{now ? "SADD" : "SREM", t.AtRisk(),
                                             EscapeId(event.sender_id())});
}

absl::Status SenderCache::ApplyEvent(const ConnectionEvent& event,
                                     const rebound::v1::DeclineVerdict* verdict,
                                     int64_t record_ms) {
  const char* t = KindOf(event);
  if (t == nullptr) return absl::InvalidArgumentError("payload: not set");
  const MemberKeys s(event.tenant_id(), event.sender_id());
  const int64_t at = event.occurred_at().seconds();
  // When the event reached Kafka (else now): dates the answer ring's start
  // below.
  const double reference =
      record_ms > 0 ? static_cast<double>(record_ms) / 1000.0
                    : absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  {
    const double lag = static_cast<double>(at) - reference;
    auto [it, added] = tenant_lag_.try_emplace(event.tenant_id(), lag);
    if (!added && lag > it->second) it->second = lag;
  }
  const std::string at_s = std::to_string(at);
  const std::string snd_key = s.Sender();
  const std::string& request_id = RequestIdOf(event);
  auto mark = [&](const std::string& key) {
    if (dirty_keys_.insert(key).second) dirty_order_.push_back(key);
  };
  auto hash = [&](const std::string& key) -> Hash& {
    Hash& h = young_.hashes[key];
    mark(key);
    return h;
  };
  const std::string pair_key = s.Pair(event.recipient_id());
  auto write_pair = [&](const Pair& p) {
    Str& st = young_.strings[pair_key];
    st.value = PairString(p);
    st.dirty = true;
    mark(pair_key);
  };
  const std::string kind = t;

  if (kind == "profile") {
    Hash& snd = young_.hashes[snd_key];
    auto it = snd.fields.find("profile_at");
    int64_t prev = 0;
    if (it != snd.fields.end() && absl::SimpleAtoi(it->second, &prev) &&
        prev > at) {
      return absl::OkStatus();
    }
    mark(snd_key);
    Set(snd, "profile", event.profile_updated().profile().SerializeAsString());
    Set(snd, "profile_at", at_s);
    return absl::OkStatus();
  }
  if (kind == "viewed" && request_id.empty()) {
    // A view naming no request: kept on the pair (latest view wins).
    Pair p = ParsePair(young_.strings[pair_key].value);
    int64_t view = 0;
    if (!p.view.empty() && absl::SimpleAtoi(p.view, &view) && view >= at) {
      return absl::OkStatus();
    }
    p.view = at_s;
    write_pair(p);
    return absl::OkStatus();
  }
  const std::string req_key = s.Request(request_id);
  if (kind == "viewed") {
    Hash& req = hash(req_key);
    req.expires = true;
    Set(req, "viewed", "1");
    Set(req, "viewed_at", at_s);
    return absl::OkStatus();
  }
  Hash& req = young_.hashes[req_key];
  auto state_it = req.fields.find("state");
  const std::string state =
      state_it == req.fields.end() ? "" : state_it->second;
  const MemberKeys r(event.tenant_id(), event.recipient_id());
  const std::string rcv_key = r.Recipient();
  const std::string rcv_prefix = PrefixOf(rcv_key);
  // The recipient's utc offset in the request's snapshot ("" none).
  std::string offset;
  if (kind == "sent" && event.request_sent().has_recipient_profile()) {
    offset = std::to_string(
        event.request_sent().recipient_profile().utc_offset_minutes());
  }
  if (options_.recipient_by_script &&
      (kind == "sent" || kind == "accepted" || kind == "declined")) {
    // Every time, not only on the sender's transition: the two sides are
    // in different slots, so either may have landed before a failure; the
    // marker counts the recipient's side once.
    const std::string marker_ttl =
        std::to_string(absl::ToInt64Seconds(options_.marker_ttl));
    Other(rcv_prefix, ScriptCall{"recipient",
                                 {rcv_key, r.AcceptHours(),
                                  r.ReceivedMarker(request_id, kind != "sent")},
                                 {kind, marker_ttl, at_s, offset}});
  }

  if (kind == "sent") {
    // The tenant's open invites (notify's stale-invite sweep reads them),
    // until the request's outcome: with every send of a request not yet
    // decided, not only its first, since on a Redis Cluster the tenant's key
    // is in another slot and may have missed an earlier round trip; NX keeps
    // the first send time.
    if (!Terminal(state)) {
      Other(TenantKeys(event.tenant_id()).prefix(),
            AddOpenInvite(event.tenant_id(), event.sender_id(),
                          event.recipient_id(), request_id, at));
      if (tenants_added_.insert(event.tenant_id()).second) {
        Other(TenantsKey(), std::vector<std::string>{"SADD", TenantsKey(),
                                                     event.tenant_id()});
      }
    }
    // A request counts once, whatever event ids carry it.
    if (req.fields.contains("sent_at")) return absl::OkStatus();
    const int64_t day = UtcDay(at);
    const std::string slot = "d" + std::to_string(SendDayRing::Slot(day));
    Hash& snd = hash(snd_key);
    Pair p = ParsePair(young_.strings[pair_key].value);
    // Send-day ring (state/send_days.h): a slot holds day * 2^24 + count.
    int64_t packed = 0;
    auto pit = snd.fields.find(slot);
    if (pit == snd.fields.end() || !absl::SimpleAtoi(pit->second, &packed)) {
      packed = day * SendDayRing::kShift + 1;
    } else {
      const int64_t slot_day =
          SendDayRing::FloorDiv(packed, SendDayRing::kShift);
      if (slot_day == day) {
        // Saturates: a count of 2^24 - 1 sends in a day must not carry
        // into the day.
        if (packed - day * SendDayRing::kShift < SendDayRing::kShift - 1) {
          packed = packed + 1;
        }
      } else if (slot_day < day) {
        packed = day * SendDayRing::kShift + 1;
      }
    }
    Set(snd, "sent", std::to_string(IntOf(snd.fields, "sent") + 1));
    if (state.empty()) {
      Set(snd, "pending", std::to_string(IntOf(snd.fields, "pending") + 1));
    }
    Set(snd, slot, std::to_string(packed));
    Hash& rq = hash(req_key);
    rq.expires = true;
    Set(rq, "sent_at", at_s);
    Set(rq, "request", event.request_sent().SerializeAsString());
    Set(rq, "state", state.empty() ? "pending" : state);
    Set(rq, "pn", std::to_string(p.n));
    Set(rq, "pp", p.last);
    Pair next = p;
    if (!p.last.empty()) next.prev = p.last;
    next.n = p.n + 1;
    next.last = at_s;
    write_pair(next);
    // The recipient: received once per request.
    RecipientDelta& moved = recipient_deltas_[rcv_key];
    ++moved.received;
    if (!offset.empty()) moved.utc_offset = offset;
    if (options_.recipient_by_script) return absl::OkStatus();
    Other(rcv_prefix,
          std::vector<std::string>{"HINCRBY", rcv_key, "received", "1"});
    if (!offset.empty()) {
      auto [it, added] = young_.recipient_offsets.try_emplace(rcv_key, offset);
      if (added || it->second != offset) {
        it->second = offset;
        Other(rcv_prefix,
              std::vector<std::string>{"HSET", rcv_key, "utc_offset", offset});
      }
    }
    return absl::OkStatus();
  }

  // An outcome: the first one decides the request; later ones change
  // nothing.
  if (Terminal(state)) return absl::OkStatus();
  if (state == "pending") {
    // No longer open: off the tenant's open invites (on a Redis Cluster a
    // removal that misses its round trip is left to the sweep, which
    // forgets what scoring says is decided).
    Other(TenantKeys(event.tenant_id()).prefix(),
          RemoveOpenInvite(event.tenant_id(), event.sender_id(),
                           event.recipient_id(), request_id));
  }
  std::string reason;
  const rebound::v1::DeclineVerdict* decided_by = nullptr;  // Kept below.
  bool reported = false;
  // How it was answered, for the answer ring (withdrawn: not an answer).
  std::optional<Answer> answer;
  if (kind == "accepted") answer = Answer::kAccepted;
  if (kind == "expired") answer = Answer::kIgnored;
  if (kind == "declined") {
    switch (event.request_declined().kind()) {
      case rebound::v1::DECLINE_KIND_IGNORED:
        answer = Answer::kIgnored;
        break;
      case rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN:
        answer = Answer::kDontKnow;
        break;
      case rebound::v1::DECLINE_KIND_REPORTED_SPAM:
        answer = Answer::kSpam;
        break;
      default:
        answer = Answer::kDeclined;
        break;
    }
  }
  if (kind == "declined" || kind == "expired") {
    if (verdict == nullptr) {
      return absl::InternalError(kind == "declined" ? "decline without verdict"
                                                    : "expiry without verdict");
    }
    reason = rebound::v1::DeclineReason_Name(verdict->primary_reason());
    decided_by = verdict;
    if (kind == "declined") {
      const auto k = event.request_declined().kind();
      reported = k == rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
                 k == rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN;
    }
  }
  Hash& snd = hash(snd_key);
  // The answers before this one, should this one start the answer ring.
  const AnswerCounts before = AnswerCounts::FromTotals(
      IntOf(snd.fields, "accepted"), IntOf(snd.fields, "declined"),
      IntOf(snd.fields, "reported"));
  Set(snd, kind, std::to_string(IntOf(snd.fields, kind) + 1));
  if (state == "pending") {
    Set(snd, "pending", std::to_string(IntOf(snd.fields, "pending") - 1));
  }
  if (reported) {
    Set(snd, "reported", std::to_string(IntOf(snd.fields, "reported") + 1));
  }
  if (!reason.empty()) {
    const std::string field = "reason:" + reason;
    Set(snd, field, std::to_string(IntOf(snd.fields, field) + 1));
  }
  if (answer) {
    // Answer ring (state/answer_ring.h): the slot of the answer's week.
    const int64_t week = UtcWeek(UtcDay(at));
    const std::string field = AnswerRing::Field(AnswerRing::Slot(week));
    AnswerRing ring;
    bool started = false;  // Any slot written before (this one or not).
    for (int i = 0; i < AnswerRing::kSlots; ++i) {
      if (auto f = snd.fields.find(AnswerRing::Field(i));
          f != snd.fields.end()) {
        started = true;
        if (f->first == field) ring.DecodeField(field, f->second);
      }
    }
    if (!started && before.total() > 0 &&
        !snd.fields.contains(AnswerRing::kBeforeField)) {
      // A member with answers from before the ring (an upgrade): kept
      // beside it, read while the ring is younger than its window. Dated
      // by when this answer reached Kafka, not by its own time: a late
      // answer from weeks ago must not date them before the window. (Only
      // a member with answers before the upgrade has them; a tenant
      // replaying history into a fresh Rebound has none.)
      const int64_t since =
          std::max(week, UtcWeek(UtcDay(static_cast<int64_t>(reference))));
      Set(snd, AnswerRing::kBeforeField,
          AnswerRing::Encode({.used = true, .week = since, .counts = before}));
    }
    const int slot = ring.Add(week, *answer);
    if (slot >= 0) Set(snd, field, AnswerRing::Encode(ring.slots[slot]));
  }
  Hash& rq = hash(req_key);
  rq.expires = true;
  Set(rq, "state", kind);
  Set(rq, "decided_at", at_s);
  if (decided_by != nullptr) {
    // When its request is the snapshot this hash holds ("request", written
    // once at the send), the verdict is kept without it, as "verdict_nr",
    // and the reader puts it back (ScoreStore::DecodeDeclineState): a fifth
    // of the bytes a decline writes (~250 of ~1,270). Otherwise (no
    // snapshot, a send that came after its outcome) whole, as "verdict".
    auto sent = rq.fields.find("request");
    if (decided_by->has_request() && sent != rq.fields.end() &&
        sent->second == decided_by->request().SerializeAsString()) {
      rebound::v1::DeclineVerdict kept = *decided_by;
      kept.clear_request();
      Set(rq, "verdict_nr", kept.SerializeAsString());
    } else {
      Set(rq, "verdict", decided_by->SerializeAsString());
    }
  }

  if (kind != "accepted" && kind != "declined") return absl::OkStatus();
  RecipientDelta& moved = recipient_deltas_[rcv_key];
  ++(kind == "accepted" ? moved.accepted : moved.declined);
  if (!options_.recipient_by_script) {
    Other(rcv_prefix, std::vector<std::string>{"HINCRBY", rcv_key, kind, "1"});
  }
  // The recipient's offset from the request's snapshot, else the latest
  // stored; none known, no local hour.
  std::optional<rebound::v1::RequestSent> snapshot;
  std::optional<int64_t> off;
  if (auto it = rq.fields.find("request"); it != rq.fields.end()) {
    rebound::v1::RequestSent sent;
    if (sent.ParseFromString(it->second)) snapshot = std::move(sent);
    if (snapshot && snapshot->has_recipient_profile()) {
      off = snapshot->recipient_profile().utc_offset_minutes();
    }
  }
  if (!off) {
    auto it = young_.recipient_offsets.find(rcv_key);
    int64_t stored = 0;
    if (it != young_.recipient_offsets.end() &&
        absl::SimpleAtoi(it->second, &stored)) {
      off = stored;
    }
  }
  // What works: the member's and the tenant's answers by approach, for a
  // request whose snapshot says how it was sent.
  if (snapshot) {
    Approach approach;
    if (options_.note_style) {
      approach.style = ParseNoteStyle(options_.note_style(*snapshot));
    }
    approach.channel = static_cast<int>(snapshot->channel());
    int64_t sent_at = 0;
    if (auto it = rq.fields.find("sent_at");
        off && it != rq.fields.end() &&
        absl::SimpleAtoi(it->second, &sent_at)) {
      const int64_t local = sent_at + *off * 60;
      approach.local_hour = static_cast<int>(
          (local - SendDayRing::FloorDiv(local, 86400) * 86400) / 3600);
    }
    const bool accepted = kind == "accepted";
    const std::string works = s.Works();
    Other(PrefixOf(works), WorksIncrement(works, approach, accepted));
    const TenantKeys t(event.tenant_id());
    Other(t.prefix(), WorksIncrement(t.Works(), approach, accepted));
  }
  if (kind != "accepted") return absl::OkStatus();
  // Hour of week in the recipient's local time (Monday 00:00 = 0).
  if (!off) return absl::OkStatus();
  const int64_t lt = at + *off * 60;
  const int64_t days = SendDayRing::FloorDiv(lt, 86400);
  const int64_t how =
      ((days + 3) % 7 + 7) % 7 * 24 + (lt - days * 86400) / 3600;
  moved.hours.push_back(how);
  if (options_.recipient_by_script) return absl::OkStatus();
  Other(rcv_prefix, std::vector<std::string>{"BITFIELD", r.AcceptHours(),
                                             "OVERFLOW", "SAT", "INCRBY", "u32",
                                             "#" + std::to_string(how), "1"});
  return absl::OkStatus();
}

std::vector<RedisValue> SenderCache::SenderReplies(
    const ConnectionEvent& event) const {
  const MemberKeys s(event.tenant_id(), event.sender_id());
  std::vector<RedisValue> out(3);
  out[0].type = RedisValue::Type::kArray;
  if (auto it = young_.hashes.find(s.Sender()); it != young_.hashes.end()) {
    for (const auto& [f, v] : it->second.fields) {
      out[0].array.push_back(StringValue(f));
      out[0].array.push_back(StringValue(v));
    }
  }
  out[1].type = RedisValue::Type::kArray;
  const Hash* req = nullptr;
  if (auto it = young_.hashes.find(s.Request(RequestIdOf(event)));
      it != young_.hashes.end()) {
    req = &it->second;
  }
  for (const char* f :
       {"sent_at", "request", "viewed", "verdict", "pn", "pp", "verdict_nr"}) {
    RedisValue v;
    if (req != nullptr) {
      if (auto it = req->fields.find(f); it != req->fields.end()) {
        v = StringValue(it->second);
      }
    }
    out[1].array.push_back(std::move(v));
  }
  if (auto it = young_.strings.find(s.Pair(event.recipient_id()));
      it != young_.strings.end() && it->second.value) {
    out[2] = StringValue(*it->second.value);
  }
  return out;
}

std::vector<std::vector<RedisStep>> SenderCache::TakeWrites() {
  std::vector<std::pair<std::string, std::vector<RedisStep>>> groups;
  absl::flat_hash_map<std::string, size_t> index;
  auto group = [&](const std::string& prefix) -> std::vector<RedisStep>& {
    auto [it, added] = index.try_emplace(prefix, groups.size());
    if (added) groups.push_back({prefix, {}});
    return groups[it->second].second;
  };
  const std::string ttl =
      std::to_string(absl::ToInt64Seconds(options_.request_ttl));
  const absl::Time now = absl::Now();
  for (const std::string& key : dirty_order_) {
    std::vector<RedisStep>& g = group(PrefixOf(key));
    if (auto it = young_.hashes.find(key); it != young_.hashes.end()) {
      Hash& h = it->second;
      if (!h.dirty.empty()) {
        std::vector<std::string> argv = {"HSET", key};
        for (const std::string& f : h.dirty) {
          argv.push_back(f);
          argv.push_back(h.fields[f]);
        }
        g.push_back(std::move(argv));
        h.dirty.clear();
      }
      if (h.expires && now - h.ttl_set > absl::Hours(24)) {
        g.push_back(std::vector<std::string>{"EXPIRE", key, ttl});
        h.ttl_set = now;
      }
      continue;
    }
    if (auto it = young_.strings.find(key);
        it != young_.strings.end() && it->second.dirty) {
      it->second.dirty = false;
      if (it->second.value) {
        g.push_back(
            std::vector<std::string>{"SET", key, *it->second.value, "EX", ttl});
      }
    }
  }
  for (auto& [prefix, steps] : recipient_) {
    std::vector<RedisStep>& g = group(prefix);
    for (auto& step : steps) g.push_back(std::move(step));
  }
  for (const auto& [tenant, batch_lag] : tenant_lag_) {
    const double lag = std::min(0.0, batch_lag);
    auto [written, added] = clock_written_.try_emplace(tenant, lag);
    if (!added) {
      if (lag < written->second + kClockStep) continue;
      written->second = lag;
    }
    group(TenantKeys(tenant).prefix())
        .push_back(AdvanceTenantClock(tenant, lag));
  }
  tenant_lag_.clear();
  recipient_.clear();
  recipient_index_.clear();
  taken_deltas_ = std::move(recipient_deltas_);
  recipient_deltas_.clear();
  reads_before_taken_ = false;
  tenants_added_.clear();
  dirty_order_.clear();
  dirty_keys_.clear();
  std::vector<std::vector<RedisStep>> out;
  out.reserve(groups.size());
  for (auto& [prefix, steps] : groups) out.push_back(std::move(steps));
  return out;
}

SenderCache::~SenderCache() {
  if (reaper_.joinable()) reaper_.join();
}

void SenderCache::Drop(Generation a, Generation b) {
  if (a.entries() + b.entries() == 0) return;
  // The previous one is long done: a generation fills in seconds.
  if (reaper_.joinable()) reaper_.join();
  auto dropped = std::make_unique<std::pair<Generation, Generation>>(
      std::move(a), std::move(b));
  try {
    reaper_ = std::thread(
        [dropped = std::move(dropped)]() mutable { dropped.reset(); });
  } catch (const std::system_error&) {
    // No thread to be had (a pid or thread limit): the generations were
    // freed here, with the thread's arguments.
  }
}

void SenderCache::Forget() {
  tenant_lag_.clear();
  clock_written_.clear();
  recipient_.clear();
  recipient_index_.clear();
  recipient_deltas_.clear();
  taken_deltas_.clear();
  reads_before_taken_ = false;
  tenants_added_.clear();
  Drop(std::move(young_), std::move(old_));
  young_.Clear();
  old_.Clear();
  dirty_order_.clear();
  dirty_keys_.clear();
  pending_loads_.clear();
}

void SenderCache::Trim() {
  // Nothing is dirty here (after TakeWrites), so nothing is lost by
  // dropping the old generation.
  if (young_.entries() < std::max<size_t>(1, options_.max_entries / 2)) return;
  Drop(std::move(old_));
  old_ = std::move(young_);
  young_.Clear();
}

}  // namespace rebound::state
