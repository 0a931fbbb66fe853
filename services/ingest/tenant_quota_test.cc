#include "services/ingest/tenant_quota.h"

#include "gtest/gtest.h"

namespace rebound::ingest {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(TenantQuota, ParsesSpecsAndNamesTheBadEntry) {
  auto q = ParseQuota("100");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->rate, 100);
  EXPECT_EQ(q->burst, 100);
  q = ParseQuota("2.5:10");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->rate, 2.5);
  EXPECT_EQ(q->burst, 10);
  EXPECT_FALSE(ParseQuota("0")->limited());
  for (const char* bad : {"", "-1", "x", "1:0", "1:2:3", "nan", "inf", "1:x"}) {
    EXPECT_FALSE(ParseQuota(bad).ok()) << bad;
  }
  auto o = ParseTenantQuotas("50", "acme=10:20,beta=0");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->default_quota.rate, 50);
  EXPECT_EQ(o->tenant.at("acme").burst, 20);
  EXPECT_FALSE(o->tenant.at("beta").limited());
  auto dup = ParseTenantQuotas("", "acme=1,acme=2");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("entry 2"), std::string::npos);
  EXPECT_FALSE(ParseTenantQuotas("", "Acme=1").ok());
  EXPECT_FALSE(ParseTenantQuotas("", "acme").ok());
  auto bad = ParseTenantQuotas("", "acme=1,beta=-3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("entry 2 (tenant 'beta')"),
            std::string::npos)
      << bad.status();
}

TEST(TenantQuota, ABucketGrantsItsBurstThenItsRate) {
  TenantQuotaOptions o;
  o.tenant["acme"] = Quota{10, 5};
  TenantQuotas q(o);
  auto g = q.Take("acme", 8, kT0);
  EXPECT_EQ(g.allowed, 5);
  // Empty: one more event in 1/10 s.
  EXPECT_EQ(g.retry_after, absl::Milliseconds(100));
  g = q.Take("acme", 1, kT0 + absl::Milliseconds(50));
  EXPECT_EQ(g.allowed, 0);
  EXPECT_EQ(g.retry_after, absl::Milliseconds(50));
  g = q.Take("acme", 3, kT0 + absl::Milliseconds(300));
  EXPECT_EQ(g.allowed, 3);
  EXPECT_EQ(g.retry_after, absl::ZeroDuration());
  // Refill stops at the burst.
  g = q.Take("acme", 100, kT0 + absl::Hours(1));
  EXPECT_EQ(g.allowed, 5);
  // Other tenants: the default (unlimited here), and separate buckets.
  EXPECT_EQ(q.Take("beta", 1'000'000, kT0).allowed, 1'000'000);
}

TEST(TenantQuota, ManyIdleTenantsDoNotGrowWithoutBound) {
  TenantQuotaOptions o;
  o.default_quota = Quota{1, 1};
  TenantQuotas q(o);
  for (int i = 0; i < 30'000; ++i) {
    // Each takes its one token; a second later its bucket is full again.
    EXPECT_EQ(
        q.Take("t" + std::to_string(i), 1, kT0 + absl::Seconds(i)).allowed, 1);
  }
  EXPECT_LE(q.tracked(), 10'000u);
  // A tenant still limited stays limited across the clean-ups.
  EXPECT_EQ(q.Take("t29999", 1, kT0 + absl::Seconds(29'999)).allowed, 0);
}

}  // namespace
}  // namespace rebound::ingest
