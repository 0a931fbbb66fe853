#include "services/scoring/scoring_server.h"

#include <pthread.h>

#include "common/grpc_server.h"
#include "common/log.h"

namespace rebound::scoring {
namespace {
constexpr char kServiceName[] = "rebound.v1.Scoring";

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}
}  // namespace

ScoringReadService::ScoringReadService(ScoreStoreOptions options,
                                       TenantAuth auth)
    : auth_(std::move(auth)), store_(std::move(options)) {}

grpc::ServerUnaryReactor* ScoringReadService::GetMemberScores(
    grpc::CallbackServerContext* context,
    const rebound::v1::GetMemberScoresRequest* request,
    rebound::v1::MemberScores* response) {
  auto* reactor = context->DefaultReactor();
  if (request->tenant_id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "tenant_id: is required"));
    return reactor;
  }
  if (request->member_id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "member_id: is required"));
    return reactor;
  }
  if (grpc::Status auth = auth_.Authorize(*context, request->tenant_id());
      !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  absl::StatusOr<rebound::v1::MemberScores> scores;
  {
    absl::MutexLock lock(&mu_);
    scores = store_.GetMemberScores(request->tenant_id(), request->member_id());
  }
  if (!scores.ok()) {
    reactor->Finish(ToGrpc(scores.status()));
    return reactor;
  }
  *response = std::move(*scores);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

absl::StatusOr<std::unique_ptr<ScoringServer>> ScoringServer::Start(
    const ScoringServerOptions& options, ClassifierConfig classifier,
    std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<ScoringServer> s(new ScoringServer());
  auto creds = ServerCredentialsFrom(options.tls_cert, options.tls_key);
  if (!creds.ok()) return creds.status();
  auto consumer =
      ScoringConsumer::Create(options.scoring, std::move(classifier), registry);
  if (!consumer.ok()) return consumer.status();
  s->consumer_ = std::move(*consumer);
  s->read_service_ =
      std::make_unique<ScoringReadService>(options.scoring.store, options.auth);

  auto grpc_server = StartGrpcServer(
      options.listen, *creds, s->read_service_.get(), options.max_message_bytes,
      kServiceName, options.connections);
  if (!grpc_server.ok()) return grpc_server.status();
  s->server_ = std::move(grpc_server->server);
  s->port_ = grpc_server->port;
  ScoringServer* raw = s.get();
  s->consumer_thread_ = std::thread([raw] {
    pthread_setname_np(pthread_self(), "scoring-consume");
    raw->consumer_status_ = raw->consumer_->Run(raw->stop_);
    raw->consumer_done_.Notify();
  });
  // Health follows the consumer's dependencies: NOT_SERVING while Redis or
  // Kafka is down.
  s->health_thread_ = FollowHealth(
      s->server_.get(), kServiceName,
      [raw] { return raw->consumer_->healthy(); }, &s->consumer_done_,
      "scoring");
  log::Info("scoring started", {{"port", s->port_}});
  return s;
}

absl::Status ScoringServer::Shutdown() {
  if (shut_down_) return consumer_status_;
  shut_down_ = true;
  server_->GetHealthCheckService()->Shutdown();
  stop_.store(true);
  if (consumer_thread_.joinable()) consumer_thread_.join();
  if (health_thread_.joinable()) health_thread_.join();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  log::Info("scoring drained", {{"processed", consumer_->processed()}});
  return consumer_status_;
}

ScoringServer::~ScoringServer() {
  (void)Shutdown();
  if (server_) server_->Wait();
}

}  // namespace rebound::scoring
