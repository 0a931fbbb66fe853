#include "services/scoring/offline_state.h"

#include <algorithm>

#include "absl/time/civil_time.h"
#include "state/event_fields.h"

namespace rebound::scoring {

using rebound::v1::ConnectionEvent;

namespace {

absl::Time TimeOf(const ConnectionEvent& e) {
  return absl::FromUnixSeconds(e.occurred_at().seconds()) +
         absl::Nanoseconds(e.occurred_at().nanos());
}

// Hour of week (Monday 00:00 = 0) of `t` shifted by `offset_minutes`.
int HourOfWeek(absl::Time t, int32_t offset_minutes) {
  absl::CivilHour local =
      absl::ToCivilHour(t + absl::Minutes(offset_minutes), absl::UTCTimeZone());
  int day = (static_cast<int>(absl::GetWeekday(absl::CivilDay(local))) + 7 -
             static_cast<int>(absl::Weekday::monday)) %
            7;
  return day * 24 + local.hour();
}

}  // namespace

OfflineState::Request& OfflineState::RequestFor(const ConnectionEvent& e,
                                                const std::string& request_id) {
  auto [it, inserted] = requests_.try_emplace({e.tenant_id(), request_id});
  if (inserted) {
    it->second.sender_id = e.sender_id();
    it->second.recipient_id = e.recipient_id();
  }
  return it->second;
}

void OfflineState::Close(const ConnectionEvent& e, Request& r) {
  r.closed = true;
  Member& sender = members_[{e.tenant_id(), r.sender_id}];
  Member& recipient = members_[{e.tenant_id(), r.recipient_id}];
  if (e.has_request_accepted()) {
    ++sender.accepted;
    ++recipient.received_accepted;
    std::optional<int32_t> offset = recipient.utc_offset_minutes;
    if (r.sent) offset = r.sent->recipient_profile().utc_offset_minutes();
    if (offset) ++recipient.accept_hours[HourOfWeek(TimeOf(e), *offset)];
  } else if (e.has_request_declined()) {
    ++sender.declined;
    ++recipient.received_declined;
    auto kind = e.request_declined().kind();
    if (kind == rebound::v1::DECLINE_KIND_REPORTED_SPAM ||
        kind == rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN) {
      ++sender.reported;
    }
  }
}

void OfflineState::Apply(const ConnectionEvent& e) {
  if (e.payload_case() == ConnectionEvent::PAYLOAD_NOT_SET) return;
  if (!applied_.insert({e.tenant_id(), e.event_id()}).second) return;
  const std::string& tenant = e.tenant_id();
  switch (e.payload_case()) {
    case ConnectionEvent::kRequestSent: {
      const auto& p = e.request_sent();
      Request& r = RequestFor(e, p.request_id());
      if (r.sent) return;
      r.sent = p;
      r.sent_at = TimeOf(e);
      Member& sender = members_[{tenant, e.sender_id()}];
      ++sender.sent;
      sender.send_days.Add(state::UtcDay(absl::ToUnixSeconds(*r.sent_at)));
      sender.utc_offset_minutes = p.sender_profile().utc_offset_minutes();
      Member& recipient = members_[{tenant, e.recipient_id()}];
      ++recipient.received;
      recipient.utc_offset_minutes = p.recipient_profile().utc_offset_minutes();
      Pair& pair = pairs_[{tenant, e.sender_id(), e.recipient_id()}];
      auto& history = pair.requests;
      std::pair<absl::Time, std::string> entry{*r.sent_at, p.request_id()};
      history.insert(std::upper_bound(history.begin(), history.end(), entry),
                     entry);
      r.pair_before = pair.arrived++;
      r.pair_prev_sent_at = pair.last_sent_at;
      pair.last_sent_at = r.sent_at;
      return;
    }
    case ConnectionEvent::kRequestAccepted:
    case ConnectionEvent::kRequestDeclined:
    case ConnectionEvent::kRequestWithdrawn:
    case ConnectionEvent::kRequestExpired: {
      Request& r = RequestFor(e, state::RequestIdOf(e));
      if (!r.closed) Close(e, r);
      return;
    }
    case ConnectionEvent::kProfileViewed: {
      const std::string& id = e.profile_viewed().request_id();
      if (!id.empty()) {
        RequestFor(e, id).viewed = true;
        return;
      }
      auto it = pairs_.find({tenant, e.sender_id(), e.recipient_id()});
      if (it == pairs_.end()) return;
      absl::Time at = TimeOf(e);
      for (auto h = it->second.requests.rbegin();
           h != it->second.requests.rend(); ++h) {
        if (h->first > at) continue;
        Request& r = requests_[{tenant, h->second}];
        if (!r.closed) r.viewed = true;
        return;
      }
      return;
    }
    case ConnectionEvent::kProfileUpdated: {
      Member& m = members_[{tenant, e.sender_id()}];
      m.utc_offset_minutes = e.profile_updated().profile().utc_offset_minutes();
      m.profile = e.profile_updated().profile();
      return;
    }
    default:
      return;
  }
}

std::optional<DeclineContext> OfflineState::ContextFor(
    const ConnectionEvent& e) const {
  if (!e.has_request_declined() && !e.has_request_expired()) {
    return std::nullopt;
  }
  DeclineContext ctx;
  ctx.event = e;
  const std::string& tenant = e.tenant_id();
  const std::string request_id = state::RequestIdOf(e);
  if (auto it = requests_.find({tenant, request_id}); it != requests_.end()) {
    const Request& r = it->second;
    ctx.request = r.sent;
    ctx.sent_at = r.sent_at;
    ctx.viewed = r.viewed;
    ctx.pair_prior_requests = r.pair_before;
    if (r.sent_at && r.pair_prev_sent_at && *r.pair_prev_sent_at <= *r.sent_at)
      ctx.since_prior_request = *r.sent_at - *r.pair_prev_sent_at;
  }
  if (auto it = members_.find({tenant, e.sender_id()}); it != members_.end()) {
    const Member& m = it->second;
    ctx.sender_sent = m.sent;
    ctx.sender_accepted = m.accepted;
    ctx.sender_declined = m.declined;
    ctx.sender_reported = m.reported;
    if (ctx.sent_at) {
      const int64_t day = state::UtcDay(absl::ToUnixSeconds(*ctx.sent_at));
      ctx.sender_sent_last_7d = m.send_days.SentInDays(day - 7, day - 1);
    }
    ctx.sender_profile = m.profile;
  }
  if (auto it = members_.find({tenant, e.recipient_id()});
      it != members_.end()) {
    ctx.recipient_received = it->second.received;
    ctx.recipient_accepted = it->second.received_accepted;
    ctx.recipient_accept_hours = it->second.accept_hours;
    ctx.recipient_utc_offset_minutes = it->second.utc_offset_minutes;
  }
  return ctx;
}

std::optional<DraftContext> OfflineState::DraftFor(
    const ConnectionEvent& e) const {
  if (!e.has_request_sent()) return std::nullopt;
  const std::string& tenant = e.tenant_id();
  if (auto it = requests_.find({tenant, e.request_sent().request_id()});
      it != requests_.end() && it->second.sent) {
    return std::nullopt;
  }
  DraftContext d;
  d.tenant = tenant;
  d.sender = e.sender_id();
  d.recipient = e.recipient_id();
  d.request = e.request_sent();
  d.planned_at = TimeOf(e);
  const int64_t day = state::UtcDay(absl::ToUnixSeconds(d.planned_at));
  if (auto it = members_.find({tenant, e.sender_id()}); it != members_.end()) {
    const Member& m = it->second;
    d.sent = m.sent;
    d.accepted = m.accepted;
    d.declined = m.declined;
    d.reported = m.reported;
    d.sent_last_7d = m.send_days.SentInDays(day - 7, day - 1);
    d.sent_this_week = m.send_days.SentInDays(day - 6, day);
  }
  if (auto it = pairs_.find({tenant, e.sender_id(), e.recipient_id()});
      it != pairs_.end()) {
    d.pair_requests = it->second.arrived;
    d.pair_last_sent = it->second.last_sent_at;
  }
  if (auto it = members_.find({tenant, e.recipient_id()});
      it != members_.end()) {
    const Member& m = it->second;
    d.recipient_received = m.received;
    d.recipient_accepted = m.received_accepted;
    d.recipient_declined = m.received_declined;
    d.recipient_accept_hours = m.accept_hours;
    d.recipient_utc_offset_minutes = m.utc_offset_minutes;
  }
  return d;
}

}  // namespace rebound::scoring
