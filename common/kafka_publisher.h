// An idempotent Kafka producer (acks=all) that reports each record's fate
// exactly once, and knows whether Kafka is reachable.
#ifndef REBOUND_COMMON_KAFKA_PUBLISHER_H_
#define REBOUND_COMMON_KAFKA_PUBLISHER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound {

// Kafka record headers, in order.
using Headers = std::vector<std::pair<std::string, std::string>>;
// One header by reference, for a record built without owning its strings.
struct HeaderRef {
  std::string_view name;
  std::string_view value;
};

// Owning copies of `refs`, in order.
Headers ToHeaders(absl::Span<const HeaderRef> refs);

// CloudEvents Kafka binding, binary mode, for a protobuf record:
// ce_specversion 1.0, ce_id, ce_type, ce_source, ce_time (RFC 3339, UTC,
// fractional seconds only when there are any), ce_subject, content-type
// application/protobuf.
Headers CloudEventHeaders(const std::string& id, const std::string& type,
                          const std::string& source, absl::Time time,
                          const std::string& subject);
// The same headers by reference to their values (`time` already formatted,
// see FormatRfc3339Utc): the one layout both forms are built from.
std::array<HeaderRef, 7> CloudEventHeaderLayout(std::string_view id,
                                                std::string_view type,
                                                std::string_view source,
                                                std::string_view time,
                                                std::string_view subject);

// Where a published record landed, or why it was not published.
struct Delivery {
  absl::Status status;
  int32_t partition = -1;
  int64_t offset = -1;
  // When the report was served (read once per run of reports of one group).
  absl::Time at;
};

struct PublisherOptions {
  // Kafka bootstrap servers, "host:port[,host:port]". Required.
  std::string brokers;
  std::string client_id = "rebound";
  // Most records waiting in the producer queue before Produce() backs off.
  int queue_max_messages = 100'000;
  // How long the producer waits to fill a batch.
  int linger_ms = 5;
  // How long librdkafka keeps retrying one record before it reports failure.
  std::chrono::milliseconds message_timeout{30'000};
  // How often reachability is probed with a metadata request.
  std::chrono::milliseconds health_interval{1'000};
  // Compression codec for produced batches.
  std::string compression = "lz4";
  // Extra librdkafka properties, applied last (e.g. for tests).
  std::map<std::string, std::string> extra;
};

class Publisher {
 public:
  // Records that are answered together (say, one client batch): told how
  // many of its records were resolved, once per run of consecutive delivery
  // reports and before the thread serving them goes back to waiting, instead
  // of once per record. Every record of a group is counted exactly once,
  // after its own Delivered().
  class DeliveryGroup {
   public:
    virtual void Resolved(int records) = 0;

   protected:
    ~DeliveryGroup() = default;
  };

  // One record handed to Produce(): told its fate exactly once, on the
  // producer's poll thread (or on a thread in Flush() or the destructor),
  // then deleted. OK with the partition/offset once
  // Kafka acknowledged it with acks=all, or the error that made librdkafka
  // give up: FAILED_PRECONDITION when Kafka refuses the record itself (too
  // large, invalid, not authorized: sending it again fails again),
  // UNAVAILABLE otherwise (timed out: it may go through later).
  class PendingRecord {
   public:
    virtual ~PendingRecord() = default;
    virtual void Delivered(const Delivery& delivery) = 0;

   protected:
    // Records whose storage is managed elsewhere (say, a batch's array)
    // clear this: the publisher then leaves them alone after Delivered(),
    // which may be the last thing that touches them (or, with a group,
    // the group's Resolved()).
    bool delete_after_delivery_ = true;
    // The group counted after Delivered(), if any.
    DeliveryGroup* group_ = nullptr;

   private:
    friend class Publisher;
  };

  // Creates the producer (idempotence on, acks=all, Java-compatible murmur2
  // partitioner) and starts its poll and health threads. Fails with
  // INVALID_ARGUMENT naming the librdkafka property that was refused.
  static absl::StatusOr<std::unique_ptr<Publisher>> Create(
      const PublisherOptions& options);

  // Flushes (at most 10 s), then resolves anything left as failed, and stops.
  ~Publisher();

  // Enqueues one record. On OK, `pending->Delivered()` will be called exactly
  // once. On error nothing was enqueued and `pending` is destroyed unused:
  // UNAVAILABLE when Kafka is unreachable, RESOURCE_EXHAUSTED when the queue
  // stayed full until `enqueue_deadline`, INTERNAL for other refusals.
  absl::Status Produce(const std::string& topic, std::string_view key,
                       std::string_view value, const Headers& headers,
                       absl::Time enqueue_deadline,
                       std::unique_ptr<PendingRecord> pending);

  // The same without handing over ownership: on OK, `pending->Delivered()`
  // is called exactly once, then the record is deleted unless it cleared
  // delete_after_delivery_; on error nothing is called and the caller still
  // has the record.
  absl::Status Produce(const std::string& topic, std::string_view key,
                       std::string_view value, const Headers& headers,
                       absl::Time enqueue_deadline, PendingRecord* pending);
  // The same with headers by reference (librdkafka copies them).
  absl::Status Produce(const std::string& topic, std::string_view key,
                       std::string_view value,
                       absl::Span<const HeaderRef> headers,
                       absl::Time enqueue_deadline, PendingRecord* pending);

  // Whether Kafka answered the last probe (and no "all brokers down"
  // since), and every topic required (RequireTopics) was found by it.
  bool available() const { return available_.load(); }
  // Whether Kafka answered the last probe, whatever the topics.
  bool reachable() const { return reachable_.load(); }
  // From now on the probe also asks for these topics' metadata: one
  // deleted, without partitions or not authorised makes the publisher
  // unavailable (health NOT_SERVING) and Produce to that topic answer
  // UNAVAILABLE at once, until it is back (the other topics are written
  // as before); the log names it. Called once the topics are known to
  // exist.
  void RequireTopics(std::vector<std::string> topics);

  // Called (from the health thread) whenever availability changes.
  void OnAvailabilityChange(std::function<void(bool)> listener);

  // Waits until every enqueued record is resolved or `timeout` passes; returns
  // DEADLINE_EXCEEDED with the number left if some are still queued.
  absl::Status Flush(std::chrono::milliseconds timeout);

  // Records enqueued or in flight.
  int queue_length() const { return producer_->outq_len(); }

  // The underlying handle, for admin and metadata calls. Delivery reports
  // must not be served through it (poll, flush): only the publisher counts
  // them into their groups.
  RdKafka::Producer* handle() { return producer_.get(); }

 private:
  class Callbacks;
  Publisher() = default;
  void PollLoop();
  void HealthLoop();
  // Tells the group of this thread's current run of reports its count.
  static void EndRun();
  void SetAvailable(bool up);
  // The required topics the broker does not describe as usable, with why;
  // on the health thread.
  std::map<std::string, std::string> MissingTopics(int timeout_ms);
  bool TopicMissing(const std::string& topic);

  PublisherOptions options_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> available_{false};
  std::atomic<bool> reachable_{false};
  // A required topic was missing at the last probe (missing_topics_).
  std::atomic<bool> topic_missing_{false};
  absl::Mutex topics_mu_;
  std::vector<std::string> required_topics_ ABSL_GUARDED_BY(topics_mu_);
  std::map<std::string, std::string> missing_topics_
      ABSL_GUARDED_BY(topics_mu_);
  // Topic handles of the required topics, by name (health thread only).
  std::map<std::string, std::unique_ptr<RdKafka::Topic>> topic_handles_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fatal_{false};
  absl::Notification stop_health_;
  absl::Mutex listener_mu_;
  std::function<void(bool)> listener_ ABSL_GUARDED_BY(listener_mu_);
  std::thread poll_thread_;
  std::thread health_thread_;
};

}  // namespace rebound

#endif  // REBOUND_COMMON_KAFKA_PUBLISHER_H_
