#include "services/ingest/dedup_window.h"

namespace rebound::ingest {

DedupWindow::Claim DedupWindow::ClaimOrWait(const std::string& key,
                                            absl::Time now, Waiter waiter,
                                            Delivery* published) {
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  auto [it, inserted] = entries_.try_emplace(key);
  if (inserted) return Claim::kNew;
  if (it->second.in_flight) {
    it->second.waiters.push_back(std::move(waiter));
    return Claim::kWaiting;
  }
  *published = it->second.delivery;
  return Claim::kPublished;
}

void DedupWindow::Resolve(const std::string& key, const Delivery& d,
                          absl::Time now) {
  std::vector<Waiter> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    waiters.swap(it->second.waiters);
    if (d.status.ok()) {
      it->second.in_flight = false;
      it->second.delivery = d;
      it->second.published_at = now;
      order_.emplace_back(now, key);
      EvictLocked(now);
    } else {
      entries_.erase(it);
    }
  }
  // Outside the lock: a waiter may publish its answer right away.
  for (auto& w : waiters) w(d);
}

size_t DedupWindow::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

void DedupWindow::EvictLocked(absl::Time now) {
  while (!order_.empty() &&
         (order_.size() > capacity_ || now - order_.front().first > ttl_)) {
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
