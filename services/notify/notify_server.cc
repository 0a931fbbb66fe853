#include "services/notify/notify_server.h"

#include <algorithm>

#include "common/grpc_server.h"
#include "common/log.h"

namespace rebound::notify {
namespace {
constexpr char kServiceName[] = "rebound.v1.Notify";
}

absl::StatusOr<std::unique_ptr<NotifyServer>> NotifyServer::Start(
    const NotifyServerOptions& options, RetryPolicyConfig policy,
    std::shared_ptr<prometheus::Registry> registry) {
  options.auth.CountFailuresIn(registry);
  std::unique_ptr<NotifyServer> s(new NotifyServer());
  NotifyServerOptions o = options;
  o.consumer.store.corrupt =
      &prometheus::BuildCounter()
           .Name("rebound_notify_corrupt_suggestions_total")
           .Help(
               "Stored suggestions read that did not decode (never served "
               "or built on)")
           .Register(*registry)
           .Add({});
  ServiceHostOptions ho = HostOptionsOf(o, "notify", kServiceName);
  // Watches are cancelled at the deadline; their threads end within a read.
  ho.call_grace = std::chrono::seconds(2);
  auto service = std::make_unique<NotifyService>(
      o.consumer.store, o.auth, o.max_watches, registry, o.read_connections,
      o.max_watches_per_tenant > 0 ? o.max_watches_per_tenant
                                   : std::max(1, o.max_watches / 2),
      o.page_token_key, policy.account_safety);
  service->set_watch_stall_limit(o.watch_stall_limit);
  auto host = ServiceHost::Start(
      ho, std::move(service),
      [&]() -> absl::StatusOr<std::unique_ptr<PipelineStage>> {
        auto c =
            NotifyConsumer::Create(o.consumer, std::move(policy), registry);
        if (!c.ok()) return c.status();
        s->consumer_ = c->get();
        return std::unique_ptr<PipelineStage>(std::move(*c));
      });
  if (!host.ok()) return host.status();
  s->host_ = std::move(*host);
  return s;
}

}  // namespace rebound::notify
