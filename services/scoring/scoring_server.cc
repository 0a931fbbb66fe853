#include "services/scoring/scoring_server.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/grpc_server.h"
#include "common/ids.h"
#include "common/log.h"
#include "services/ingest/validator.h"
#include "services/scoring/assess.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "state/send_days.h"

namespace rebound::scoring {
namespace {
constexpr char kServiceName[] = "rebound.v1.Scoring";

}  // namespace

ScoringReadService::ScoringReadService(ScoreStoreOptions options,
                                       TenantAuth auth,
                                       ClassifierConfig classifier,
                                       notify::RetryPolicyConfig policy,
                                       int read_connections,
                                       prometheus::Counter* refused)
    : auth_(std::move(auth)),
      classifier_(std::move(classifier)),
      policy_(std::move(policy)),
      stores_(read_connections,
              [options = std::move(options)] {
                return std::make_unique<ScoreStore>(options);
              }),
      workers_(read_connections, 64 * std::max(read_connections, 1),
               "scoring-calls", refused) {}

grpc::ServerUnaryReactor* ScoringReadService::GetMemberScores(
    grpc::CallbackServerContext* context,
    const rebound::v1::GetMemberScoresRequest* request,
    rebound::v1::MemberScores* response) {
  return workers_.Unary(context, [this, context, request, response] {
    return GetMemberScoresNow(context, request, response);
  });
}

grpc::Status ScoringReadService::GetMemberScoresNow(
    grpc::CallbackServerContext* context,
    const rebound::v1::GetMemberScoresRequest* request,
    rebound::v1::MemberScores* response) {
  if (auto why = TenantIdProblem(request->tenant_id())) {
    return InvalidField("tenant_id", *why);
  }
  if (auto why = IdProblem(request->member_id(), /*allow_slash=*/false)) {
    return InvalidField("member_id", *why);
  }
  if (grpc::Status auth = auth_.Authorize(*context, request->tenant_id());
      !auth.ok()) {
    return auth;
  }
  auto store = stores_.Borrow(WaitWithinDeadline(*context, absl::Seconds(5)));
  if (!store.ok()) {
    return ToGrpcStatus(store.status());
  }
  absl::StatusOr<rebound::v1::MemberScores> scores =
      (*store)->GetMemberScores(request->tenant_id(), request->member_id());
  if (!scores.ok()) {
    return ToGrpcStatus(scores.status());
  }
  *response = std::move(*scores);
  return grpc::Status::OK;
}

namespace {

// How far ahead a draft may be planned.
constexpr absl::Duration kMaxPlanAhead = absl::Hours(24 * 90);

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// When enough of the sends counted in days [day-6, day] age out of the
// rolling week for the count to fall below `budget`.
absl::Time BudgetFreesAt(const state::SendDayRing& ring, int64_t day,
                         int64_t budget) {
  for (int64_t d = day - 6; d <= day; ++d) {
    // Once day d has left the window (at the start of day d + 7).
    if (ring.SentInDays(d + 1, day) < budget) {
      return absl::FromUnixSeconds((d + 7) * 86400);
    }
  }
  return absl::FromUnixSeconds((day + 7) * 86400);
}

}  // namespace

grpc::ServerUnaryReactor* ScoringReadService::AssessDraft(
    grpc::CallbackServerContext* context,
    const rebound::v1::AssessDraftRequest* request,
    rebound::v1::Assessment* response) {
  return workers_.Unary(context, [this, context, request, response] {
    return Assess(*context, *request, response);
  });
}

grpc::Status ScoringReadService::Assess(
    const grpc::CallbackServerContext& context,
    const rebound::v1::AssessDraftRequest& request,
    rebound::v1::Assessment* response) {
  if (auto why = TenantIdProblem(request.tenant_id())) {
    return InvalidField("tenant_id", *why);
  }
  if (auto why = IdProblem(request.sender_id(), /*allow_slash=*/false)) {
    return InvalidField("sender_id", *why);
  }
  if (auto why = IdProblem(request.recipient_id(), /*allow_slash=*/false)) {
    return InvalidField("recipient_id", *why);
  }
  if (request.recipient_id() == request.sender_id()) {
    return InvalidField("recipient_id", "is the sender");
  }
  if (grpc::Status auth = auth_.Authorize(context, request.tenant_id());
      !auth.ok()) {
    return auth;
  }
  const absl::Time now = absl::Now();
  absl::Time planned = now;
  if (request.has_planned_send_at()) {
    const auto& ts = request.planned_send_at();
    if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
      return InvalidField("planned_send_at.nanos",
                          "is out of range 0..999999999");
    }
    planned = FromProto(ts);
    if (planned < absl::FromUnixSeconds(946684800)) {
      return InvalidField("planned_send_at", "is before 2000-01-01");
    }
    if (planned > now + kMaxPlanAhead) {
      return InvalidField("planned_send_at", "is more than 90 days ahead");
    }
  }
  if (!request.has_request()) return InvalidField("request", "is required");
  // The draft is checked as ingest checks a RequestSent (an absent sender
  // profile is filled from Redis below, so it is checked as an empty one).
  rebound::v1::ConnectionEvent as_event;
  as_event.set_event_id("draft");
  as_event.set_tenant_id(request.tenant_id());
  as_event.set_sender_id(request.sender_id());
  as_event.set_recipient_id(request.recipient_id());
  as_event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(now));
  auto* sent = as_event.mutable_request_sent();
  *sent = request.request();
  if (sent->request_id().empty()) sent->set_request_id("draft");
  const bool has_sender_profile = sent->has_sender_profile();
  if (!has_sender_profile) sent->mutable_sender_profile();
  if (auto err = ingest::Validate(as_event, now)) {
    absl::string_view field = err->field;
    if (absl::ConsumePrefix(&field, "request_sent")) {
      return InvalidField(absl::StrCat("request", field), err->reason);
    }
    return InvalidField(err->field, err->reason);
  }

  auto store = stores_.Borrow(WaitWithinDeadline(context, absl::Seconds(5)));
  if (!store.ok()) return ToGrpcStatus(store.status());
  absl::StatusOr<state::DraftState> st = (*store)->ReadDraftState(
      request.tenant_id(), request.sender_id(), request.recipient_id());
  if (!st.ok()) return ToGrpcStatus(st.status());

  DraftContext d;
  d.tenant = request.tenant_id();
  d.sender = request.sender_id();
  d.recipient = request.recipient_id();
  d.request = request.request();
  if (!has_sender_profile) {
    if (!st->sender.profile) {
      return InvalidField("request.sender_profile",
                          "is required: Rebound holds no profile of the "
                          "sender yet");
    }
    *d.request.mutable_sender_profile() = *st->sender.profile;
  }
  d.planned_at = planned;
  const auto& snd = st->sender;
  d.sent = snd.sent;
  d.accepted = snd.accepted;
  d.declined = snd.declined;
  d.reported = snd.reported;
  d.pending = snd.pending;
  const int64_t day = state::UtcDay(absl::ToUnixSeconds(planned));
  // The classifier's send rate: the 7 days before the send; account
  // safety's rolling week: that day and the 6 before.
  d.sent_last_7d = snd.send_days.SentInDays(day - 7, day - 1);
  d.sent_this_week = snd.send_days.SentInDays(day - 6, day);
  d.recent_answers = state::RecentAnswersOf(snd, day);
  if (d.sent_this_week >= policy_.account_safety.weekly_budget) {
    d.budget_frees_at =
        BudgetFreesAt(snd.send_days, day, policy_.account_safety.weekly_budget);
  }
  d.pair_requests = st->pair.requests;
  if (st->pair.last_sent_at) {
    d.pair_last_sent = absl::FromUnixSeconds(*st->pair.last_sent_at);
  }
  d.prior_retries = st->prior_retries;
  d.recipient_received = st->recipient.received;
  d.recipient_accepted = st->recipient.accepted;
  d.recipient_declined = st->recipient.declined;
  d.recipient_accept_hours = st->recipient.accept_hours;
  d.recipient_utc_offset_minutes = st->recipient.utc_offset_minutes;
  *response = scoring::Assess(classifier_, policy_, d);
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<ScoringServer>> ScoringServer::Start(
    const ScoringServerOptions& given, ClassifierConfig classifier,
    std::shared_ptr<prometheus::Registry> registry) {
  ScoringServerOptions options = given;
  if (!options.scoring.store.at_risk) {
    options.scoring.store.at_risk =
        AtRiskJudge(options.retry_policy.account_safety);
  }
  options.auth.CountFailuresIn(registry);
  std::unique_ptr<ScoringServer> s(new ScoringServer());
  auto host = ServiceHost::Start(
      HostOptionsOf(options, "scoring", kServiceName),
      std::make_unique<ScoringReadService>(
          options.scoring.store, options.auth, classifier, options.retry_policy,
          options.read_connections,
          &prometheus::BuildCounter()
               .Name("rebound_scoring_calls_refused_total")
               .Help("Read API calls answered RESOURCE_EXHAUSTED: every call "
                     "worker busy and the queue full")
               .Register(*registry)
               .Add({})),
      [&]() -> absl::StatusOr<std::unique_ptr<PipelineStage>> {
        auto c = ScoringConsumer::Create(options.scoring, std::move(classifier),
                                         registry);
        if (!c.ok()) return c.status();
        s->consumer_ = c->get();
        return std::unique_ptr<PipelineStage>(std::move(*c));
      });
  if (!host.ok()) return host.status();
  s->host_ = std::move(*host);
  s->registry_ = registry;
  s->at_risk_judge_ = options.scoring.store.at_risk;
  s->at_risk_gauge_ = &prometheus::BuildGauge()
                           .Name("rebound_members_at_risk")
                           .Help(
                               "Members whose sending puts their account at "
                               "risk, per tenant (judged at each send "
                               "and answer, re-judged as of the tenant's "
                               "clock before each read)")
                           .Register(*registry);
  s->at_risk_redis_ =
      std::make_unique<RedisClient>(options.scoring.store.redis);
  const absl::Duration every = options.at_risk_refresh;
  ScoringServer* self = s.get();
  s->at_risk_thread_ = std::thread([self, every] {
    while (true) {
      self->RefreshAtRisk();
      absl::MutexLock lock(&self->at_risk_mu_);
      if (self->at_risk_mu_.AwaitWithTimeout(
              absl::Condition(&self->at_risk_stop_), every)) {
        return;
      }
    }
  });
  return s;
}

void ScoringServer::RefreshAtRisk() {
  absl::MutexLock refresh(&refresh_mu_);
  // Bounded: the tenants with open invites, a label each.
  constexpr size_t kMaxTenants = 10'000;
  auto tenants = at_risk_redis_->Command({"SMEMBERS", state::TenantsKey()});
  if (!tenants.ok()) return;  // Kept as last read; Redis health says why.
  size_t n = 0;
  // A tenant whose sweep or count fails (its node of a cluster down, a key
  // of the wrong type) keeps its last figure; the others go on. One line
  // per refresh says how many and the first error. Redis itself unreachable
  // (several tenants in a row UNAVAILABLE or timing out, each costing a
  // connect timeout), a refresh past its time budget, or a stop ends it:
  // the tenants not reached keep their figures too.
  constexpr int kMaxUnreachableInARow = 3;
  constexpr absl::Duration kBudget = absl::Seconds(20);
  const absl::Time until = absl::Now() + kBudget;
  int failed = 0, unreachable_in_a_row = 0;
  absl::Status first;
  for (const auto& t : tenants->array) {
    if (++n > kMaxTenants) break;
    {
      absl::MutexLock lock(&at_risk_mu_);
      if (at_risk_stop_) break;
    }
    if (unreachable_in_a_row >= kMaxUnreachableInARow || absl::Now() > until) {
      failed += static_cast<int>(tenants->array.size() - (n - 1));
      if (first.ok()) first = absl::DeadlineExceededError("refresh budget");
      break;
    }
    const state::TenantKeys keys(t.str);
    absl::Status s = at_risk_judge_ ? SweepAtRisk(t.str) : absl::OkStatus();
    absl::StatusOr<RedisValue> count = absl::UnknownError("not read");
    if (s.ok()) {
      count = at_risk_redis_->Command({"SCARD", keys.AtRisk()});
      s = count.status();
    }
    if (!s.ok()) {
      if (failed++ == 0) first = s;
      const bool unreachable =
          absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
      unreachable_in_a_row = unreachable ? unreachable_in_a_row + 1 : 0;
      continue;
    }
    unreachable_in_a_row = 0;
    at_risk_gauge_->Add({{"tenant", t.str}})
        .Set(static_cast<double>(count->integer));
  }
  if (failed > 0) {
    log::Warn("members at risk: tenants not refreshed, their last figures kept",
              {{"tenants", std::to_string(failed)},
               {"error", std::string(first.message())}});
  }
}

absl::Status ScoringServer::SweepAtRisk(const std::string& tenant) {
  const state::TenantKeys keys(tenant);
  auto clock = at_risk_redis_->Command(state::ReadTenantClock(tenant));
  if (!clock.ok()) return clock.status();
  const int64_t day = state::UtcDay(
      absl::ToUnixSeconds(absl::Now() + state::TenantClockLag(*clock)));
  std::string& cursor = at_risk_cursors_[tenant];
  if (cursor.empty()) cursor = "0";
  int reviewed = 0;
  do {
    auto scan = at_risk_redis_->Command(
        {"SSCAN", keys.AtRisk(), cursor, "COUNT", "200"});
    if (!scan.ok()) return scan.status();
    if (scan->array.size() != 2) {
      return absl::InternalError("SSCAN: unexpected reply");
    }
    cursor = scan->array[0].str;
    std::vector<std::string> escaped;
    std::vector<std::vector<std::string>> reads;
    for (const auto& m : scan->array[1].array) {
      std::string id;
      if (!state::UnescapeId(m.str, &id)) continue;
      escaped.push_back(m.str);
      reads.push_back({"HGETALL", state::MemberKeys(tenant, id).Sender()});
    }
    reviewed += static_cast<int>(scan->array[1].array.size());
    if (reads.empty()) continue;
    auto hashes = at_risk_redis_->Pipeline(reads);
    if (!hashes.ok()) return hashes.status();
    std::vector<std::string> gone = {"SREM", keys.AtRisk()};
    for (size_t i = 0; i < escaped.size(); ++i) {
      const state::SenderState sender = state::DecodeSender((*hashes)[i]);
      if (!at_risk_judge_(state::CountsAsOf(sender, day))) {
        gone.push_back(escaped[i]);
      }
    }
    // A member the consumer judges at risk between the read and this
    // removal comes back at its next event (the consumer adds a member at
    // risk at each of its events).
    if (gone.size() > 2) {
      auto removed = at_risk_redis_->Command(gone);
      if (!removed.ok()) return removed.status();
    }
  } while (cursor != "0" && reviewed < kReviewPerPass);
  return absl::OkStatus();
}

void ScoringServer::StopAtRisk() {
  {
    absl::MutexLock lock(&at_risk_mu_);
    at_risk_stop_ = true;
  }
  if (at_risk_thread_.joinable()) at_risk_thread_.join();
}

absl::Status ScoringServer::Shutdown() {
  // The at-risk pass in progress is told first but joined last: health
  // turns NOT_SERVING and the drain starts without waiting for it.
  {
    absl::MutexLock lock(&at_risk_mu_);
    at_risk_stop_ = true;
  }
  absl::Status drained = host_->Shutdown();
  StopAtRisk();
  return drained;
}

ScoringServer::~ScoringServer() { StopAtRisk(); }

}  // namespace rebound::scoring
