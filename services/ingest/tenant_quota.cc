#include "services/ingest/tenant_quota.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"

namespace rebound::ingest {
namespace {

// Buckets kept before the full ones (equal to a fresh one) are dropped.
constexpr size_t kMaxBuckets = 10'000;

}  // namespace

absl::StatusOr<Quota> ParseQuota(const std::string& spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  Quota q;
  if (parts.empty() || parts.size() > 2 ||
      !absl::SimpleAtod(parts[0], &q.rate) || !std::isfinite(q.rate) ||
      q.rate < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", spec, "' is not RATE[:BURST] with RATE >= 0 events/s"));
  }
  q.burst = std::max(1.0, q.rate);
  if (parts.size() == 2 && (!absl::SimpleAtod(parts[1], &q.burst) ||
                            !std::isfinite(q.burst) || q.burst < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", spec, "': BURST must be a number >= 1"));
  }
  return q;
}

absl::StatusOr<TenantQuotaOptions> ParseTenantQuotas(
    const std::string& default_spec, const std::string& per_tenant) {
  TenantQuotaOptions o;
  if (!default_spec.empty()) {
    auto q = ParseQuota(default_spec);
    if (!q.ok()) return q.status();
    o.default_quota = *q;
  }
  int entry = 0;
  for (absl::string_view e :
       absl::StrSplit(per_tenant, ',', absl::SkipEmpty())) {
    ++entry;
    const size_t eq = e.find('=');
    const std::string tenant(
        e.substr(0, eq == absl::string_view::npos ? 0 : eq));
    if (eq == absl::string_view::npos || TenantIdProblem(tenant)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry ", entry, " is not tenant=RATE[:BURST]"));
    }
    auto q = ParseQuota(std::string(e.substr(eq + 1)));
    if (!q.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", entry, " (tenant '", tenant, "'): ", q.status().message()));
    }
    if (!o.tenant.emplace(tenant, *q).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", entry, ": tenant '", tenant, "' is given twice"));
    }
  }
  return o;
}

TenantQuotas::TenantQuotas(TenantQuotaOptions options)
    : options_(std::move(options)) {}

const Quota& TenantQuotas::QuotaOf(std::string_view tenant) const {
  auto it = options_.tenant.find(std::string(tenant));
  return it == options_.tenant.end() ? options_.default_quota : it->second;
}

TenantQuotas::Grant TenantQuotas::Take(std::string_view tenant, int n,
                                       absl::Time now) {
  Grant g;
  const Quota& q = QuotaOf(tenant);
  if (!q.limited()) {
    g.allowed = n;
    return g;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= kMaxBuckets) {
    // A full bucket is a fresh one: forget those.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const Quota& bq = QuotaOf(it->first);
      const double refill =
          absl::ToDoubleSeconds(now - it->second.last) * bq.rate;
      if (it->second.tokens + refill >= bq.burst) {
        buckets_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  auto [it, added] = buckets_.try_emplace(std::string(tenant));
  Bucket& b = it->second;
  if (added) {
    b.tokens = q.burst;
    b.last = now;
  } else if (now > b.last) {
    b.tokens = std::min(
        q.burst, b.tokens + absl::ToDoubleSeconds(now - b.last) * q.rate);
    b.last = now;
  }
  g.allowed = std::clamp(static_cast<int>(std::floor(b.tokens)), 0, n);
  b.tokens -= g.allowed;
  if (g.allowed < n) {
    // Left: less than one token (allowed took every whole one); the next
    // event fits once it has refilled to one.
    g.retry_after = std::max(absl::Milliseconds(1),
                             absl::Seconds((1.0 - b.tokens) / q.rate));
  }
  return g;
}

}  // namespace rebound::ingest
