#include "tools/ingest_client.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rebound::tools {

using rebound::v1::PublishRequest;
using rebound::v1::PublishResponse;
using Clock = std::chrono::steady_clock;

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t i = static_cast<size_t>(q * (values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

StreamPublishResult PublishOverStream(
    rebound::v1::Ingest::Stub& stub,
    const std::vector<rebound::v1::ConnectionEvent>& events,
    const StreamPublishOptions& options) {
  StreamPublishResult out;
  out.results.resize(events.size());
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

}  // namespace rebound::tools
