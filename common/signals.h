// SIGTERM/SIGINT handling for the service binaries: blocked in every thread
// and taken synchronously by main(), which then drains.
#ifndef REBOUND_COMMON_SIGNALS_H_
#define REBOUND_COMMON_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
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

// Waits for one of `signals` and returns it.
inline int WaitForTerminationSignal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

// The end of a service's main(): logs "ready", waits for one of `signals`,
// drains `server` (its Shutdown()) and destroys it. Returns the exit code: 0,
// or 1 when the drain did not complete.
template <typename Server>
int ServeUntilTerminated(const sigset_t& signals,
                         std::unique_ptr<Server>& server, int metrics_port) {
  log::Info("ready",
            {{"grpc_port", server->port()}, {"metrics_port", metrics_port}});
  int sig = WaitForTerminationSignal(signals);
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
