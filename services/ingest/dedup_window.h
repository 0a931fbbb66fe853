// A bounded, in-memory window of recently seen event ids (per tenant), so a
// client retry of an event already published is answered DUPLICATE instead of
// being written twice. Scoring dedupes for good; this only spares Kafka.
#ifndef REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_
#define REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rebound::ingest {

// Where a published event landed, or why it was not published.
struct Delivery {
  absl::Status status;
  int32_t partition = -1;
  int64_t offset = -1;
};

class DedupWindow {
 public:
  // Called with the original's outcome when an event that was in flight
  // resolves.
  using Waiter = std::function<void(const Delivery&)>;

  enum class Claim {
    kNew,        // The caller owns the id and must Resolve() it.
    kPublished,  // Already published within the window; `*published` is set.
    kWaiting,    // In flight elsewhere; `waiter` will be called on resolve.
  };

  // capacity: most published ids remembered; ttl: how long one is remembered.
  DedupWindow(size_t capacity, absl::Duration ttl)
      : capacity_(capacity), ttl_(ttl) {}

  // Claims `key` for publishing. Ids in flight are never forgotten; published
  // ones are forgotten after `ttl` or when `capacity` is exceeded (oldest
  // first).
  Claim ClaimOrWait(const std::string& key, absl::Time now, Waiter waiter,
                    Delivery* published);

  // Records the outcome of a claimed key. Published ids are remembered; a
  // failed one is forgotten so a retry can publish it. Waiters get `d`.
  void Resolve(const std::string& key, const Delivery& d, absl::Time now);

  // Ids remembered (published or in flight).
  size_t size() const;

 private:
  struct Entry {
    bool in_flight = true;
    Delivery delivery;
    absl::Time published_at;
    std::vector<Waiter> waiters;
  };
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  const absl::Duration ttl_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Published ids in the order they were published, for eviction.
  std::deque<std::pair<absl::Time, std::string>> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_
