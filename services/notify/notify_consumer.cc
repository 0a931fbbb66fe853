#include "services/notify/notify_consumer.h"

#include <map>
#include <thread>

#include "absl/time/clock.h"
#include "common/kafka_admin.h"
#include "common/kafka_group.h"
#include "common/kafka_publisher.h"
#include "common/log.h"

namespace rebound::notify {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineVerdict;

// How long a closed invite is remembered, so a RequestSent arriving after
// its outcome is not tracked as pending (pending invites expire after about
// six months).
constexpr absl::Duration kKeepClosedInvites = absl::Hours(24 * 200);

// Assignment changes, for both the eager and the cooperative protocol.
class NotifyConsumer::Rebalancer : public RdKafka::RebalanceCb,
                                   public RdKafka::EventCb {
 public:
  explicit Rebalancer(NotifyConsumer* owner) : owner_(owner) {}
  void rebalance_cb(
      RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
      std::vector<RdKafka::TopicPartition*>& partitions) override {
    // Processing is synchronous, so everything stored can be committed.
    ApplyRebalance(consumer, err, partitions, [&] { consumer->commitSync(); });
    std::vector<RdKafka::TopicPartition*> now;
    consumer->assignment(now);
    owner_->assigned_ = static_cast<int>(now.size());
    RdKafka::TopicPartition::destroy(now);
  }
  void event_cb(RdKafka::Event& event) override {
    if (event.type() != RdKafka::Event::EVENT_ERROR) return;
    if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN)
      owner_->kafka_ok_.store(false);
    log::Warn("kafka consumer error",
              {{"error", RdKafka::err2str(event.err())}});
  }

 private:
  NotifyConsumer* owner_;
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
  c->consumed_ = &prometheus::BuildCounter()
                      .Name("rebound_notify_records_total")
                      .Help("Kafka records handled by notify")
                      .Register(*registry)
                      .Add({});
  {
    // Topics notify reads may not exist yet (scoring creates them too).
    PublisherOptions po;
    po.brokers = options.brokers;
    po.client_id = "rebound-notify-admin";
    auto admin = Publisher::Create(po);
    if (!admin.ok()) return admin.status();
    absl::Status s =
        EnsureTopics((*admin)->handle(),
                     {{options.verdicts_topic, options.topic_partitions, 1},
                      {options.events_topic, options.topic_partitions, 1}},
                     std::chrono::seconds(30));
    if (!s.ok()) {
      return absl::Status(s.code(), "kafka at " + options.brokers + ": " +
                                        std::string(s.message()));
    }
  }
  c->rebalancer_ = std::make_unique<Rebalancer>(c.get());
  auto consumer =
      CreateGroupConsumer({options.brokers,
                           options.group_id,
                           "rebound-notify",
                           {options.verdicts_topic, options.events_topic},
                           {{"fetch.wait.max.ms", "10"}}},
                          c->rebalancer_.get(), c->rebalancer_.get());
  if (!consumer.ok()) return consumer.status();
  c->consumer_ = std::move(*consumer);
  c->redis_ok_.store(c->store_->Ping().ok());
  return c;
}

NotifyConsumer::~NotifyConsumer() {
  if (consumer_) consumer_->close();
}

absl::Status NotifyConsumer::OnVerdict(const DeclineVerdict& verdict) {
  auto ctx = store_->ReadPolicyContext(verdict.tenant_id(), verdict.sender_id(),
                                       verdict.recipient_id());
  if (!ctx.ok()) return ctx.status();
  RetryInputs in;
  in.verdict = verdict;
  in.prior_retries = ctx->prior_retries;
  in.recipient_accept_hours = ctx->recipient_accept_hours;
  in.recipient_utc_offset_minutes = ctx->recipient_utc_offset_minutes;
  if (!in.recipient_utc_offset_minutes && verdict.has_request()) {
    in.recipient_utc_offset_minutes =
        verdict.request().recipient_profile().utc_offset_minutes();
  }
  in.sender_profile = ctx->sender_profile;
  rebound::v1::RetrySuggestion s = Suggest(policy_, in, absl::Now());
  // Red flags: the signals that argued for the reason the decline got.
  std::vector<std::string> flags;
  for (const auto& sig : verdict.signals()) {
    if (sig.reason() == verdict.primary_reason() && sig.weight() > 0) {
      flags.push_back(sig.name());
    }
  }
  auto stored = store_->Put(s, flags);
  if (!stored.ok()) return stored.status();
  suggestions_
      ->Add({{"state", rebound::v1::SuggestionState_Name(stored->state())}})
      .Increment();
  return absl::OkStatus();
}

absl::Status NotifyConsumer::OnProfileUpdated(const ConnectionEvent& event) {
  auto ids = store_->WaitingOnProfile(event.tenant_id(), event.sender_id());
  if (!ids.ok()) return ids.status();
  for (const auto& id : *ids) {
    auto got = store_->Get(event.tenant_id(), event.sender_id(), id);
    if (!got.ok()) return got.status();
    if (!got->has_value()) continue;
    rebound::v1::RetrySuggestion s = **got;
    if (!ApplyProfileUpdate(policy_, event.profile_updated().profile(), &s,
                            absl::Now())) {
      continue;
    }
    auto stored = store_->Put(s, {});
    if (!stored.ok()) return stored.status();
    suggestions_
        ->Add({{"state", rebound::v1::SuggestionState_Name(stored->state())}})
        .Increment();
  }
  return absl::OkStatus();
}

void NotifyConsumer::SweepStaleInvites(const std::atomic<bool>& stop) {
  // Invites pending longer than the policy allows get a withdraw suggestion.
  // On its own thread and Redis connection, so a large sweep never delays
  // the verdicts; Put() is idempotent, so replicas sweeping at once write
  // each suggestion once.
  SuggestionStore store(options_.store);
  while (!stop.load()) {
    auto stale = store.PendingBefore(absl::Now() - policy_.stale_pending_after,
                                     200, kKeepClosedInvites);
    if (stale.ok()) {
      for (const auto& p : *stale) {
        if (stop.load()) return;
        auto s = StaleInviteSuggestion(policy_, p.tenant, p.sender, p.recipient,
                                       p.request_id, p.sent_at, absl::Now());
        if (!store.Put(s, {}).ok() || !store.ForgetPending(p).ok()) break;
        suggestions_->Add({{"state", "STALE_INVITE"}}).Increment();
      }
      if (stale->size() >= 200) continue;  // More waiting: no pause.
    }
    for (int i = 0; i < 50 && !stop.load(); ++i)
      absl::SleepFor(absl::Milliseconds(100));
  }
}

bool NotifyConsumer::Handle(const RdKafka::Message& m) {
  absl::Status s;
  if (m.topic_name() == options_.verdicts_topic) {
    DeclineVerdict v;
    if (!v.ParseFromArray(m.payload(), static_cast<int>(m.len()))) {
      log::Warn("skipping a record that is not a DeclineVerdict",
                {{"partition", m.partition()}, {"offset", m.offset()}});
      return true;
    }
    s = OnVerdict(v);
  } else {
    ConnectionEvent e;
    if (e.ParseFromArray(m.payload(), static_cast<int>(m.len()))) {
      s = e.has_profile_updated() ? OnProfileUpdated(e)
                                  : store_->TrackPending(e, kKeepClosedInvites);
    }
  }
  if (!s.ok()) {
    if (redis_ok_.exchange(false)) {
      log::Warn("redis failed; holding the record",
                {{"error", std::string(s.message())}});
    }
    return false;
  }
  if (!redis_ok_.exchange(true)) log::Info("redis available again");
  return true;
}

absl::Status NotifyConsumer::Run(const std::atomic<bool>& stop) {
  std::thread sweeper([this, &stop] { SweepStaleInvites(stop); });
  while (!stop.load()) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT ||
        m->err() == RdKafka::ERR__PARTITION_EOF) {
      if (!redis_ok_.load() && store_->Ping().ok()) redis_ok_.store(true);
      kafka_ok_.store(true);
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      log::Warn("consume error", {{"error", m->errstr()}});
      continue;
    }
    kafka_ok_.store(true);
    bool done = false;
    while (!(done = Handle(*m)) && !stop.load()) {
      absl::SleepFor(absl::FromChrono(options_.redis_retry));
    }
    if (!done) break;  // Unstored: replayed after restart.
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(
        m->topic_name(), m->partition(), m->offset() + 1));
    std::vector<RdKafka::TopicPartition*> tps = {tp.get()};
    consumer_->offsets_store(tps);
    processed_.fetch_add(1);
    consumed_->Increment();
  }
  consumer_->commitSync();
  consumer_->close();
  consumer_.reset();
  sweeper.join();
  return absl::OkStatus();
}

}  // namespace rebound::notify
