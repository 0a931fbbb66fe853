// A seeded generator of plausible multi-tenant connection-event streams: each
// request is sent with profile snapshots and a note, then maybe viewed, then
// accepted, declined, withdrawn or left to expire; members now and then update
// their profile. Same seed, same stream.
#ifndef REBOUND_TOOLS_SIM_EVENT_GENERATOR_H_
#define REBOUND_TOOLS_SIM_EVENT_GENERATOR_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"

namespace rebound::sim {

struct GeneratorOptions {
  uint64_t seed = 42;
  int tenants = 3;
  int members_per_tenant = 200;
  // Event times are spread over the `span` before `end`.
  absl::Time end = absl::Now();
  absl::Duration span = absl::Hours(24 * 30);
  // Prefix of every event_id, so separate runs do not collide.
  std::string run_id = "run";
};

class EventGenerator {
 public:
  explicit EventGenerator(GeneratorOptions options);

  // The next `n` events, in the order they happened for each pair (the
  // events of one request are consecutive).
  std::vector<rebound::v1::ConnectionEvent> Next(int n);

 private:
  struct Member {
    std::string id;
    rebound::v1::ProfileSnapshot profile;
  };
  void EmitRequest(std::vector<rebound::v1::ConnectionEvent>& out);
  rebound::v1::ConnectionEvent Envelope(const std::string& tenant,
                                        const std::string& sender,
                                        const std::string& recipient,
                                        absl::Time at);
  rebound::v1::ProfileSnapshot RandomProfile();

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::string> tenants_;
  std::vector<std::vector<Member>> members_;
  uint64_t next_event_ = 0;
  uint64_t next_request_ = 0;
};

}  // namespace rebound::sim

#endif  // REBOUND_TOOLS_SIM_EVENT_GENERATOR_H_
