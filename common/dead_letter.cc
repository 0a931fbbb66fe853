#include "common/dead_letter.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace rebound {

DeadLetterRecord MakeDeadLetter(const RdKafka::Message& m,
                                const std::string& reason,
                                const std::string& consumer) {
  DeadLetterRecord r;
  if (const std::string* key = m.key()) r.key = *key;
  r.value.assign(static_cast<const char*>(m.payload()), m.len());
  // headers() is not const in librdkafka's C++ API; it only reads here.
  auto& mutable_m = const_cast<RdKafka::Message&>(m);
  if (RdKafka::Headers* h = mutable_m.headers()) {
    for (const auto& hdr : h->get_all()) {
      r.headers.emplace_back(
          hdr.key(),
          std::string(static_cast<const char*>(hdr.value()), hdr.value_size()));
    }
  }
  AddDeadLetterHeaders(r.headers, reason, consumer, m.topic_name(),
                       m.partition(), m.offset());
  return r;
}

void AddDeadLetterHeaders(Headers& headers, const std::string& reason,
                          const std::string& consumer,
                          const std::string& source_topic, int32_t partition,
                          int64_t offset) {
  headers.emplace_back("rebound_dlq_reason", reason);
  headers.emplace_back("rebound_dlq_consumer", consumer);
  headers.emplace_back("rebound_source_topic", source_topic);
  headers.emplace_back("rebound_source_partition", std::to_string(partition));
  headers.emplace_back("rebound_source_offset", std::to_string(offset));
}

DeadLetterRecord WithoutValue(DeadLetterRecord r, const std::string& why) {
  r.headers.emplace_back(
      "rebound_dlq_value_dropped",
      std::to_string(r.value.size()) + " bytes not kept: " + why);
  r.value.clear();
  return r;
}

namespace {
// The fates of one round of SendDeadLetters. Shared with the records in
// the producer, so the sender may stop waiting and leave.
struct Round {
  absl::Mutex mu;
  int left ABSL_GUARDED_BY(mu) = 0;
  std::vector<absl::Status> status ABSL_GUARDED_BY(mu);
};
struct Outcome final : Publisher::PendingRecord {
  Outcome(std::shared_ptr<Round> round, size_t index)
      : round(std::move(round)), index(index) {}
  void Delivered(const Delivery& d) override {
    absl::MutexLock lock(&round->mu);
    round->status[index] = d.status;
    --round->left;
  }
  std::shared_ptr<Round> round;
  size_t index;
};
}  // namespace

bool IsTooLarge(const absl::Status& status) {
  return absl::StrContains(status.message(), "too large");
}

absl::Status SendDeadLetters(Publisher& publisher, const std::string& topic,
                             std::vector<DeadLetterRecord> records,
                             const std::atomic<bool>& stop,
                             std::chrono::milliseconds pause,
                             absl::Time give_up) {
  auto giving_up = [&] { return stop.load() && absl::Now() >= give_up; };
  while (!records.empty()) {
    auto round = std::make_shared<Round>();
    {
      absl::MutexLock lock(&round->mu);
      round->status.assign(records.size(), absl::UnknownError("not sent"));
    }
    for (size_t i = 0; i < records.size(); ++i) {
      const DeadLetterRecord& r = records[i];
      {
        absl::MutexLock lock(&round->mu);
        ++round->left;
      }
      absl::Status s = publisher.Produce(topic, r.key, r.value, r.headers,
                                         absl::Now() + absl::Seconds(5),
                                         std::make_unique<Outcome>(round, i));
      absl::MutexLock lock(&round->mu);
      if (!s.ok()) {
        --round->left;
        // Refused before it was queued: INTERNAL is the record itself
        // (larger than the producer takes), the rest is Kafka's state.
        round->status[i] =
            absl::IsInternal(s)
                ? absl::FailedPreconditionError(std::string(s.message()))
                : s;
      }
    }
    // Every record queued is told its fate (delivered, or given up after
    // the producer's message timeout); a stop ends the wait sooner.
    std::vector<absl::Status> status;
    {
      absl::MutexLock lock(&round->mu);
      while (round->left > 0) {
        if (giving_up()) {
          return absl::CancelledError(std::to_string(round->left) +
                                      " dead-letter records not confirmed");
        }
        round->mu.AwaitWithTimeout(
            absl::Condition(
                +[](int* n) { return *n == 0; }, &round->left),
            absl::Milliseconds(100));
      }
      status = round->status;
    }
    std::vector<DeadLetterRecord> again;
    for (size_t i = 0; i < records.size(); ++i) {
      if (status[i].ok()) continue;
      if (IsTooLarge(status[i]) && !records[i].value.empty()) {
        log::Warn("dead-letter record refused; sending it without its value",
                  {{"error", std::string(status[i].message())}});
        again.push_back(WithoutValue(std::move(records[i]),
                                     std::string(status[i].message())));
      } else {
        log::Warn("dead-letter record not written; sending it again",
                  {{"error", std::string(status[i].message())}});
        again.push_back(std::move(records[i]));
      }
    }
    records = std::move(again);
    if (records.empty()) break;
    if (giving_up()) {
      return absl::CancelledError(std::to_string(records.size()) +
                                  " dead-letter records not written");
    }
    absl::SleepFor(absl::FromChrono(pause));
  }
  return absl::OkStatus();
}

}  // namespace rebound
