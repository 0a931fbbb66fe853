// The rebound.v1.Ingest gRPC service (callback API).
#ifndef REBOUND_SERVICES_INGEST_INGEST_SERVICE_H_
#define REBOUND_SERVICES_INGEST_INGEST_SERVICE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka_publisher.h"
#include "common/pipeline.h"
#include "common/tenant_auth.h"
#include "rebound/v1/ingest.grpc.pb.h"
#include "services/ingest/batch_decoder.h"
#include "services/ingest/dedup_window.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/tenant_quota.h"
#include "services/ingest/validator.h"

namespace rebound::ingest {

struct IngestServiceOptions {
  // Kafka topic the events go to.
  std::string topic = pipeline::kEventsTopic;
  // CloudEvents ce_source prefix; the tenant id is appended.
  std::string ce_source = "/rebound/ingest";
  // Most events per PublishRequest.
  int max_batch_events = 1000;
  // Longest a call waits for room in a full producer queue when the client
  // set no earlier deadline.
  absl::Duration max_enqueue_wait = absl::Seconds(5);
  // Batches a single PublishStream may have in flight before reading pauses.
  int max_inflight_batches_per_stream = 64;
  // Recently published event ids remembered per instance, and for how long.
  size_t dedup_capacity = 1'000'000;
  absl::Duration dedup_ttl = absl::Minutes(10);
  ValidatorOptions validator;
  // Bearer tokens per tenant; when set, a call may only publish events of
  // its token's tenant (others are REJECTED, PERMISSION_DENIED).
  TenantAuth auth;
  // Events/s and burst per tenant (tenant_quota.h); unlimited by default.
  TenantQuotaOptions quotas;
  // PublishStream calls open at once on this instance; one beyond is
  // refused at once (RESOURCE_EXHAUSTED: another replica may have room).
  // Each holds a reactor, its buffers and up to
  // max_inflight_batches_per_stream batches.
  int max_streams = 10'000;
  // Of those, at most this many of one tenant (0: max_streams / 2), so one
  // tenant cannot take them all; not applied with auth off (no tenant).
  int max_streams_per_tenant = 0;
};

class PublishStreamReactor;
struct StreamState;

// Both methods take their requests as bytes (raw callback methods): each
// event is decoded on its own (see batch_decoder.h) and its bytes are
// forwarded to Kafka as received. The wire contract is rebound.v1.Ingest.
using IngestRawService = rebound::v1::Ingest::WithRawCallbackMethod_Publish<
    rebound::v1::Ingest::WithRawCallbackMethod_PublishStream<
        rebound::v1::Ingest::Service>>;

class IngestService final : public IngestRawService {
 public:
  // `metrics` must outlive the service. The publisher's delivery reports
  // reach the service: destroy the publisher, which resolves every record
  // left, before the service.
  IngestService(IngestServiceOptions options, Publisher* publisher,
                IngestMetrics* metrics);

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* PublishStream(
      grpc::CallbackServerContext* context) override;

  // Stops accepting: later events are answered FAILED/UNAVAILABLE, and each
  // open stream ends (UNAVAILABLE) once its in-flight batches are answered.
  void StartDrain();

  // Validates and publishes one batch. `done` is called exactly once, with
  // the encoded PublishResponse (a result per event), after every event is
  // resolved: published (Kafka
  // confirmed), duplicate, rejected or failed (or valid, for validate_only).
  // Returns INVALID_ARGUMENT without calling `done` when the batch itself is
  // malformed (empty, too many events). Exposed for the stream reactor and
  // tests. `tenant`: the only tenant the caller may publish for ("" = any).
  // Events are produced before it returns: `batch` (and what it points
  // into) need not outlive the call.
  absl::Status ProcessBatch(const DecodedBatch& batch,
                            absl::Time enqueue_deadline,
                            std::function<void(grpc::ByteBuffer)> done,
                            const std::string& tenant = "");

  // The enqueue deadline for a call: the client's deadline (less a margin to
  // answer in time) capped by max_enqueue_wait.
  absl::Time EnqueueDeadline(const grpc::CallbackServerContext* context) const;

  const IngestServiceOptions& options() const { return options_; }
  // The window of recently published ids (warmed at start: dedup_warmup.h).
  DedupWindow* dedup_window() { return &dedup_; }

 private:
  friend class PublishStreamReactor;
  void Register(std::shared_ptr<StreamState> stream);
  void Unregister(StreamState* stream);
  // Room for one more stream of `tenant` ("" = auth off), taken; or the
  // RESOURCE_EXHAUSTED status to end the stream with. ReleaseStream gives
  // a taken place back.
  grpc::Status AcquireStream(const std::string& tenant);
  void ReleaseStream(const std::string& tenant);

  const IngestServiceOptions options_;
  Publisher* const publisher_;
  IngestMetrics* const metrics_;
  DedupWindow dedup_;
  TenantQuotas quotas_;
  std::atomic<bool> draining_{false};
  absl::Mutex streams_mu_;
  absl::flat_hash_map<StreamState*, std::shared_ptr<StreamState>> streams_
      ABSL_GUARDED_BY(streams_mu_);
  // Streams holding a place (AcquireStream), in all and by tenant.
  int counted_streams_ ABSL_GUARDED_BY(streams_mu_) = 0;
  absl::flat_hash_map<std::string, int> tenant_streams_
      ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_INGEST_SERVICE_H_
