// State-loss detection. Redis holds an epoch key from the moment a
// service's state was created; once adopted, every round trip that writes
// reads it too (Check, then Verify its reply), so a Redis that came back
// empty (restart without persistence, failover to an empty replica,
// FLUSHALL) is noticed at the next write instead of taken for state.
// Scoring's is state::EpochKey, notify's state::NotifyEpochKey; a rebuild
// from Kafka sets a new one (SetNew) and the holders adopt it.
//
// Redis Cluster: the key lives on one master, and one master can lose its
// data (failed over to an empty replica) while the others keep theirs. So
// on a cluster the epoch is also copied into every slot ("<key>:slot:{t}",
// t a hash tag of that slot: 16384 small keys, which move with their
// slots when the cluster is resharded), and CheckNow reads, on each
// master, the copy in a slot it owns: a master that lost its data is
// reported by name. A marker beside the main key (same slot) records that
// every copy of its epoch was written; copies missing while it is absent
// (a state made before they existed, a write cut short) are written, not
// taken for a loss.
#ifndef REBOUND_STATE_EPOCH_H_
#define REBOUND_STATE_EPOCH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "common/redis_client.h"

namespace rebound::state {

class Epoch {
 public:
  // `rebuild` names the command that rebuilds the state (for messages).
  Epoch(std::string key, std::string rebuild);

  // Adopts the stored epoch; when there is none, creates one if
  // `may_create` (nothing consumed yet: a fresh deployment), else
  // DATA_LOSS: Redis lost the state that consumed offsets stand for. On a
  // cluster, also DATA_LOSS when a master's copy is gone although all were
  // written (MarkerKey); not written yet, or `may_create`: written now.
  absl::Status Ensure(RedisClient& redis, bool may_create);
  // After DATA_LOSS: adopts the epoch Redis holds now (set by a rebuild);
  // DATA_LOSS while there is none or, on a cluster, while a master's copy
  // is missing or another (a partial loss is not over until a rebuild).
  absl::Status AdoptRebuilt(RedisClient& redis);
  // For a rebuild, once the state is complete: a new epoch, overwriting.
  absl::Status SetNew(RedisClient& redis);

  bool adopted() const { return !value_.empty(); }
  // The read to add to a round trip: none before an epoch is adopted.
  std::vector<std::vector<std::string>> Check() const;
  // DATA_LOSS, naming what happened, unless `reply` (of Check's read) is
  // the adopted epoch.
  absl::Status Verify(const RedisValue& reply) const;
  // Check and Verify in a round trip of their own; without an adopted
  // epoch, a PING. So also the check that Redis answers (its error when
  // not): what an idle service runs now and then. On a cluster, also each
  // master's copy.
  absl::Status CheckNow(RedisClient& redis) const;

  // The copy of the epoch in Redis Cluster slot `slot` (0..16383).
  std::string SlotKey(int slot) const;
  // Cluster: the epoch whose copies were all written, in the main key's
  // slot.
  std::string MarkerKey() const;

 private:
  std::string Fresh();
  // Cluster: DATA_LOSS naming the first master whose copy is gone or is
  // not `expected`.
  absl::Status CheckCopies(RedisClient& redis,
                           const std::string& expected) const;
  // Cluster: `value` into every slot's copy, then into the marker.
  absl::Status WriteCopies(RedisClient& redis, const std::string& value);

  std::string key_, rebuild_;
  std::string value_;  // Adopted; empty = not checked.
  absl::BitGen bitgen_;
};

// For a rebuild: UNLINKs every "rb:*" key for which `owned` is true, on
// every master; returns how many went.
absl::StatusOr<int64_t> RemoveKeys(
    RedisClient& redis, const std::function<bool(std::string_view)>& owned);

}  // namespace rebound::state

#endif  // REBOUND_STATE_EPOCH_H_
