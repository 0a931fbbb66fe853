// Warms a new ingest instance's dedup window from the events topic: the ids
// (and content digests) of the records the topic took within the window's
// ttl, so a client resending what a crashed predecessor published but never
// answered gets DUPLICATE, with the record's partition and offset, instead
// of a second copy in Kafka. Records without a ce_id header (not written by
// ingest) are skipped.
#ifndef REBOUND_SERVICES_INGEST_DEDUP_WARMUP_H_
#define REBOUND_SERVICES_INGEST_DEDUP_WARMUP_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/ingest/dedup_window.h"

namespace rebound::ingest {

struct DedupWarmupOptions {
  std::string brokers;
  std::string topic;
  // Records younger than this (by their Kafka timestamp) are read.
  absl::Duration ttl = absl::Minutes(10);
  // At most this many records in all (the window's capacity): the newest
  // ones, each partition giving its share of the ttl's records, so the read
  // is no longer than what the window keeps.
  int64_t max_records = 1'000'000;
  // The whole read, metadata included.
  absl::Duration timeout = absl::Seconds(30);
  // More client properties (the producer's extras, e.g. security).
  std::map<std::string, std::string> extra;
};

struct DedupWarmupResult {
  int64_t records = 0;     // Read from the topic.
  int64_t remembered = 0;  // Ids put in the window.
  int partitions = 0;
};

// Reads each partition of `topic` from the first record younger than `ttl`
// (or later, to keep to max_records) to its end as of the call, and
// remembers each ingest record in `window` as published at its Kafka
// timestamp. UNAVAILABLE naming the topic when Kafka does not answer in
// time (transient read errors are waited out until then); the window keeps
// what was read.
absl::StatusOr<DedupWarmupResult> WarmDedupWindow(
    const DedupWarmupOptions& options, DedupWindow* window);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_DEDUP_WARMUP_H_
