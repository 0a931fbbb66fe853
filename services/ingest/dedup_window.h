// A bounded, in-memory window of recently seen event ids (per tenant), so a
// client retry of an event already published is answered DUPLICATE instead of
// being written twice. Scoring dedupes for good; this only spares Kafka.
#ifndef REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_
#define REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/kafka_publisher.h"

namespace rebound::ingest {

using rebound::Delivery;

class DedupWindow {
 public:
  // Called with the original's outcome when an event that was in flight
  // resolves.
  using Waiter = std::function<void(const Delivery&)>;

  enum class Claim {
    kNew,        // The caller owns the id; Resolve() or ResolvePublished() it.
    kPublished,  // Already published within the window; `*published` is set.
    kWaiting,    // In flight elsewhere; `waiter` will be called on resolve.
  };

  // capacity: most published ids remembered; ttl: how long one is remembered.
  DedupWindow(size_t capacity, absl::Duration ttl);

  // Claims the id with fingerprint `fp` (see Fingerprint()) for publishing. Ids
  // in flight are never forgotten; published ones are forgotten after `ttl` or
  // when `capacity` is exceeded (oldest first).
  Claim ClaimOrWait(absl::uint128 fp, absl::Time now, Waiter waiter,
                    Delivery* published);

  // Claims a batch of ids under one lock: `claims[i]` for `fps[i]`.
  // `make_waiter(i)` is called (under the lock: it must not call back into
  // the window) only for ids found in flight; `published[i]` is set for ids
  // already published.
  void ClaimAll(absl::Span<const absl::uint128> fps, absl::Time now,
                absl::FunctionRef<Waiter(size_t)> make_waiter, Claim* claims,
                Delivery* published);

  // Records the outcome of a claimed id. Published ids are remembered; a
  // failed one is forgotten so a retry can publish it. Waiters get `d`. An
  // id not in flight (never claimed, or resolved already) is left as it is.
  void Resolve(absl::uint128 fp, const Delivery& d, absl::Time now);

  // Where Kafka stored a claimed id.
  struct Stored {
    absl::uint128 fp;
    int32_t partition = -1;
    int64_t offset = -1;
  };
  // Resolve() for many published ids under one lock (ingest calls it once
  // per batch, when the batch's last delivery report is in). Ids not in
  // flight are ignored.
  void ResolvePublished(absl::Span<const Stored> stored, absl::Time now);

  // Ids remembered (published or in flight).
  size_t size() const;

  // The 128-bit fingerprint ids are remembered by: two independent 64-bit
  // hashes (abseil's and libstdc++'s), so two distinct ids collide with
  // probability ~n²/2¹²⁹ — about 10⁻²⁶ for a million ids — instead of
  // holding every id string in memory.
  static absl::uint128 Fingerprint(std::string_view key);
  // Fingerprint(tenant + "/" + id) without building the string on the heap.
  static absl::uint128 Fingerprint(std::string_view tenant,
                                   std::string_view id);

 private:
  struct Entry {
    bool in_flight = true;
    int32_t partition = -1;
    int64_t offset = -1;
    absl::Time published_at;
  };
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Claim ClaimLocked(absl::uint128 fp, absl::FunctionRef<Waiter()> make_waiter,
                    Delivery* published) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one outcome; waiters to call (outside the lock) go to `ready`.
  void ResolveLocked(absl::uint128 fp, const Delivery& d, absl::Time now,
                     std::vector<Waiter>* ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  const absl::Duration ttl_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<absl::uint128, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Duplicates waiting on an id in flight (rare: kept apart from entries_).
  absl::flat_hash_map<absl::uint128, std::vector<Waiter>> waiters_
      ABSL_GUARDED_BY(mu_);
  // Published ids in the order they were published, for eviction.
  std::deque<std::pair<absl::Time, absl::uint128>> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_
