#include "services/ingest/ingest_service.h"

#include <algorithm>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/grpc_server.h"
#include "common/log.h"
#include "common/utf8.h"
#include "google/protobuf/arena.h"
#include "services/ingest/kafka_record.h"
#include "services/ingest/publish_response.h"

namespace rebound::ingest {

namespace {

google::protobuf::ArenaOptions BatchArenaOptions() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 16 * 1024;
  o.max_block_size = 256 * 1024;
  return o;
}

// The request's bytes in one piece: the slice gRPC received when there is
// only one, else a copy.
absl::StatusOr<grpc::Slice> Contiguous(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  if (buffer.TrySingleSlice(&slice).ok()) return slice;
  if (grpc::Status s = buffer.DumpToSingleSlice(&slice); !s.ok()) {
    return absl::InternalError("request bytes: " + s.error_message());
  }
  return slice;
}

std::string_view View(const grpc::Slice& slice) {
  return {reinterpret_cast<const char*>(slice.begin()), slice.size()};
}

// A response's wire bytes as a gRPC message.
// A PublishResponse refusing batch `batch_id` as a whole for `s`, whose
// message is "<field>: <reason>".
std::string BatchErrorResponse(uint64_t batch_id, const absl::Status& s) {
  rebound::v1::PublishResponse r;
  r.set_batch_id(batch_id);
  auto* e = r.mutable_error();
  e->set_code(static_cast<int32_t>(s.code()));
  const std::string_view m(s.message().data(), s.message().size());
  const size_t colon = m.find(": ");
  if (colon != std::string_view::npos && colon > 0 &&
      m.substr(0, colon).find(' ') == std::string_view::npos) {
    e->set_field(std::string(m.substr(0, colon)));
    e->set_error(std::string(m.substr(colon + 2)));
  } else {
    e->set_field("request");
    e->set_error(std::string(m));
  }
  return r.SerializeAsString();
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// DUPLICATE of what Kafka stored at partition/offset.
void SetDuplicate(EventAnswer* r, int32_t partition, int64_t offset) {
  r->outcome = rebound::v1::OUTCOME_DUPLICATE;
  r->partition = partition;
  r->offset = offset;
}

void SetFailed(EventAnswer* r, const absl::Status& s) {
  r->outcome = rebound::v1::OUTCOME_FAILED;
  r->code = static_cast<int>(s.code());
  r->error = std::string(s.message());
}

// One event handed to Kafka. Records live in their batch's array: no
// allocation per event.
struct BatchState;
class EventInFlight final : public Publisher::PendingRecord {
 public:
  void Start(BatchState* batch, EventAnswer* result, absl::uint128 fingerprint,
             DedupWindow::Ticket ticket, absl::Time enqueued);
  EventInFlight() { delete_after_delivery_ = false; }  // Owned by the batch.
  void Delivered(const Delivery& d) override;
  // Enqueue to delivery report, in seconds, once published.
  double latency_s() const { return latency_s_; }
  bool published() const { return published_; }
  // For the dedup window, once published.
  DedupWindow::Stored stored() const {
    return {ticket_, fingerprint_, result_->partition, result_->offset};
  }

 private:
  BatchState* batch_ = nullptr;
  EventAnswer* result_ = nullptr;
  absl::uint128 fingerprint_ = 0;
  DedupWindow::Ticket ticket_ = 0;
  absl::Time enqueued_;
  double latency_s_ = -1;
  bool published_ = false;
};

// One batch in flight: answers are filled by whichever thread resolves each
// event; the thread that resolves the last one answers and deletes the
// batch. Delivery reports are counted per run (a DeliveryGroup): one atomic
// update for many events rather than a full barrier per event on the
// delivery thread.
struct BatchState final : Publisher::DeliveryGroup {
  BatchState(uint64_t id, int n, IngestMetrics* m, DedupWindow* d,
             std::function<void(grpc::ByteBuffer)> on_done)
      : batch_id(id),
        answers(static_cast<size_t>(n)),
        records(new EventInFlight[static_cast<size_t>(n)]),
        size(n),
        done(std::move(on_done)),
        metrics(m),
        dedup(d) {
    remaining.store(n + 1);  // +1 held until every event is dispatched.
  }

  const uint64_t batch_id;
  std::vector<EventAnswer> answers;
  std::string ids;  // The events' ids, echoed in their results.
  const std::unique_ptr<EventInFlight[]> records;
  const int size;
  std::atomic<int> remaining{0};
  const std::function<void(grpc::ByteBuffer)> done;
  IngestMetrics* const metrics;
  DedupWindow* const dedup;
  // (later, first): an event whose id came earlier in this batch, answered
  // like that first one when the batch completes.
  std::vector<std::pair<int, int>> same_as;

  void Resolved(int records) override { Complete(records); }

  // `n` more events are resolved.
  void Complete(int n = 1) {
    if (remaining.fetch_sub(n, std::memory_order_acq_rel) != n) return;
    for (const auto& [later, first] : same_as) {
      const EventAnswer& f = answers[first];
      EventAnswer& r = answers[later];
      if (f.outcome == rebound::v1::OUTCOME_PUBLISHED ||
          f.outcome == rebound::v1::OUTCOME_DUPLICATE) {
        SetDuplicate(&r, f.partition, f.offset);
      } else {
        r.outcome = f.outcome;
        r.code = f.code;
        r.error = f.error;
      }
    }
    const AnswerCounts counts = Count(answers);
    // Counted once per batch rather than per event: fewer atomics and locks.
    metrics->published->Increment(counts.published);
    metrics->duplicates->Increment(counts.duplicates);
    metrics->rejected->Increment(counts.rejected);
    metrics->failed->Increment(counts.failed);
    metrics->valid->Increment(counts.valid);
    std::vector<double> latencies;
    std::vector<DedupWindow::Stored> stored;
    latencies.reserve(counts.published);
    stored.reserve(counts.published);
    for (int i = 0; i < size; ++i) {
      if (!records[i].published()) continue;
      latencies.push_back(records[i].latency_s());
      stored.push_back(records[i].stored());
    }
    // The window learns where they were stored before the client does: a
    // resend after the answer is a DUPLICATE (until now it waited for them).
    dedup->ResolvePublished(stored, absl::Now());
    metrics->ObservePublishLatencies(latencies);
    done(ToByteBuffer(EncodePublishResponse(batch_id, answers, ids, counts)));
    delete this;
  }
};

void EventInFlight::Start(BatchState* batch, EventAnswer* result,
                          absl::uint128 fingerprint, DedupWindow::Ticket ticket,
                          absl::Time enqueued) {
  batch_ = batch;
  group_ = batch;  // The publisher counts it into the batch after Delivered.
  result_ = result;
  fingerprint_ = fingerprint;
  ticket_ = ticket;
  enqueued_ = enqueued;
}

void EventInFlight::Delivered(const Delivery& d) {
  const absl::Time at = d.at;
  if (d.status.ok()) {
    result_->outcome = rebound::v1::OUTCOME_PUBLISHED;
    result_->partition = d.partition;
    result_->offset = d.offset;
    published_ = true;
    // Wall-clock time may step back; a latency is never negative.
    latency_s_ = std::max(0.0, absl::ToDoubleSeconds(at - enqueued_));
  } else {
    SetFailed(result_, d.status);
  }
  // A published id reaches the window with the rest of its batch (one lock
  // per batch, in Complete()); until then a resend waits for it. A failure
  // is forgotten at once: a resend right after the answer must be produced
  // again, ahead of the pair's later events, not wait on this outcome.
  if (!d.status.ok()) batch_->dedup->Resolve(fingerprint_, d, at);
}

}  // namespace

IngestService::IngestService(IngestServiceOptions options, Publisher* publisher,
                             IngestMetrics* metrics)
    : options_(std::move(options)),
      publisher_(publisher),
      metrics_(metrics),
      dedup_(options_.dedup_capacity, options_.dedup_ttl),
      quotas_(options_.quotas) {}

absl::Time IngestService::EnqueueDeadline(
    const grpc::CallbackServerContext* context) const {
  absl::Time cap = absl::Now() + options_.max_enqueue_wait;
  auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return cap;
  // Leave time to answer before the client gives up.
  absl::Time client = absl::FromChrono(deadline) - absl::Milliseconds(50);
  return std::min(cap, client);
}

absl::Status IngestService::ProcessBatch(
    const DecodedBatch& request, absl::Time enqueue_deadline,
    std::function<void(grpc::ByteBuffer)> done, const std::string& tenant) {
  const int n = static_cast<int>(request.events.size());
  if (n == 0) {
    return absl::InvalidArgumentError("events: a batch needs at least 1 event");
  }
  if (n > options_.max_batch_events) {
    return absl::InvalidArgumentError(absl::StrCat("events: batch of ", n,
                                                   " events, at most ",
                                                   options_.max_batch_events));
  }
  metrics_->received->Increment(n);
  auto* batch =
      new BatchState(request.batch_id, n, metrics_, &dedup_, std::move(done));
  std::vector<EventAnswer>& answers = batch->answers;
  // An id is echoed up to 128 bytes (cut at a character boundary): a
  // longer one is rejected anyway, and echoing it whole would let a batch
  // of huge ids make an answer larger than the request limit.
  constexpr size_t kMaxEcho = 128;
  size_t id_bytes = 0;
  for (const DecodedEvent& e : request.events)
    id_bytes += Utf8Prefix(e.event.event_id, kMaxEcho).size();
  batch->ids.reserve(id_bytes);
  for (int i = 0; i < n; ++i) {
    const std::string_view id =
        Utf8Prefix(request.events[i].event.event_id, kMaxEcho);
    answers[i].id_begin = static_cast<uint32_t>(batch->ids.size());
    answers[i].id_size = static_cast<uint32_t>(id.size());
    batch->ids.append(id);
  }
  auto reject = [&](int i, std::string field, std::string reason,
                    absl::StatusCode code) {
    EventAnswer& r = answers[i];
    r.outcome = rebound::v1::OUTCOME_REJECTED;
    r.field = std::move(field);
    r.error = std::move(reason);
    r.code = static_cast<int>(code);
    batch->Complete();
  };

  // 1. Check every event; the valid ones go on.
  const absl::Time now = absl::Now();
  std::vector<int> valid;
  valid.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const DecodedEvent& decoded = request.events[i];
    if (decoded.error) {
      reject(i, decoded.error->field, decoded.error->reason,
             absl::StatusCode::kInvalidArgument);
      continue;
    }
    const EventView& event = decoded.event;
    if (auto err =
            Validate(event, decoded.encoded.size(), now, options_.validator)) {
      reject(i, err->field, err->reason, absl::StatusCode::kInvalidArgument);
      continue;
    }
    // After validation, so the tenant id quoted back is a well-formed one.
    if (!tenant.empty() && event.tenant_id != tenant) {
      reject(i, "tenant_id",
             options_.auth.RefuseItemForTenant(tenant,
                                               std::string(event.tenant_id)),
             absl::StatusCode::kPermissionDenied);
      continue;
    }
    if (request.validate_only) {
      // Checked, and that is all: not published, not remembered.
      answers[i].outcome = rebound::v1::OUTCOME_VALID;
      batch->Complete();
      continue;
    }
    if (draining_.load()) {
      SetFailed(&answers[i],
                absl::UnavailableError("ingest is shutting down; retry"));
      batch->Complete();
      continue;
    }
    valid.push_back(i);
  }

  // 1b. Each tenant's quota: the first events of a tenant that fit go on
  // (a prefix, so a pair's events keep their order); the rest are FAILED
  // with the delay after which one more fits, and nothing is remembered.
  if (!valid.empty()) {
    std::vector<std::pair<std::string_view, int>> wanted;  // Tenant, count.
    for (int i : valid) {
      const std::string_view t = request.events[i].event.tenant_id;
      auto it = std::find_if(wanted.begin(), wanted.end(),
                             [&](const auto& w) { return w.first == t; });
      if (it == wanted.end()) {
        wanted.emplace_back(t, 1);
      } else {
        ++it->second;
      }
    }
    std::vector<std::pair<int, absl::Duration>> left;  // Allowed, delay.
    bool any_over = false;
    for (const auto& [t, count] : wanted) {
      const TenantQuotas::Grant g = quotas_.Take(t, count, now);
      left.emplace_back(g.allowed, g.retry_after);
      any_over |= g.allowed < count;
    }
    if (any_over) {
      std::vector<int> kept;
      kept.reserve(valid.size());
      for (int i : valid) {
        const std::string_view t = request.events[i].event.tenant_id;
        const size_t w = static_cast<size_t>(
            std::find_if(wanted.begin(), wanted.end(),
                         [&](const auto& x) { return x.first == t; }) -
            wanted.begin());
        if (left[w].first > 0) {
          --left[w].first;
          kept.push_back(i);
          continue;
        }
        const Quota& q = quotas_.QuotaOf(t);
        const int64_t ms = absl::ToInt64Milliseconds(left[w].second);
        EventAnswer* r = &answers[i];
        SetFailed(r, absl::ResourceExhaustedError(absl::StrCat(
                         "tenant_id: over its quota of ", q.rate,
                         " events/s (burst ", q.burst, "); retry after ", ms,
                         " ms with the same event_id")));
        r->retry_after_ms = std::max<int64_t>(1, ms);
        const std::string tenant(t);
        metrics_->OverQuota(tenant, options_.quotas.tenant.count(tenant) > 0)
            ->Increment();
        batch->Complete();
      }
      valid = std::move(kept);
    }
  }

  // 2. Claim their ids in the dedup window, all under one lock. An id seen
  // earlier in this batch is not claimed (kRepeated): it is answered like
  // its first copy when the batch completes (waiting in the window would
  // wait for this very batch, whose ids reach the window when it completes).
  std::vector<absl::uint128> fps;
  std::vector<uint32_t> digests;
  fps.reserve(valid.size());
  digests.reserve(valid.size());
  for (int i : valid) {
    const EventView& e = request.events[i].event;
    fps.push_back(DedupWindow::Fingerprint(e.tenant_id, e.event_id));
    digests.push_back(DedupWindow::ContentDigest(request.events[i].encoded));
  }
  const std::vector<int>& claimed = valid;  // Event index of each of fps.
  std::vector<DedupWindow::Claim> claims(fps.size());
  std::vector<Delivery> earlier(fps.size());
  std::vector<DedupWindow::Ticket> tickets(fps.size());
  std::vector<size_t> repeat_of(fps.size());
  dedup_.ClaimAll(
      fps, now,
      [&](size_t k) -> DedupWindow::Waiter {
        EventAnswer* r = &answers[claimed[k]];
        return [batch, r](const Delivery& d) {
          if (d.status.ok()) {
            SetDuplicate(r, d.partition, d.offset);
          } else {
            SetFailed(r, d.status);
          }
          batch->Complete();
        };
      },
      claims.data(), earlier.data(), tickets.data(), repeat_of.data(),
      digests.data());

  // 3. Produce the new ones, in order. Once Kafka refuses one event of the
  // batch, the later ones fail the same way without being produced, so a
  // sender's events are never written out of the order they were sent in.
  absl::Status refused;
  for (size_t k = 0; k < fps.size(); ++k) {
    const int i = claimed[k];
    EventAnswer* r = &answers[i];
    if (claims[k] == DedupWindow::Claim::kWaiting) continue;
    if (claims[k] == DedupWindow::Claim::kConflict) {
      // An idempotency key reused for another event: not a retry, so not a
      // DUPLICATE; the client is told, and nothing is published.
      reject(i, "event_id",
             "was already used for a different event; a retry must resend "
             "the same event, a new event needs a new event_id",
             absl::StatusCode::kAlreadyExists);
      continue;
    }
    if (claims[k] == DedupWindow::Claim::kRepeated) {
      batch->same_as.emplace_back(i, claimed[repeat_of[k]]);
      batch->Complete();
      continue;
    }
    if (claims[k] == DedupWindow::Claim::kPublished) {
      SetDuplicate(r, earlier[k].partition, earlier[k].offset);
      batch->Complete();
      continue;
    }
    const EventView& event = request.events[i].event;
    absl::Status s = refused;
    if (s.ok()) {
      EventInFlight* record = &batch->records[i];
      record->Start(batch, r, fps[k], tickets[k], absl::Now());
      // Forwarded as received: unknown fields survive.
      const std::string key = RecordKey(event);
      const CloudEventHeaderRefs headers(event, key, options_.ce_source);
      s = publisher_->Produce(options_.topic, key, request.events[i].encoded,
                              headers.refs(), enqueue_deadline, record);
    }
    if (!s.ok()) {
      refused = s;
      SetFailed(r, s);
      Delivery failed;
      failed.status = s;
      dedup_.Resolve(fps[k], failed, absl::Now());
      batch->Complete();
    }
  }
  batch->Complete();
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* IngestService::Publish(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string tenant;
  if (grpc::Status auth = options_.auth.TenantOf(*context, &tenant);
      !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  absl::StatusOr<grpc::Slice> bytes = Contiguous(*request);
  if (!bytes.ok()) {
    reactor->Finish(ToGrpcStatus(bytes.status()));
    return reactor;
  }
  google::protobuf::Arena arena(BatchArenaOptions());
  absl::StatusOr<DecodedBatch> batch = DecodeBatch(
      View(*bytes), &arena, static_cast<size_t>(options_.max_batch_events));
  if (!batch.ok()) {
    reactor->Finish(ToGrpcStatus(batch.status()));
    return reactor;
  }
  // The reactor and `response` stay valid until Finish() is called.
  absl::Status s = ProcessBatch(
      *batch, EnqueueDeadline(context),
      [reactor, response](grpc::ByteBuffer r) {
        *response = std::move(r);
        reactor->Finish(grpc::Status::OK);
      },
      tenant);
  if (!s.ok()) reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

// Shared between a stream reactor and the batch callbacks that outlive it.
// Contract: the reactor is alive while `finished` is false or `busy` > 0;
// Finish() is called exactly once, when `busy` is 0, no write is in flight,
// and nothing more will be written.
struct StreamState {
  absl::Mutex mu;
  PublishStreamReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  bool finished ABSL_GUARDED_BY(mu) = false;
  int busy ABSL_GUARDED_BY(mu) = 0;
  int pending ABSL_GUARDED_BY(mu) = 0;       // Batches not answered yet.
  bool writing ABSL_GUARDED_BY(mu) = false;  // A StartWrite is outstanding.
  bool reading ABSL_GUARDED_BY(mu) = false;  // A StartRead is outstanding.
  bool reads_done ABSL_GUARDED_BY(mu) = false;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  std::optional<grpc::Status> end_status ABSL_GUARDED_BY(mu);
  std::deque<grpc::ByteBuffer> outbox ABSL_GUARDED_BY(mu);
};

class PublishStreamReactor
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  PublishStreamReactor(IngestService* service,
                       grpc::CallbackServerContext* context)
      : service_(service),
        context_(context),
        state_(std::make_shared<StreamState>()),
        arena_(BatchArenaOptions()) {
    grpc::Status auth = service_->options_.auth.TenantOf(*context, &tenant_);
    if (auth.ok()) {
      auth = service_->AcquireStream(tenant_);
      counted_ = auth.ok();
    }
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = this;
      state_->reading = true;
      ++state_->busy;  // No Finish() before the first StartRead().
    }
    service_->metrics_->open_streams->Increment();
    service_->Register(state_);
    if (service_->draining_.load()) Drain(state_);
    if (!auth.ok()) {
      // Refused (auth, or no room): no batch is read; the stream ends with
      // the error.
      absl::MutexLock lock(&state_->mu);
      state_->end_status = auth;
      state_->reading = false;
    } else {
      StartRead(&request_);
    }
    {
      absl::MutexLock lock(&state_->mu);
      --state_->busy;
    }
    TryFinish(state_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        absl::MutexLock lock(&state_->mu);
        state_->reading = false;
        state_->reads_done = true;
      }
      TryFinish(state_);
      return;
    }
    absl::StatusOr<grpc::Slice> bytes = Contiguous(request_);
    request_.Clear();
    {
      // `reading` stays set until the batch is handed to Kafka, so the next
      // batch is not read (and produced) concurrently: events of one pair
      // keep the order the client sent them in.
      absl::MutexLock lock(&state_->mu);
      ++state_->pending;
      ++state_->busy;  // Held until this reaction is done with the reactor.
    }
    std::shared_ptr<StreamState> st = state_;
    absl::Status s = bytes.status();
    if (s.ok()) {
      // Batches are decoded one at a time, so one arena and one batch serve
      // them all.
      s = DecodeBatchInto(
          View(*bytes), &arena_, &decoded_,
          static_cast<size_t>(service_->options_.max_batch_events));
      if (s.ok()) {
        s = service_->ProcessBatch(
            decoded_, service_->EnqueueDeadline(context_),
            [st](grpc::ByteBuffer r) { OnBatchDone(st, std::move(r)); },
            tenant_);
      }
      arena_.Reset();
    }
    if (!s.ok()) {
      // A batch refused as a whole is answered with its error (nothing of
      // it was published) and the stream goes on.
      OnBatchDone(st, ToByteBuffer(BatchErrorResponse(decoded_.batch_id, s)));
    }
    {
      absl::MutexLock lock(&state_->mu);
      state_->reading = false;
      --state_->busy;
    }
    MaybeRead(state_);
    TryFinish(state_);
  }

  void OnWriteDone(bool ok) override {
    const grpc::ByteBuffer* next = nullptr;
    {
      absl::MutexLock lock(&state_->mu);
      state_->outbox.pop_front();
      if (!ok) {
        // The client is gone; nothing more can be delivered.
        state_->cancelled = true;
        state_->outbox.clear();
      }
      if (!state_->outbox.empty()) {
        next = &state_->outbox.front();
      } else {
        state_->writing = false;
      }
    }
    if (next != nullptr) StartWrite(next);
    MaybeRead(state_);
    TryFinish(state_);
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->cancelled = true;
    }
    TryFinish(state_);
  }

  void OnDone() override {
    service_->Unregister(state_.get());
    if (counted_) service_->ReleaseStream(tenant_);
    service_->metrics_->open_streams->Decrement();
    delete this;
  }

  // Ends the stream with UNAVAILABLE once in-flight batches are answered.
  static void Drain(const std::shared_ptr<StreamState>& st) {
    {
      absl::MutexLock lock(&st->mu);
      if (st->finished) return;
      if (!st->end_status) {
        st->end_status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                      "ingest is shutting down; reconnect");
      }
    }
    TryFinish(st);
  }

 private:
  static void OnBatchDone(const std::shared_ptr<StreamState>& st,
                          grpc::ByteBuffer r) {
    PublishStreamReactor* reactor = nullptr;
    const grpc::ByteBuffer* to_write = nullptr;
    {
      absl::MutexLock lock(&st->mu);
      --st->pending;
      if (st->finished || st->cancelled) {
        // Nobody to tell; the events' fate is already settled in Kafka.
      } else {
        st->outbox.push_back(std::move(r));
        if (!st->writing) {
          st->writing = true;
          to_write = &st->outbox.front();
          reactor = st->reactor;
          ++st->busy;
        }
      }
    }
    if (reactor != nullptr) {
      reactor->StartWrite(to_write);
      absl::MutexLock lock(&st->mu);
      --st->busy;
    }
    MaybeRead(st);
    TryFinish(st);
  }

  // Reads the next batch unless enough are in flight or the stream is ending.
  // Answers not yet written count as in flight: a client that sends without
  // reading its answers is held back by flow control rather than growing
  // the outbox without end.
  static void MaybeRead(const std::shared_ptr<StreamState>& st) {
    PublishStreamReactor* reactor = nullptr;
    {
      absl::MutexLock lock(&st->mu);
      const int64_t held =
          st->pending + static_cast<int64_t>(st->outbox.size());
      if (st->finished || st->reading || st->reads_done || st->cancelled ||
          st->end_status ||
          held >=
              st->reactor->service_->options_.max_inflight_batches_per_stream) {
        return;
      }
      st->reading = true;
      reactor = st->reactor;
      ++st->busy;
    }
    reactor->StartRead(&reactor->request_);
    absl::MutexLock lock(&st->mu);
    --st->busy;
  }

  static void TryFinish(const std::shared_ptr<StreamState>& st) {
    PublishStreamReactor* reactor = nullptr;
    grpc::Status status;
    {
      absl::MutexLock lock(&st->mu);
      if (st->finished || st->busy > 0 || st->writing) return;
      bool quiet = st->pending == 0 && st->outbox.empty();
      if (st->cancelled) {
        status = grpc::Status::CANCELLED;
      } else if (quiet && st->end_status) {
        status = *st->end_status;
      } else if (quiet && st->reads_done) {
        status = grpc::Status::OK;
      } else {
        return;
      }
      st->finished = true;
      reactor = st->reactor;
    }
    reactor->Finish(status);
  }

  IngestService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<StreamState> state_;
  std::string tenant_;    // The caller's tenant ("" = auth off).
  bool counted_ = false;  // Holds a place (IngestService::AcquireStream).
  grpc::ByteBuffer request_;
  google::protobuf::Arena arena_;
  DecodedBatch decoded_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
IngestService::PublishStream(grpc::CallbackServerContext* context) {
  return new PublishStreamReactor(this, context);
}

void IngestService::Register(std::shared_ptr<StreamState> stream) {
  absl::MutexLock lock(&streams_mu_);
  StreamState* key = stream.get();
  streams_.emplace(key, std::move(stream));
}

void IngestService::Unregister(StreamState* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

grpc::Status IngestService::AcquireStream(const std::string& tenant) {
  const int per_tenant = options_.max_streams_per_tenant > 0
                             ? options_.max_streams_per_tenant
                             : std::max(1, options_.max_streams / 2);
  absl::MutexLock lock(&streams_mu_);
  if (counted_streams_ >= options_.max_streams) {
    metrics_->streams_refused->Increment();
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("this ingest instance serves ", options_.max_streams,
                     " streams at once; retry later (another replica may "
                     "have room), or publish with unary Publish"));
  }
  if (!tenant.empty()) {
    int& mine = tenant_streams_[tenant];
    if (mine >= per_tenant) {
      metrics_->streams_refused->Increment();
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("this ingest instance serves at most ", per_tenant,
                       " streams of one tenant at once; retry later "
                       "(another replica may have room)"));
    }
    ++mine;
  }
  ++counted_streams_;
  return grpc::Status::OK;
}

void IngestService::ReleaseStream(const std::string& tenant) {
  absl::MutexLock lock(&streams_mu_);
  --counted_streams_;
  if (tenant.empty()) return;
  auto it = tenant_streams_.find(tenant);
  if (it != tenant_streams_.end() && --it->second <= 0) {
    tenant_streams_.erase(it);
  }
}

void IngestService::StartDrain() {
  draining_.store(true);
  std::vector<std::shared_ptr<StreamState>> open;
  {
    absl::MutexLock lock(&streams_mu_);
    for (const auto& [key, st] : streams_) open.push_back(st);
  }
  log::Info("draining ingest", {{"open_streams", open.size()}});
  for (const auto& st : open) PublishStreamReactor::Drain(st);
}

}  // namespace rebound::ingest
