// dedup_window_bench: what ingest's dedup window costs per event, the way
// ingest uses it (a batch's ids claimed under one lock, then resolved as
// published together), against a raw baseline in the same process: one
// insert and one erase per id in a bare absl::flat_hash_set of the same
// fingerprints, the least any exact window of that size does.
//
//   dedup_window_bench [--capacity=1000000] [--events=3000000] [--batch=500]
//                      [--rounds=3]
//
// The window is filled to capacity first, so every measured id also evicts
// the oldest one, as in a long-running ingest.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "services/ingest/dedup_window.h"

namespace {

using Clock = std::chrono::steady_clock;
using rebound::ingest::DedupWindow;

std::vector<absl::uint128> Fingerprints(size_t n, size_t from) {
  std::vector<absl::uint128> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = DedupWindow::Fingerprint(
        "tenant-acme", absl::StrCat("evt-", from + i, "-7f3a9c2e4b1d"));
  }
  return out;
}

// ns per id through the window: claim (batch) + resolve (batch).
double Window(DedupWindow& w, const std::vector<absl::uint128>& fps,
              size_t batch) {
  std::vector<DedupWindow::Claim> claims(batch);
  std::vector<rebound::Delivery> seen(batch);
  std::vector<DedupWindow::Stored> stored(batch);
  std::vector<DedupWindow::Ticket> tickets(batch);
  std::vector<size_t> repeat_of(batch);
  const absl::Time now = absl::Now();
  const auto start = Clock::now();
  for (size_t b = 0; b < fps.size(); b += batch) {
    const size_t n = std::min(batch, fps.size() - b);
    absl::Span<const absl::uint128> ids(fps.data() + b, n);
    w.ClaimAll(
        ids, now, [](size_t) -> DedupWindow::Waiter { return nullptr; },
        claims.data(), seen.data(), tickets.data(), repeat_of.data());
    for (size_t i = 0; i < n; ++i)
      stored[i] = {tickets[i], ids[i], 0, static_cast<int64_t>(b + i)};
    w.ResolvePublished(absl::MakeConstSpan(stored.data(), n), now);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start)
             .count() /
         static_cast<double>(fps.size());
}

// ns per id for the baseline: insert the id, erase the one `capacity` ago.
double Raw(absl::flat_hash_set<absl::uint128>& set,
           const std::vector<absl::uint128>& oldest,
           const std::vector<absl::uint128>& fps) {
  const auto start = Clock::now();
  for (size_t i = 0; i < fps.size(); ++i) {
    set.insert(fps[i]);
    set.erase(oldest[i]);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start)
             .count() /
         static_cast<double>(fps.size());
}

}  // namespace

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  const size_t capacity = static_cast<size_t>(
      c.Int("capacity", 1'000'000, 1000, 100'000'000, "ids remembered"));
  const size_t events = static_cast<size_t>(
      c.Int("events", 3'000'000, 1000, 100'000'000, "ids per measured run"));
  const size_t batch =
      static_cast<size_t>(c.Int("batch", 500, 1, 1000, "ids per batch"));
  const int rounds = static_cast<int>(c.Int("rounds", 3, 1, 20, "rounds"));
  if (c.help_requested()) {
    std::cout << c.Usage("dedup_window_bench");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "dedup_window_bench: " << s.message() << "\n";
    return 2;
  }
  std::cout << absl::StrFormat(
      "dedup_window_bench: capacity %zu, %zu ids per run in batches of %zu\n",
      capacity, events, batch);
  // Every id of the run, in publication order: the window is filled with
  // the first `capacity`, each round publishes the next `events`.
  const auto all = Fingerprints(capacity + events * rounds, 0);
  const std::vector<absl::uint128> fill(all.begin(), all.begin() + capacity);
  DedupWindow window(capacity, absl::Hours(24));
  Window(window, fill, batch);
  absl::flat_hash_set<absl::uint128> set(fill.begin(), fill.end());
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    const size_t first = capacity + events * static_cast<size_t>(r);
    const std::vector<absl::uint128> fps(all.begin() + first,
                                         all.begin() + first + events);
    // The baseline erases what the window evicts: the id `capacity` older.
    const std::vector<absl::uint128> oldest(
        all.begin() + first - capacity,
        all.begin() + first - capacity + events);
    const double w = Window(window, fps, batch);
    const double raw = Raw(set, oldest, fps);
    ratios.push_back(raw / w);
    std::cout << absl::StrFormat(
        "round %d: window %6.1f ns/id   raw flat_hash_set insert+erase %6.1f "
        "ns/id   ratio raw/window %.2f   (window holds %zu, set %zu)\n",
        r + 1, w, raw, ratios.back(), window.size(), set.size());
  }
  std::sort(ratios.begin(), ratios.end());
  std::cout << absl::StrFormat("median ratio raw/window %.2f\n",
                               ratios[ratios.size() / 2]);
  return 0;
}
