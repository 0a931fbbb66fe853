// The scoring process minus its main(): the consumer on its own thread, and a
// gRPC server with the Scoring read API, health and reflection.
#ifndef REBOUND_SERVICES_SCORING_SCORING_SERVER_H_
#define REBOUND_SERVICES_SCORING_SCORING_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/call_workers.h"
#include "common/grpc_server.h"
#include "common/redis_client.h"
#include "common/resource_pool.h"
#include "common/service_host.h"
#include "common/tenant_auth.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "rebound/v1/scoring.grpc.pb.h"
#include "services/notify/retry_policy.h"
#include "services/scoring/classifier.h"
#include "services/scoring/scoring_consumer.h"
#include "state/sender_cache.h"

namespace rebound::scoring {

// rebound.v1.Scoring over Redis: each call borrows one of
// `read_connections` connections for its duration.
class ScoringReadService final : public rebound::v1::Scoring::CallbackService {
 public:
  ScoringReadService(ScoreStoreOptions options, TenantAuth auth,
                     ClassifierConfig classifier,
                     notify::RetryPolicyConfig policy, int read_connections = 8,
                     prometheus::Counter* refused = nullptr);
  grpc::ServerUnaryReactor* GetMemberScores(
      grpc::CallbackServerContext* context,
      const rebound::v1::GetMemberScoresRequest* request,
      rebound::v1::MemberScores* response) override;
  grpc::ServerUnaryReactor* AssessDraft(
      grpc::CallbackServerContext* context,
      const rebound::v1::AssessDraftRequest* request,
      rebound::v1::Assessment* response) override;

 private:
  grpc::Status GetMemberScoresNow(
      grpc::CallbackServerContext* context,
      const rebound::v1::GetMemberScoresRequest* request,
      rebound::v1::MemberScores* response);
  grpc::Status Assess(const grpc::CallbackServerContext& context,
                      const rebound::v1::AssessDraftRequest& request,
                      rebound::v1::Assessment* response);

  const TenantAuth auth_;
  const ClassifierConfig classifier_;
  const notify::RetryPolicyConfig policy_;
  ResourcePool<ScoreStore> stores_;
  // Unary calls run here, one per Redis connection at a time (declared
  // last: destroyed first, answering every call it queued).
  CallWorkers workers_;
};

struct ScoringServerOptions {
  std::string listen = "127.0.0.1:50052";
  // Plaintext health-only port (StartGrpcServer); "" = none.
  std::string health_listen;
  int max_message_bytes = 4 * 1024 * 1024;
  // Keepalive and connection ageing of the gRPC port.
  GrpcConnectionOptions connections;
  // Bearer tokens per tenant (TenantAuth::Parse; default: no
  // authentication) and optional TLS files.
  TenantAuth auth;
  std::string tls_cert;
  std::string tls_key;
  // With tls_cert/tls_key: clients must present a certificate this CA
  // signed (mutual TLS; see TenantAuth::AcceptClientCertificates).
  std::string tls_client_ca;
  // Redis connections the read API's calls share (one per call at a time).
  int read_connections = 8;
  // The retry policy (config/retry_policy.json): AssessDraft's fixes and
  // account-safety levels (which also judge, as events arrive, the members
  // at risk that rebound_members_at_risk counts).
  notify::RetryPolicyConfig retry_policy;
  // How often rebound_members_at_risk is read from Redis.
  absl::Duration at_risk_refresh = absl::Seconds(30);
  ScoringOptions scoring;
};

class ScoringServer {
 public:
  // Reads the TLS files, binds the port, connects to Kafka and Redis
  // (waiting at most scoring.startup_timeout), then consumes.
  static absl::StatusOr<std::unique_ptr<ScoringServer>> Start(
      const ScoringServerOptions& options, ClassifierConfig classifier,
      std::shared_ptr<prometheus::Registry> registry);

  int port() const { return host_->port(); }
  // The health-only port, 0 when there is none.
  int health_port() const { return host_->health_port(); }
  // Stops consuming (in-flight verdicts land, offsets are committed, the
  // consumer leaves its group), then stops the server. Returns the
  // consumer's final status.
  absl::Status Shutdown();
  ~ScoringServer();
  ScoringConsumer* consumer() { return consumer_; }
  // Re-judges each tenant's members at risk as of the tenant's clock (up
  // to kReviewPerPass of them a pass, carrying on where the last pass
  // stopped) and takes out those whose risk has aged out (budget, recent
  // answers), then reads the sets' sizes into rebound_members_at_risk now
  // (also done every at_risk_refresh by a thread of its own).
  void RefreshAtRisk();
  static constexpr int kReviewPerPass = 2000;

 private:
  ScoringServer() = default;
  void StopAtRisk();
  // One tenant's part of RefreshAtRisk: the re-judging.
  absl::Status SweepAtRisk(const std::string& tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  std::unique_ptr<ServiceHost> host_;
  ScoringConsumer* consumer_ = nullptr;  // Owned by host_.
  // rebound_members_at_risk{tenant}: SCARD of each tenant's at-risk set.
  std::unique_ptr<RedisClient> at_risk_redis_;
  prometheus::Family<prometheus::Gauge>* at_risk_gauge_ = nullptr;
  std::shared_ptr<prometheus::Registry> registry_;
  std::thread at_risk_thread_;
  // The account-safety judge the consumer uses (score_store's AtRiskJudge).
  std::function<bool(const state::SenderCounts&)> at_risk_judge_;
  // One refresh at a time; each tenant's SSCAN cursor between passes.
  absl::Mutex refresh_mu_;
  absl::flat_hash_map<std::string, std::string> at_risk_cursors_
      ABSL_GUARDED_BY(refresh_mu_);
  absl::Mutex at_risk_mu_;
  bool at_risk_stop_ = false;
};

}  // namespace rebound::scoring

#endif  // REBOUND_SERVICES_SCORING_SCORING_SERVER_H_
