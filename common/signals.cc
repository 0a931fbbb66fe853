#include "common/signals.h"

#include <time.h>
#include <unistd.h>

namespace rebound {

TerminationWatch::TerminationWatch(const sigset_t& signals,
                                   absl::Duration limit)
    : signals_(signals), limit_(limit) {
  thread_ = std::thread([this] { Run(); });
}

TerminationWatch::~TerminationWatch() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  thread_.join();
}

void TerminationWatch::Serving() {
  absl::MutexLock lock(&mu_);
  serving_ = true;
}

int TerminationWatch::WaitForSignal() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* first) { return *first != 0; }, &first_));
  return first_;
}

void TerminationWatch::Run() {
  pthread_setname_np(pthread_self(), "signals");
  while (true) {
    // Short waits, so the destructor is not kept waiting for a signal.
    const timespec tick{0, 200'000'000};
    const int sig = sigtimedwait(&signals_, nullptr, &tick);
    absl::MutexLock lock(&mu_);
    if (done_) return;
    if (sig > 0 && !serving_) {
      log::Error("cannot start",
                 {{"error", "stopped by signal " + std::to_string(sig) +
                                " during start-up"}});
      _exit(1);
    }
    if (sig > 0 && first_ == 0) {
      first_ = sig;
      deadline_ = absl::Now() + limit_;
      continue;
    }
    if (sig > 0) {
      log::Error(
          "second signal while draining: exiting without finishing the "
          "drain; what was not committed is replayed",
          {{"signal", sig}});
      _exit(1);
    }
    if (absl::Now() >= deadline_) {
      log::Error(
          "the stop took longer than --shutdown-limit: exiting without "
          "finishing it; what was not committed is replayed",
          {{"limit_ms", absl::ToInt64Milliseconds(limit_)}});
      _exit(1);
    }
  }
}

}  // namespace rebound
