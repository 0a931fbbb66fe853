// TerminationWatch, in a child process each (gtest death tests): a signal
// during start-up ends the process at once, the first signal while serving
// starts the drain, and a second signal or a drain past the limit ends it.
#include "common/signals.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

class TerminationWatchTest : public testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// In the child: signals blocked, as main() does first thing.
sigset_t Blocked() {
  sigset_t s = BlockTerminationSignals();
  log::InitLogging("test", "info");
  return s;
}

TEST_F(TerminationWatchTest, ASignalDuringStartUpEndsTheProcessAtOnce) {
  EXPECT_EXIT(
      {
        const sigset_t signals = Blocked();
        TerminationWatch watch(signals, absl::Seconds(60));
        kill(getpid(), SIGTERM);
        // A start-up wait that would otherwise last a minute.
        absl::SleepFor(absl::Seconds(60));
        std::exit(0);
      },
      testing::ExitedWithCode(1),
      "stopped by signal 15 during start-up.*cannot start");
}

TEST_F(TerminationWatchTest, TheFirstSignalWhileServingStartsTheDrain) {
  EXPECT_EXIT(
      {
        const sigset_t signals = Blocked();
        TerminationWatch watch(signals, absl::Seconds(60));
        watch.Serving();
        kill(getpid(), SIGINT);
        const int sig = watch.WaitForSignal();
        // A drain that ends on time: the code main returns is the exit.
        std::exit(sig == SIGINT ? 7 : 8);
      },
      testing::ExitedWithCode(7), "");
}

TEST_F(TerminationWatchTest, ASecondSignalEndsAHungDrain) {
  EXPECT_EXIT(
      {
        const sigset_t signals = Blocked();
        TerminationWatch watch(signals, absl::Seconds(60));
        watch.Serving();
        kill(getpid(), SIGTERM);
        (void)watch.WaitForSignal();
        kill(getpid(), SIGTERM);
        absl::SleepFor(absl::Seconds(60));  // The drain hangs.
        std::exit(0);
      },
      testing::ExitedWithCode(1), "second signal while draining");
}

TEST_F(TerminationWatchTest, ADrainPastTheLimitEndsTheProcess) {
  EXPECT_EXIT(
      {
        const sigset_t signals = Blocked();
        TerminationWatch watch(signals, absl::Milliseconds(500));
        watch.Serving();
        kill(getpid(), SIGTERM);
        (void)watch.WaitForSignal();
        absl::SleepFor(absl::Seconds(60));  // The drain hangs.
        std::exit(0);
      },
      testing::ExitedWithCode(1), "longer than --shutdown-limit");
}

TEST_F(TerminationWatchTest, NoSignalNoExit) {
  // Destroyed without a signal (a start that failed and returned): the
  // watch's thread ends and the process goes on.
  const sigset_t signals = BlockTerminationSignals();
  {
    TerminationWatch watch(signals, absl::Milliseconds(100));
    absl::SleepFor(absl::Milliseconds(300));
  }
  UnblockTerminationSignals(signals);
}

}  // namespace
}  // namespace rebound
