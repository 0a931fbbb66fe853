// Threads that run unary calls' blocking work (Redis round trips, a wait for
// a free connection) off gRPC's callback threads. Those must not block: in
// gRPC 1.51 a few blocked callback threads stall every call of the server
// (grpc/grpc#30510), health checks included. A fixed set of threads takes
// calls from a bounded queue; a call that finds the queue full is answered
// RESOURCE_EXHAUSTED at once rather than queued without end.
#ifndef REBOUND_COMMON_CALL_WORKERS_H_
#define REBOUND_COMMON_CALL_WORKERS_H_

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/counter.h"

namespace rebound {

class CallWorkers {
 public:
  // `threads` threads (at least 1), at most `queue_limit` calls waiting for
  // one (at least 1); `refused` (optional) counts calls refused when full.
  CallWorkers(int threads, int queue_limit, std::string name,
              prometheus::Counter* refused = nullptr);
  // Runs what is queued, then joins: every call queued is answered.
  ~CallWorkers();
  CallWorkers(const CallWorkers&) = delete;
  CallWorkers& operator=(const CallWorkers&) = delete;

  // Queues `work`; false (nothing queued, `refused` counted) when the queue
  // is full.
  bool Submit(std::function<void()> work);

  // The unary call of `context` answered with what `body` returns, run on a
  // worker; RESOURCE_EXHAUSTED at once when the queue is full; CANCELLED or
  // DEADLINE_EXCEEDED, without running `body`, when the call was cancelled
  // or its deadline passed while it waited.
  template <typename Body>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                  Body body) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (!Submit([reactor, context, body = std::move(body)]() mutable {
          // A call cancelled or past its deadline while it waited is not
          // run (a stop's cancelled calls are answered at once).
          if (context->IsCancelled()) {
            reactor->Finish(
                grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
          } else if (context->deadline() <= std::chrono::system_clock::now()) {
            reactor->Finish(grpc::Status(
                grpc::StatusCode::DEADLINE_EXCEEDED,
                "the deadline passed while the call waited for a worker"));
          } else {
            reactor->Finish(body());
          }
        })) {
      reactor->Finish(Refusal());
    }
    return reactor;
  }

 private:
  void Run();
  grpc::Status Refusal() const;

  const int queue_limit_;
  const std::string name_;
  prometheus::Counter* const refused_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace rebound

#endif  // REBOUND_COMMON_CALL_WORKERS_H_
