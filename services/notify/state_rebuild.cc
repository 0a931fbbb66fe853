#include "services/notify/state_rebuild.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/kafka_replay.h"
#include "common/log.h"
#include "services/notify/suggestion_writer.h"

namespace rebound::notify {
namespace {

struct Replayed {
  int64_t timestamp;  // Kafka's, ms.
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

  // 1. Both topics, whole.
  std::vector<Replayed> records;
  for (const bool verdict : {true, false}) {
    const std::string& topic = verdict ? o.verdicts_topic : o.events_topic;
    absl::Status read = ReadTopicToEnd(
        o.brokers, topic, o.kafka_timeout, [&](const RdKafka::Message& m) {
          records.push_back(
              {m.timestamp().timestamp, verdict, m.partition(), m.offset(),
               std::string(static_cast<const char*>(m.payload()), m.len())});
          return absl::OkStatus();
        });
    if (!read.ok()) return read;
    (verdict ? report.verdicts : report.events) = static_cast<int64_t>(
        std::count_if(records.begin(), records.end(),
                      [&](const Replayed& r) { return r.verdict == verdict; }));
  }
  // In the order Kafka stamped them, as the consumer met them; on a tie an
  // event first (a verdict follows the event it is about).
  std::stable_sort(records.begin(), records.end(),
                   [](const Replayed& a, const Replayed& b) {
                     if (a.timestamp != b.timestamp)
                       return a.timestamp < b.timestamp;
                     return !a.verdict && b.verdict;
                   });
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

  // 4. Complete: the instances waiting on the loss resume.
  if (auto s = store.SetNewEpoch(); !s.ok()) return s;
  return report;
}

}  // namespace rebound::notify
