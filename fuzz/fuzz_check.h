// What a fuzz target asserts: a broken invariant prints what broke and
// aborts, which libFuzzer reports as a crash and saves the input.
#ifndef REBOUND_FUZZ_FUZZ_CHECK_H_
#define REBOUND_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, \
                   __LINE__, #cond);                                   \
      std::fprintf(stderr, __VA_ARGS__);                               \
      std::fprintf(stderr, "\n");                                      \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

#endif  // REBOUND_FUZZ_FUZZ_CHECK_H_
