// The pod sandbox process for the local cluster (deploy/k8s/cluster.sh): it
// holds the pod's namespaces open, reaps children re-parented to it, and
// exits on SIGINT or SIGTERM. Built static, run from an image with nothing
// else in it (no registry here to pull the upstream one from).
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void Stop(int sig) {
  (void)sig;
  _exit(0);
}

static void Reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static void On(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

int main(void) {
  On(SIGINT, Stop);
  On(SIGTERM, Stop);
  On(SIGCHLD, Reap);
  for (;;) pause();
}
