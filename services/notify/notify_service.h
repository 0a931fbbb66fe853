// rebound.v1.Notify over Redis: list, watch (resumable server stream), mark
// acted / dismissed, insights. Stateless per replica: every replica serves
// every member from the same Redis.
#ifndef REBOUND_SERVICES_NOTIFY_NOTIFY_SERVICE_H_
#define REBOUND_SERVICES_NOTIFY_NOTIFY_SERVICE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "common/call_workers.h"
#include "common/resource_pool.h"
#include "common/tenant_auth.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "rebound/v1/notify.grpc.pb.h"
#include "services/notify/retry_policy.h"
#include "services/notify/suggestion_store.h"

namespace rebound::notify {

class NotifyService final : public rebound::v1::Notify::CallbackService {
 public:
  // At most `max_watches` WatchSuggestions streams are open at once; their
  // number and the refusals are metrics in `registry`. Unary calls share
  // `read_connections` Redis connections, one per call at a time.
  // One tenant holds at most `max_watches_per_tenant` of them (0: no cap
  // of its own), so one tenant cannot take every watch of an instance.
  NotifyService(SuggestionStoreOptions store, TenantAuth auth, int max_watches,
                std::shared_ptr<prometheus::Registry> registry,
                int read_connections = 8, int max_watches_per_tenant = 0,
                std::string page_token_key = "",
                AccountSafetyConfig account_safety = {});

  // Open watches, shared with their reactors (which may end after the
  // service): the count the limit is checked on, and its gauge.
  struct OpenWatches {
    std::atomic<int> count{0};
    prometheus::Gauge* gauge = nullptr;
    // Append -> write to the client, for updates appended while watched.
    prometheus::Histogram* delay = nullptr;
    std::shared_ptr<prometheus::Registry> registry;  // Keeps `gauge` alive.
    // Watches ended because their client read nothing for `stall_limit`
    // while updates waited for it.
    prometheus::Counter* stalled = nullptr;
    absl::Duration stall_limit = absl::Seconds(60);
    // Open watches by tenant (entries at 0 are erased).
    std::mutex mu;
    std::map<std::string, int> by_tenant;
    // Counts one more for `tenant` unless it holds `cap` (0: no cap).
    bool AcquireTenant(const std::string& tenant, int cap) {
      std::lock_guard<std::mutex> lock(mu);
      int& n = by_tenant[tenant];
      if (cap > 0 && n >= cap) {
        if (n == 0) by_tenant.erase(tenant);
        return false;
      }
      ++n;
      return true;
    }
    void ReleaseTenant(const std::string& tenant) {
      std::lock_guard<std::mutex> lock(mu);
      auto it = by_tenant.find(tenant);
      if (it != by_tenant.end() && --it->second <= 0) by_tenant.erase(it);
    }
  };

  // Watches open now (tests).
  int open_watches() const { return open_watches_->count.load(); }
  // How long a watch waits for its client to read before it is cancelled
  // (default 60 s; before serving).
  void set_watch_stall_limit(absl::Duration limit) {
    open_watches_->stall_limit = limit;
  }

  grpc::ServerUnaryReactor* ListSuggestions(
      grpc::CallbackServerContext* context,
      const rebound::v1::ListSuggestionsRequest* request,
      rebound::v1::ListSuggestionsResponse* response) override;
  grpc::ServerWriteReactor<rebound::v1::SuggestionUpdate>* WatchSuggestions(
      grpc::CallbackServerContext* context,
      const rebound::v1::WatchSuggestionsRequest* request) override;
  grpc::ServerUnaryReactor* MarkActed(
      grpc::CallbackServerContext* context,
      const rebound::v1::SuggestionActionRequest* request,
      rebound::v1::RetrySuggestion* response) override;
  grpc::ServerUnaryReactor* Dismiss(
      grpc::CallbackServerContext* context,
      const rebound::v1::SuggestionActionRequest* request,
      rebound::v1::RetrySuggestion* response) override;
  grpc::ServerUnaryReactor* GetInsights(
      grpc::CallbackServerContext* context,
      const rebound::v1::GetInsightsRequest* request,
      rebound::v1::Insights* response) override;

 private:
  grpc::Status ListSuggestionsNow(
      grpc::CallbackServerContext* context,
      const rebound::v1::ListSuggestionsRequest* request,
      rebound::v1::ListSuggestionsResponse* response);
  grpc::Status GetInsightsNow(grpc::CallbackServerContext* context,
                              const rebound::v1::GetInsightsRequest* request,
                              rebound::v1::Insights* response);
  grpc::Status Transition(const grpc::CallbackServerContext& context,
                          const rebound::v1::SuggestionActionRequest& request,
                          rebound::v1::SuggestionState target,
                          rebound::v1::RetrySuggestion* response);

  const SuggestionStoreOptions store_options_;
  const TenantAuth auth_;
  const int max_watches_;
  const int max_watches_per_tenant_;
  // Seals ListSuggestions page tokens (page_token.h).
  const std::string page_token_key_;
  const AccountSafetyConfig account_safety_;
  const std::shared_ptr<OpenWatches> open_watches_;
  prometheus::Counter* refused_watches_ = nullptr;
  ResourcePool<SuggestionStore> stores_;
  // Unary calls run here, one per Redis connection at a time (declared
  // last: destroyed first, answering every call it queued).
  CallWorkers workers_;
};

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_NOTIFY_SERVICE_H_
