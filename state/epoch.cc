#include "state/epoch.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rebound::state {
std::string Epoch::SlotKey(int slot) const {
  return absl::StrCat(key_, ":slot:{", RedisSlotTag(slot), "}");
}

absl::Status Epoch::CheckCopies(RedisClient& redis,
                                const std::string& expected) const {
  auto slots = redis.SlotPerMaster();
  if (!slots.ok()) return slots.status();
  std::vector<std::vector<std::string>> reads;
  for (const auto& [address, slot] : *slots) {
    reads.push_back({"GET", SlotKey(slot)});
  }
  if (reads.empty()) return absl::OkStatus();
  auto got = redis.Pipeline(reads);
  if (!got.ok()) return got.status();
  auto reply = got->begin();
  for (const auto& [address, slot] : *slots) {
    const RedisValue& v = *reply++;
    if (!v.is_nil() && v.str == expected) continue;
    return v.is_nil()
               ? absl::DataLossError(absl::StrCat(
                     "redis state lost on the cluster master at ", address,
                     ": its copy of the epoch ", key_, " (slot ", slot,
                     ") is gone (failed over to an empty "
                     "replica, restarted without persistence, or flushed); "
                     "rebuild it with ",
                     rebuild_))
               : absl::DataLossError(absl::StrCat(
                     "redis state replaced on the cluster master at ", address,
                     ": epoch ", v.str, " is not the adopted ", expected));
  }
  return absl::OkStatus();
}

absl::Status Epoch::WriteCopies(RedisClient& redis, const std::string& value) {
  constexpr int kChunk = 1024;
  for (int from = 0; from < kRedisClusterSlots; from += kChunk) {
    std::vector<std::vector<std::string>> sets;
    for (int slot = from; slot < from + kChunk; ++slot) {
      sets.push_back({"SET", SlotKey(slot), value});
    }
    auto done = redis.Pipeline(sets);
    if (!done.ok()) return done.status();
  }
  // Every copy written: only now the marker.
  auto marked = redis.Command({"SET", MarkerKey(), value});
  return marked.ok() ? absl::OkStatus() : marked.status();
}

std::string Epoch::MarkerKey() const {
  // The main key's slot: "{<key>}" hashes as the key itself does.
  return absl::StrCat("{", key_, "}:copies");
}

Epoch::Epoch(std::string key, std::string rebuild)
    : key_(std::move(key)), rebuild_(std::move(rebuild)) {}

std::string Epoch::Fresh() {
  return absl::StrCat(absl::ToUnixNanos(absl::Now()), "-",
                      absl::Uniform<uint64_t>(bitgen_));
}

absl::Status Epoch::Ensure(RedisClient& redis, bool may_create) {
  auto got = redis.Command({"GET", key_});
  if (!got.ok()) return got.status();
  if (got->is_nil()) {
    if (!may_create) {
      return absl::DataLossError(
          "redis state lost: no epoch key " + key_ +
          " although the consumer group has committed offsets; rebuild it "
          "with " +
          rebuild_);
    }
    auto set = redis.Command({"SET", key_, Fresh(), "NX"});
    if (!set.ok()) return set.status();
    got = redis.Command({"GET", key_});  // Another may win.
    if (!got.ok()) return got.status();
    if (got->is_nil()) return absl::UnavailableError("epoch vanished");
  }
  value_ = got->str;
  if (!redis.cluster()) return absl::OkStatus();
  absl::Status copies = CheckCopies(redis, value_);
  if (copies.ok() || !absl::IsDataLoss(copies)) {
    if (!copies.ok()) value_.clear();
    return copies;
  }
  // Copies missing or other. Were they ever all written for this epoch?
  // The marker says so; it shares the main key's slot, so a master that
  // lost it lost the main key too. Not written (a state made before the
  // copies existed, a write cut short, two instances writing at once) or
  // a fresh deployment: written now. Written, and a master's copy gone:
  // that master lost its data.
  auto marker = redis.Command({"GET", MarkerKey()});
  if (!marker.ok()) {
    value_.clear();
    return marker.status();
  }
  if (may_create || marker->is_nil() || marker->str != value_) {
    copies = WriteCopies(redis, value_);
    if (copies.ok()) return copies;
  }
  value_.clear();
  return copies;
}

absl::Status Epoch::AdoptRebuilt(RedisClient& redis) {
  auto got = redis.Command({"GET", key_});
  if (!got.ok()) return got.status();
  if (got->is_nil()) return absl::DataLossError("redis state not rebuilt yet");
  if (redis.cluster()) {
    absl::Status copies = CheckCopies(redis, got->str);
    if (!copies.ok()) {
      return absl::IsDataLoss(copies)
                 ? absl::DataLossError(absl::StrCat(
                       "redis state not rebuilt yet: ", copies.message()))
                 : copies;
    }
  }
  value_ = got->str;
  return absl::OkStatus();
}

absl::Status Epoch::SetNew(RedisClient& redis) {
  const std::string fresh = Fresh();
  // The copies first: holders adopt the new epoch from the main key.
  auto cluster = redis.SlotPerMaster();  // Empty when standalone.
  if (!cluster.ok()) return cluster.status();
  if (!cluster->empty()) {
    if (auto s = WriteCopies(redis, fresh); !s.ok()) return s;
  }
  auto set = redis.Command({"SET", key_, fresh});
  if (!set.ok()) return set.status();
  value_ = fresh;
  return absl::OkStatus();
}

absl::Status Epoch::CheckNow(RedisClient& redis) const {
  if (!adopted()) {
    auto pong = redis.Command({"PING"});
    return pong.ok() ? absl::OkStatus() : pong.status();
  }
  auto v = redis.Command(Check().front());
  if (!v.ok()) return v.status();
  if (auto s = Verify(*v); !s.ok() || !redis.cluster()) return s;
  return CheckCopies(redis, value_);
}

std::vector<std::vector<std::string>> Epoch::Check() const {
  if (value_.empty()) return {};
  return {{"GET", key_}};
}

absl::Status Epoch::Verify(const RedisValue& reply) const {
  if (reply.is_nil()) {
    return absl::DataLossError(
        "redis state lost: the epoch key " + key_ +
        " is gone (Redis restarted without persistence, failed over to an "
        "empty replica, or was flushed); rebuild it with " +
        rebuild_);
  }
  if (reply.str != value_) {
    return absl::DataLossError("redis state replaced: epoch " + reply.str +
                               " is not the adopted " + value_);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RemoveKeys(
    RedisClient& redis, const std::function<bool(std::string_view)>& owned) {
  int64_t removed = 0;
  auto masters = redis.Masters();
  if (!masters.ok()) return masters.status();
  for (const auto& node : *masters) {  // Every master's part of the keys.
    std::string cursor = "0";
    do {
      auto page = redis.CommandOn(
          node, {"SCAN", cursor, "MATCH", "rb:*", "COUNT", "1000"});
      if (!page.ok()) return page.status();
      if (page->array.size() != 2) {
        return absl::InternalError("redis: unexpected SCAN reply");
      }
      cursor = page->array[0].str;
      // One UNLINK per key: keys of other slots may not share a command.
      std::vector<std::vector<std::string>> unlink;
      for (const auto& k : page->array[1].array) {
        if (owned(k.str)) unlink.push_back({"UNLINK", k.str});
      }
      if (!unlink.empty()) {
        auto n = redis.Pipeline(unlink);
        if (!n.ok()) return n.status();
        for (const auto& v : *n) removed += v.integer;
      }
    } while (cursor != "0");
  }
  return removed;
}

}  // namespace rebound::state
