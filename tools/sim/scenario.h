// A seeded simulator of realistic multi-tenant connection-event streams with
// ground truth, for back-testing the classifier (rebound-sim).
//
// Every decline (and every expiry) gets a TRUE cause drawn first: spammy
// profile, off-target approach, perceived competitor, credibility guard (in
// DESIGN.md's order of frequency), or "not seen" for an expiry the recipient
// never viewed. Sender, recipient, note and timing are then picked to be
// consistent with the cause, with noise: a cause's hallmark is sometimes
// missing, and stray features of other causes appear (salespeople pitch in
// accepted requests too, some genuine members are new, pairs collide).
// Acceptances, withdrawals, profile views and profile updates fill the rest.
//
// Promises: the same options give the same stream, byte for byte (fixed start
// time, no clock); events are in time order across the stream (ties keep
// generation order), so per pair sent < view < decision; event ids are
// "<run_id>-<n>" numbered in that order; events are meant to pass ingest's
// validation (all times in 2023-2024 by default).
#ifndef REBOUND_TOOLS_SIM_SCENARIO_H_
#define REBOUND_TOOLS_SIM_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"

namespace rebound::sim {

struct ScenarioOptions {
  uint64_t seed = 42;
  int tenants = 3;
  int members_per_tenant = 300;
  // Connection requests over all tenants (retries add a few more).
  int requests = 20000;
  // Requests are sent in [start, start + send_span) (the withdrawn first try
  // of a retry may precede `start`); outcomes come later.
  absl::Time start = absl::FromUnixSeconds(1704067200);  // 2024-01-01 UTC
  absl::Duration send_span = absl::Hours(24 * 90);
  // Pending invites expire after about six months (DESIGN.md).
  absl::Duration expire_after = absl::Hours(24 * 180);
  std::string run_id = "sim";
  // Tenant ids are this prefix and 1, 2, ...: runs that must not share
  // tenants (a warm-up and the measured run, each replaying its own
  // history) take different prefixes.
  std::string tenant_prefix = "tenant-";

  // Outcome mix, as shares of requests; the rest are accepted.
  double decline_share = 0.36;
  double expire_share = 0.12;
  double withdraw_share = 0.05;
  // Of the expiries, the share the recipient viewed and let lapse: a silent
  // decline with a cause. The others are "not seen".
  double silent_expiry_share = 0.3;
  // Cause mix of declines; credibility guard takes the rest.
  double spammy_share = 0.38;
  double off_target_share = 0.30;
  double competitor_share = 0.18;
  // Chance that a cause's hallmark feature is missing.
  double noise = 0.1;
};

// The true cause of one decline or expiry.
struct TruthRecord {
  std::string tenant_id;
  std::string event_id;  // Of the decline/expiry event.
  rebound::v1::DeclineReason true_reason =
      rebound::v1::DECLINE_REASON_UNSPECIFIED;
};

struct Scenario {
  std::vector<rebound::v1::ConnectionEvent> events;
  std::vector<TruthRecord> truth;
};

// Generates the whole stream (it must be sorted by time, so it is built in
// memory: about 3 events per request).
Scenario GenerateScenario(const ScenarioOptions& options);

// {"tenant_id":...,"event_id":...,"true_reason":"DECLINE_REASON_..."}, the
// line format rebound-evaluate reads.
std::string TruthToJson(const TruthRecord& truth);

}  // namespace rebound::sim

#endif  // REBOUND_TOOLS_SIM_SCENARIO_H_
