// SIGTERM/SIGINT handling for the service binaries: blocked in every thread
// and taken synchronously by main(), which then drains.
#ifndef REBOUND_COMMON_SIGNALS_H_
#define REBOUND_COMMON_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

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

}  // namespace rebound

#endif  // REBOUND_COMMON_SIGNALS_H_
