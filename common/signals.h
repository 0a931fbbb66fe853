// SIGTERM/SIGINT handling for the service binaries: blocked in every thread
// and taken by a TerminationWatch, which starts the drain and bounds it.
#ifndef REBOUND_COMMON_SIGNALS_H_
#define REBOUND_COMMON_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace rebound {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// afterwards: call first thing in main().
inline sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Gives SIGTERM and SIGINT back their default action (end the process), for
// a one-shot job a binary runs instead of serving (--rebuild-state): call
// before it starts any thread.
inline void UnblockTerminationSignals(const sigset_t& signals) {
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
}

// Takes SIGTERM and SIGINT for a service's whole life, on a thread of its
// own (the only one that waits for them), so no stop ever hangs:
// - during start-up a signal ends the process at once: exit 1, one
//   "cannot start" line (nothing is acked before the start completes, so
//   nothing is lost; the start-up waits, up to --startup-timeout, are not
//   sat out);
// - once serving, the first signal starts the drain (WaitForSignal returns
//   it);
// - a second signal during the drain, or a drain still running `limit`
//   after the first, ends the process: exit 1, one line saying which
//   (work not committed is replayed by whoever consumes it next).
class TerminationWatch {
 public:
  TerminationWatch(const sigset_t& signals, absl::Duration limit);
  ~TerminationWatch();
  TerminationWatch(const TerminationWatch&) = delete;
  TerminationWatch& operator=(const TerminationWatch&) = delete;

  // The start completed: a signal now starts the drain.
  void Serving();
  // Blocks until the first signal after Serving(); returns it.
  int WaitForSignal();

 private:
  void Run();

  const sigset_t signals_;
  const absl::Duration limit_;
  absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int first_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread thread_;
};

// The end of a service's main(): logs "ready", waits for the first signal,
// drains `server` (its Shutdown()) and destroys it. Returns the exit code: 0,
// or 1 when the drain did not complete.
template <typename Server>
int ServeUntilTerminated(TerminationWatch& watch,
                         std::unique_ptr<Server>& server, int metrics_port) {
  watch.Serving();
  log::Info("ready",
            {{"grpc_port", server->port()}, {"metrics_port", metrics_port}});
  int sig = watch.WaitForSignal();
  log::Info("signal received, draining", {{"signal", sig}});
  absl::Status drained = server->Shutdown();
  server.reset();
  if (!drained.ok()) {
    log::Error("drain incomplete", {{"error", std::string(drained.message())}});
    return 1;
  }
  log::Info("stopped");
  return 0;
}

}  // namespace rebound

#endif  // REBOUND_COMMON_SIGNALS_H_
