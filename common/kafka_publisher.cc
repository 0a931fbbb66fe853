#include "common/kafka_publisher.h"

#include <pthread.h>

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "common/kafka_properties.h"
#include "common/log.h"
#include "common/time_format.h"
#include "librdkafka/rdkafka.h"

namespace rebound {

namespace {

// The delivery reports this thread served in a row for one group: counted
// once when the group changes or the thread stops serving reports. Reports
// are served on the poll thread and, during Flush() and the destructor, on
// the calling thread: each keeps its own run.
struct Run {
  Publisher::DeliveryGroup* group = nullptr;
  int records = 0;
  absl::Time at;
};
thread_local Run run;

}  // namespace

void Publisher::EndRun() {
  if (run.group == nullptr) return;
  DeliveryGroup* group = run.group;
  const int records = run.records;
  run = Run{};
  group->Resolved(records);
}

// Delivery reports and client events from librdkafka.
namespace {
// Delivery errors that sending the same record again cannot cure: the
// broker refuses the record itself, or this client's right to write it.
bool IsPermanentDeliveryError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return true;
    default:
      return false;
  }
}
}  // namespace

class Publisher::Callbacks : public RdKafka::EventCb {
 public:
  explicit Callbacks(Publisher* owner) : owner_(owner) {}

  // One delivery report, from librdkafka's C callback: the C++ wrapper
  // would build a Message and make several library calls per record.
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                         void*) {
    auto* done = static_cast<PendingRecord*>(message->_private);
    if (done == nullptr) return;
    DeliveryGroup* group = done->group_;
    if (group == nullptr || group != run.group) {
      EndRun();
      run.group = group;
      run.at = absl::Now();
    }
    Delivery d;
    d.at = run.at;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      d.partition = message->partition;
      d.offset = message->offset;
    } else {
      // Not rd_kafka_message_errstr(): for a producer's message that is
      // the payload itself, with no terminating zero.
      const std::string why = std::string("kafka did not confirm the write: ") +
                              rd_kafka_err2str(message->err);
      d.status = IsPermanentDeliveryError(message->err)
                     ? absl::FailedPreconditionError(why)
                     : absl::UnavailableError(why);
    }
    const bool owned = done->delete_after_delivery_;
    done->Delivered(d);
    if (owned) delete done;
    if (group != nullptr) ++run.records;
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) {
          owner_->reachable_.store(false);
          owner_->SetAvailable(false);
        }
        if (event.fatal()) {
          // Idempotence guarantees are void after a fatal error; stay
          // unavailable so nothing more is acked by this producer.
          log::Error("kafka producer fatal error", {{"error", event.str()}});
          owner_->fatal_.store(true);
          owner_->reachable_.store(false);
          owner_->SetAvailable(false);
        } else {
          log::Warn("kafka producer error",
                    {{"error", RdKafka::err2str(event.err())},
                     {"detail", event.str()}});
        }
        break;
      case RdKafka::Event::EVENT_LOG:
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          log::Warn("librdkafka",
                    {{"fac", event.fac()}, {"detail", event.str()}});
        }
        break;
      default:
        break;
    }
  }

 private:
  Publisher* owner_;
};

Headers ToHeaders(absl::Span<const HeaderRef> refs) {
  Headers out;
  out.reserve(refs.size());
  for (const HeaderRef& one : refs) out.emplace_back(one.name, one.value);
  return out;
}

Headers CloudEventHeaders(const std::string& id, const std::string& type,
                          const std::string& source, absl::Time time,
                          const std::string& subject) {
  return ToHeaders(CloudEventHeaderLayout(id, type, source,
                                          FormatRfc3339Utc(time), subject));
}

std::array<HeaderRef, 7> CloudEventHeaderLayout(std::string_view id,
                                                std::string_view type,
                                                std::string_view source,
                                                std::string_view time,
                                                std::string_view subject) {
  return {{{"ce_specversion", "1.0"},
           {"ce_id", id},
           {"ce_type", type},
           {"ce_source", source},
           {"ce_time", time},
           {"ce_subject", subject},
           {"content-type", "application/protobuf"}}};
}

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Create(
    const PublisherOptions& options) {
  if (options.brokers.empty()) {
    return absl::InvalidArgumentError("kafka brokers are required");
  }
  std::unique_ptr<Publisher> p(new Publisher());
  p->options_ = options;
  p->callbacks_ = std::make_unique<Callbacks>(p.get());

  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", options.brokers},
      {"client.id", options.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      // Same partition for a key as Java's default partitioner.
      {"partitioner", "murmur2_random"},
      {"queue.buffering.max.messages",
       std::to_string(options.queue_max_messages)},
      {"linger.ms", std::to_string(options.linger_ms)},
      {"message.timeout.ms", std::to_string(options.message_timeout.count())},
      {"compression.codec", options.compression},
      {"socket.keepalive.enable", "true"},
      {"reconnect.backoff.max.ms", "1000"},
      // Topics are made by the services with their partition counts
      // (EnsureTopics); a deleted one is not made again by a write or a
      // probe with the broker's defaults (one partition would move keys).
      {"allow.auto.create.topics", "false"},
  };
  for (const auto& [k, v] : options.extra) props[k] = v;
  std::string err;
  if (auto s = ApplyKafkaClientProperties(conf.get()); !s.ok()) return s;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError("kafka property '" + k + "'='" + v +
                                        "': " + err);
    }
  }
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(p->callbacks_.get()),
                err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError("kafka callbacks: " + err);
  }
  // Set on the C configuration, which Producer::create copies: with no C++
  // dr_cb it installs no trampoline of its own over it.
  rd_kafka_conf_set_dr_msg_cb(conf->c_ptr_global(), &Callbacks::OnDelivery);
  p->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!p->producer_) {
    return absl::InvalidArgumentError("kafka producer: " + err);
  }
  // Named, so per-thread CPU (top -H, /proc) tells them apart.
  p->poll_thread_ = std::thread([raw = p.get()] {
    pthread_setname_np(pthread_self(), "kafka-deliver");
    raw->PollLoop();
  });
  p->health_thread_ = std::thread([raw = p.get()] {
    pthread_setname_np(pthread_self(), "kafka-health");
    raw->HealthLoop();
  });
  return p;
}

Publisher::~Publisher() {
  stop_health_.Notify();
  if (health_thread_.joinable()) health_thread_.join();
  if (producer_) {
    absl::Status s = Flush(std::chrono::seconds(10));
    if (!s.ok())
      log::Error("producer closed with records unsent",
                 {{"error", std::string(s.message())}});
  }
  stopping_.store(true);
  if (poll_thread_.joinable()) poll_thread_.join();
  if (producer_) {
    // Resolve whatever is left so no callback is dropped silently.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE |
                     RdKafka::Producer::PURGE_INFLIGHT);
    producer_->poll(0);
    EndRun();
  }
}

void Publisher::PollLoop() {
  while (!stopping_.load()) {
    producer_->poll(50);
    EndRun();
  }
}

void Publisher::HealthLoop() {
  do {
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode err =
        producer_->metadata(false, nullptr, &raw,
                            static_cast<int>(std::max<int64_t>(
                                options_.health_interval.count(), 500)));
    delete raw;
    const bool reachable = err == RdKafka::ERR_NO_ERROR && !fatal_.load();
    reachable_.store(reachable);
    bool topics_ok = true;
    if (reachable) {
      auto missing = MissingTopics(static_cast<int>(
          std::max<int64_t>(options_.health_interval.count(), 500)));
      topics_ok = missing.empty();
      absl::MutexLock lock(&topics_mu_);
      if (missing != missing_topics_) {
        for (const auto& [topic, why] : missing) {
          if (!missing_topics_.contains(topic)) {
            log::Warn("kafka topic unavailable; writes to it refused",
                      {{"topic", topic}, {"error", why}});
          }
        }
        for (const auto& [topic, why] : missing_topics_) {
          if (!missing.contains(topic)) {
            log::Info("kafka topic available again", {{"topic", topic}});
          }
        }
        missing_topics_ = std::move(missing);
      }
      topic_missing_.store(!topics_ok);
    }
    SetAvailable(reachable && topics_ok);
  } while (!stop_health_.WaitForNotificationWithTimeout(
      absl::FromChrono(options_.health_interval)));
}

void Publisher::RequireTopics(std::vector<std::string> topics) {
  absl::MutexLock lock(&topics_mu_);
  required_topics_ = std::move(topics);
}

std::map<std::string, std::string> Publisher::MissingTopics(int timeout_ms) {
  std::vector<std::string> topics;
  {
    absl::MutexLock lock(&topics_mu_);
    topics = required_topics_;
  }
  std::map<std::string, std::string> missing;
  for (const std::string& name : topics) {
    auto& handle = topic_handles_[name];
    std::string errstr;
    if (!handle) {
      handle.reset(
          RdKafka::Topic::create(producer_.get(), name, nullptr, errstr));
    }
    if (!handle) {
      missing[name] = errstr;
      continue;
    }
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode err =
        producer_->metadata(false, handle.get(), &raw, timeout_ms);
    std::unique_ptr<RdKafka::Metadata> md(raw);
    // No answer: reachability is the broker probe's to judge.
    if (err != RdKafka::ERR_NO_ERROR || !md) continue;
    const RdKafka::TopicMetadata* found = nullptr;
    for (const auto* tm : *md->topics()) {
      if (tm->topic() == name) found = tm;
    }
    if (found == nullptr) {
      missing[name] = "not in the broker's answer";
    } else if (found->err() != RdKafka::ERR_NO_ERROR) {
      missing[name] = RdKafka::err2str(found->err());
    } else if (found->partitions()->empty()) {
      missing[name] = "no partitions";
    }
  }
  return missing;
}

bool Publisher::TopicMissing(const std::string& topic) {
  absl::MutexLock lock(&topics_mu_);
  return missing_topics_.contains(topic);
}

void Publisher::SetAvailable(bool up) {
  if (available_.exchange(up) == up) return;
  log::Info(up ? "kafka available" : "kafka unavailable",
            {{"brokers", options_.brokers}});
  absl::MutexLock lock(&listener_mu_);
  if (listener_) listener_(up);
}

void Publisher::OnAvailabilityChange(std::function<void(bool)> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
  listener_(available_.load());
}

absl::Status Publisher::Produce(const std::string& topic, std::string_view key,
                                std::string_view value, const Headers& headers,
                                absl::Time enqueue_deadline,
                                std::unique_ptr<PendingRecord> pending) {
  absl::Status s =
      Produce(topic, key, value, headers, enqueue_deadline, pending.get());
  if (s.ok()) pending.release();  // Released after its delivery report.
  return s;
}

absl::Status Publisher::Produce(const std::string& topic, std::string_view key,
                                std::string_view value, const Headers& headers,
                                absl::Time enqueue_deadline,
                                PendingRecord* pending) {
  absl::InlinedVector<HeaderRef, 8> refs;
  refs.reserve(headers.size());
  for (const auto& [name, v] : headers) refs.push_back({name, v});
  return Produce(topic, key, value, refs, enqueue_deadline, pending);
}

absl::Status Publisher::Produce(const std::string& topic, std::string_view key,
                                std::string_view value,
                                absl::Span<const HeaderRef> headers,
                                absl::Time enqueue_deadline,
                                PendingRecord* pending) {
  // The brokers' addresses and topic names are in the log (availability
  // changes), not in an answer to a client.
  if (!reachable_.load()) {
    return absl::UnavailableError(
        "kafka is unreachable; retry with the same event_id");
  }
  if (topic_missing_.load() && TopicMissing(topic)) {
    return absl::UnavailableError(
        "a kafka topic this service writes is missing or not authorised; "
        "retry with the same event_id");
  }
  // The C API copies each header once; the C++ Headers wrapper copies twice.
  rd_kafka_t* rk = producer_->c_ptr();
  while (true) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (const HeaderRef& one : headers) {
      rd_kafka_header_add(
          h, one.name.data(), static_cast<ssize_t>(one.name.size()),
          one.value.data(), static_cast<ssize_t>(one.value.size()));
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(pending), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
    // On failure the headers still belong to us.
    rd_kafka_headers_destroy(h);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
        absl::Now() < enqueue_deadline) {
      // The poll thread drains the queue; wait briefly and retry.
      absl::SleepFor(absl::Milliseconds(2));
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return absl::ResourceExhaustedError(
          "producer queue full until the deadline; retry later");
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      return absl::UnavailableError("kafka producer failed fatally");
    }
    return absl::InternalError(std::string("kafka refused the record: ") +
                               rd_kafka_err2str(err));
  }
}

absl::Status Publisher::Flush(std::chrono::milliseconds timeout) {
  // In slices, so the reports served here are counted into their groups as
  // they come (a group's batch is answered then), not only at the end.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    producer_->flush(
        static_cast<int>(std::clamp<int64_t>(left.count(), 0, 100)));
    EndRun();
  } while (producer_->outq_len() > 0 &&
           std::chrono::steady_clock::now() < deadline);
  int left = producer_->outq_len();
  if (left > 0) {
    return absl::DeadlineExceededError(std::to_string(left) +
                                       " records still queued after flush");
  }
  return absl::OkStatus();
}

}  // namespace rebound
