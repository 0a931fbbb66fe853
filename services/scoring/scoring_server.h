// The scoring process minus its main(): the consumer on its own thread, and a
// gRPC server with the Scoring read API, health and reflection.
#ifndef REBOUND_SERVICES_SCORING_SCORING_SERVER_H_
#define REBOUND_SERVICES_SCORING_SCORING_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_server.h"
#include "common/tenant_auth.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "rebound/v1/scoring.grpc.pb.h"
#include "services/scoring/scoring_consumer.h"

namespace rebound::scoring {

// rebound.v1.Scoring over Redis (one connection, calls serialized: reads
// are rare next to the event stream).
class ScoringReadService final : public rebound::v1::Scoring::CallbackService {
 public:
  ScoringReadService(ScoreStoreOptions options, TenantAuth auth);
  grpc::ServerUnaryReactor* GetMemberScores(
      grpc::CallbackServerContext* context,
      const rebound::v1::GetMemberScoresRequest* request,
      rebound::v1::MemberScores* response) override;

 private:
  const TenantAuth auth_;
  absl::Mutex mu_;
  ScoreStore store_ ABSL_GUARDED_BY(mu_);
};

struct ScoringServerOptions {
  std::string listen = "127.0.0.1:50052";
  int max_message_bytes = 4 * 1024 * 1024;
  // Keepalive and connection ageing of the gRPC port.
  GrpcConnectionOptions connections;
  // Bearer tokens per tenant (TenantAuth::Parse; default: no
  // authentication) and optional TLS files.
  TenantAuth auth;
  std::string tls_cert;
  std::string tls_key;
  ScoringOptions scoring;
};

class ScoringServer {
 public:
  static absl::StatusOr<std::unique_ptr<ScoringServer>> Start(
      const ScoringServerOptions& options, ClassifierConfig classifier,
      std::shared_ptr<prometheus::Registry> registry);
  ~ScoringServer();

  int port() const { return port_; }
  // Stops consuming (in-flight verdicts land, offsets are committed, the
  // consumer leaves its group), then stops the server. Returns the
  // consumer's final status.
  absl::Status Shutdown();
  ScoringConsumer* consumer() { return consumer_.get(); }

 private:
  ScoringServer() = default;
  std::unique_ptr<ScoringConsumer> consumer_;
  std::unique_ptr<ScoringReadService> read_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  absl::Notification consumer_done_;
  absl::Status consumer_status_;
  std::thread consumer_thread_;
  std::thread health_thread_;
  bool shut_down_ = false;
};

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_SCORING_SERVER_H_
