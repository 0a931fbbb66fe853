#include "tools/ingest_client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/proto_utils.h"

namespace rebound::tools {

using rebound::v1::ConnectionEvent;
using rebound::v1::PublishResponse;
using Clock = std::chrono::steady_clock;

double SteadyNow() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t i = static_cast<size_t>(q * (values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

namespace {

constexpr char kPublishStream[] = "/rebound.v1.Ingest/PublishStream";

// One stream's share of the events (their input positions, in order) and its
// batches encoded as rebound.v1.PublishRequest bytes.
struct StreamPlan {
  std::vector<size_t> positions;
  std::vector<grpc::ByteBuffer> batches;
};

grpc::ByteBuffer EncodeBatch(const std::vector<ConnectionEvent>& events,
                             const std::vector<size_t>& positions, size_t from,
                             size_t to, uint64_t batch_id, bool validate_only) {
  using google::protobuf::internal::WireFormatLite;
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sink(&bytes);
    google::protobuf::io::CodedOutputStream out(&sink);
    WireFormatLite::WriteUInt64(
        rebound::v1::PublishRequest::kBatchIdFieldNumber, batch_id, &out);
    if (validate_only) {
      WireFormatLite::WriteBool(
          rebound::v1::PublishRequest::kValidateOnlyFieldNumber, true, &out);
    }
    for (size_t k = from; k < to; ++k) {
      const ConnectionEvent& e = events[positions[k]];
      WireFormatLite::WriteTag(rebound::v1::PublishRequest::kEventsFieldNumber,
                               WireFormatLite::WIRETYPE_LENGTH_DELIMITED, &out);
      out.WriteVarint32(static_cast<uint32_t>(e.ByteSizeLong()));
      e.SerializeWithCachedSizes(&out);
    }
  }
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

StreamPlan Plan(const std::vector<ConnectionEvent>& events,
                std::vector<size_t> positions, size_t batch,
                bool validate_only) {
  StreamPlan plan;
  plan.positions = std::move(positions);
  for (size_t from = 0, b = 0; from < plan.positions.size(); from += batch) {
    size_t to = std::min(plan.positions.size(), from + batch);
    plan.batches.push_back(
        EncodeBatch(events, plan.positions, from, to, b++, validate_only));
  }
  return plan;
}

// What one stream gathered; results go straight into the shared output at
// the stream's (disjoint) positions.
struct StreamTally {
  grpc::Status status;
  std::vector<double> ack_latency_ms;
  size_t published = 0, duplicates = 0, rejected = 0, failed = 0, valid = 0;
};

// A PublishResponse's batch id and counts, its per-event results skipped.
grpc::Status ReadCounts(grpc::ByteBuffer* buffer, PublishResponse* out) {
  using google::protobuf::internal::WireFormatLite;
  grpc::Slice slice;
  if (grpc::Status s = buffer->DumpToSingleSlice(&slice); !s.ok()) return s;
  google::protobuf::io::CodedInputStream in(slice.begin(),
                                            static_cast<int>(slice.size()));
  const grpc::Status bad(grpc::StatusCode::INTERNAL,
                         "ingest sent a PublishResponse that does not parse");
  while (uint32_t tag = in.ReadTag()) {
    uint64_t v = 0;
    const bool varint =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT;
    if (!varint) {
      if (WireFormatLite::GetTagFieldNumber(tag) ==
          PublishResponse::kErrorFieldNumber) {
        // A batch refused as a whole: keep why.
        std::string bytes;
        if (!WireFormatLite::ReadBytes(&in, &bytes) ||
            !out->mutable_error()->ParseFromString(bytes)) {
          return bad;
        }
        continue;
      }
      if (!WireFormatLite::SkipField(&in, tag)) return bad;
      continue;
    }
    if (!in.ReadVarint64(&v)) return bad;
    const auto n = static_cast<uint32_t>(v);
    switch (WireFormatLite::GetTagFieldNumber(tag)) {
      case PublishResponse::kBatchIdFieldNumber:
        out->set_batch_id(v);
        break;
      case PublishResponse::kPublishedFieldNumber:
        out->set_published(n);
        break;
      case PublishResponse::kDuplicatesFieldNumber:
        out->set_duplicates(n);
        break;
      case PublishResponse::kRejectedFieldNumber:
        out->set_rejected(n);
        break;
      case PublishResponse::kFailedFieldNumber:
        out->set_failed(n);
        break;
      case PublishResponse::kValidFieldNumber:
        out->set_valid(n);
        break;
      default:
        break;
    }
  }
  if (!in.ConsumedEntireMessage() ||
      static_cast<size_t>(in.CurrentPosition()) != slice.size()) {
    return bad;
  }
  return grpc::Status::OK;
}

// One PublishStream call: this thread writes (one write outstanding, at most
// `window` batches unanswered, paced when asked); gRPC's threads read.
class StreamCall final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamCall(const StreamPlan& plan, size_t batch, size_t total,
             const StreamPublishOptions& options, StreamPublishResult* out,
             std::atomic<size_t>* answered)
      : plan_(plan),
        batch_(batch),
        total_(total),
        options_(options),
        out_(out),
        answered_(answered),
        sent_at_(plan.batches.size()) {}

  StreamTally Run(grpc::GenericStub& stub, Clock::time_point start,
                  double events_per_second) {
    ctx_.set_deadline(std::chrono::system_clock::now() + options_.deadline);
    if (!options_.metadata.empty())
      ctx_.AddMetadata("authorization", options_.metadata);
    stub.PrepareBidiStreamingCall(&ctx_, kPublishStream, grpc::StubOptions(),
                                  this);
    AddHold();  // Writes are started from this thread until released.
    StartRead(&incoming_);
    StartCall();
    bool writes_ok = true;
    for (size_t b = 0; b < plan_.batches.size(); ++b) {
      if (events_per_second > 0) {
        std::this_thread::sleep_until(
            start +
            std::chrono::duration_cast<Clock::duration>(
                std::chrono::duration<double>(static_cast<double>(b * batch_) /
                                              events_per_second)));
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return ended_ ||
               (!writing_ &&
                in_flight_ < static_cast<size_t>(std::max(1, options_.window)));
      });
      if (ended_ || !writes_ok_) {
        writes_ok = false;
        break;
      }
      ++in_flight_;
      writing_ = true;
      sent_at_[b] = Clock::now();
      lock.unlock();
      StartWrite(&plan_.batches[b]);
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !writing_; });
      writes_ok = writes_ok && writes_ok_;
    }
    if (writes_ok) StartWritesDone();
    RemoveHold();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return std::move(tally_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) writes_ok_ = false;
    cv_.notify_all();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      cv_.notify_all();
      return;
    }
    const auto now = Clock::now();
    response_.Clear();
    grpc::Status parsed =
        options_.keep_results
            ? grpc::SerializationTraits<PublishResponse>::Deserialize(
                  &incoming_, &response_)
            : ReadCounts(&incoming_, &response_);
    size_t done = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!parsed.ok()) {
        if (tally_.status.ok()) tally_.status = parsed;
      } else {
        Record(now);
      }
      if (in_flight_ > 0) --in_flight_;
      const size_t answered = Answered(response_);
      done = answered_->fetch_add(answered) + answered;
      cv_.notify_all();
    }
    if (options_.progress) options_.progress(done, total_);
    StartRead(&incoming_);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (tally_.status.ok()) tally_.status = status;
    ended_ = true;
    done_ = true;
    cv_.notify_all();
  }

 private:
  // Events an answer accounts for.
  static size_t Answered(const PublishResponse& r) {
    return r.published() + r.duplicates() + r.rejected() + r.failed() +
           r.valid();
  }

  // Files one answered batch's results at their input positions.
  void Record(Clock::time_point now) {
    if (response_.has_error() && tally_.status.ok()) {
      // A batch refused as a whole (over ingest's event limit, say): its
      // events stay unanswered and the status says why, which
      // PublishWithRetries reads to resend them in smaller batches.
      tally_.status = grpc::Status(
          static_cast<grpc::StatusCode>(response_.error().code()),
          response_.error().field() + ": " + response_.error().error());
    }
    const size_t b = response_.batch_id();
    if (b >= sent_at_.size()) return;
    const double ms =
        std::chrono::duration<double, std::milli>(now - sent_at_[b]).count();
    const double at =
        std::chrono::duration<double>(now.time_since_epoch()).count();
    if (!options_.keep_results) {
      tally_.ack_latency_ms.insert(tally_.ack_latency_ms.end(),
                                   Answered(response_), ms);
    }
    for (auto& r : *response_.mutable_results()) {
      size_t local = b * batch_ + r.index();
      if (local >= plan_.positions.size()) continue;
      size_t pos = plan_.positions[local];
      r.set_index(static_cast<uint32_t>(pos));
      out_->results[pos] = std::move(r);
      out_->acked_at[pos] = at;
      tally_.ack_latency_ms.push_back(ms);
    }
    tally_.published += response_.published();
    tally_.duplicates += response_.duplicates();
    tally_.rejected += response_.rejected();
    tally_.failed += response_.failed();
    tally_.valid += response_.valid();
  }

  const StreamPlan& plan_;
  const size_t batch_;
  const size_t total_;
  const StreamPublishOptions& options_;
  StreamPublishResult* const out_;
  std::atomic<size_t>* const answered_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer incoming_;
  PublishResponse response_;  // Touched by the one outstanding read only.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Clock::time_point> sent_at_;
  size_t in_flight_ = 0;
  bool writing_ = false;
  bool writes_ok_ = true;
  bool ended_ = false;  // No more answers will come.
  bool done_ = false;
  StreamTally tally_;
};

}  // namespace

struct PreparedPublish::Stream {
  StreamPlan plan;
};

PreparedPublish PreparePublish(const std::vector<ConnectionEvent>& events,
                               const StreamPublishOptions& options) {
  const size_t n = static_cast<size_t>(std::max(1, options.streams));
  const size_t batch = static_cast<size_t>(std::max(1, options.batch_size));
  std::vector<std::vector<size_t>> positions(n);
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    size_t s =
        n == 1
            ? 0
            : std::hash<std::string>{}(e.tenant_id() + "/" + e.sender_id()) % n;
    positions[s].push_back(i);
  }
  auto streams = std::make_shared<std::vector<PreparedPublish::Stream>>();
  for (size_t s = 0; s < n; ++s) {
    streams->push_back(
        {Plan(events, std::move(positions[s]), batch, options.validate_only)});
  }
  PreparedPublish p;
  p.streams = std::move(streams);
  p.events = events.size();
  return p;
}

StreamPublishResult PublishPrepared(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const PreparedPublish& prepared, const StreamPublishOptions& options) {
  const size_t batch = static_cast<size_t>(std::max(1, options.batch_size));
  const auto& streams = *prepared.streams;
  const size_t n = streams.size();
  StreamPublishResult out;
  if (options.keep_results) {
    out.results.resize(prepared.events);
    out.acked_at.assign(prepared.events, 0);
  }
  grpc::GenericStub stub(channel);
  std::atomic<size_t> answered{0};
  std::vector<StreamTally> tallies(n);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (size_t s = 0; s < n; ++s) {
    threads.emplace_back([&, s] {
      StreamCall call(streams[s].plan, batch, prepared.events, options, &out,
                      &answered);
      tallies[s] = call.Run(stub, start,
                            options.events_per_second / static_cast<double>(n));
    });
  }
  for (auto& t : threads) t.join();
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : tallies) {
    if (out.status.ok() && !t.status.ok()) out.status = t.status;
    out.ack_latency_ms.insert(out.ack_latency_ms.end(),
                              t.ack_latency_ms.begin(), t.ack_latency_ms.end());
    out.published += t.published;
    out.duplicates += t.duplicates;
    out.rejected += t.rejected;
    out.failed += t.failed;
    out.valid += t.valid;
  }
  return out;
}

StreamPublishResult PublishOverStream(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const std::vector<ConnectionEvent>& events,
    const StreamPublishOptions& options) {
  return PublishPrepared(channel, PreparePublish(events, options), options);
}

namespace {

bool Retryable(const rebound::v1::EventResult& r) {
  switch (r.outcome()) {
    case rebound::v1::OUTCOME_UNSPECIFIED:
      return true;  // Never answered.
    case rebound::v1::OUTCOME_FAILED:
      return r.code() == static_cast<int>(grpc::StatusCode::UNAVAILABLE) ||
             r.code() ==
                 static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED) ||
             r.code() == static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED);
    default:
      return false;
  }
}

}  // namespace

int SmallerBatch(const grpc::Status& status, int batch_size) {
  const std::string& m = status.error_message();
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // "events: batch of more than M events, at most M".
    const size_t at = m.rfind("at most ");
    if (at == std::string::npos) return 0;
    int most = 0;
    for (size_t i = at + 8; i < m.size() && m[i] >= '0' && m[i] <= '9'; ++i) {
      most = most * 10 + (m[i] - '0');
      if (most > batch_size) return 0;
    }
    return most > 0 && most < batch_size ? most : 0;
  }
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
      m.find("larger than max") != std::string::npos && batch_size > 1) {
    return batch_size / 2;  // Over the message size: halve until it fits.
  }
  return 0;
}

StreamPublishResult PublishWithRetries(
    const std::shared_ptr<grpc::ChannelInterface>& channel,
    const std::vector<ConnectionEvent>& events,
    const StreamPublishOptions& options, int attempts) {
  StreamPublishResult out;
  out.results.resize(events.size());
  out.acked_at.assign(events.size(), 0);
  std::vector<size_t> todo(events.size());
  for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  auto pause = std::chrono::milliseconds(200);
  const auto start = Clock::now();
  StreamPublishOptions keep = options;
  keep.keep_results = true;  // Retries are decided per event.
  bool resized = false;      // The last round's batches were too big.
  int streams = 0;
  for (int attempt = 0; attempt < std::max(1, attempts) && !todo.empty();
       ++attempt) {
    if (attempt > 0 && !resized) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(5000));
    }
    std::vector<ConnectionEvent> batch;
    batch.reserve(todo.size());
    for (size_t i : todo) batch.push_back(events[i]);
    StreamPublishResult r = PublishOverStream(channel, batch, keep);
    // Batches refused for their size are sent again, smaller, at once (a
    // round that does not count against `attempts`).
    const int smaller = SmallerBatch(r.status, keep.batch_size);
    resized = smaller > 0;
    if (resized) {
      keep.batch_size = smaller;
      --attempt;
    }
    out.attempts = ++streams;
    out.status = r.status;
    out.ack_latency_ms.insert(out.ack_latency_ms.end(),
                              r.ack_latency_ms.begin(), r.ack_latency_ms.end());
    std::vector<size_t> again;
    for (size_t k = 0; k < todo.size(); ++k) {
      auto& res = r.results[k];
      res.set_index(static_cast<uint32_t>(todo[k]));
      if (res.outcome() != rebound::v1::OUTCOME_UNSPECIFIED) {
        out.acked_at[todo[k]] = r.acked_at[k];
      }
      if (Retryable(res)) again.push_back(todo[k]);
      out.results[todo[k]] = std::move(res);
    }
    todo = std::move(again);
  }
  for (const auto& res : out.results) {
    switch (res.outcome()) {
      case rebound::v1::OUTCOME_PUBLISHED:
        ++out.published;
        break;
      case rebound::v1::OUTCOME_DUPLICATE:
        ++out.duplicates;
        break;
      case rebound::v1::OUTCOME_REJECTED:
        ++out.rejected;
        break;
      case rebound::v1::OUTCOME_VALID:
        ++out.valid;
        break;
      case rebound::v1::OUTCOME_FAILED:
        ++out.failed;
        break;
      default:
        break;
    }
  }
  if (todo.empty()) out.status = grpc::Status::OK;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

}  // namespace rebound::tools
