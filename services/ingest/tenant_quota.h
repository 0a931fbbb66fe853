// Per-tenant event quotas at ingest: a token bucket per tenant (events/s and
// a burst), so one tenant flooding an instance cannot take the producer
// queue and the broker from the others. An event over its tenant's quota is
// answered FAILED with code 8 (RESOURCE_EXHAUSTED) and the delay after which
// a retry fits (EventResult.retry_after_ms); nothing of it is published or
// remembered, so a retry with the same event_id is safe.
#ifndef REBOUND_SERVICES_INGEST_TENANT_QUOTA_H_
#define REBOUND_SERVICES_INGEST_TENANT_QUOTA_H_

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::ingest {

struct Quota {
  double rate = 0;   // Events per second; 0 = unlimited.
  double burst = 0;  // Bucket size (events); at least 1 when limited.
  bool limited() const { return rate > 0; }
};

struct TenantQuotaOptions {
  Quota default_quota;                  // Tenants not listed.
  std::map<std::string, Quota> tenant;  // By tenant id.
};

// "RATE[:BURST]" (events/s, burst defaults to one second's worth; "0" =
// unlimited) and "tenant=RATE[:BURST],...". Errors name the entry.
absl::StatusOr<Quota> ParseQuota(const std::string& spec);
absl::StatusOr<TenantQuotaOptions> ParseTenantQuotas(
    const std::string& default_spec, const std::string& per_tenant);

class TenantQuotas {
 public:
  explicit TenantQuotas(TenantQuotaOptions options);

  struct Grant {
    int allowed = 0;  // The first `allowed` of the events asked for.
    // For the rest: when one more would fit.
    absl::Duration retry_after = absl::ZeroDuration();
  };
  // Takes `n` events of `tenant` at `now`, as many as its bucket holds.
  Grant Take(std::string_view tenant, int n, absl::Time now);

  const Quota& QuotaOf(std::string_view tenant) const;

  // Tenants with a bucket kept now (bounded: full ones are dropped past
  // 10,000).
  size_t tracked() {
    std::lock_guard<std::mutex> lock(mu_);
    return buckets_.size();
  }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  const TenantQuotaOptions options_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_;
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_TENANT_QUOTA_H_
