#include "services/scoring/offline_advice.h"

#include "absl/time/time.h"

namespace rebound::scoring {
namespace {

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool Open(const rebound::v1::RetrySuggestion& s) {
  return s.state() == rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE ||
         s.state() == rebound::v1::SUGGESTION_STATE_READY;
}

}  // namespace

std::vector<rebound::v1::RetrySuggestion> OfflineAdvisor::OnVerdict(
    const rebound::v1::DeclineVerdict& verdict) {
  if (!advised_ids_.insert({verdict.tenant_id(), verdict.verdict_id()})
           .second) {
    return {};
  }
  auto pair = std::make_tuple(verdict.tenant_id(), verdict.sender_id(),
                              verdict.recipient_id());
  const notify::RetryInputs in =
      notify::InputsForVerdict(verdict, retries_[pair]);
  rebound::v1::RetrySuggestion s =
      notify::Suggest(policy_, in, TimeOf(verdict.decided_at()));
  if (s.should_retry()) ++retries_[pair];
  if (Open(s)) {
    open_[{verdict.tenant_id(), verdict.sender_id()}][s.suggestion_id()] = s;
  }
  return {s};
}

std::vector<rebound::v1::RetrySuggestion> OfflineAdvisor::OnEvent(
    const rebound::v1::ConnectionEvent& event) {
  if (!event.has_profile_updated()) return {};
  auto it = open_.find({event.tenant_id(), event.sender_id()});
  if (it == open_.end()) return {};
  std::vector<rebound::v1::RetrySuggestion> changed;
  const absl::Time at = TimeOf(event.occurred_at());
  for (auto& [id, s] : it->second) {
    if (notify::ApplyProfileUpdate(policy_, event.profile_updated().profile(),
                                   &s, at)) {
      changed.push_back(s);
    }
  }
  return changed;
}

}  // namespace rebound::scoring
