// A bounded, in-memory window of recently seen event ids (per tenant), so a
// client retry of an event already published is answered DUPLICATE instead of
// being written twice. Scoring dedupes for good; this only spares Kafka.
#ifndef REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_
#define REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_

#include <cstdint>
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
#include "common/huge_pages.h"
#include "common/kafka_publisher.h"

namespace rebound::ingest {

using rebound::Delivery;

class DedupWindow {
 public:
  // Called with the original's outcome when an event that was in flight
  // resolves.
  using Waiter = std::function<void(const Delivery&)>;
  // One claim, by its place in claim order. Resolving by ticket finds the
  // claim without a hash lookup.
  using Ticket = uint64_t;

  enum class Claim {
    kNew,        // The caller owns the id; Resolve() or ResolvePublished() it.
    kPublished,  // Already published within the window; `*published` is set.
    kWaiting,    // In flight elsewhere; `waiter` will be called on resolve.
    kRepeated,   // Claimed (kNew) earlier in the same ClaimAll() call.
    // Remembered (published or in flight) with another content digest: the
    // id was reused for a different event. Nothing is claimed or awaited.
    kConflict,
  };

  // capacity: most published ids remembered; ttl: how long one is remembered.
  DedupWindow(size_t capacity, absl::Duration ttl);

  // Claims the id with fingerprint `fp` (see Fingerprint()) for publishing. Ids
  // in flight are never forgotten; published ones are forgotten oldest claim
  // first, after `ttl` or when more than `capacity` are remembered. (An id
  // claimed earlier but published later may be remembered a little past
  // `ttl`: by how much its publication came later.) `*ticket` is set for
  // kNew.
  Claim ClaimOrWait(absl::uint128 fp, absl::Time now, Waiter waiter,
                    Delivery* published, Ticket* ticket = nullptr);

  // Claims a batch of ids under one lock: `claims[i]` for `fps[i]`, and
  // `tickets[i]` for the kNew ones. `make_waiter(i)` is called (under the
  // lock: it must not call back into the window) only for ids found in
  // flight from an earlier call; `published[i]` is set for ids already
  // published. A later copy of an id claimed kNew in this call is kRepeated,
  // `repeat_of[i]` the index of that first copy: it is neither claimed nor
  // waiting (waiting on its own batch could wait forever); the caller
  // answers it like the first.
  // `digests` (optional): each event's ContentDigest(), remembered with its
  // claim; an id remembered with another digest is kConflict (0 is "not
  // known" and matches any).
  void ClaimAll(absl::Span<const absl::uint128> fps, absl::Time now,
                absl::FunctionRef<Waiter(size_t)> make_waiter, Claim* claims,
                Delivery* published, Ticket* tickets, size_t* repeat_of,
                const uint32_t* digests = nullptr);
  // A digest of an event's encoded bytes, never 0: a resend of the same
  // event gives the same one.
  static uint32_t ContentDigest(std::string_view encoded);

  // Records the outcome of a claimed id. Published ids are remembered; a
  // failed one is forgotten so a retry can publish it. Waiters get `d`. An
  // id not in flight (never claimed, or resolved already) is left as it is.
  void Resolve(absl::uint128 fp, const Delivery& d, absl::Time now);

  // Where Kafka stored a claimed id.
  struct Stored {
    Ticket ticket = 0;
    absl::uint128 fp;
    int32_t partition = -1;
    int64_t offset = -1;
  };
  // Resolve() for many published ids under one lock (ingest calls it once
  // per batch, when the batch's last delivery report is in). Ids not in
  // flight are ignored.
  void ResolvePublished(absl::Span<const Stored> stored, absl::Time now);

  // Remembers an id published before this window existed (a predecessor's
  // record, read back from Kafka: dedup_warmup.h) as published at `at` in
  // `partition` at `offset`, with its content digest. False when the id is
  // remembered already (then it is left as it is).
  bool Remember(absl::uint128 fp, uint32_t digest, int32_t partition,
                int64_t offset, absl::Time at);

  // Ids remembered (published or in flight).
  size_t size() const;
  // Slots of the ring of claims (memory: 48 bytes each).
  size_t ring_slots() const;

  // The 128-bit fingerprint ids are remembered by: two independent 64-bit
  // hashes (abseil's and libstdc++'s), so two distinct ids collide with
  // probability ~n²/2¹²⁹ — about 10⁻²⁶ for a million ids — instead of
  // holding every id string in memory.
  static absl::uint128 Fingerprint(std::string_view key);
  // Fingerprint(tenant + "/" + id) without building the string on the heap.
  static absl::uint128 Fingerprint(std::string_view tenant,
                                   std::string_view id);

 private:
  // A fingerprint as the table's key: 8-byte aligned (24-byte table slots),
  // hashed by its low half, which is already a uniform hash.
  struct Key {
    uint64_t hi = 0, lo = 0;
    explicit Key(absl::uint128 fp)
        : hi(absl::Uint128High64(fp)), lo(absl::Uint128Low64(fp)) {}
    bool operator==(const Key& o) const { return lo == o.lo && hi == o.hi; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.lo; }
  };
  enum class State : uint8_t { kFree, kInFlight, kPublished };
  // One claim in the ring. `at_ns`: claimed at while in flight, published at
  // after (Unix nanoseconds).
  struct Slot {
    Key key{0};
    int64_t offset = -1;
    int64_t at_ns = 0;
    int32_t partition = -1;
    uint32_t digest = 0;  // ContentDigest() of the claim's event; 0 unknown.
    State state = State::kFree;
  };

  // Slots for claims in claim order, a power of two of them, mapped zeroed
  // (zero bytes are a free slot) on huge pages: memory is touched only as
  // claims reach it.
  class Ring {
   public:
    explicit Ring(size_t slots);
    ~Ring();
    Ring(Ring&& other) noexcept;
    Ring& operator=(Ring&& other) noexcept;
    Slot& operator[](Ticket t) { return slots_[t & mask_]; }
    size_t size() const { return mask_ + 1; }

   private:
    Slot* slots_ = nullptr;
    size_t mask_ = 0;
  };

  Slot& SlotOf(Ticket t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ring_[t]; }
  // Makes room for one more claim at the ring's tail.
  void GrowIfFull() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the live claims to a fresh ring, leaving freed slots behind.
  void Compact() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `first_of_call`: the first ticket of this ClaimAll() call.
  Claim ClaimLocked(absl::uint128 fp, int64_t now_ns, Ticket first_of_call,
                    absl::FunctionRef<Waiter()> make_waiter,
                    Delivery* published, Ticket* ticket, uint32_t digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one outcome to the claim `t` of `key` (found by key when it
  // moved); waiters to call (outside the lock) go to `ready`.
  void ResolveLocked(Ticket t, const Key& key, const Delivery& d,
                     int64_t now_ns, std::vector<Waiter>* ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  const int64_t ttl_ns_;
  mutable absl::Mutex mu_;
  // Each remembered id's ticket. Read at random and tens of MiB large: on
  // huge pages (see common/huge_pages.h).
  absl::flat_hash_map<Key, Ticket, KeyHash, std::equal_to<Key>,
                      HugePageAllocator<std::pair<const Key, Ticket>>>
      tickets_ ABSL_GUARDED_BY(mu_);
  // Claims in claim order: ticket t at ring_[t % size]; [head_, next_) are
  // live (some freed: failed, or moved to the tail). Sized at start for
  // `capacity` published ids and some in flight; grown when full.
  Ring ring_ ABSL_GUARDED_BY(mu_);
  Ticket head_ ABSL_GUARDED_BY(mu_) = 0;
  Ticket next_ ABSL_GUARDED_BY(mu_) = 0;
  size_t published_ ABSL_GUARDED_BY(mu_) = 0;  // Slots in State::kPublished.
  // Duplicates waiting on an id in flight (rare: kept apart from the ring).
  absl::flat_hash_map<absl::uint128, std::vector<Waiter>> waiters_
      ABSL_GUARDED_BY(mu_);
  // ClaimAll()'s index of each kNew claim of the call, by ticket order.
  std::vector<size_t> claimed_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_DEDUP_WINDOW_H_
