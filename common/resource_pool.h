// A small bounded pool of objects that each hold a connection (a Redis
// store), for request handlers: each call borrows one for its duration, so
// calls run side by side up to the pool's size instead of queueing behind
// one connection, and the connections Redis sees stay bounded.
#ifndef REBOUND_COMMON_RESOURCE_POOL_H_
#define REBOUND_COMMON_RESOURCE_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rebound {

template <typename T>
class ResourcePool {
 public:
  // At most `capacity` objects, each made by `make` when first needed.
  ResourcePool(size_t capacity, std::function<std::unique_ptr<T>()> make)
      : capacity_(capacity < 1 ? 1 : capacity), make_(std::move(make)) {}
  ResourcePool(const ResourcePool&) = delete;
  ResourcePool& operator=(const ResourcePool&) = delete;

  // One object, the caller's alone until the lease ends.
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          item_(std::move(other.item_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(std::move(item_));
    }
    T* operator->() const { return item_.get(); }
    T& operator*() const { return *item_; }

   private:
    friend class ResourcePool;
    Lease(ResourcePool* pool, std::unique_ptr<T> item)
        : pool_(pool), item_(std::move(item)) {}
    ResourcePool* pool_;
    std::unique_ptr<T> item_;
  };

  // A free object (made if fewer than capacity exist), waiting at most
  // `wait` for one to be returned; RESOURCE_EXHAUSTED after that.
  absl::StatusOr<Lease> Borrow(absl::Duration wait) {
    bool make = false;
    std::unique_ptr<T> item;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || made_ < capacity_;
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&ready), wait)) {
        return absl::ResourceExhaustedError(
            "all " + std::to_string(capacity_) +
            " Redis connections of this instance are busy; retry");
      }
      if (!idle_.empty()) {
        item = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++made_;
        make = true;
      }
    }
    if (make) item = make_();
    return Lease(this, std::move(item));
  }

  size_t capacity() const { return capacity_; }

 private:
  void Return(std::unique_ptr<T> item) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(std::move(item));
  }

  const size_t capacity_;
  const std::function<std::unique_ptr<T>()> make_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<T>> idle_ ABSL_GUARDED_BY(mu_);
  size_t made_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rebound

#endif  // REBOUND_COMMON_RESOURCE_POOL_H_
