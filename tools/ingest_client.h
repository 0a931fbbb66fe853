// Client side of rebound.v1.Ingest for tools, tests and benchmarks: publish a
// list of events over PublishStream with several batches in flight. Batches
// are encoded once, before the clock starts, and sent as bytes through the
// generic stub (the wire is plain rebound.v1.PublishRequest), the way a
// high-volume producer would hold them.
#ifndef REBOUND_TOOLS_INGEST_CLIENT_H_
#define REBOUND_TOOLS_INGEST_CLIENT_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "rebound/v1/ingest.grpc.pb.h"

namespace rebound::tools {

struct StreamPublishOptions {
  int batch_size = 200;
  // Batches sent but not yet answered.
  int window = 8;
  std::chrono::milliseconds deadline{120'000};
  // Called after each answered batch with (events answered, total).
  std::function<void(size_t, size_t)> progress;
  // Parallel streams. Events are sharded by record key (tenant/sender),
  // so one sender's events stay on one stream, in order; the server works
  // on the streams concurrently.
  int streams = 1;
  // Pace: at most this many events per second (0 = as fast as possible).
  double events_per_second = 0;
  // Value of the `authorization` metadata ("Bearer <token>"), if any.
  std::string metadata;
  // Ask ingest to check the events only (PublishRequest.validate_only).
  bool validate_only = false;
  // Keep each event's EventResult (and answer time) in the result. Off, as a
  // high-volume publisher that only needs the outcome counts would run: each
  // answer's counts are read and its per-event results skipped unparsed;
  // `results` and `acked_at` stay empty.
  bool keep_results = true;
};

struct StreamPublishResult {
  // Final status of the stream.
  grpc::Status status;
  // One result per event, in input order (index = position in the input);
  // events never answered keep OUTCOME_UNSPECIFIED.
  std::vector<rebound::v1::EventResult> results;
  // Per answered event: time from its batch's write to the batch's answer.
  std::vector<double> ack_latency_ms;
  // Per event (input order): when its batch's answer arrived, as seconds on
  // the steady clock (0 when never answered).
  std::vector<double> acked_at;
  size_t published = 0, duplicates = 0, rejected = 0, failed = 0, valid = 0;
  double seconds = 0;
  // Streams used (PublishWithRetries: 1 + the retries it needed, rounds
  // resent with smaller batches included).
  int attempts = 1;
};

// Events sharded into streams and encoded into batches, ready to send.
struct PreparedPublish {
  struct Stream;
  std::shared_ptr<const std::vector<Stream>> streams;
  size_t events = 0;
};

// Shards `events` by record key (tenant/sender) over `options.streams`, so
// one sender's events stay on one stream in order, and
// encodes each stream's batches of `options.batch_size`.
PreparedPublish PreparePublish(
    const std::vector<rebound::v1::ConnectionEvent>& events,
    const StreamPublishOptions& options);

// Sends prepared batches (options as given to PreparePublish) and waits for
// every answer (or the streams' end).
StreamPublishResult PublishPrepared(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const PreparedPublish& prepared, const StreamPublishOptions& options);

// PreparePublish + PublishPrepared: publishes `events` over
// `options.streams` PublishStream calls on `channel`
// and waits for every answer (or the stream's end). `seconds` and the
// latencies cover sending and answers only, not encoding the batches.
StreamPublishResult PublishOverStream(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const std::vector<rebound::v1::ConnectionEvent>& events,
    const StreamPublishOptions& options = {});

// PublishOverStream, then again for the events that may be retried (never
// answered because the stream ended — ingest draining, a connection aged
// out — or FAILED as UNAVAILABLE / RESOURCE_EXHAUSTED), up to `attempts`
// rounds with a growing pause (200 ms, doubling, at most 5 s). Events acked
// before a cut come back DUPLICATE, so nothing is published twice.
// Batches refused for their size are split and sent again at once (see
// SmallerBatch), not counted as a round. The result holds each event's last
// outcome; `status` is OK once no event is left to retry, else the last
// stream's status.
StreamPublishResult PublishWithRetries(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const std::vector<rebound::v1::ConnectionEvent>& events,
    const StreamPublishOptions& options, int attempts = 5);

// The batch size to try after `status` refused batches of `batch_size` for
// their size — ingest's "at most M" events (M), or a message "larger than
// max" (half) — or 0 when the status is not that or no smaller size helps.
int SmallerBatch(const grpc::Status& status, int batch_size);

// Seconds on the steady clock now, the time base of `acked_at`.
double SteadyNow();

// Value at quantile q (0..1) of `values` (sorted copy); 0 when empty.
double Quantile(std::vector<double> values, double q);

}  // namespace rebound::tools

#endif  // REBOUND_TOOLS_INGEST_CLIENT_H_
