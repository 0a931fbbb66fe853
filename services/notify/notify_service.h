// rebound.v1.Notify over Redis: list, watch (resumable server stream), mark
// acted / dismissed, insights. Stateless per replica: every replica serves
// every member from the same Redis.
#ifndef REBOUND_SERVICES_NOTIFY_NOTIFY_SERVICE_H_
#define REBOUND_SERVICES_NOTIFY_NOTIFY_SERVICE_H_

#include <atomic>
#include <memory>

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
  NotifyService(SuggestionStoreOptions store, TenantAuth auth, int max_watches,
                std::shared_ptr<prometheus::Registry> registry,
                int read_connections = 8);

  // Open watches, shared with their reactors (which may end after the
  // service): the count the limit is checked on, and its gauge.
  struct OpenWatches {
    std::atomic<int> count{0};
    prometheus::Gauge* gauge = nullptr;
    // Append -> write to the client, for updates appended while watched.
    prometheus::Histogram* delay = nullptr;
    std::shared_ptr<prometheus::Registry> registry;  // Keeps `gauge` alive.
  };

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
  grpc::Status Transition(const grpc::CallbackServerContext& context,
                          const rebound::v1::SuggestionActionRequest& request,
                          rebound::v1::SuggestionState target,
                          rebound::v1::RetrySuggestion* response);

  const SuggestionStoreOptions store_options_;
  const TenantAuth auth_;
  const int max_watches_;
  const std::shared_ptr<OpenWatches> open_watches_;
  prometheus::Counter* refused_watches_ = nullptr;
  ResourcePool<SuggestionStore> stores_;
  // Seals ListSuggestions page tokens (page_token.h).
  std::string page_token_key_ = std::string(kDefaultPageTokenKey);
};

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_NOTIFY_SERVICE_H_
