#include "common/kafka_admin.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "librdkafka/rdkafka.h"

namespace rebound {
namespace {

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const {
    rd_kafka_AdminOptions_destroy(o);
  }
};

using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

// Options for an admin request that waits up to `timeout`.
std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> AdminOptions(
    rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout) {
  char errstr[512];
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk, op));
  rd_kafka_AdminOptions_set_request_timeout(
      options.get(), static_cast<int>(timeout.count()), errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(
      options.get(), static_cast<int>(timeout.count()), errstr, sizeof(errstr));
  return options;
}

// Waits for an admin request's answer on `queue`; `doing` ("creating",
// "deleting") and `first` name the request in errors.
absl::StatusOr<EventPtr> AdminAnswer(rd_kafka_queue_t* queue,
                                     std::chrono::milliseconds timeout,
                                     const std::string& doing,
                                     const std::string& first) {
  EventPtr event(
      rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000));
  if (!event) {
    return absl::DeadlineExceededError(doing + " topic '" + first +
                                       "': no answer from Kafka in " +
                                       std::to_string(timeout.count()) + "ms");
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(doing + " topic '" + first + "': " +
                                  rd_kafka_event_error_string(event.get()));
  }
  return event;
}

// The first topic whose result is an error other than `tolerated`, named
// with Kafka's reason ("... could not be <done>: ..."), or OK.
absl::Status FirstTopicError(const rd_kafka_topic_result_t** results,
                             size_t count, rd_kafka_resp_err_t tolerated,
                             const std::string& done) {
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == tolerated) continue;
    const char* msg = rd_kafka_topic_result_error_string(results[i]);
    return absl::FailedPreconditionError(
        std::string("topic '") + rd_kafka_topic_result_name(results[i]) +
        "' could not be " + done + ": " + (msg ? msg : rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsureTopics(RdKafka::Handle* handle,
                          const std::vector<TopicSpec>& topics,
                          std::chrono::milliseconds timeout) {
  if (topics.empty()) return absl::OkStatus();
  rd_kafka_t* rk = handle->c_ptr();
  char errstr[512];
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  auto cleanup = [&] {
    for (auto* t : new_topics) rd_kafka_NewTopic_destroy(t);
  };
  for (const auto& spec : topics) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                              spec.replication_factor, errstr, sizeof(errstr));
    if (t == nullptr) {
      cleanup();
      return absl::InvalidArgumentError("topic '" + spec.name + "': " + errstr);
    }
    new_topics.push_back(t);
    for (const auto& [name, value] : spec.configs) {
      if (rd_kafka_NewTopic_set_config(t, name.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        cleanup();
        return absl::InvalidArgumentError("topic '" + spec.name +
                                          "': config '" + name + "'");
      }
    }
  }
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  auto options = AdminOptions(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), options.get(),
                        queue.get());
  cleanup();

  absl::StatusOr<EventPtr> event =
      AdminAnswer(queue.get(), timeout, "creating", topics.front().name);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
      rd_kafka_event_CreateTopics_result(event->get()), &count);
  return FirstTopicError(results, count, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
                         "created");
}

absl::StatusOr<std::map<std::string, std::string>> TopicConfig(
    RdKafka::Handle* handle, const std::string& topic,
    std::chrono::milliseconds timeout) {
  rd_kafka_t* rk = handle->c_ptr();
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  auto options = AdminOptions(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout);
  rd_kafka_DescribeConfigs(rk, &resource, 1, options.get(), queue.get());
  rd_kafka_ConfigResource_destroy(resource);
  absl::StatusOr<EventPtr> event =
      AdminAnswer(queue.get(), timeout, "describing", topic);
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_ConfigResource_t** results =
      rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(event->get()), &count);
  if (count != 1) {
    return absl::UnavailableError("describing topic '" + topic +
                                  "': no answer for it");
  }
  const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(results[0]);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* msg = rd_kafka_ConfigResource_error_string(results[0]);
    const std::string why = "describing topic '" + topic +
                            "': " + (msg ? msg : rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
               ? absl::NotFoundError(why)
               : absl::UnavailableError(why);
  }
  size_t n = 0;
  const rd_kafka_ConfigEntry_t** entries =
      rd_kafka_ConfigResource_configs(results[0], &n);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    out[rd_kafka_ConfigEntry_name(entries[i])] = value ? value : "";
  }
  return out;
}

absl::Status DeleteTopics(RdKafka::Handle* handle,
                          const std::vector<std::string>& topics,
                          std::chrono::milliseconds timeout) {
  if (topics.empty()) return absl::OkStatus();
  rd_kafka_t* rk = handle->c_ptr();
  std::vector<rd_kafka_DeleteTopic_t*> doomed;
  for (const auto& name : topics)
    doomed.push_back(rd_kafka_DeleteTopic_new(name.c_str()));
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  auto options = AdminOptions(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout);
  rd_kafka_DeleteTopics(rk, doomed.data(), doomed.size(), options.get(),
                        queue.get());
  for (auto* t : doomed) rd_kafka_DeleteTopic_destroy(t);

  absl::StatusOr<EventPtr> event =
      AdminAnswer(queue.get(), timeout, "deleting", topics.front());
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_DeleteTopics_result_topics(
      rd_kafka_event_DeleteTopics_result(event->get()), &count);
  return FirstTopicError(results, count,
                         RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "deleted");
}

absl::StatusOr<int> PartitionCount(RdKafka::Handle* handle,
                                   const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> t(
      RdKafka::Topic::create(handle, topic, nullptr, errstr));
  if (!t) {
    return absl::InvalidArgumentError("topic '" + topic + "': " + errstr);
  }
  // A topic just created can take a moment to show in every broker's
  // metadata: unknown-topic and no-leader answers are retried until the
  // timeout.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode err = handle->metadata(
        false, t.get(), &raw,
        static_cast<int>(std::max<int64_t>(left.count(), 100)));
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError("metadata for topic '" + topic +
                                    "': " + RdKafka::err2str(err));
    }
    RdKafka::ErrorCode topic_err = RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
    int partitions = 0;
    for (const auto* tm : *md->topics()) {
      if (tm->topic() != topic) continue;
      topic_err = tm->err();
      partitions = static_cast<int>(tm->partitions()->size());
    }
    if (topic_err == RdKafka::ERR_NO_ERROR && partitions > 0) return partitions;
    const bool settling = topic_err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART ||
                          topic_err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                          topic_err == RdKafka::ERR_NO_ERROR;
    if (!settling || std::chrono::steady_clock::now() >= deadline) {
      return absl::NotFoundError("topic '" + topic + "': " +
                                 (topic_err == RdKafka::ERR_NO_ERROR
                                      ? std::string("no partitions")
                                      : RdKafka::err2str(topic_err)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::StatusOr<std::map<int32_t, PartitionRange>> TopicWatermarks(
    RdKafka::Handle* handle, const std::string& topic,
    std::chrono::milliseconds timeout) {
  // At most a day: a longer timeout would overflow the int milliseconds
  // librdkafka takes.
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::clamp(timeout, std::chrono::milliseconds(0),
                 std::chrono::milliseconds(std::chrono::hours(24)));
  auto left_ms = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now())
               .count()));
  };
  auto settling = [](RdKafka::ErrorCode e) {
    return e == RdKafka::ERR_NOT_LEADER_FOR_PARTITION ||
           e == RdKafka::ERR_LEADER_NOT_AVAILABLE;
  };
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> t(
      RdKafka::Topic::create(handle, topic, nullptr, errstr));
  if (!t) {
    return absl::InvalidArgumentError("topic '" + topic + "': " + errstr);
  }
  std::unique_ptr<RdKafka::Metadata> md;
  const RdKafka::TopicMetadata* tm = nullptr;
  while (true) {
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode e = handle->metadata(false, t.get(), &raw, left_ms());
    md.reset(raw);
    if (e != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError("metadata for topic '" + topic +
                                    "': " + RdKafka::err2str(e));
    }
    tm = nullptr;
    for (const auto* m : *md->topics()) {
      if (m->topic() == topic) tm = m;
    }
    if (tm == nullptr || tm->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
      return absl::NotFoundError("topic '" + topic + "' does not exist");
    }
    // A topic just created may not have its leaders yet: asked again. Any
    // other answer (not authorised, ...) is not "no such topic".
    if (!settling(tm->err()) || left_ms() <= 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (tm->err() != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError("topic '" + topic +
                                  "': " + RdKafka::err2str(tm->err()));
  }
  std::map<int32_t, PartitionRange> ranges;
  for (const auto* pm : *tm->partitions()) {
    PartitionRange& r = ranges[pm->id()];
    RdKafka::ErrorCode e;
    while (true) {
      e = handle->query_watermark_offsets(topic, pm->id(), &r.low, &r.high,
                                          left_ms());
      // Per partition, "unknown partition" is a leader not settled yet.
      const bool retry = settling(e) || e == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
      if (!retry || left_ms() <= 100) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (e != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError("watermarks of '" + topic + "' [" +
                                    std::to_string(pm->id()) +
                                    "]: " + RdKafka::err2str(e));
    }
  }
  if (ranges.empty()) {
    return absl::NotFoundError("topic '" + topic + "' has no partitions");
  }
  return ranges;
}

}  // namespace rebound
