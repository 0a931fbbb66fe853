#include "state/epoch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rebound::state {

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
  return absl::OkStatus();
}

absl::Status Epoch::AdoptRebuilt(RedisClient& redis) {
  auto got = redis.Command({"GET", key_});
  if (!got.ok()) return got.status();
  if (got->is_nil()) return absl::DataLossError("redis state not rebuilt yet");
  value_ = got->str;
  return absl::OkStatus();
}

absl::Status Epoch::SetNew(RedisClient& redis) {
  const std::string fresh = Fresh();
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
  return Verify(*v);
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
