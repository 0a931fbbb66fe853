#include "services/scoring/scoring_server.h"

#include "common/grpc_server.h"
#include "common/ids.h"
#include "common/log.h"

namespace rebound::scoring {
namespace {
constexpr char kServiceName[] = "rebound.v1.Scoring";

}  // namespace

ScoringReadService::ScoringReadService(ScoreStoreOptions options,
                                       TenantAuth auth, int read_connections)
    : auth_(std::move(auth)),
      stores_(read_connections, [options = std::move(options)] {
        return std::make_unique<ScoreStore>(options);
      }) {}

grpc::ServerUnaryReactor* ScoringReadService::GetMemberScores(
    grpc::CallbackServerContext* context,
    const rebound::v1::GetMemberScoresRequest* request,
    rebound::v1::MemberScores* response) {
  auto* reactor = context->DefaultReactor();
  if (auto why = TenantIdProblem(request->tenant_id())) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "tenant_id: " + *why));
    return reactor;
  }
  if (auto why = IdProblem(request->member_id(), /*allow_slash=*/false)) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "member_id: " + *why));
    return reactor;
  }
  if (grpc::Status auth = auth_.Authorize(*context, request->tenant_id());
      !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  auto store = stores_.Borrow(absl::Seconds(5));
  if (!store.ok()) {
    reactor->Finish(ToGrpcStatus(store.status()));
    return reactor;
  }
  absl::StatusOr<rebound::v1::MemberScores> scores =
      (*store)->GetMemberScores(request->tenant_id(), request->member_id());
  if (!scores.ok()) {
    reactor->Finish(ToGrpcStatus(scores.status()));
    return reactor;
  }
  *response = std::move(*scores);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

absl::StatusOr<std::unique_ptr<ScoringServer>> ScoringServer::Start(
    const ScoringServerOptions& options, ClassifierConfig classifier,
    std::shared_ptr<prometheus::Registry> registry) {
  options.auth.CountFailuresIn(registry);
  std::unique_ptr<ScoringServer> s(new ScoringServer());
  auto host = ServiceHost::Start(
      HostOptionsOf(options, "scoring", kServiceName),
      std::make_unique<ScoringReadService>(options.scoring.store, options.auth,
                                           options.read_connections),
      [&]() -> absl::StatusOr<std::unique_ptr<PipelineStage>> {
        auto c = ScoringConsumer::Create(options.scoring, std::move(classifier),
                                         registry);
        if (!c.ok()) return c.status();
        s->consumer_ = c->get();
        return std::unique_ptr<PipelineStage>(std::move(*c));
      });
  if (!host.ok()) return host.status();
  s->host_ = std::move(*host);
  return s;
}

}  // namespace rebound::scoring
