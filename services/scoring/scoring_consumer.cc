#include "services/scoring/scoring_consumer.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/kafka_admin.h"
#include "common/kafka_group.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "common/pipeline.h"
#include "state/keys.h"

namespace rebound::scoring {

using rebound::v1::ConnectionEvent;

void OffsetTracker::Begin(int64_t offset) { in_flight_.insert(offset); }

int64_t OffsetTracker::Done(int64_t offset) {
  // Not begun here (a record of an earlier assignment of the partition,
  // landing late), or done already: it moves nothing.
  if (in_flight_.erase(offset) == 0) return -1;
  highest_done_ = std::max(highest_done_, offset);
  int64_t next = in_flight_.empty() ? highest_done_ + 1 : *in_flight_.begin();
  if (next <= stored_) return -1;
  stored_ = next;
  return next;
}

// Assignment changes, for both the eager and the cooperative protocol.
class ScoringConsumer::Rebalancer : public RdKafka::RebalanceCb,
                                    public RdKafka::EventCb {
 public:
  Rebalancer(ScoringConsumer* owner, bool cooperative)
      : owner_(owner), cooperative_(cooperative) {}

  void rebalance_cb(
      RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
      std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (detached_.load()) return;  // Abandoned: its owner is gone.
    std::vector<int32_t> ids;
    for (auto* p : partitions) ids.push_back(p->partition());
    const bool assign = err == RdKafka::ERR__ASSIGN_PARTITIONS;
    if (assign) {
      absl::MutexLock lock(&owner_->mu_);
      for (int32_t id : ids) owner_->trackers_[id] = OffsetTracker();
    }
    // Writes in flight are confirmed first, so what this instance wrote
    // is done (or given back) before another may own the senders.
    if (owner_->stop_ != nullptr) owner_->CompleteInFlight(*owner_->stop_);
    // Writes held, unsent, are decided again from what Redis holds (the
    // cache is forgotten below), by whichever consumer owns their senders.
    owner_->DropPrepared();
    // Before giving partitions up: let in-flight verdicts land so their
    // offsets are stored, then commit what is done.
    ApplyRebalance(consumer, cooperative_, err, partitions, [&] {
      (void)owner_->publisher_->Flush(std::chrono::seconds(5));
      consumer->commitSync();
    });
    if (!assign) {
      absl::MutexLock lock(&owner_->mu_);
      for (int32_t id : ids) owner_->trackers_.erase(id);
    }
    // Partitions assigned are claimed (fenced) before their first read;
    // those given up are no longer this consumer's to guard its writes by.
    for (int32_t id : ids) {
      std::erase(owner_->unclaimed_, id);
      if (assign) owner_->unclaimed_.push_back(id);
    }
    if (!assign) owner_->store_->Release(owner_->FenceFields(ids));
    // The senders of partitions given up are someone else's now: events of
    // theirs still held are not written here (their offsets are not
    // stored, so the new owner replays them), and nothing kept in process
    // about any sender is trusted past a change of ownership.
    if (!assign) {
      std::erase_if(owner_->batch_, [&](const Held& h) {
        return std::find(ids.begin(), ids.end(), h.message->partition()) !=
               ids.end();
      });
    }
    owner_->store_->ForgetCached();
    if (assign) owner_->consumer_fault_.Assigned(ids.size());
    log::Info(assign ? "partitions assigned" : "partitions revoked",
              {{"partitions", ids},
               {"protocol", cooperative_ ? "COOPERATIVE" : "EAGER"}});
  }

  void event_cb(RdKafka::Event& event) override {
    if (detached_.load() || event.type() != RdKafka::Event::EVENT_ERROR) return;
    if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN)
      owner_->kafka_ok_.store(false);
    if (owner_->consumer_fault_.Note(event.err(), event.str())) return;
    log::Warn("kafka consumer error", {{"error", RdKafka::err2str(event.err())},
                                       {"detail", event.str()}});
  }

  // Left to an abandoned consumer's threads (KeepForever): no callback
  // reaches the owner any more.
  void Detach() { detached_.store(true); }

 private:
  ScoringConsumer* owner_;
  const bool cooperative_;
  std::atomic<bool> detached_{false};
};

// A verdict or dead letter on its way to Kafka; its event's offset is done
// when it lands.
class ScoringConsumer::Delivery final : public Publisher::PendingRecord {
 public:
  Delivery(ScoringConsumer* owner, Outgoing out)
      : owner_(owner), out_(std::move(out)) {}
  const Outgoing& out() const { return out_; }

  void Delivered(const rebound::Delivery& delivery) override {
    if (delivery.status.ok()) {
      if (out_.dead_letter) owner_->dead_letters_refused_.store(false);
      owner_->Finish(out_.source_topic, out_.partition, out_.offset,
                     out_.event_applied);
      return;
    }
    // Not confirmed: sent again by the consumer thread; the event's offset
    // stays unstored until it lands, so a crash meanwhile replays the event
    // (and its stored verdict).
    owner_->Requeue(std::move(out_), delivery.status);
  }

 private:
  ScoringConsumer* owner_;
  Outgoing out_;
};

absl::StatusOr<std::unique_ptr<ScoringConsumer>> ScoringConsumer::Create(
    const ScoringOptions& options, ClassifierConfig classifier,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<ScoringConsumer> c(new ScoringConsumer());
  c->options_ = options;
  c->classifier_ = std::move(classifier);
  c->store_ = std::make_unique<ScoreStore>(
      WithNoteStyle(options.store, c->classifier_));
  c->registry_ = registry;

  auto& events = prometheus::BuildCounter()
                     .Name("rebound_scoring_events_total")
                     .Help("Connection events consumed by scoring, by outcome")
                     .Register(*registry);
  c->consumed_ = &events.Add({{"outcome", "processed"}});
  c->dead_lettered_ = &events.Add({{"outcome", "dead_letter"}});
  c->fenced_ = &prometheus::BuildCounter()
                    .Name("rebound_scoring_fenced_total")
                    .Help(
                        "Times events held were dropped unwritten because "
                        "their partitions had a newer owner: the group "
                        "membership was lost meanwhile, or Redis refused "
                        "the writes by the partition fence (the next owner "
                        "replays them)")
                    .Register(*registry)
                    .Add({});
  c->redis_errors_ = &prometheus::BuildCounter()
                          .Name("rebound_scoring_redis_errors_total")
                          .Help("Redis calls that failed and were retried")
                          .Register(*registry)
                          .Add({});
  c->verdicts_ = &prometheus::BuildCounter()
                      .Name("rebound_scoring_verdicts_total")
                      .Help("Decline verdicts published, by primary reason")
                      .Register(*registry);
  c->process_latency_ =
      &prometheus::BuildHistogram()
           .Name("rebound_scoring_process_seconds")
           .Help("Time to apply one event (Redis + classification)")
           .Register(*registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05,
                        0.1, 1});
  c->event_age_ =
      &prometheus::BuildHistogram()
           .Name("rebound_scoring_event_age_seconds")
           .Help(
               "An event's age (since ingest produced it) when its effects "
               "are written: the ingest -> scoring stage of the pipeline's "
               "latency, queueing included")
           .Register(*registry)
           .Add({}, StageLatencyBuckets());
  c->redis_ok_.Bind(&prometheus::BuildGauge()
                         .Name("rebound_scoring_redis_up")
                         .Help("1 when Redis answers, else 0")
                         .Register(*registry)
                         .Add({}));
  c->kafka_ok_.Bind(
      &prometheus::BuildGauge()
           .Name("rebound_scoring_kafka_up")
           .Help("1 while Kafka answers (brokers reachable, verdicts "
                 "publishable), else 0; health is NOT_SERVING meanwhile")
           .Register(*registry)
           .Add({}));
  c->cache_entries_ =
      &prometheus::BuildGauge()
           .Name("rebound_scoring_state_cache_entries")
           .Help(
               "sender keys kept in process (--state-cache-entries bounds "
               "them)")
           .Register(*registry)
           .Add({});
  c->state_lost_gauge_ =
      &prometheus::BuildGauge()
           .Name("rebound_scoring_state_lost")
           .Help(
               "1 while Redis has lost scoring's state and it awaits a "
               "rebuild (rebound-scoring --rebuild-state)")
           .Register(*registry)
           .Add({});
  c->redis_refused_ =
      &prometheus::BuildCounter()
           .Name("rebound_scoring_redis_refused_total")
           .Help(
               "Events Redis refused for good (WRONGTYPE, a script error): "
               "each one dead-lettered")
           .Register(*registry)
           .Add({});
  c->state_losses_ = &prometheus::BuildCounter()
                          .Name("rebound_scoring_state_losses_total")
                          .Help(
                              "Times Redis was found to have lost "
                              "scoring's state")
                          .Register(*registry)
                          .Add({});

  PublisherOptions po = options.publisher;
  po.brokers = options.brokers;
  po.client_id = "rebound-scoring";
  auto publisher = Publisher::Create(po);
  if (!publisher.ok()) return publisher.status();
  c->publisher_ = std::move(*publisher);
  absl::Status topics = pipeline::EnsureTopics(
      c->publisher_->handle(), options.brokers,
      {options.events_topic, options.verdicts_topic, options.dead_letter_topic},
      {options.topic_partitions, options.topic_replication},
      options.startup_timeout);
  if (!topics.ok()) return topics;
  // The topics scoring writes; the events topic is the consumer's to watch
  // (ConsumerFault).
  c->publisher_->RequireTopics(
      {options.verdicts_topic, options.dead_letter_topic});

  // Redis before joining the group: a start that fails leaves no member
  // behind to rebalance.
  absl::Status redis =
      WaitForRedis([&] { return c->store_->Connect(); },
                   options.store.redis.address, options.startup_timeout);
  if (!redis.ok()) return redis;
  c->redis_ok_.store(true);
  const GroupConsumerOptions group{options.brokers,
                                   options.group_id,
                                   "rebound-scoring",
                                   {options.events_topic},
                                   options.consumer_properties};
  c->rebalancer_ =
      std::make_unique<Rebalancer>(c.get(), CooperativeAssignment(group));
  auto consumer =
      CreateGroupConsumer(group, c->rebalancer_.get(), c->rebalancer_.get());
  if (!consumer.ok()) return consumer.status();
  c->consumer_ = std::move(*consumer);
  return c;
}

ScoringConsumer::~ScoringConsumer() {
  // Never ran (a failed start) or Run() already closed it.
  if (consumer_) {
    {
      absl::MutexLock lock(&consumer_mu_);
      consumer_closing_ = true;
    }
    consumer_->close();
  }
  // The last delivery reports reach the members above while they live.
  publisher_.reset();
}

void ScoringConsumer::StoreOffset(const std::string& topic, int32_t partition,
                                  int64_t next) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(topic, partition, next));
  std::vector<RdKafka::TopicPartition*> tps = {tp.get()};
  absl::MutexLock lock(&consumer_mu_);
  // Closing: not stored, so replayed by the next owner (changing nothing).
  if (consumer_closing_ || !consumer_) return;
  RdKafka::ErrorCode err = consumer_->offsets_store(tps);
  if (err != RdKafka::ERR_NO_ERROR) {
    // The partition moved to another member; it will replay from its last
    // committed offset, and replays change nothing.
    log::Debug("offset not stored", {{"error", RdKafka::err2str(err)}});
  }
}

void ScoringConsumer::Finish(const std::string& topic, int32_t partition,
                             int64_t offset, bool applied) {
  int64_t next = -1;
  {
    absl::MutexLock lock(&mu_);
    auto it = trackers_.find(partition);
    if (it == trackers_.end()) return;         // Revoked meanwhile.
    if (!it->second.InFlight(offset)) return;  // Not this assignment's.
    next = it->second.Done(offset);
  }
  processed_.fetch_add(1);
  if (applied) consumed_->Increment();
  if (next >= 0) StoreOffset(topic, partition, next);
}

void ScoringConsumer::DeadLetter(const RdKafka::Message& m,
                                 const std::string& reason,
                                 const std::atomic<bool>& stop) {
  log::Warn("event sent to dead-letter topic", {{"reason", reason},
                                                {"partition", m.partition()},
                                                {"offset", m.offset()}});
  dead_lettered_->Increment();
  Outgoing out;
  out.dead_letter = true;
  out.event_applied = false;
  out.topic = options_.dead_letter_topic;
  out.record = MakeDeadLetter(m, reason, options_.group_id);
  out.source_topic = m.topic_name();
  out.partition = m.partition();
  out.offset = m.offset();
  Send(std::move(out), stop);
}

void ScoringConsumer::Send(Outgoing out, const std::atomic<bool>& stop) {
  // Produce() fails only when Kafka is unreachable or the queue stays
  // full (or, for a dead letter, the record is larger than the producer
  // takes): keep trying; the offset is not stored until the record lands.
  while (true) {
    auto* d = new Delivery(this, std::move(out));
    const Outgoing& o = d->out();
    absl::Status sent = publisher_->Produce(o.topic, o.record.key,
                                            o.record.value, o.record.headers,
                                            absl::Now() + absl::Seconds(5), d);
    if (sent.ok()) return;
    // Refused: the record is still ours.
    out = d->out();
    delete d;
    if (out.dead_letter && IsTooLarge(sent) && !out.record.value.empty()) {
      out.record =
          WithoutValue(std::move(out.record), std::string(sent.message()));
      continue;
    }
    kafka_ok_.store(false);
    if (stop.load()) {
      unsent_.fetch_add(1);
      log::Warn("stopping with a record unsent; its event will be replayed",
                {{"error", std::string(sent.message())},
                 {"partition", out.partition},
                 {"offset", out.offset}});
      return;
    }
    log::Warn("record not accepted by the producer; retrying",
              {{"error", std::string(sent.message())}});
    absl::SleepFor(absl::FromChrono(options_.redis_retry));
  }
}

void ScoringConsumer::Requeue(Outgoing out, const absl::Status& why) {
  // The publisher marks what sending again cannot cure (the record too
  // large for its topic, not authorised, invalid) FAILED_PRECONDITION.
  const bool for_good = absl::IsFailedPrecondition(why);
  if (!out.dead_letter && for_good) {
    // A verdict (or forwarded event) its topic refuses for good: it goes to
    // the dead-letter topic with the reason, and its event's offset is done
    // when it lands there, so the partition flows on.
    log::Warn("record refused for good by its topic; dead-lettered",
              {{"error", std::string(why.message())},
               {"topic", out.topic},
               {"offset", out.offset}});
    dead_lettered_->Increment();
    AddDeadLetterHeaders(
        out.record.headers,
        absl::StrCat("topic ", out.topic,
                     " refused the record for good: ", why.message()),
        options_.group_id, out.source_topic, out.partition, out.offset);
    out.dead_letter = true;
    out.topic = options_.dead_letter_topic;
  } else if (out.dead_letter && IsTooLarge(why) && !out.record.value.empty()) {
    log::Warn("dead-letter record refused; sending it without its value",
              {{"error", std::string(why.message())}});
    out.record =
        WithoutValue(std::move(out.record), std::string(why.message()));
  } else if (out.dead_letter && for_good) {
    // Nowhere left to put it: kept and sent again, and health says
    // NOT_SERVING until the dead-letter topic takes it (an operator's fix).
    dead_letters_refused_.store(true);
    log::Error("the dead-letter topic refuses a record for good; holding it",
               {{"error", std::string(why.message())},
                {"topic", out.topic},
                {"offset", out.offset}});
  } else {
    log::Warn("record not confirmed by kafka; sending it again",
              {{"error", std::string(why.message())},
               {"topic", out.topic},
               {"offset", out.offset}});
  }
  absl::MutexLock lock(&mu_);
  requeued_.push_back(std::move(out));
}

bool ScoringConsumer::SendRequeued(const std::atomic<bool>& stop) {
  std::vector<Outgoing> again;
  {
    absl::MutexLock lock(&mu_);
    if (requeued_.empty()) return true;
    // At most once per pause: a record Kafka keeps refusing is not resent
    // in a tight loop.
    const absl::Time now = absl::Now();
    if (now < next_resend_) return false;
    next_resend_ = now + absl::FromChrono(options_.redis_retry);
    again.swap(requeued_);
  }
  for (Outgoing& out : again) Send(std::move(out), stop);
  absl::MutexLock lock(&mu_);
  return requeued_.empty();
}

void ScoringConsumer::SendToNotify(const Held& h, const std::string& id,
                                   const char* type, std::string value,
                                   const std::atomic<bool>& stop) {
  const ConnectionEvent& event = h.event;
  Outgoing out;
  out.topic = options_.verdicts_topic;
  out.record.key = pipeline::RecordKey(event.tenant_id(), event.sender_id());
  // ce_time: the event's time, in whole seconds.
  out.record.headers = CloudEventHeaders(
      id, type, "/rebound/scoring/" + event.tenant_id(),
      absl::FromUnixSeconds(event.occurred_at().seconds()), out.record.key);
  out.record.value = std::move(value);
  out.source_topic = h.message->topic_name();
  out.partition = h.message->partition();
  out.offset = h.message->offset();
  Send(std::move(out), stop);
}

void ScoringConsumer::RedisDown(const absl::Status& s) {
  if (redis_ok_.exchange(false)) {
    log::Warn("redis failed; holding events until it answers",
              {{"error", std::string(s.message())}});
  }
  redis_errors_->Increment();
}

void ScoringConsumer::RedisFailed(const absl::Status& s) {
  RedisDown(s);
  absl::SleepFor(absl::FromChrono(options_.redis_retry));
}

bool ScoringConsumer::AdoptEpoch(const std::atomic<bool>& stop) {
  std::optional<bool> consumed_before;
  while (!stop.load()) {
    if (!consumed_before) {
      // A short wait, so a stop is seen within seconds while Kafka is down.
      auto committed = GroupHasCommittedOffsets(
          consumer_.get(), options_.events_topic, std::chrono::seconds(2));
      if (!committed.ok()) {
        kafka_ok_.store(false);
        log::Warn("cannot read the group's committed offsets; retrying",
                  {{"error", std::string(committed.status().message())}});
        absl::SleepFor(absl::FromChrono(options_.redis_retry));
        continue;
      }
      consumed_before = *committed;
    }
    absl::Status s = store_->EnsureEpoch(!*consumed_before);
    if (s.ok()) {
      RedisOk();
      return true;
    }
    if (absl::IsDataLoss(s)) return WaitForRebuild(s, stop);
    RedisFailed(s);
  }
  return false;
}

bool ScoringConsumer::WaitForRebuild(const absl::Status& why,
                                     const std::atomic<bool>& stop) {
  // Events decided on the lost state and held unsent are decided again
  // once it is rebuilt.
  DropPrepared();
  if (!state_lost_.load()) {
    // Verdicts already sent land first, so once the loss is reported the
    // topic holds every verdict this instance published: a rebuild started
    // after that reuses them all.
    (void)publisher_->Flush(std::chrono::seconds(30));
    state_lost_.store(true);
    log::Error(
        "redis lost scoring's state; holding events until it is "
        "rebuilt (rebound-scoring --rebuild-state)",
        {{"error", std::string(why.message())}});
    state_losses_->Increment();
  }
  state_lost_gauge_->Set(1);
  while (true) {
    if (stop.load()) return false;
    absl::SleepFor(absl::FromChrono(options_.redis_retry));
    absl::Status s = store_->AdoptRebuiltEpoch();
    if (s.ok()) break;
    if (!absl::IsDataLoss(s)) redis_ok_.store(false);
  }
  RedisOk();
  // The held batch has no verdict yet (a decline's verdict is decided in
  // the round trip that writes it): its declines get the verdict the
  // rebuild stored for their request (the published one), if any.
  state_lost_.store(false);
  state_lost_gauge_->Set(0);
  log::Info("redis state rebuilt; resuming");
  return true;
}

void ScoringConsumer::RedisOk() {
  if (!redis_ok_.exchange(true)) log::Info("redis available again");
}

void ScoringConsumer::GiveBack(std::vector<Held>& events) {
  for (Held& h : events) {
    if (!h.classified) continue;
    h.verdict.reset();
    h.classified = false;
  }
  batch_.insert(batch_.begin(), std::make_move_iterator(events.begin()),
                std::make_move_iterator(events.end()));
  events.clear();
}

bool ScoringConsumer::Fenced() {
  if (!consumer_->assignment_lost()) return false;
  DropPrepared();  // Given back into the batch, dropped with it.
  log::Warn(
      "group membership lost while waiting; dropping the events held, "
      "unwritten, for the partitions' next owner",
      {{"events", static_cast<int64_t>(batch_.size())}});
  batch_.clear();
  must_wait_ = false;
  fenced_->Increment();
  return true;
}

void ScoringConsumer::DropFenced(const absl::Status& why) {
  DropPrepared();  // Given back into the batch, dropped with it.
  GiveBack(in_flight_);
  log::Warn(
      "partitions claimed by another consumer; dropping the events held, "
      "unwritten, for their next owner",
      {{"error", std::string(why.message())},
       {"events", static_cast<int64_t>(batch_.size())}});
  batch_.clear();
  must_wait_ = false;
  store_->ForgetCached();
  fenced_->Increment();
}

std::vector<std::string> ScoringConsumer::FenceFields(
    const std::vector<int32_t>& partitions) const {
  std::vector<std::string> fields;
  fields.reserve(partitions.size());
  for (int32_t id : partitions) {
    fields.push_back(
        state::FenceField(options_.group_id, options_.events_topic, id));
  }
  return fields;
}

bool ScoringConsumer::ClaimAssigned(const std::atomic<bool>& stop) {
  while (!unclaimed_.empty()) {
    absl::Status s = store_->Claim(FenceFields(unclaimed_));
    if (s.ok()) {
      RedisOk();
      log::Info("partitions claimed", {{"partitions", unclaimed_}});
      unclaimed_.clear();
      return true;
    }
    if (!IsTransientRedisError(s)) {
      // Nothing of these partitions is written unclaimed.
      log::Error("cannot claim partitions; retrying",
                 {{"error", std::string(s.message())}});
    }
    RedisFailed(s);
    if (stop.load()) return false;
    if (Fenced()) return true;
  }
  return true;
}

void ScoringConsumer::DropPrepared() {
  if (prepared_.empty()) return;
  store_->DropHeld();
  GiveBack(prepared_);
}

bool ScoringConsumer::SendPrepared() {
  if (prepared_.empty()) return true;
  absl::Status s = store_->SendHeld();
  if (s.ok()) {
    in_flight_ = std::move(prepared_);
    prepared_.clear();
    return true;
  }
  if (IsTransientRedisError(s)) RedisDown(s);
  log::Debug("held writes not sent; running them again",
             {{"error", std::string(s.message())},
              {"events", static_cast<int64_t>(prepared_.size())}});
  GiveBack(prepared_);
  must_wait_ = true;
  return false;
}

bool ScoringConsumer::RoundTrip(const std::atomic<bool>& stop) {
  if (must_wait_ && !prepared_.empty()) {
    // Waiting: nothing held or in flight behind this batch.
    if (SendPrepared() && !SettleInFlight(stop)) return false;
    if (batch_.empty()) return true;
  }
  if (!prepared_.empty() && !store_->has_held()) {
    // Their writes are gone from the store (it forgot its state): they
    // and this batch, decided on top of them, again, from Redis.
    store_->ForgetCached();
    GiveBack(prepared_);
    must_wait_ = true;
    return true;
  }
  std::vector<ScoreStore::Step> steps;
  steps.reserve(batch_.size());
  for (const Held& h : batch_) {
    steps.push_back(
        ScoreStore::Step::Of(h.event, h.verdict, RecordTimeMs(*h.message)));
  }
  const auto classify = [this](const DeclineContext& c) {
    return Classify(classifier_, c);
  };
  // Redis down: hold the batch and retry; nothing after it is stored.
  const bool wait = must_wait_;
  must_wait_ = false;
  absl::StatusOr<std::vector<ScoreStore::Decided>> decided;
  while (true) {
    const bool had_prepared = !prepared_.empty();
    decided = wait ? store_->RunSteps(steps, classify)
                   : store_->PrepareSteps(steps, classify);
    if (had_prepared) {
      // Their writes went out behind this batch's reads, or were lost with
      // the connection: then they and this batch, decided on top of them,
      // run again, waiting.
      if (store_->held_went_out()) {
        in_flight_ = std::move(prepared_);
        prepared_.clear();
      } else {
        if (!decided.ok() && IsTransientRedisError(decided.status())) {
          RedisDown(decided.status());
        }
        DropPrepared();
        must_wait_ = true;
        return true;
      }
    }
    if (decided.ok()) break;
    if (!in_flight_.empty()) {
      // The writes sent with this batch's reads come first; if they
      // failed, everything was given back.
      if (!SettleInFlight(stop)) return false;
      // Given back (run again, waiting), or dropped (fenced).
      if (must_wait_ || batch_.empty()) return true;
    }
    if (IsFenced(decided.status())) {
      DropFenced(decided.status());
      return true;
    }
    if (absl::IsDataLoss(decided.status())) {
      if (!WaitForRebuild(decided.status(), stop)) return false;
      if (Fenced()) return true;
      continue;
    }
    // Refused for good: find the event Redis refuses, one at a time.
    if (!IsTransientRedisError(decided.status())) return RunAlone(stop);
    RedisFailed(decided.status());
    if (stop.load()) return false;  // Unstored: replayed after restart.
    if (Fenced()) return true;
  }
  RedisOk();
  size_t d = 0;
  for (size_t i = 0; i < batch_.size(); ++i) {
    Held& h = batch_[i];
    if (!steps[i].classify) continue;
    h.verdict = std::move((*decided)[d++].verdict);
    h.classified = true;
  }
  cache_entries_->Set(static_cast<double>(store_->cached_entries()));
  if (!wait) {
    // Held, to go behind the next batch's reads, or (a Redis Cluster)
    // sent; confirmed by CompleteInFlight while the next batch is read.
    (store_->has_held() ? prepared_ : in_flight_) = std::move(batch_);
    batch_.clear();
    return true;
  }
  const absl::Time now = absl::Now();
  for (Held& h : batch_) Complete(h, now, stop);
  batch_.clear();
  return true;
}

void ScoringConsumer::CompleteInFlight(const std::atomic<bool>& stop) {
  if (in_flight_.empty()) return;
  absl::Status s = store_->FinishWrites();
  if (s.ok()) {
    const absl::Time now = absl::Now();
    for (Held& h : in_flight_) Complete(h, now, stop);
    in_flight_.clear();
    return;
  }
  // Not known written: again, ahead of what was consumed since, waiting
  // for the outcome this time (RoundTrip's retries, poison and state-loss
  // handling); a verdict decided with those writes is decided again.
  log::Debug("writes in flight failed; running them again",
             {{"error", std::string(s.message())},
              {"events", static_cast<int64_t>(in_flight_.size())}});
  if (IsFenced(s)) {
    DropFenced(s);
    return;
  }
  if (IsTransientRedisError(s)) RedisDown(s);
  if (absl::IsDataLoss(s)) found_loss_ = s;
  // The prepared events were decided on top of these writes (the store
  // dropped their held writes): again too, after them.
  GiveBack(prepared_);
  GiveBack(in_flight_);
  must_wait_ = true;
}

absl::Status ScoringConsumer::ApplyAlone(Held& h) {
  const std::vector<ScoreStore::Step> steps = {
      ScoreStore::Step::Of(h.event, h.verdict, RecordTimeMs(*h.message))};
  auto decided = store_->RunSteps(steps, [this](const DeclineContext& c) {
    return Classify(classifier_, c);
  });
  if (!decided.ok()) return decided.status();
  if (steps[0].classify) h.verdict = std::move(decided->front().verdict);
  return absl::OkStatus();
}

bool ScoringConsumer::RunAlone(const std::atomic<bool>& stop) {
  // In the batch's order, so each event sees exactly the events before it,
  // as in one round trip. Events written are taken off the batch as they
  // go: a stop leaves the rest held (unstored, replayed).
  while (!batch_.empty()) {
    Held& h = batch_.front();
    absl::Status s = ApplyAlone(h);
    if (IsFenced(s)) {
      DropFenced(s);
      return true;
    }
    if (absl::IsDataLoss(s)) {
      if (!WaitForRebuild(s, stop)) return false;
      if (Fenced()) return true;
      continue;
    }
    if (!s.ok() && IsTransientRedisError(s)) {
      RedisFailed(s);
      if (stop.load()) return false;
      if (Fenced()) return true;
      continue;
    }
    RedisOk();
    if (s.ok()) {
      Complete(h, absl::Now(), stop);
    } else {
      // Redis refuses this event's update for good (a key of the wrong
      // type, a script error): retrying cannot cure it, and holding it
      // would stop every tenant behind it.
      redis_refused_->Increment();
      DeadLetter(
          *h.message,
          "redis refused the event's update: " + std::string(s.message()),
          stop);
    }
    batch_.erase(batch_.begin());
  }
  return true;
}

bool ScoringConsumer::SettleInFlight(const std::atomic<bool>& stop) {
  CompleteInFlight(stop);
  if (!found_loss_) return true;
  const absl::Status why = *found_loss_;
  found_loss_.reset();
  if (!WaitForRebuild(why, stop)) return false;
  Fenced();  // A long wait: the events held may be someone else's now.
  return true;
}

bool ScoringConsumer::FlushBatch(const std::atomic<bool>& stop) {
  if (!SettleInFlight(stop)) return false;
  // Evicted since the writes held were decided (a stall past
  // max.poll.interval.ms or the session timeout; librdkafka marks the
  // assignment lost before the rebalance callback runs at the next poll):
  // they and the batch are the partitions' next owner's to replay, not to
  // be written beside its own. Narrows the unfenced window (README, Kafka
  // group), does not close it: a stall between this check and the send.
  if (Fenced()) return true;
  if (batch_.empty()) {
    // Nothing new to read ahead of them: the held writes go on their own
    // (waited for when the batch must be; given back if they fail).
    if (SendPrepared() && !must_wait_) return true;
    if (!SettleInFlight(stop)) return false;
    if (batch_.empty()) return true;
  }
  // Nothing is written before the state's epoch is adopted. Done here, not
  // before the first poll: a consumer that leaves after joining its group
  // and before its first assignment aborts in librdkafka 2.0.2's
  // cooperative-sticky assignor (librdkafka#4312), and waiting for Kafka or
  // a rebuild before the first poll widens that window.
  if (!epoch_adopted_) {
    if (!AdoptEpoch(stop)) return false;
    epoch_adopted_ = true;
    if (Fenced()) return true;
  }
  if (!ClaimAssigned(stop)) return false;
  if (batch_.empty()) return true;  // Fenced while claiming.
  return RoundTrip(stop);
}

void ScoringConsumer::Complete(Held& h, absl::Time now,
                               const std::atomic<bool>& stop) {
  process_latency_->Observe(absl::ToDoubleSeconds(now - h.received));
  if (auto age = RecordAgeSeconds(*h.message, now)) event_age_->Observe(*age);
  if (h.verdict) {
    verdicts_
        ->Add({{"reason",
                rebound::v1::DeclineReason_Name(h.verdict->primary_reason())}})
        .Increment();
    SendToNotify(h, h.verdict->verdict_id(), pipeline::kVerdictType,
                 h.verdict->SerializeAsString(), stop);
  } else if (h.event.has_profile_updated()) {
    // The event as ingest published it, behind the sender's verdicts, once
    // its effects are written: notify reads the sender's profile after it.
    SendToNotify(h, h.event.event_id(), pipeline::kEventType,
                 std::string(static_cast<const char*>(h.message->payload()),
                             h.message->len()),
                 stop);
  } else {
    Finish(h.message->topic_name(), h.message->partition(),
           h.message->offset());
  }
}

bool ScoringConsumer::Accept(std::unique_ptr<RdKafka::Message> m,
                             const std::atomic<bool>& stop) {
  Held h;
  h.received = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = trackers_.find(m->partition());
    if (it == trackers_.end()) return true;  // No longer ours.
    it->second.Begin(m->offset());
  }
  if (!h.event.ParseFromArray(m->payload(), static_cast<int>(m->len()))) {
    DeadLetter(*m, "undecodable: not a rebound.v1.ConnectionEvent protobuf",
               stop);
    return true;
  }
  if (h.event.payload_case() == ConnectionEvent::PAYLOAD_NOT_SET) {
    DeadLetter(*m,
               h.event.GetReflection()->GetUnknownFields(h.event).empty()
                   ? "unknown event: no payload"
                   : "unknown event: a payload this version does not know "
                     "(newer schema?)",
               stop);
    return true;
  }
  h.message = std::move(m);
  batch_.push_back(std::move(h));
  if (batch_.size() >= kMaxBatch) return FlushBatch(stop);
  return true;
}

absl::Status ScoringConsumer::Drain() {
  // Stopping: `stop` is set, so every retry below tries once. What is
  // consumed is written once more (Redis down: left unstored).
  const std::atomic<bool> stopped{true};
  stop_ = &stopped;
  // The last batch is written waiting (nothing left in flight), so poison
  // in it is still found (RunAlone) and its good events complete.
  must_wait_ = true;
  FlushBatch(stopped);
  // Verdicts and dead letters in flight land (storing their offsets);
  // those Kafka did not confirm are sent again, until the deadline.
  const absl::Time deadline =
      absl::Now() + absl::FromChrono(options_.drain_timeout);
  bool done = false;
  while (true) {
    // Records given up (unsent_) cannot land any more: not waited for.
    done = SendRequeued(stopped) && publisher_->queue_length() == 0;
    if (done || absl::Now() >= deadline) break;
    (void)publisher_->Flush(std::chrono::milliseconds(200));
  }
  // Commit what is stored and leave the group (not while Kafka is
  // unreachable: see LeaveGroup). No offset is stored from here on.
  {
    absl::MutexLock lock(&consumer_mu_);
    consumer_closing_ = true;
  }
  LeaveGroup(consumer_.get(), publisher_->reachable());
  // Whatever is still held is unstored (replayed by the next owner); its
  // messages go before the consumer they belong to.
  batch_.clear();
  prepared_.clear();
  in_flight_.clear();
  std::unique_ptr<RdKafka::KafkaConsumer> closing;
  {
    absl::MutexLock lock(&consumer_mu_);
    closing = std::move(consumer_);
  }
  if (!DestroyConsumer(std::move(closing), absl::Seconds(10))) {
    // Its threads still hold the callbacks; they outlive this instance.
    rebalancer_->Detach();
    KeepForever(std::shared_ptr<Rebalancer>(std::move(rebalancer_)));
  }
  stop_ = nullptr;  // `stopped` ends here; no rebalance comes any more.
  if (done && unsent_.load() == 0) return absl::OkStatus();
  int64_t left = publisher_->queue_length() + unsent_.load();
  {
    absl::MutexLock lock(&mu_);
    left += static_cast<int64_t>(requeued_.size());
  }
  return absl::DeadlineExceededError(
      std::to_string(left) +
      " verdicts or dead letters unconfirmed at the drain deadline; their "
      "events will be replayed");
}

// How often an idle consumer checks that Redis answers.
constexpr absl::Duration kIdleRedisCheck = absl::Seconds(1);

absl::Status ScoringConsumer::Run(const std::atomic<bool>& stop) {
  const absl::Duration linger = absl::FromChrono(options_.batch_linger);
  // Time left before the oldest held event must be written.
  auto wait_ms = [&]() -> int {
    // Nothing held: writes in flight are confirmed as soon as nothing more
    // is queued locally.
    if (batch_.empty())
      return in_flight_.empty() && prepared_.empty() ? 200 : 0;
    const absl::Duration left = batch_.front().received + linger - absl::Now();
    return left <= absl::ZeroDuration()
               ? 0
               : static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
  };
  absl::Time redis_checked = absl::Now();
  stop_ = &stop;
  uint32_t accepted = 0;
  while (!stop.load()) {
    SendRequeued(stop);
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait_ms()));
    kafka_ok_.store(publisher_->available());
    switch (m->err()) {
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        // Idle: everything held is written and confirmed (a batch just
        // decided has its writes held: they go on their own).
        FlushBatch(stop);
        if (!prepared_.empty()) FlushBatch(stop);
        if (!SettleInFlight(stop)) continue;
        // Idle but assigned: adopt the epoch now, so a state lost while
        // nothing flows is reported before the next event.
        if (!epoch_adopted_ && assigned_partitions() > 0) {
          if (!AdoptEpoch(stop)) continue;
          epoch_adopted_ = true;
        }
        // Idle: Redis and the state are still looked at (every second, or
        // every wake-up while Redis is down), so health never says SERVING
        // while Redis is gone, or came back empty, with nothing flowing.
        consumer_fault_.Probe(consumer_.get(), {options_.events_topic},
                              static_cast<size_t>(assigned_partitions()));
        if (!redis_ok_.load() ||
            absl::Now() - redis_checked >= kIdleRedisCheck) {
          redis_checked = absl::Now();
          // Without partitions (more replicas than partitions): adopt the
          // epoch the consuming replicas made, never make one, so a later
          // loss stops this replica's reads too. None yet: a PING.
          if (!epoch_adopted_ && assigned_partitions() == 0 &&
              store_->EnsureEpoch(/*may_create=*/false).ok()) {
            epoch_adopted_ = true;
          }
          absl::Status check = store_->CheckEpoch();
          if (absl::IsDataLoss(check)) {
            RedisOk();
            if (!WaitForRebuild(check, stop)) continue;
          } else if (check.ok()) {
            RedisOk();
          } else {
            RedisDown(check);
          }
        }
        continue;
      case RdKafka::ERR_NO_ERROR:
        consumer_fault_.Consumed();
        break;
      default:
        if (!consumer_fault_.Note(m->err(), m->errstr()))
          log::Warn("consume error", {{"error", m->errstr()}});
        continue;
    }
    if (!Accept(std::move(m), stop)) continue;
    // On a Redis Cluster each master's copy of the epoch is read every
    // second while events flow too (idle, the check above does it), so a
    // master that lost its data is found before more is written beside
    // it; the loss is handled where the writes in flight settle.
    if (store_->on_cluster() && !found_loss_ &&
        absl::Now() - redis_checked >= kIdleRedisCheck) {
      redis_checked = absl::Now();
      absl::Status check = store_->CheckEpochCopies();
      if (absl::IsDataLoss(check)) found_loss_ = check;
    }
    // Writes in flight that Redis has answered complete now, not at the
    // next flush (looked at every few records: it is a poll(2)).
    if (!in_flight_.empty() && (++accepted & 7) == 0 &&
        store_->writes_answered()) {
      SettleInFlight(stop);
    }
    // With a linger, a batch is written when due even while more records
    // keep coming; without, as soon as none is queued locally.
    // (Not an empty batch: that would send held writes on their own, not
    // behind the next batch's reads.)
    if (linger > absl::ZeroDuration() && !batch_.empty() && wait_ms() == 0) {
      FlushBatch(stop);
    }
  }
  return Drain();
}

}  // namespace rebound::scoring
