// Test helpers for scoring: scripted scenarios, simulated streams, the
// counters an input must produce (computed here, independently of scoring),
// and readers over what scoring wrote to Redis.
#ifndef REBOUND_TESTS_SCORING_TEST_SUPPORT_H_
#define REBOUND_TESTS_SCORING_TEST_SUPPORT_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "services/scoring/score_store.h"

namespace rebound::testing {

rebound::v1::ProfileSnapshot SpammyProfile();
rebound::v1::ProfileSnapshot NormalProfile();

// Builds a tenant's event list step by step; event ids are unique.
class Scenario {
 public:
  explicit Scenario(std::string tenant) : tenant_(std::move(tenant)) {}
  void Sent(const std::string& s, const std::string& r, const std::string& req,
            absl::Time at, const rebound::v1::ProfileSnapshot& sp,
            const rebound::v1::ProfileSnapshot& rp, const std::string& note);
  void Viewed(const std::string& s, const std::string& r,
              const std::string& req, absl::Time at);
  void Declined(const std::string& s, const std::string& r,
                const std::string& req, absl::Time at,
                rebound::v1::DeclineKind kind);
  void Accepted(const std::string& s, const std::string& r,
                const std::string& req, absl::Time at);
  void Expired(const std::string& s, const std::string& r,
               const std::string& req, absl::Time at);
  const std::vector<rebound::v1::ConnectionEvent>& events() const {
    return events_;
  }

 private:
  rebound::v1::ConnectionEvent& Add(const std::string& s, const std::string& r,
                                    absl::Time at);
  std::string tenant_;
  int next_ = 0;
  std::vector<rebound::v1::ConnectionEvent> events_;
};

// `n` simulated events, all in `tenant` (the simulator's tenants are folded
// into member ids so they stay distinct).
std::vector<rebound::v1::ConnectionEvent> SimulatedStream(
    const std::string& tenant, int n, uint64_t seed);

// Order-independent counters per member, computed from the input: a request
// counts once, its first outcome decides it.
struct MemberCounters {
  int64_t sent = 0, accepted = 0, declined = 0, reported = 0, pending = 0,
          expired = 0, withdrawn = 0, received = 0, received_accepted = 0;
  bool operator==(const MemberCounters&) const = default;
};
std::map<std::string, MemberCounters> ExpectedCounters(
    const std::vector<rebound::v1::ConnectionEvent>& events);

// Reads what scoring wrote, through the same store the read API uses.
class ScoresReader {
 public:
  explicit ScoresReader(const std::string& redis_address);
  absl::StatusOr<rebound::v1::MemberScores> Get(const std::string& tenant,
                                                const std::string& member);
  bool WaitFor(const std::string& tenant, const std::string& member,
               std::function<bool(const rebound::v1::MemberScores&)> done,
               std::chrono::milliseconds timeout);
  // Until every member's counters equal `expected` (and the declines by
  // reason add up to declined + expired).
  bool WaitForCounters(const std::string& tenant,
                       const std::map<std::string, MemberCounters>& expected,
                       std::chrono::milliseconds timeout);
  const std::string& last_mismatch() const { return mismatch_; }
  // Every key of the tenant with its value in a canonical text form (hash
  // fields sorted, sorted sets with scores), TTLs left out.
  std::map<std::string, std::string> Snapshot(const std::string& tenant);

 private:
  std::string address_;
  scoring::ScoreStore store_;
  std::string mismatch_;
};

// Writes one raw record to a topic (for records ingest would refuse).
bool ProduceRaw(const std::string& brokers, const std::string& topic,
                const std::string& key, const std::string& value);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_SCORING_TEST_SUPPORT_H_
