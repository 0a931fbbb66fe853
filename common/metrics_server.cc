#include "common/metrics_server.h"

#include <exception>

namespace rebound {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // prometheus-cpp reports bind failures by exception; they stop here.
    exposer = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError("metrics: cannot listen on '" + address +
                                  "': " + e.what());
  }
  exposer->RegisterCollectable(registry);
  auto ports = exposer->GetListeningPorts();
  int port = ports.empty() ? 0 : ports.front();
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(exposer), port));
}

}  // namespace rebound
