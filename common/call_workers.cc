#include "common/call_workers.h"

#include <pthread.h>

#include <algorithm>

namespace rebound {

CallWorkers::CallWorkers(int threads, int queue_limit, std::string name,
                         prometheus::Counter* refused)
    : queue_limit_(std::max(queue_limit, 1)),
      name_(std::move(name)),
      refused_(refused) {
  const int n = std::max(threads, 1);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

CallWorkers::~CallWorkers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool CallWorkers::Submit(std::function<void()> work) {
  {
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(queue_.size()) < queue_limit_) {
      queue_.push_back(std::move(work));
      return true;
    }
  }
  if (refused_ != nullptr) refused_->Increment();
  return false;
}

void CallWorkers::Run() {
  const std::string thread_name = name_.substr(0, 15);
  pthread_setname_np(pthread_self(), thread_name.c_str());
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](CallWorkers* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return w->stopping_ || !w->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // Stopping, and nothing left.
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

grpc::Status CallWorkers::Refusal() const {
  return grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      "this instance has " + std::to_string(queue_limit_) +
          " calls waiting already; retry later (another replica may have "
          "room)");
}

}  // namespace rebound
