#include "services/notify/suggestion_writer.h"

#include <map>
#include <tuple>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"
#include "services/scoring/signal_names.h"

namespace rebound::notify {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineVerdict;

SuggestionWriter::SuggestionWriter(
    SuggestionStore* store, const RetryPolicyConfig* policy,
    prometheus::Family<prometheus::Counter>* written)
    : store_(store), policy_(policy), written_(written) {}

void SuggestionWriter::Count(const rebound::v1::RetrySuggestion& s) {
  if (written_ == nullptr) return;
  written_->Add({{"state", rebound::v1::SuggestionState_Name(s.state())}})
      .Increment();
}

absl::Status SuggestionWriter::OnVerdicts(
    const std::vector<DeclineVerdict>& verdicts) {
  std::vector<state::PolicyKey> keys;
  keys.reserve(verdicts.size());
  for (const auto& v : verdicts) {
    // A verdict with scoring's DecisionContext brings the recipient's state
    // as the classifier saw it; one without (an older scoring's) reads it
    // as it is now. The sender's profile is always read as scoring holds
    // it now: a profile update forwarded ahead of a verdict Kafka refused
    // and scoring sent again is then not undone by the verdict's older one.
    keys.push_back(
        {v.tenant_id(), v.sender_id(), v.recipient_id(), v.has_context()});
  }
  // Also the batch's first round trip: the state's epoch checked.
  auto inputs = store_->ReadPolicyInputs(keys);
  if (!inputs.ok()) return inputs.status();
  if (verdicts.empty()) return absl::OkStatus();
  // Retries advised earlier in this batch are not in Redis yet when the
  // inputs were read: count them here, per pair.
  std::map<std::tuple<std::string, std::string, std::string>, int> advised;
  std::vector<SuggestionWrite> writes;
  writes.reserve(verdicts.size());
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < verdicts.size(); ++i) {
    const DeclineVerdict& verdict = verdicts[i];
    const state::PolicyInputs& got = (*inputs)[i];
    auto pair = std::make_tuple(verdict.tenant_id(), verdict.sender_id(),
                                verdict.recipient_id());
    const RetryInputs in = InputsForVerdict(
        verdict, static_cast<int>(got.prior_retries) + advised[pair],
        got.recipient.accept_hours, got.recipient.utc_offset_minutes,
        got.sender_profile);
    SuggestionWrite w;
    w.suggestion = Suggest(*policy_, in, now);
    if (w.suggestion.should_retry()) ++advised[pair];
    // Red flags: the signals that argued for the reason the decline got
    // (not how the recipient answered: an ignore is no flag on the member).
    for (const auto& sig : verdict.signals()) {
      if (sig.reason() == verdict.primary_reason() && sig.weight() > 0 &&
          !scoring::IsAnswerSignal(sig.name())) {
        w.red_flags.push_back(sig.name());
      }
    }
    writes.push_back(std::move(w));
  }
  auto stored = store_->PutBatch(writes);
  if (!stored.ok()) return stored.status();
  for (const auto& s : *stored) Count(s);
  return absl::OkStatus();
}

absl::Status SuggestionWriter::OnProfileUpdated(const ConnectionEvent& event) {
  auto ids = store_->WaitingOnProfile(event.tenant_id(), event.sender_id());
  if (!ids.ok()) return ids.status();
  for (const auto& id : *ids) {
    auto got = store_->Get(event.tenant_id(), event.sender_id(), id);
    if (!got.ok()) return got.status();
    if (!got->has_value()) continue;
    rebound::v1::RetrySuggestion s = **got;
    if (!ApplyProfileUpdate(*policy_, event.profile_updated().profile(), &s,
                            absl::Now())) {
      continue;
    }
    auto stored = store_->Put(s, {});
    if (!stored.ok()) return stored.status();
    Count(*stored);
  }
  return absl::OkStatus();
}

absl::Status SuggestionWriter::Handle(
    const std::vector<Record>& batch,
    std::vector<std::pair<size_t, std::string>>* undecodable) {
  // Runs of verdicts are written together (a few round trips per run); a
  // ProfileUpdated is handled on its own, after everything before it, since
  // it reads the suggestions earlier records wrote.
  std::vector<DeclineVerdict> verdicts;
  auto flush = [&]() -> absl::Status {
    absl::Status s = OnVerdicts(verdicts);
    verdicts.clear();
    return s;
  };
  auto reject = [&](size_t i, const char* why) {
    if (undecodable != nullptr) undecodable->emplace_back(i, why);
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    const Record& m = batch[i];
    if (m.verdict) {
      DeclineVerdict v;
      if (!v.ParseFromArray(m.payload.data(),
                            static_cast<int>(m.payload.size()))) {
        reject(i, "undecodable: not a rebound.v1.DeclineVerdict protobuf");
        continue;
      }
      verdicts.push_back(std::move(v));
      continue;
    }
    ConnectionEvent e;
    if (!e.ParseFromArray(m.payload.data(),
                          static_cast<int>(m.payload.size()))) {
      reject(i, "undecodable: not a rebound.v1.ConnectionEvent protobuf");
      continue;
    }
    // Scoring forwards profile updates only; anything else (a newer
    // scoring's) needs nothing here.
    if (!e.has_profile_updated()) continue;
    if (absl::Status s = flush(); !s.ok()) return s;
    if (absl::Status s = OnProfileUpdated(e); !s.ok()) return s;
  }
  return flush();
}

}  // namespace rebound::notify
