#include "services/notify/notify_service.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_server.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics_server.h"
#include "services/notify/stream_id.h"

namespace rebound::notify {
namespace {

using rebound::v1::RetrySuggestion;

// How long a unary call waits for one of the instance's Redis connections.
constexpr absl::Duration kBorrowWait = absl::Seconds(5);

grpc::Status Invalid(const char* field, const std::string& why) {
  return InvalidField(field, why);
}

// The ids of a request, checked by the rules ingest applies to events
// (common/ids.h), before the token is matched to the tenant: a malformed
// id is the client's mistake, not a permission.
grpc::Status CheckTenant(const std::string& tenant) {
  if (auto why = TenantIdProblem(tenant)) return Invalid("tenant_id", *why);
  return grpc::Status::OK;
}
grpc::Status CheckMember(const std::string& member) {
  if (auto why = IdProblem(member, /*allow_slash=*/false)) {
    return Invalid("member_id", *why);
  }
  return grpc::Status::OK;
}

// One watcher: a thread of its own reads the Redis stream (blocking XREAD on
// its own connection) and queues what it reads; the writes are chained from
// OnWriteDone on gRPC's thread (no thread hand-off per update), and all but
// the last queued update go out with a buffer hint, so a read's updates
// leave in few flushes. The reader waits while kMaxQueued updates or
// kMaxQueuedBytes wait to be written (a slow client holds its own reader,
// nobody else's, and a bounded amount of memory); a client that reads
// nothing for the stall limit (60 s) while updates wait is cancelled, so a
// stalled peer does not keep a thread and its queue until its connection
// ages out. The reader makes the last call on the reactor: Finish(), once
// the queue is written or the call is cancelled.
class WatchReactor
    : public grpc::ServerWriteReactor<rebound::v1::SuggestionUpdate> {
 public:
  // `open` counts this watch (the caller added it) when `denied` is OK.
  WatchReactor(grpc::CallbackServerContext* context,
               SuggestionStoreOptions options,
               rebound::v1::WatchSuggestionsRequest request,
               grpc::Status denied,
               std::shared_ptr<NotifyService::OpenWatches> open)
      : state_(std::make_shared<State>()), context_(context) {
    if (!denied.ok()) {
      Finish(denied);
      return;
    }
    open_ = std::move(open);
    tenant_ = request.tenant_id();
    std::thread([this, st = state_, options, request]() mutable {
      pthread_setname_np(pthread_self(), "notify-watch");
      grpc::Status end = Loop(*st, options, request);
      {
        std::unique_lock<std::mutex> lock(st->mu);
        st->cv.wait(lock, [&] {
          return st->cancelled || (!st->writing && st->queue.empty());
        });
        // Cancelled: no write in flight either, before Finish().
        st->cv.wait(lock, [&] { return !st->writing; });
      }
      Finish(end);
    }).detach();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (!ok) {
        state_->cancelled = true;
        state_->writing = false;
        state_->cv.notify_all();
        return;
      }
      state_->writing = TakeNext(*state_);
      state_->cv.notify_all();
      if (!state_->writing) return;
    }
    StartCurrent();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->cancelled = true;
    state_->cv.notify_all();
  }
  void OnDone() override {
    if (open_) {
      open_->ReleaseTenant(tenant_);
      open_->count.fetch_sub(1);
      open_->gauge->Decrement();
    }
    delete this;
  }

 private:
  // Updates read and not yet written, at most this many (and this many
  // bytes, but always one) per watch.
  static constexpr size_t kMaxQueued = 1000;
  static constexpr size_t kMaxQueuedBytes = 256 * 1024;
  struct Queued {
    rebound::v1::SuggestionUpdate update;
    int64_t appended_ms = -1;  // Appended while watched: its delay counts.
    size_t bytes = 0;
  };
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool writing = false;
    bool cancelled = false;
    std::deque<Queued> queue;
    size_t queued_bytes = 0;
    // The write in flight and how it goes out: set by TakeNext under mu,
    // read by the StartCurrent that follows; the next TakeNext comes only
    // after its OnWriteDone.
    rebound::v1::SuggestionUpdate current;
    int64_t current_appended_ms = -1;
    bool more = false;  // More was queued behind `current`: buffer it.
  };

  // Moves the queue's front into `current`; false when empty. Under mu.
  static bool TakeNext(State& st) {
    if (st.queue.empty() || st.cancelled) return false;
    st.current = std::move(st.queue.front().update);
    st.current_appended_ms = st.queue.front().appended_ms;
    st.queued_bytes -= st.queue.front().bytes;
    st.queue.pop_front();
    st.more = !st.queue.empty();
    return true;
  }

  // Starts the write of `current` (mu not held: a reaction may run inline).
  void StartCurrent() {
    State& st = *state_;
    if (st.current_appended_ms >= 0 && open_) {
      const int64_t now_ms = absl::ToUnixMillis(absl::Now());
      open_->delay->Observe(static_cast<double>(std::max<int64_t>(
                                0, now_ms - st.current_appended_ms)) /
                            1000.0);
    }
    grpc::WriteOptions options;
    if (st.more) options.set_buffer_hint();
    StartWrite(&st.current, options);
  }

  // Queues one update (the reader's thread); false once cancelled, or
  // when the client read nothing for the stall limit (then the call is
  // cancelled here).
  bool Enqueue(State& st, Queued q) {
    q.bytes = q.update.ByteSizeLong();
    {
      std::unique_lock<std::mutex> lock(st.mu);
      auto room = [&] {
        return st.cancelled || st.queue.empty() ||
               (st.queue.size() < kMaxQueued &&
                st.queued_bytes + q.bytes <= kMaxQueuedBytes);
      };
      const absl::Duration limit =
          open_ ? open_->stall_limit : absl::Seconds(60);
      if (!st.cv.wait_for(lock, absl::ToChronoMilliseconds(limit), room)) {
        st.cancelled = true;
        lock.unlock();
        if (open_ && open_->stalled) open_->stalled->Increment();
        log::Warn(
            "watch cancelled: its client read nothing for the stall "
            "limit",
            {{"tenant", tenant_}, {"limit_s", absl::ToDoubleSeconds(limit)}});
        context_->TryCancel();
        return false;
      }
      if (st.cancelled) return false;
      st.queued_bytes += q.bytes;
      st.queue.push_back(std::move(q));
      // A write in flight: OnWriteDone chains this one.
      if (st.writing) return true;
      st.writing = TakeNext(st);
    }
    StartCurrent();
    return true;
  }

  grpc::Status Loop(State& st, const SuggestionStoreOptions& options,
                    const rebound::v1::WatchSuggestionsRequest& request) {
    SuggestionStore store(options);
    const std::string& tenant = request.tenant_id();
    const std::string& member = request.member_id();
    std::string after;
    const uint64_t opened_ms =
        static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
    if (!request.resume_token().empty()) {
      // Past the newest update (never issued, or the stream was reset):
      // tell the client to resync rather than wait in silence. On an empty
      // stream, a token from its Redis's future (ids are made from that
      // clock; 1 s of slack) was never issued: accepted, it would skip the
      // updates written before the clock reached it.
      auto last = store.LastEntryId(tenant, member);
      if (!last.ok()) return ToGrpcStatus(last.status());
      bool ahead =
          *last != "0-0" && StreamIdLess(*last, request.resume_token());
      if (*last == "0-0") {
        auto now_ms = store.StreamClockMs(tenant, member);
        if (!now_ms.ok()) return ToGrpcStatus(now_ms.status());
        ahead = ParseStreamId(request.resume_token())->ms > *now_ms + 1'000;
      }
      if (ahead) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_token: after the newest update; watch "
                            "without a token (or list) to resync");
      }
      auto first = store.FirstEntryId(tenant, member);
      if (!first.ok()) return ToGrpcStatus(first.status());
      if (!first->empty() && StreamIdLess(request.resume_token(), *first) &&
          request.resume_token() != "0-0") {
        // Older than what is kept: the token's own entry was trimmed, and
        // entries after it may have been too (a read after the token would
        // start at the oldest kept one either way). Tell the client rather
        // than silently skip them. ("0-0", the start marker of a stream
        // that was empty, means "from the start": served.)
        return grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            "resume_token: older than the updates kept; list to resync");
      }
      after = request.resume_token();
    } else if (request.from_beginning()) {
      after = "0-0";
    } else {
      auto last = store.LastEntryId(tenant, member);
      if (!last.ok()) return ToGrpcStatus(last.status());
      after = *last;
    }
    if (request.start_marker()) {
      Queued marker;
      marker.update.set_resume_token(after);
      if (!Enqueue(st, std::move(marker))) return grpc::Status::CANCELLED;
    }
    while (true) {
      {
        std::lock_guard<std::mutex> lock(st.mu);
        if (st.cancelled) return grpc::Status::CANCELLED;
      }
      auto entries =
          store.Read(tenant, member, after, absl::Milliseconds(500), 100);
      if (!entries.ok()) {
        // The detail (Redis's text, its address) is logged, not sent.
        grpc::Status failed = ToGrpcStatus(entries.status());
        return grpc::Status(
            failed.error_code(),
            failed.error_message() + " (resume with the last token received)");
      }
      for (auto& e : *entries) {
        if (e.corrupt) {  // Never served; the cursor moves past it.
          after = e.id;
          continue;
        }
        Queued q;
        *q.update.mutable_suggestion() = std::move(e.suggestion);
        q.update.set_resume_token(e.id);
        if (auto id = ParseStreamId(e.id); id && id->ms >= opened_ms) {
          q.appended_ms = static_cast<int64_t>(id->ms);
        }
        if (!Enqueue(st, std::move(q))) return grpc::Status::CANCELLED;
        after = e.id;
      }
    }
  }

  std::shared_ptr<State> state_;
  grpc::CallbackServerContext* context_;  // Outlives the reactor's calls.
  std::shared_ptr<NotifyService::OpenWatches> open_;  // Set when counted.
  std::string tenant_;  // Whose watch it counts as.
};

}  // namespace

NotifyService::NotifyService(SuggestionStoreOptions store, TenantAuth auth,
                             int max_watches,
                             std::shared_ptr<prometheus::Registry> registry,
                             int read_connections, int max_watches_per_tenant,
                             std::string page_token_key,
                             AccountSafetyConfig account_safety)
    : store_options_(store),
      auth_(std::move(auth)),
      max_watches_(max_watches),
      max_watches_per_tenant_(max_watches_per_tenant),
      page_token_key_(page_token_key.empty() ? std::string(kDefaultPageTokenKey)
                                             : std::move(page_token_key)),
      account_safety_(account_safety),
      open_watches_(std::make_shared<OpenWatches>()),
      stores_(read_connections,
              [store] { return std::make_unique<SuggestionStore>(store); }),
      workers_(read_connections, 64 * std::max(read_connections, 1),
               "notify-calls",
               &prometheus::BuildCounter()
                    .Name("rebound_notify_calls_refused_total")
                    .Help("Unary calls answered RESOURCE_EXHAUSTED: every "
                          "call worker busy and the queue full")
                    .Register(*registry)
                    .Add({})) {
  open_watches_->registry = registry;
  open_watches_->gauge = &prometheus::BuildGauge()
                              .Name("rebound_notify_open_watches")
                              .Help("WatchSuggestions streams open now")
                              .Register(*registry)
                              .Add({});
  open_watches_->delay =
      &prometheus::BuildHistogram()
           .Name("rebound_notify_watch_delay_seconds")
           .Help(
               "From a suggestion update's append to its stream to its "
               "write on a watch, for updates appended while the watch was "
               "open: the watch stage of the pipeline's latency")
           .Register(*registry)
           .Add({}, StageLatencyBuckets());
  open_watches_->stalled =
      &prometheus::BuildCounter()
           .Name("rebound_notify_watches_stalled_total")
           .Help(
               "WatchSuggestions streams cancelled because their client "
               "read nothing for the stall limit while updates waited")
           .Register(*registry)
           .Add({});
  refused_watches_ =
      &prometheus::BuildCounter()
           .Name("rebound_notify_watches_refused_total")
           .Help("WatchSuggestions calls refused at the --max-watches limit")
           .Register(*registry)
           .Add({});
}

grpc::ServerUnaryReactor* NotifyService::ListSuggestions(
    grpc::CallbackServerContext* context,
    const rebound::v1::ListSuggestionsRequest* request,
    rebound::v1::ListSuggestionsResponse* response) {
  return workers_.Unary(context, [this, context, request, response] {
    return ListSuggestionsNow(context, request, response);
  });
}

grpc::Status NotifyService::ListSuggestionsNow(
    grpc::CallbackServerContext* context,
    const rebound::v1::ListSuggestionsRequest* request,
    rebound::v1::ListSuggestionsResponse* response) {
  grpc::Status s = CheckTenant(request->tenant_id());
  if (s.ok()) s = CheckMember(request->member_id());
  const int size = request->page_size() == 0 ? 50 : request->page_size();
  if (s.ok() && (size < 1 || size > 500)) {
    s = Invalid("page_size", "must be 1..500 (0 for the default, 50)");
  }
  PageScope scope{request->tenant_id(), request->member_id(), {}};
  // There are five states; a longer list only costs time per suggestion.
  constexpr int kMaxStates = 16;
  if (s.ok() && request->states_size() > kMaxStates) {
    s = Invalid("states", absl::StrCat(request->states_size(),
                                       " entries, at most ", kMaxStates));
  }
  for (int i = 0; s.ok() && i < request->states_size(); ++i) {
    const int st = request->states(i);
    if (st == rebound::v1::SUGGESTION_STATE_UNSPECIFIED ||
        !rebound::v1::SuggestionState_IsValid(st)) {
      s = Invalid("states", absl::StrCat("[", i, "] = ", st,
                                         " is not a suggestion state"));
    }
    scope.states.push_back(st);
  }
  std::optional<PageCursor> after;
  if (s.ok() && !request->page_token().empty()) {
    after = DecodePageToken(request->page_token(), scope, page_token_key_);
    if (!after) {
      s = Invalid("page_token",
                  "not a token this service issued for this member and "
                  "states filter");
    }
  }
  if (s.ok()) s = auth_.Authorize(*context, request->tenant_id());
  if (!s.ok()) {
    return s;
  }
  auto store = stores_.Borrow(WaitWithinDeadline(*context, kBorrowWait));
  if (!store.ok()) {
    return ToGrpcStatus(store.status());
  }
  std::function<bool(const RetrySuggestion&)> wanted;
  if (!scope.states.empty()) {
    wanted = [&scope](const RetrySuggestion& sg) {
      return std::find(scope.states.begin(), scope.states.end(), sg.state()) !=
             scope.states.end();
    };
  }
  auto page = (*store)->ListAfter(request->tenant_id(), request->member_id(),
                                  after, size, wanted);
  if (!page.ok()) {
    return ToGrpcStatus(page.status());
  }
  for (auto& sg : page->suggestions)
    *response->add_suggestions() = std::move(sg);
  if (page->next) {
    response->set_next_page_token(
        EncodePageToken(*page->next, scope, page_token_key_));
  }
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<rebound::v1::SuggestionUpdate>*
NotifyService::WatchSuggestions(
    grpc::CallbackServerContext* context,
    const rebound::v1::WatchSuggestionsRequest* request) {
  grpc::Status s = CheckTenant(request->tenant_id());
  if (s.ok() && !request->member_id().empty()) {
    s = CheckMember(request->member_id());
  }
  if (s.ok() && !request->resume_token().empty() &&
      !IsStreamId(request->resume_token())) {
    s = Invalid("resume_token", "not a token this service issued");
  }
  if (s.ok()) s = auth_.Authorize(*context, request->tenant_id());
  if (s.ok() && open_watches_->count.fetch_add(1) >= max_watches_) {
    open_watches_->count.fetch_sub(1);
    refused_watches_->Increment();
    s = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("this notify instance serves ", max_watches_,
                                  " watches at once; retry later (another "
                                  "replica may have room)"));
  }
  if (s.ok() && !open_watches_->AcquireTenant(request->tenant_id(),
                                              max_watches_per_tenant_)) {
    open_watches_->count.fetch_sub(1);
    refused_watches_->Increment();
    s = grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("this notify instance serves at most ",
                     max_watches_per_tenant_,
                     " watches of one tenant at once; retry later (another "
                     "replica may have room)"));
  }
  if (s.ok()) open_watches_->gauge->Increment();
  return new WatchReactor(context, store_options_, *request, s, open_watches_);
}

grpc::Status NotifyService::Transition(
    const grpc::CallbackServerContext& context,
    const rebound::v1::SuggestionActionRequest& request,
    rebound::v1::SuggestionState target, RetrySuggestion* response) {
  grpc::Status s = CheckTenant(request.tenant_id());
  if (s.ok()) s = CheckMember(request.member_id());
  if (s.ok()) {
    // A decline's suggestion id is its event id; a stale invite's is
    // "stale/" (earlier: "stale:") + its request id, which is an id itself.
    std::string_view id = request.suggestion_id();
    for (std::string_view prefix : {"stale/", "stale:"}) {
      if (id.size() > prefix.size() && id.substr(0, prefix.size()) == prefix) {
        id.remove_prefix(prefix.size());
        break;
      }
    }
    if (auto why = IdProblem(id, /*allow_slash=*/true)) {
      s = Invalid("suggestion_id", *why);
    }
  }
  if (s.ok()) s = auth_.Authorize(context, request.tenant_id());
  if (!s.ok()) return s;
  auto store = stores_.Borrow(WaitWithinDeadline(context, kBorrowWait));
  if (!store.ok()) return ToGrpcStatus(store.status());
  // A concurrent change on another replica takes the same version: retry on
  // what was stored.
  for (int attempt = 0; attempt < 5; ++attempt) {
    bool corrupt = false;
    auto got = (*store)->Get(request.tenant_id(), request.member_id(),
                             request.suggestion_id(), &corrupt);
    if (!got.ok()) return ToGrpcStatus(got.status());
    if (corrupt) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS,
                          "suggestion_id: suggestion '" +
                              request.suggestion_id() +
                              "' is corrupt in storage");
    }
    if (!got->has_value()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "suggestion_id: no suggestion '" +
                              request.suggestion_id() + "' for this member");
    }
    RetrySuggestion sg = **got;
    if (sg.state() == target) {
      *response = sg;
      return grpc::Status::OK;
    }
    if (target == rebound::v1::SUGGESTION_STATE_ACTED &&
        sg.state() == rebound::v1::SUGGESTION_STATE_DO_NOT_RETRY) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          "suggestion_id: advises not to retry (" +
              (sg.no_retry_reason().empty() ? std::string("DO_NOT_RETRY")
                                            : sg.no_retry_reason()) +
              "); there is nothing to act on, dismiss it instead");
    }
    if (sg.state() == rebound::v1::SUGGESTION_STATE_ACTED ||
        sg.state() == rebound::v1::SUGGESTION_STATE_DISMISSED) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "suggestion_id: already " +
                              rebound::v1::SuggestionState_Name(sg.state()));
    }
    sg.set_state(target);
    sg.set_version(sg.version() + 1);
    sg.mutable_updated_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    sg.mutable_updated_at()->set_nanos(0);
    auto stored = (*store)->Put(sg, {});
    if (!stored.ok()) return ToGrpcStatus(stored.status());
    if (stored->state() == target) {
      *response = *stored;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::ABORTED,
                      "suggestion kept changing; retry");
}

grpc::ServerUnaryReactor* NotifyService::MarkActed(
    grpc::CallbackServerContext* context,
    const rebound::v1::SuggestionActionRequest* request,
    RetrySuggestion* response) {
  return workers_.Unary(context, [this, context, request, response] {
    return Transition(*context, *request, rebound::v1::SUGGESTION_STATE_ACTED,
                      response);
  });
}

grpc::ServerUnaryReactor* NotifyService::Dismiss(
    grpc::CallbackServerContext* context,
    const rebound::v1::SuggestionActionRequest* request,
    RetrySuggestion* response) {
  return workers_.Unary(context, [this, context, request, response] {
    return Transition(*context, *request,
                      rebound::v1::SUGGESTION_STATE_DISMISSED, response);
  });
}

grpc::ServerUnaryReactor* NotifyService::GetInsights(
    grpc::CallbackServerContext* context,
    const rebound::v1::GetInsightsRequest* request,
    rebound::v1::Insights* response) {
  return workers_.Unary(context, [this, context, request, response] {
    return GetInsightsNow(context, request, response);
  });
}

grpc::Status NotifyService::GetInsightsNow(
    grpc::CallbackServerContext* context,
    const rebound::v1::GetInsightsRequest* request,
    rebound::v1::Insights* response) {
  grpc::Status s = CheckTenant(request->tenant_id());
  if (s.ok()) s = CheckMember(request->member_id());
  if (s.ok()) s = auth_.Authorize(*context, request->tenant_id());
  if (!s.ok()) {
    return s;
  }
  auto store = stores_.Borrow(WaitWithinDeadline(*context, kBorrowWait));
  if (!store.ok()) {
    return ToGrpcStatus(store.status());
  }
  auto data = (*store)->Insights(request->tenant_id(), request->member_id(),
                                 /*top_red_flags=*/5);
  if (!data.ok()) {
    return ToGrpcStatus(data.status());
  }
  if (data->scores) {
    const auto& as = data->scores->as_sender();
    SenderActivity activity;
    activity.sent = as.sent();
    activity.pending = as.pending();
    activity.sent_last_7_days = as.sent_last_7_days();
    activity.recent = as.recent_answers();
    *response->mutable_account_safety() =
        AssessAccount(account_safety_, activity);
    for (const auto& [name, n] : as.declines_by_reason()) {
      rebound::v1::DeclineReason r;
      if (!rebound::v1::DeclineReason_Parse(name, &r)) continue;
      auto* rc = response->add_decline_breakdown();
      rc->set_reason(r);
      rc->set_count(n);
    }
    *response->mutable_scores() = std::move(*data->scores);
  }
  for (auto& w : data->works) *response->add_what_works() = std::move(w);
  for (const auto& [signal, n] : data->red_flags) {
    auto* f = response->add_top_red_flags();
    f->set_signal(signal);
    f->set_count(n);
  }
  for (const auto& [state, n] : data->suggestions_by_state) {
    (*response->mutable_suggestions_by_state())[state] = n;
  }
  if (!data->scores && data->suggestions_by_state.empty()) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        "member_id: nothing known about '" + request->member_id() + "'");
  }
  return grpc::Status::OK;
}

}  // namespace rebound::notify
