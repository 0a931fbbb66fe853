#include "services/ingest/dedup_window.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "absl/hash/hash.h"

namespace rebound::ingest {
namespace {

// Ids are looked up this many ahead of use: a window of a million ids is far
// larger than the caches, so each lookup would otherwise wait on memory in
// turn; prefetched, the waits overlap.
constexpr size_t kPrefetchAhead = 8;

// Freed ring slots tolerated beyond twice the live ones before compacting.
constexpr size_t kCompactSlack = 4096;

}  // namespace

namespace {

// Ring slots for `capacity` published ids and at least 1024 in flight.
size_t RingSlots(size_t capacity) {
  size_t slots = 1024;
  while (slots < capacity + 1024) slots *= 2;
  return slots;
}

}  // namespace

DedupWindow::Ring::Ring(size_t slots)
    : slots_(static_cast<Slot*>(MapHugePages(slots * sizeof(Slot)))),
      mask_(slots - 1) {
  static_assert(
      std::is_trivially_copyable_v<Slot> && static_cast<int>(State::kFree) == 0,
      "a ring is mapped zeroed: zero bytes must be a free slot");
}

DedupWindow::Ring::~Ring() {
  if (slots_ != nullptr) UnmapHugePages(slots_, size() * sizeof(Slot));
}

DedupWindow::Ring::Ring(Ring&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)), mask_(other.mask_) {}

DedupWindow::Ring& DedupWindow::Ring::operator=(Ring&& other) noexcept {
  if (this != &other) {
    if (slots_ != nullptr) UnmapHugePages(slots_, size() * sizeof(Slot));
    slots_ = std::exchange(other.slots_, nullptr);
    mask_ = other.mask_;
  }
  return *this;
}

DedupWindow::DedupWindow(size_t capacity, absl::Duration ttl)
    : capacity_(capacity),
      ttl_ns_(absl::ToInt64Nanoseconds(ttl)),
      ring_(RingSlots(capacity)) {
  absl::MutexLock lock(&mu_);
  // A sane start; reserving the whole window at once measured slower (a
  // sparser table touches more memory per id while it fills).
  tickets_.reserve(std::min<size_t>(capacity_, 1 << 16));
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
                                            Waiter waiter, Delivery* published,
                                            Ticket* ticket) {
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  Ticket unused;
  return ClaimLocked(
      fp, absl::ToUnixNanos(now), next_,
      [&waiter] { return std::move(waiter); }, published,
      ticket != nullptr ? ticket : &unused, 0);
}

void DedupWindow::ClaimAll(absl::Span<const absl::uint128> fps, absl::Time now,
                           absl::FunctionRef<Waiter(size_t)> make_waiter,
                           Claim* claims, Delivery* published, Ticket* tickets,
                           size_t* repeat_of, const uint32_t* digests) {
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  const int64_t now_ns = absl::ToUnixNanos(now);
  const Ticket first = next_;
  claimed_at_.clear();
  for (size_t i = 0; i < fps.size(); ++i) {
    if (i + kPrefetchAhead < fps.size())
      tickets_.prefetch(Key(fps[i + kPrefetchAhead]));
    claims[i] = ClaimLocked(
        fps[i], now_ns, first, [&make_waiter, i] { return make_waiter(i); },
        &published[i], &tickets[i], digests != nullptr ? digests[i] : 0);
    if (claims[i] == Claim::kNew) {
      claimed_at_.push_back(i);
    } else if (claims[i] == Claim::kRepeated) {
      repeat_of[i] = claimed_at_[tickets[i] - first];
    }
  }
}

// For kRepeated, `*ticket` is the first copy's ticket (ClaimAll() maps it to
// that copy's index).
DedupWindow::Claim DedupWindow::ClaimLocked(
    absl::uint128 fp, int64_t now_ns, Ticket first_of_call,
    absl::FunctionRef<Waiter()> make_waiter, Delivery* published,
    Ticket* ticket, uint32_t digest) {
  const Key key(fp);
  // Room first: a failed allocation must not leave a ticket in the table.
  GrowIfFull();
  auto [it, inserted] = tickets_.try_emplace(key, next_);
  if (inserted) {
    Slot& s = SlotOf(next_);
    s.key = key;
    s.state = State::kInFlight;
    s.at_ns = now_ns;
    s.digest = digest;
    *ticket = next_++;
    return Claim::kNew;
  }
  const Slot& s = SlotOf(it->second);
  if (digest != 0 && s.digest != 0 && digest != s.digest) {
    return Claim::kConflict;
  }
  if (s.state == State::kInFlight) {
    if (it->second >= first_of_call) {
      *ticket = it->second;
      return Claim::kRepeated;
    }
    waiters_[fp].push_back(make_waiter());
    return Claim::kWaiting;
  }
  published->status = absl::OkStatus();
  published->partition = s.partition;
  published->offset = s.offset;
  return Claim::kPublished;
}

uint32_t DedupWindow::ContentDigest(std::string_view encoded) {
  const uint64_t h = std::hash<std::string_view>{}(encoded);
  const auto d = static_cast<uint32_t>(h ^ (h >> 32));
  return d == 0 ? 1 : d;
}

void DedupWindow::Resolve(absl::uint128 fp, const Delivery& d, absl::Time now) {
  std::vector<Waiter> ready;
  {
    absl::MutexLock lock(&mu_);
    const Key key(fp);
    if (auto it = tickets_.find(key); it != tickets_.end()) {
      ResolveLocked(it->second, key, d, absl::ToUnixNanos(now), &ready);
      EvictLocked(now);
    }
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
    const int64_t now_ns = absl::ToUnixNanos(now);
    std::vector<Waiter> for_one;
    Delivery d;
    for (const Stored& one : stored) {
      d.partition = one.partition;
      d.offset = one.offset;
      ResolveLocked(one.ticket, Key(one.fp), d, now_ns, &for_one);
      for (auto& w : for_one) ready.emplace_back(std::move(w), d);
      for_one.clear();
    }
    EvictLocked(now);
  }
  for (auto& [w, d] : ready) w(d);
}

void DedupWindow::ResolveLocked(Ticket t, const Key& key, const Delivery& d,
                                int64_t now_ns, std::vector<Waiter>* ready) {
  Slot* s = &SlotOf(t);
  // The ticket's own slot, unless the claim moved to the tail (or is no
  // longer in flight): then by its key.
  if (t < head_ || t >= next_ || s->state != State::kInFlight ||
      !(s->key == key)) {
    auto it = tickets_.find(key);
    if (it == tickets_.end()) return;
    t = it->second;
    s = &SlotOf(t);
  }
  // Only a claim in flight has an outcome to record: an id resolved twice
  // keeps its first outcome.
  if (s->state != State::kInFlight) return;
  if (!waiters_.empty()) {
    const absl::uint128 fp = absl::MakeUint128(key.hi, key.lo);
    if (auto w = waiters_.find(fp); w != waiters_.end()) {
      for (auto& waiter : w->second) ready->push_back(std::move(waiter));
      waiters_.erase(w);
    }
  }
  if (d.status.ok()) {
    s->state = State::kPublished;
    s->partition = d.partition;
    s->offset = d.offset;
    s->at_ns = now_ns;
    ++published_;
  } else {
    tickets_.erase(key);
    s->state = State::kFree;
  }
}

bool DedupWindow::Remember(absl::uint128 fp, uint32_t digest, int32_t partition,
                           int64_t offset, absl::Time at) {
  Claim claim = Claim::kNew;
  Delivery earlier;
  Ticket ticket = 0;
  size_t repeat_of = 0;
  // Nothing is in flight while a window is warmed: no waiter is made.
  ClaimAll(
      absl::MakeConstSpan(&fp, 1), at, [](size_t) -> Waiter { return nullptr; },
      &claim, &earlier, &ticket, &repeat_of, &digest);
  if (claim != Claim::kNew) return false;
  const Stored stored{
      .ticket = ticket, .fp = fp, .partition = partition, .offset = offset};
  ResolvePublished(absl::MakeConstSpan(&stored, 1), at);
  return true;
}

size_t DedupWindow::size() const {
  absl::MutexLock lock(&mu_);
  return tickets_.size();
}

size_t DedupWindow::ring_slots() const {
  absl::MutexLock lock(&mu_);
  return ring_.size();
}

void DedupWindow::GrowIfFull() {
  if (next_ - head_ < ring_.size()) return;
  Ring bigger(ring_.size() * 2);
  for (Ticket t = head_; t < next_; ++t) bigger[t] = SlotOf(t);
  ring_ = std::move(bigger);
}

void DedupWindow::EvictLocked(absl::Time now) {
  const int64_t now_ns = absl::ToUnixNanos(now);
  while (head_ < next_) {
    Slot& s = SlotOf(head_);
    if (s.state == State::kFree) {
      ++head_;
      continue;
    }
    const bool expired = now_ns - s.at_ns > ttl_ns_;
    const bool over = published_ > capacity_;
    if (s.state == State::kInFlight) {
      // Never forgotten; but at the head it would hold back the ids
      // published after it, so it moves to the tail (its ticket then finds
      // it by key).
      if (published_ == 0 || !(over || expired)) break;
      const Slot moving = s;
      s.state = State::kFree;
      ++head_;
      GrowIfFull();
      SlotOf(next_) = moving;
      tickets_.find(moving.key)->second = next_++;
      continue;
    }
    if (!over && !expired) break;
    if (head_ + kPrefetchAhead < next_)
      tickets_.prefetch(SlotOf(head_ + kPrefetchAhead).key);
    tickets_.erase(s.key);
    s.state = State::kFree;
    --published_;
    ++head_;
  }
  // A failed claim frees its slot where it is, and the head passes it only
  // when it reaches it (maybe a ttl later). Once freed slots outnumber the
  // live ones, the live ones move to a fresh ring, so a flood of failures
  // (Kafka down, a full producer queue) never makes the ring grow without
  // bound. Amortized: at least `live` failures between two compactions.
  const size_t live = tickets_.size();
  if (next_ - head_ > 2 * live + kCompactSlack) Compact();
}

void DedupWindow::Compact() {
  Ring fresh(RingSlots(std::max(capacity_, tickets_.size())));
  Ticket to = next_;
  for (Ticket t = head_; t < next_; ++t) {
    const Slot& s = SlotOf(t);
    if (s.state == State::kFree) continue;
    fresh[to] = s;
    // Tickets held for in-flight claims go stale: ResolveLocked() finds
    // those by key.
    tickets_.find(s.key)->second = to++;
  }
  ring_ = std::move(fresh);
  head_ = next_;
  next_ = to;
}

}  // namespace rebound::ingest
