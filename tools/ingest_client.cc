#include "tools/ingest_client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rebound::tools {

using rebound::v1::PublishRequest;
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

StreamPublishResult PublishOverOneStream(
    rebound::v1::Ingest::Stub& stub,
    const std::vector<rebound::v1::ConnectionEvent>& events,
    const StreamPublishOptions& options) {
  StreamPublishResult out;
  out.results.resize(events.size());
  out.acked_at.assign(events.size(), 0);
  const size_t batch = static_cast<size_t>(std::max(1, options.batch_size));
  const size_t batches = (events.size() + batch - 1) / batch;
  std::vector<Clock::time_point> sent_at(batches);

  // Requests are built before the clock starts: the figures are about the
  // wire and the server, not about copying the caller's events.
  std::vector<PublishRequest> requests(batches);
  for (size_t b = 0; b < batches; ++b) {
    requests[b].set_batch_id(b);
    for (size_t i = b * batch; i < std::min(events.size(), (b + 1) * batch);
         ++i) {
      *requests[b].add_events() = events[i];
    }
  }

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options.deadline);
  if (!options.metadata.empty())
    ctx.AddMetadata("authorization", options.metadata);
  auto stream = stub.PublishStream(&ctx);

  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;
  size_t answered = 0;
  const auto start = Clock::now();

  std::thread reader([&] {
    PublishResponse resp;
    while (stream->Read(&resp)) {
      auto now = Clock::now();
      std::lock_guard<std::mutex> lock(mu);
      size_t b = resp.batch_id();
      double ms =
          std::chrono::duration<double, std::milli>(now - sent_at[b]).count();
      for (const auto& r : resp.results()) {
        size_t i = b * batch + r.index();
        if (i >= out.results.size()) continue;
        out.results[i] = r;
        out.ack_latency_ms.push_back(ms);
        out.acked_at[i] = SteadyNow();
      }
      out.published += resp.published();
      out.duplicates += resp.duplicates();
      out.rejected += resp.rejected();
      out.failed += resp.failed();
      answered += resp.results_size();
      --in_flight;
      cv.notify_all();
      if (options.progress) options.progress(answered, events.size());
    }
    std::lock_guard<std::mutex> lock(mu);
    in_flight = 0;
    cv.notify_all();
  });

  bool write_ok = true;
  for (size_t b = 0; b < batches && write_ok; ++b) {
    if (options.events_per_second > 0) {
      std::this_thread::sleep_until(
          start +
          std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(static_cast<double>(b * batch) /
                                            options.events_per_second)));
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock,
              [&] { return in_flight < static_cast<size_t>(options.window); });
      ++in_flight;
      sent_at[b] = Clock::now();
    }
    write_ok = stream->Write(requests[b]);
  }
  stream->WritesDone();
  reader.join();
  out.status = stream->Finish();
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

}  // namespace

StreamPublishResult PublishOverStream(
    rebound::v1::Ingest::Stub& stub,
    const std::vector<rebound::v1::ConnectionEvent>& events,
    const StreamPublishOptions& options) {
  const size_t n = static_cast<size_t>(std::max(1, options.streams));
  if (n == 1) return PublishOverOneStream(stub, events, options);
  std::vector<std::vector<rebound::v1::ConnectionEvent>> shards(n);
  std::vector<std::vector<size_t>> positions(n);
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    size_t s = std::hash<std::string>{}(e.tenant_id() + "/" + e.sender_id() +
                                        "/" + e.recipient_id()) %
               n;
    shards[s].push_back(e);
    positions[s].push_back(i);
  }
  std::vector<StreamPublishResult> parts(n);
  std::atomic<size_t> answered{0};
  std::vector<size_t> last(n, 0);
  std::mutex progress_mu;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (size_t s = 0; s < n; ++s) {
    threads.emplace_back([&, s] {
      StreamPublishOptions o = options;
      o.streams = 1;
      o.events_per_second = options.events_per_second / static_cast<double>(n);
      o.progress = [&, s](size_t done, size_t) {
        std::lock_guard<std::mutex> lock(progress_mu);
        answered += done - last[s];
        last[s] = done;
        if (options.progress) options.progress(answered.load(), events.size());
      };
      parts[s] = PublishOverOneStream(stub, shards[s], o);
    });
  }
  for (auto& t : threads) t.join();
  StreamPublishResult out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.results.resize(events.size());
  out.acked_at.assign(events.size(), 0);
  for (size_t s = 0; s < n; ++s) {
    auto& p = parts[s];
    if (out.status.ok() && !p.status.ok()) out.status = p.status;
    for (size_t k = 0; k < p.results.size(); ++k) {
      auto r = p.results[k];
      if (r.outcome() != rebound::v1::OUTCOME_UNSPECIFIED) {
        r.set_index(static_cast<uint32_t>(positions[s][k]));
      }
      out.results[positions[s][k]] = std::move(r);
      out.acked_at[positions[s][k]] = p.acked_at[k];
    }
    out.ack_latency_ms.insert(out.ack_latency_ms.end(),
                              p.ack_latency_ms.begin(), p.ack_latency_ms.end());
    out.published += p.published;
    out.duplicates += p.duplicates;
    out.rejected += p.rejected;
    out.failed += p.failed;
  }
  return out;
}

}  // namespace rebound::tools
