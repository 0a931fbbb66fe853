#include "services/ingest/dedup_window.h"

#include <algorithm>
#include <cstring>

#include "absl/hash/hash.h"

namespace rebound::ingest {
namespace {

// Ids are looked up this many ahead of use: a window of a million ids is far
// larger than the caches, so each lookup would otherwise wait on memory in
// turn; prefetched, the waits overlap.
constexpr size_t kPrefetchAhead = 8;

}  // namespace

DedupWindow::DedupWindow(size_t capacity, absl::Duration ttl)
    : capacity_(capacity), ttl_(ttl) {
  absl::MutexLock lock(&mu_);
  // Growing the table under load costs more than reserving a sane start.
  entries_.reserve(std::min<size_t>(capacity_, 1 << 16));
}

absl::uint128 DedupWindow::Fingerprint(std::string_view key) {
  uint64_t a = absl::HashOf(key);
  uint64_t b = std::hash<std::string_view>{}(key);
  return absl::MakeUint128(a, b);
}

absl::uint128 DedupWindow::Fingerprint(std::string_view tenant,
                                       std::string_view id) {
  char buf[256];
  const size_t n = tenant.size() + 1 + id.size();
  if (n > sizeof(buf)) return Fingerprint(std::string(tenant) + "/" += id);
  std::memcpy(buf, tenant.data(), tenant.size());
  buf[tenant.size()] = '/';
  std::memcpy(buf + tenant.size() + 1, id.data(), id.size());
  return Fingerprint(std::string_view(buf, n));
}

DedupWindow::Claim DedupWindow::ClaimOrWait(absl::uint128 fp, absl::Time now,
                                            Waiter waiter,
                                            Delivery* published) {
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  return ClaimLocked(
      fp, [&waiter] { return std::move(waiter); }, published);
}

void DedupWindow::ClaimAll(absl::Span<const absl::uint128> fps, absl::Time now,
                           absl::FunctionRef<Waiter(size_t)> make_waiter,
                           Claim* claims, Delivery* published) {
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  for (size_t i = 0; i < fps.size(); ++i) {
    if (i + kPrefetchAhead < fps.size())
      entries_.prefetch(fps[i + kPrefetchAhead]);
    claims[i] = ClaimLocked(
        fps[i], [&make_waiter, i] { return make_waiter(i); }, &published[i]);
  }
}

DedupWindow::Claim DedupWindow::ClaimLocked(
    absl::uint128 fp, absl::FunctionRef<Waiter()> make_waiter,
    Delivery* published) {
  auto [it, inserted] = entries_.try_emplace(fp);
  if (inserted) return Claim::kNew;
  if (it->second.in_flight) {
    waiters_[fp].push_back(make_waiter());
    return Claim::kWaiting;
  }
  published->status = absl::OkStatus();
  published->partition = it->second.partition;
  published->offset = it->second.offset;
  return Claim::kPublished;
}

void DedupWindow::Resolve(absl::uint128 fp, const Delivery& d, absl::Time now) {
  std::vector<Waiter> ready;
  {
    absl::MutexLock lock(&mu_);
    ResolveLocked(fp, d, now, &ready);
  }
  // Outside the lock: a waiter may publish its answer right away.
  for (auto& w : ready) w(d);
}

void DedupWindow::ResolvePublished(absl::Span<const Stored> stored,
                                   absl::Time now) {
  if (stored.empty()) return;
  // Waiters are rare; each is called with the outcome it waited for.
  std::vector<std::pair<Waiter, Delivery>> ready;
  {
    absl::MutexLock lock(&mu_);
    std::vector<Waiter> for_one;
    Delivery d;
    for (size_t i = 0; i < stored.size(); ++i) {
      if (i + kPrefetchAhead < stored.size())
        entries_.prefetch(stored[i + kPrefetchAhead].fp);
      d.partition = stored[i].partition;
      d.offset = stored[i].offset;
      ResolveLocked(stored[i].fp, d, now, &for_one);
      for (auto& w : for_one) ready.emplace_back(std::move(w), d);
      for_one.clear();
    }
  }
  for (auto& [w, d] : ready) w(d);
}

void DedupWindow::ResolveLocked(absl::uint128 fp, const Delivery& d,
                                absl::Time now, std::vector<Waiter>* ready) {
  auto it = entries_.find(fp);
  // Only a claim in flight has an outcome to record: an id resolved twice
  // keeps its first outcome.
  if (it == entries_.end() || !it->second.in_flight) return;
  if (!waiters_.empty()) {
    if (auto w = waiters_.find(fp); w != waiters_.end()) {
      for (auto& waiter : w->second) ready->push_back(std::move(waiter));
      waiters_.erase(w);
    }
  }
  if (d.status.ok()) {
    it->second.in_flight = false;
    it->second.partition = d.partition;
    it->second.offset = d.offset;
    it->second.published_at = now;
    order_.emplace_back(now, fp);
    EvictLocked(now);
  } else {
    entries_.erase(it);
  }
}

size_t DedupWindow::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

void DedupWindow::EvictLocked(absl::Time now) {
  while (!order_.empty() &&
         (order_.size() > capacity_ || now - order_.front().first > ttl_)) {
    if (order_.size() > kPrefetchAhead)
      entries_.prefetch(order_[kPrefetchAhead].second);
    auto it = entries_.find(order_.front().second);
    // Only the publication this order entry records is forgotten: an id
    // re-claimed since is in flight or published again, with a later time.
    if (it != entries_.end() && !it->second.in_flight &&
        it->second.published_at == order_.front().first) {
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

}  // namespace rebound::ingest
