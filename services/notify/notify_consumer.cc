#include "services/notify/notify_consumer.h"

#include <pthread.h>

#include <map>
#include <thread>
#include <tuple>

#include "absl/time/clock.h"
#include "common/kafka_admin.h"
#include "common/kafka_group.h"
#include "common/kafka_publisher.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "common/pipeline.h"

namespace rebound::notify {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineVerdict;

// Closed invites an earlier version kept in the pending set (scored above
// state::kClosedInviteBase) are dropped this long after closing; a tracked
// invite scoring does not know (not applied yet) is kept this long after
// it was sent (scoring's default --request-ttl).
constexpr absl::Duration kKeepClosedInvites = absl::Hours(24 * 200);

// Assignment changes, for both the eager and the cooperative protocol.
class NotifyConsumer::Rebalancer : public RdKafka::RebalanceCb,
                                   public RdKafka::EventCb {
 public:
  Rebalancer(NotifyConsumer* owner, bool cooperative)
      : owner_(owner), cooperative_(cooperative) {}
  void rebalance_cb(
      RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
      std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (detached_.load()) return;  // Abandoned: its owner is gone.
    // Processing is synchronous, so everything stored can be committed.
    ApplyRebalance(consumer, cooperative_, err, partitions,
                   [&] { consumer->commitSync(); });
    std::vector<RdKafka::TopicPartition*> now;
    consumer->assignment(now);
    owner_->assigned_ = static_cast<int>(now.size());
    RdKafka::TopicPartition::destroy(now);
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS)
      owner_->consumer_fault_.Assigned(partitions.size());
  }
  void event_cb(RdKafka::Event& event) override {
    if (detached_.load() || event.type() != RdKafka::Event::EVENT_ERROR) return;
    if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN)
      owner_->kafka_ok_.store(false);
    if (owner_->consumer_fault_.Note(event.err(), event.str())) return;
    log::Warn("kafka consumer error",
              {{"error", RdKafka::err2str(event.err())}});
  }

  // Left to an abandoned consumer's threads (KeepForever): no callback
  // reaches the owner any more.
  void Detach() { detached_.store(true); }

 private:
  NotifyConsumer* owner_;
  const bool cooperative_;
  std::atomic<bool> detached_{false};
};

absl::StatusOr<std::unique_ptr<NotifyConsumer>> NotifyConsumer::Create(
    const NotifyConsumerOptions& options, RetryPolicyConfig policy,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<NotifyConsumer> c(new NotifyConsumer());
  c->options_ = options;
  c->policy_ = std::move(policy);
  c->registry_ = registry;
  c->store_ = std::make_unique<SuggestionStore>(options.store);
  c->suggestions_ = &prometheus::BuildCounter()
                         .Name("rebound_notify_suggestions_total")
                         .Help("Suggestion versions written, by state")
                         .Register(*registry);
  c->writer_ = std::make_unique<SuggestionWriter>(c->store_.get(), &c->policy_,
                                                  c->suggestions_);
  c->state_lost_gauge_ =
      &prometheus::BuildGauge()
           .Name("rebound_notify_state_lost")
           .Help(
               "1 while Redis has lost notify's state and it is not "
               "rebuilt (rebound-notify --rebuild-state)")
           .Register(*registry)
           .Add({});
  c->redis_ok_.Bind(&prometheus::BuildGauge()
                         .Name("rebound_notify_redis_up")
                         .Help("1 when Redis answers, else 0 (health is "
                               "NOT_SERVING meanwhile)")
                         .Register(*registry)
                         .Add({}));
  c->kafka_ok_.Bind(&prometheus::BuildGauge()
                         .Name("rebound_notify_kafka_up")
                         .Help("1 while Kafka answers, else 0 (health is "
                               "NOT_SERVING meanwhile)")
                         .Register(*registry)
                         .Add({}));
  c->fenced_ = &prometheus::BuildCounter()
                    .Name("rebound_notify_fenced_total")
                    .Help(
                        "Times records held while waiting were dropped "
                        "unwritten because the group membership was lost "
                        "meanwhile (their partitions' next owner replays "
                        "them)")
                    .Register(*registry)
                    .Add({});
  c->state_losses_ = &prometheus::BuildCounter()
                          .Name("rebound_notify_state_losses_total")
                          .Help(
                              "Times Redis was found to have lost notify's "
                              "state")
                          .Register(*registry)
                          .Add({});
  c->consumed_ = &prometheus::BuildCounter()
                      .Name("rebound_notify_records_total")
                      .Help("Kafka records handled by notify")
                      .Register(*registry)
                      .Add({});
  auto& records = prometheus::BuildCounter()
                      .Name("rebound_notify_dead_letters_total")
                      .Help(
                          "Records notify sent to its dead-letter topic, by "
                          "cause")
                      .Register(*registry);
  c->dead_lettered_ = &records.Add({{"cause", "undecodable"}});
  c->redis_refused_ = &records.Add({{"cause", "redis_refused"}});
  c->sweep_refused_ =
      &prometheus::BuildCounter()
           .Name("rebound_notify_sweep_refused_total")
           .Help(
               "Stale invites whose withdraw suggestion Redis refused for "
               "good (forgotten)")
           .Register(*registry)
           .Add({});
  {
    auto& age =
        prometheus::BuildHistogram()
            .Name("rebound_notify_record_age_seconds")
            .Help(
                "A record's age (since it was produced) when "
                "notify's effects of it are written, by source: "
                "verdicts (scoring -> notify stage) and events (profile "
                "updates scoring forwarded)")
            .Register(*registry);
    c->verdict_age_ = &age.Add({{"source", "verdicts"}}, StageLatencyBuckets());
    c->event_age_ = &age.Add({{"source", "events"}}, StageLatencyBuckets());
  }
  {
    // The dead-letter producer; its health probe is notify's view of Kafka.
    PublisherOptions po;
    po.brokers = options.brokers;
    po.client_id = "rebound-notify";
    auto publisher = Publisher::Create(po);
    if (!publisher.ok()) return publisher.status();
    c->publisher_ = std::move(*publisher);
    // Topics notify uses may not exist yet (scoring creates them too).
    absl::Status s = pipeline::EnsureTopics(
        c->publisher_->handle(), options.brokers,
        {options.verdicts_topic, options.dead_letter_topic},
        {options.topic_partitions, options.topic_replication},
        options.startup_timeout);
    if (!s.ok()) return s;
    c->publisher_->RequireTopics({options.dead_letter_topic});
  }
  // Redis before joining the group: a start that fails leaves no member
  // behind to rebalance.
  absl::Status redis =
      WaitForRedis([&] { return c->store_->Ping(); },
                   options.store.redis.address, options.startup_timeout);
  if (!redis.ok()) return redis;
  c->redis_ok_.store(true);
  const GroupConsumerOptions group{options.brokers,
                                   options.group_id,
                                   "rebound-notify",
                                   {options.verdicts_topic},
                                   options.consumer_properties};
  c->rebalancer_ =
      std::make_unique<Rebalancer>(c.get(), CooperativeAssignment(group));
  auto consumer =
      CreateGroupConsumer(group, c->rebalancer_.get(), c->rebalancer_.get());
  if (!consumer.ok()) return consumer.status();
  c->consumer_ = std::move(*consumer);
  return c;
}

NotifyConsumer::~NotifyConsumer() {
  if (consumer_) consumer_->close();
}

void NotifyConsumer::SweepStaleInvites(const std::atomic<bool>& stop) {
  // Invites pending longer than the policy allows get a withdraw suggestion.
  // On its own thread and Redis connection, so a large sweep never delays
  // the verdicts; Put() is idempotent, so replicas sweeping at once write
  // each suggestion once.
  SuggestionStore store(options_.store);
  while (!stop.load()) {
    // Only on an intact state: not before the consumer adopted its epoch,
    // not while it is lost (a rebuild may be tracking open invites again).
    if (!epoch_adopted_.load() || state_lost_.load() ||
        !store.AdoptRebuiltEpoch().ok()) {
      for (int i = 0; i < 10 && !stop.load(); ++i)
        absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    // Stale by each tenant's clock: a tenant replaying its history has its
    // invites judged by that history's time (state::TenantClockLag).
    auto stale = store.StaleInvites(policy_.stale_pending_after, 200,
                                    kKeepClosedInvites);
    absl::Status s = stale.status();
    if (s.ok() && !stale->empty()) {
      // A page at a time: its suggestions in one batch of writes, then the
      // invites forgotten in one round trip. A failure leaves the page
      // tracked, to be written again (idempotently) next time.
      // Open: a withdraw suggestion, then forgotten. Answered since:
      // forgotten. Unknown to scoring (its request state is written with the
      // entry, so: a Redis Cluster round trip that landed the entry and not
      // the request, a request expired, or scoring rebuilding), so kept for
      // a later sweep, unless older than scoring keeps a request.
      std::vector<SuggestionWrite> writes;
      std::vector<const SuggestionStore::PendingInvite*> written;
      std::vector<SuggestionStore::PendingInvite> done;
      for (const auto& p : *stale) {
        // Older than scoring keeps a request: by the tenant's clock, as the
        // invite's send time is (a live tenant's is wall time).
        if (p.known || p.sent_at < p.tenant_now - kKeepClosedInvites)
          done.push_back(p);
        if (!p.open) continue;
        writes.push_back(
            {StaleInviteSuggestion(policy_, p.tenant, p.sender, p.recipient,
                                   p.request_id, p.sent_at, p.tenant_now,
                                   absl::Now()),
             {}});
        written.push_back(&p);
      }
      absl::Status put = store.PutBatch(writes).status();
      if (!put.ok() && !IsTransientRedisError(put) && !absl::IsDataLoss(put)) {
        // Redis refuses some entry's writes for good: entry by entry, so
        // one such invite holds up none of the others. The refused one is
        // logged, counted and forgotten.
        put = absl::OkStatus();
        for (size_t k = 0; k < writes.size(); ++k) {
          absl::Status one = store.PutBatch({writes[k]}).status();
          if (one.ok()) continue;
          if (IsTransientRedisError(one) || absl::IsDataLoss(one)) {
            put = one;
            break;
          }
          const SuggestionStore::PendingInvite& p = *written[k];
          log::Warn(
              "stale-invite suggestion refused by redis; invite forgotten",
              {{"tenant", p.tenant},
               {"sender", p.sender},
               {"request_id", p.request_id},
               {"error", std::string(one.message())}});
          sweep_refused_->Increment();
          if (!p.known && p.sent_at >= p.tenant_now - kKeepClosedInvites)
            done.push_back(p);
        }
      }
      // Forgotten only if the state is still the one read.
      if (put.ok()) s = store.CheckEpoch();
      s = !put.ok() ? put : (s.ok() ? store.ForgetPending(done) : s);
      if (s.ok()) {
        suggestions_->Add({{"state", "STALE_INVITE"}})
            .Increment(static_cast<double>(writes.size()));
        // A full page with progress: more may be waiting, no pause.
        if (stale->size() >= 200 && !done.empty()) continue;
      }
    }
    if (!s.ok()) {
      log::Warn("stale-invite sweep failed; trying again in 5 s",
                {{"error", std::string(s.message())}});
    }
    for (int i = 0; i < 50 && !stop.load(); ++i)
      absl::SleepFor(absl::Milliseconds(100));
  }
}

bool NotifyConsumer::Fenced(
    std::vector<std::unique_ptr<RdKafka::Message>>& batch) {
  if (!consumer_->assignment_lost()) return false;
  log::Warn(
      "group membership lost while waiting; dropping the records held, "
      "unwritten, for the partitions' next owner",
      {{"records", static_cast<int64_t>(batch.size())}});
  batch.clear();
  fenced_->Increment();
  return true;
}

bool NotifyConsumer::ProcessBatch(
    std::vector<std::unique_ptr<RdKafka::Message>>& batch,
    const std::atomic<bool>& stop, absl::Time give_up) {
  if (batch.empty()) return true;
  // Nothing is written before the state's epoch is adopted. Done here, not
  // before the first poll: a consumer that leaves (a stop) after joining its
  // group and before its first assignment aborts in librdkafka 2.0.2's
  // cooperative-sticky assignor (librdkafka#4312), and a check before the
  // first poll widened that window enough to hit it in tests.
  if (!epoch_adopted_.load()) {
    if (!AdoptEpoch(stop)) return false;
    epoch_adopted_.store(true);
    if (Fenced(batch)) return true;
  }
  // Redis down: hold the batch and retry; nothing of it is stored. Every
  // write is idempotent, so a batch written in part is simply written again.
  std::vector<DeadLetterRecord> dead_letters;
  while (true) {
    absl::Status s = WriteBatch(batch, &dead_letters);
    if (s.ok()) break;
    if (absl::IsDataLoss(s)) {
      if (!WaitForRebuild(s, stop)) return false;
      if (Fenced(batch)) return true;
      continue;
    }
    if (redis_ok_.exchange(false)) {
      log::Warn("redis failed; holding the records",
                {{"error", std::string(s.message())}});
    }
    if (stop.load()) return false;  // Unstored: replayed after restart.
    absl::SleepFor(absl::FromChrono(options_.redis_retry));
    if (Fenced(batch)) return true;
  }
  if (!redis_ok_.exchange(true)) log::Info("redis available again");
  // What notify cannot handle for good lands in the dead-letter topic
  // before the offsets move past it.
  if (!dead_letters.empty() &&
      !SendDeadLetters(*publisher_, options_.dead_letter_topic,
                       std::move(dead_letters), stop, options_.redis_retry,
                       give_up)
           .ok()) {
    return false;  // A stop: unstored, replayed after restart.
  }
  // The next offset of each partition the batch touched.
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  for (const auto& m : batch) {
    int64_t& n = next[{m->topic_name(), m->partition()}];
    n = std::max(n, m->offset() + 1);
  }
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> tps;
  for (const auto& [tp, offset] : next) {
    owned.emplace_back(
        RdKafka::TopicPartition::create(tp.first, tp.second, offset));
    tps.push_back(owned.back().get());
  }
  consumer_->offsets_store(tps);
  const absl::Time now = absl::Now();
  for (const auto& m : batch) {
    if (auto age = RecordAgeSeconds(*m, now)) {
      (pipeline::IsForwardedEvent(*m) ? event_age_ : verdict_age_)
          ->Observe(*age);
    }
  }
  processed_.fetch_add(static_cast<int64_t>(batch.size()));
  consumed_->Increment(static_cast<double>(batch.size()));
  batch.clear();
  return true;
}

absl::Status NotifyConsumer::WriteBatch(
    const std::vector<std::unique_ptr<RdKafka::Message>>& batch,
    std::vector<DeadLetterRecord>* dead_letters) {
  dead_letters->clear();
  std::vector<SuggestionWriter::Record> records;
  records.reserve(batch.size());
  for (const auto& m : batch) {
    records.push_back(
        {!pipeline::IsForwardedEvent(*m),
         std::string_view(static_cast<const char*>(m->payload()), m->len()),
         m->partition(), m->offset()});
  }
  auto dead_letter = [&](size_t i, const std::string& reason) {
    const RdKafka::Message& m = *batch[i];
    log::Warn("record sent to dead-letter topic", {{"reason", reason},
                                                   {"topic", m.topic_name()},
                                                   {"partition", m.partition()},
                                                   {"offset", m.offset()}});
    dead_letters->push_back(MakeDeadLetter(m, reason, options_.group_id));
  };
  std::vector<std::pair<size_t, std::string>> undecodable;
  absl::Status s = writer_->Handle(records, &undecodable);
  if (s.ok()) {
    for (const auto& [i, why] : undecodable) {
      dead_lettered_->Increment();
      dead_letter(i, why);
    }
    return s;
  }
  if (absl::IsDataLoss(s) || IsTransientRedisError(s)) return s;
  // Redis refused a call for good (a key of the wrong type, a script
  // error): each record on its own, in order, to find which; that one is
  // dead-lettered and the rest flows on.
  for (size_t i = 0; i < records.size(); ++i) {
    undecodable.clear();
    absl::Status one = writer_->Handle({records[i]}, &undecodable);
    if (absl::IsDataLoss(one) || IsTransientRedisError(one)) return one;
    if (!one.ok()) {
      redis_refused_->Increment();
      dead_letter(i, "redis refused the record's update: " +
                         std::string(one.message()));
    } else if (!undecodable.empty()) {
      dead_lettered_->Increment();
      dead_letter(i, undecodable.front().second);
    }
  }
  return absl::OkStatus();
}

bool NotifyConsumer::AdoptEpoch(const std::atomic<bool>& stop) {
  std::optional<bool> consumed_before;
  while (!stop.load()) {
    if (!consumed_before) {
      auto committed = GroupHasCommittedOffsets(
          consumer_.get(), options_.verdicts_topic, std::chrono::seconds(2));
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
      redis_ok_.store(true);
      return true;
    }
    if (absl::IsDataLoss(s)) return WaitForRebuild(s, stop);
    if (redis_ok_.exchange(false)) {
      log::Warn("redis failed; waiting for it",
                {{"error", std::string(s.message())}});
    }
    absl::SleepFor(absl::FromChrono(options_.redis_retry));
  }
  return false;
}

bool NotifyConsumer::WaitForRebuild(const absl::Status& why,
                                    const std::atomic<bool>& stop) {
  if (!state_lost_.exchange(true)) {
    log::Error(
        "redis lost notify's state; holding records until it is rebuilt "
        "(rebound-notify --rebuild-state)",
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
  redis_ok_.store(true);
  state_lost_.store(false);
  state_lost_gauge_->Set(0);
  log::Info("redis state rebuilt; resuming");
  return true;
}

absl::Status NotifyConsumer::Run(const std::atomic<bool>& stop) {
  std::thread sweeper([this, &stop] {
    pthread_setname_np(pthread_self(), "notify-sweep");
    SweepStaleInvites(stop);
  });
  std::vector<std::unique_ptr<RdKafka::Message>> batch;
  absl::Time redis_checked = absl::Now();  // Of Redis, while idle.
  const absl::Duration linger = absl::FromChrono(options_.batch_linger);
  absl::Time due;  // When the batch's first record must be written.
  // Block only when nothing is waiting to be written; then until it is due.
  auto wait_ms = [&]() -> int {
    if (batch.empty()) return 200;
    const absl::Duration left = due - absl::Now();
    return left <= absl::ZeroDuration()
               ? 0
               : static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
  };
  while (!stop.load()) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait_ms()));
    // consume() times out alike whether Kafka is idle or down: the
    // producer's probe tells them apart.
    kafka_ok_.store(publisher_->available());
    if (m->err() == RdKafka::ERR__TIMED_OUT ||
        m->err() == RdKafka::ERR__PARTITION_EOF) {
      if (!batch.empty()) {
        if (!ProcessBatch(batch, stop)) break;
        continue;
      }
      // Idle but assigned: adopt the epoch now, so a later loss is
      // reported (and a rebuild can start) without waiting for a record.
      if (!epoch_adopted_.load() && assigned_.load() > 0) {
        if (!AdoptEpoch(stop)) break;
        epoch_adopted_.store(true);
      }
      consumer_fault_.Probe(consumer_.get(), {options_.verdicts_topic},
                            static_cast<size_t>(assigned_.load()));
      // Idle: Redis and the state are still looked at (every second, or
      // every wake-up while Redis is down), so health never says SERVING
      // while Redis is gone, or came back empty, with nothing flowing.
      if (!redis_ok_.load() ||
          absl::Now() - redis_checked >= absl::Seconds(1)) {
        redis_checked = absl::Now();
        // Without partitions (more replicas than partitions): adopt the
        // epoch the consuming replicas made, never make one, so a later
        // loss turns this replica NOT_SERVING too rather than serving an
        // emptied Redis. None yet (a fresh deployment): a PING, as before.
        if (!epoch_adopted_.load() && assigned_.load() == 0 &&
            store_->EnsureEpoch(/*may_create=*/false).ok()) {
          epoch_adopted_.store(true);
        }
        absl::Status check = store_->CheckEpoch();
        if (absl::IsDataLoss(check)) {
          redis_ok_.store(true);
          if (!WaitForRebuild(check, stop)) break;
        } else if (check.ok()) {
          if (!redis_ok_.exchange(true)) log::Info("redis available again");
        } else if (redis_ok_.exchange(false)) {
          log::Warn("redis failed; holding the records",
                    {{"error", std::string(check.message())}});
        }
      }
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (!consumer_fault_.Note(m->err(), m->errstr()))
        log::Warn("consume error", {{"error", m->errstr()}});
      continue;
    }
    consumer_fault_.Consumed();
    // On a Redis Cluster each master's copy of the epoch is read every
    // second while verdicts flow too (idle, the check above does it), so a
    // master that lost its data is found before more is written beside it.
    if (store_->on_cluster() &&
        absl::Now() - redis_checked >= absl::Seconds(1)) {
      redis_checked = absl::Now();
      absl::Status check = store_->CheckEpoch();
      if (absl::IsDataLoss(check)) {
        if (!WaitForRebuild(check, stop)) break;
        // A long wait: what is held (this record too) may be another
        // instance's now.
        if (Fenced(batch)) continue;
      }
    }
    if (batch.empty()) due = absl::Now() + linger;
    batch.push_back(std::move(m));
    if ((batch.size() >= kMaxBatch ||
         (linger > absl::ZeroDuration() && wait_ms() == 0)) &&
        !ProcessBatch(batch, stop)) {
      break;
    }
  }
  // Stopping: what was consumed is written once more; if Redis still
  // fails it stays unstored and is replayed after restart.
  const size_t held = batch.size();
  const bool written =
      ProcessBatch(batch, stop, absl::Now() + absl::Seconds(10));
  LeaveGroup(consumer_.get(), publisher_->reachable());
  batch.clear();  // Its messages go before the consumer they belong to.
  if (!DestroyConsumer(std::move(consumer_), absl::Seconds(10))) {
    // Its threads still hold the callbacks; they outlive this instance.
    rebalancer_->Detach();
    KeepForever(std::shared_ptr<Rebalancer>(std::move(rebalancer_)));
  }
  sweeper.join();
  if (!written) {
    return absl::DeadlineExceededError(
        std::to_string(held) +
        " records consumed but not written at the stop; they will be "
        "replayed");
  }
  return absl::OkStatus();
}

}  // namespace rebound::notify
