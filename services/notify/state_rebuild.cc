#include "services/notify/state_rebuild.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/kafka_replay.h"
#include "common/log.h"
#include "common/pipeline.h"
#include "services/notify/suggestion_writer.h"
#include "state/event_fields.h"

namespace rebound::notify {
namespace {

struct Replayed {
  bool verdict;
  int32_t partition;
  int64_t offset;
  std::string payload;
};

}  // namespace

absl::StatusOr<RebuildReport> RebuildState(const RebuildOptions& o,
                                           const RetryPolicyConfig& policy) {
  RebuildReport report;
  SuggestionStore store(o.store);
  if (auto s = store.Ping(); !s.ok()) return s;

  // 1. The verdicts topic, whole: verdicts and the profile updates scoring
  // forwarded, each partition in its order (a sender's records share one;
  // what notify writes for a sender depends on that sender's records
  // only, so partitions need no order between them).
  std::vector<Replayed> records;
  absl::Status read = ReadTopicToEnd(
      o.brokers, o.verdicts_topic, o.kafka_timeout,
      [&](const RdKafka::Message& m) {
        const bool verdict = !pipeline::IsForwardedEvent(m);
        ++(verdict ? report.verdicts : report.events);
        records.push_back(
            {verdict, m.partition(), m.offset(),
             std::string(static_cast<const char*>(m.payload()), m.len())});
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  log::Info("rebuild: records read",
            {{"verdicts", report.verdicts}, {"events", report.events}});

  // 2. Start from empty notify keys.
  auto removed = store.RemoveNotifyState();
  if (!removed.ok()) return removed.status();
  report.keys_removed = *removed;

  // 3. Replay through the consumer's handling, a batch at a time.
  SuggestionWriter writer(&store, &policy, nullptr);
  constexpr size_t kBatch = 256;
  std::vector<SuggestionWriter::Record> batch;
  for (size_t i = 0; i < records.size(); i += kBatch) {
    batch.clear();
    for (size_t j = i; j < std::min(records.size(), i + kBatch); ++j) {
      const Replayed& r = records[j];
      batch.push_back({r.verdict, r.payload, r.partition, r.offset});
    }
    if (auto s = writer.Handle(batch); !s.ok()) return s;
  }

  // 4. The invites still open, tracked again: the sweep forgot those it
  // had answered, and their withdraw suggestions went with step 2.
  if (!o.events_topic.empty()) {
    std::vector<SuggestionStore::PendingInvite> sent;
    auto flush = [&]() -> absl::Status {
      auto open = store.TrackOpenInvites(sent);
      sent.clear();
      if (!open.ok()) return open.status();
      report.open_invites += *open;
      return absl::OkStatus();
    };
    absl::Status read = ReadTopicToEnd(
        o.brokers, o.events_topic, o.kafka_timeout,
        [&](const RdKafka::Message& m) {
          rebound::v1::ConnectionEvent e;
          if (!e.ParseFromArray(m.payload(), static_cast<int>(m.len())) ||
              !e.has_request_sent()) {
            return absl::OkStatus();
          }
          SuggestionStore::PendingInvite p;
          p.tenant = e.tenant_id();
          p.sender = e.sender_id();
          p.recipient = e.recipient_id();
          p.request_id = state::RequestIdOf(e);
          p.sent_at = absl::FromUnixSeconds(e.occurred_at().seconds());
          sent.push_back(std::move(p));
          return sent.size() >= 1000 ? flush() : absl::OkStatus();
        });
    if (!read.ok()) return read;
    if (auto s = flush(); !s.ok()) return s;
    log::Info("rebuild: open invites tracked again",
              {{"open_invites", report.open_invites}});
  }

  // 5. Complete: the instances waiting on the loss resume.
  if (auto s = store.SetNewEpoch(); !s.ok()) return s;
  return report;
}

}  // namespace rebound::notify
