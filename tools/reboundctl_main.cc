// reboundctl: a command-line client over Rebound's public gRPC APIs.
//
//   reboundctl publish FILE.jsonl        publish events (ConnectionEvent JSON
//   lines) reboundctl watch [--member=M]        stream suggestions (tenant-wide
//   without --member) reboundctl list --member=M [--state=READY] reboundctl
//   insights --member=M reboundctl scores --member=M reboundctl act|dismiss
//   --member=M --suggestion=ID
//   reboundctl assess DRAFT.json         assess a draft request before sending
//   (an AssessDraftRequest as protobuf JSON; --tenant fills tenant_id)
//
// Common settings (flags or REBOUND_* variables): --tenant, --token (bearer),
// --ingest-target, --notify-target, --scoring-target, --tls-ca (PEM: use TLS),
// --from-beginning, --resume-token, --max-updates (watch stops after N),
// --start-marker (watch: first print the token of where the watch starts).
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "rebound/v1/ingest.grpc.pb.h"
#include "rebound/v1/notify.grpc.pb.h"
#include "rebound/v1/scoring.grpc.pb.h"
#include "tools/ingest_client.h"

namespace {

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

int Fail(const grpc::Status& s) {
  std::cerr << "reboundctl: " << s.error_code() << " " << s.error_message()
            << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]).rfind("--", 0) == 0) {
    std::cerr << "usage: reboundctl "
                 "publish|assess|watch|list|insights|scores|act|dismiss "
                 "[FILE] "
                 "[--settings]; reboundctl help for settings\n";
    return 2;
  }
  std::string command = argv[1];
  std::string file;
  int skip = 2;
  if ((command == "publish" || command == "assess") && argc > 2 &&
      std::string(argv[2]).rfind("--", 0) != 0) {
    file = argv[2];
    skip = 3;
  }
  // ConfigReader skips argv[0]; hand it the settings only.
  std::vector<const char*> args = {argv[0]};
  for (int i = skip; i < argc; ++i) args.push_back(argv[i]);
  rebound::ConfigReader c(static_cast<int>(args.size()), args.data());
  std::string tenant = c.String("tenant", "", "tenant the calls act for");
  std::string token = c.String("token", "", "bearer token of that tenant");
  std::string member = c.String("member", "", "member id");
  std::string ingest =
      c.String("ingest-target", "127.0.0.1:50051", "ingest address");
  std::string notify =
      c.String("notify-target", "127.0.0.1:50053", "notify address");
  std::string scoring =
      c.String("scoring-target", "127.0.0.1:50052", "scoring address");
  std::string tls_ca =
      c.String("tls-ca", "", "CA certificate (PEM): connect with TLS");
  std::string state =
      c.String("state", "", "list: only this SuggestionState (e.g. READY)");
  std::string suggestion =
      c.String("suggestion", "", "act/dismiss: suggestion id");
  bool from_beginning =
      c.Bool("from-beginning", false, "watch: from the oldest kept update");
  bool start_marker = c.Bool(
      "start-marker", false,
      "watch: first an update with only the resume token of where the watch "
      "starts (keep it to resume without missing what comes before the "
      "first suggestion)");
  bool validate_only = c.Bool(
      "validate-only", false,
      "publish: only check the events against ingest's rules (nothing is "
      "published)");
  std::string resume =
      c.String("resume-token", "", "watch: resume after this token");
  int64_t max_updates =
      c.Int("max-updates", 0, 0, INT64_MAX, "watch: stop after N (0 = never)");
  const std::chrono::milliseconds timeout = c.Duration(
      "timeout", std::chrono::seconds(30),
      "deadline of each call but watch and publish (publish: 120 s a stream)");
  // gRPC aborts the process on a metadata value outside printable ASCII.
  for (unsigned char ch : token) {
    if (ch < 0x20 || ch > 0x7e) {
      c.Reject("token",
               "only printable ASCII is allowed (a newline at the end of a "
               "token file?)");
      break;
    }
  }
  if (command == "help" || c.help_requested()) {
    std::cout << c.Usage("reboundctl COMMAND");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "reboundctl: " << s.message() << "\n";
    return 2;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds =
      grpc::InsecureChannelCredentials();
  if (!tls_ca.empty()) {
    std::ifstream in(tls_ca);
    if (!in) {
      std::cerr << "reboundctl: setting 'tls-ca': cannot read '" << tls_ca
                << "'\n";
      return 2;
    }
    grpc::SslCredentialsOptions o;
    o.pem_root_certs.assign(std::istreambuf_iterator<char>(in), {});
    creds = grpc::SslCredentials(o);
  }
  // Every call but watch ends at --timeout.
  auto context = [&](grpc::ClientContext* ctx, bool deadline = true) {
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    if (deadline) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  };

  if (command == "publish") {
    if (file.empty()) {
      std::cerr
          << "reboundctl: publish needs a FILE of ConnectionEvent JSON lines\n";
      return 2;
    }
    std::ifstream in(file);
    if (!in) {
      std::cerr << "reboundctl: cannot read '" << file << "'\n";
      return 2;
    }
    std::vector<rebound::v1::ConnectionEvent> events;
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      rebound::v1::ConnectionEvent e;
      if (auto st = google::protobuf::util::JsonStringToMessage(line, &e);
          !st.ok()) {
        std::cerr << file << ":" << n << ": " << st.message() << "\n";
        return 1;
      }
      events.push_back(std::move(e));
    }
    rebound::tools::StreamPublishOptions o;
    size_t last = 0;
    o.progress = [&](size_t done, size_t total) {
      if (done - last >= std::max<size_t>(total / 20, 1) || done == total) {
        last = done;
        std::cerr << absl::StrFormat("\r  %zu/%zu events answered (%.0f%%)",
                                     done, total, 100.0 * done / total);
        if (done == total) std::cerr << "\n";
      }
    };
    o.metadata = token.empty() ? "" : "Bearer " + token;
    o.validate_only = validate_only;
    auto r = rebound::tools::PublishWithRetries(
        grpc::CreateChannel(ingest, creds), events, o);
    if (validate_only) {
      std::cout << absl::StrFormat("valid=%zu rejected=%zu in %.2fs\n", r.valid,
                                   r.rejected, r.seconds);
    } else {
      std::cout << absl::StrFormat(
          "published=%zu duplicates=%zu rejected=%zu failed=%zu in %.2fs\n",
          r.published, r.duplicates, r.rejected, r.failed, r.seconds);
    }
    for (const auto& res : r.results) {
      if (res.outcome() == rebound::v1::OUTCOME_REJECTED ||
          res.outcome() == rebound::v1::OUTCOME_FAILED) {
        std::cout << "  " << res.event_id() << ": " << res.field() << " "
                  << res.error() << "\n";
      }
    }
    if (!r.status.ok()) return Fail(r.status);
    return r.rejected + r.failed == 0 ? 0 : 1;
  }
  if (command == "assess") {
    if (file.empty()) {
      std::cerr << "reboundctl: assess needs a FILE holding an "
                   "AssessDraftRequest as JSON\n";
      return 2;
    }
    std::ifstream in(file);
    if (!in) {
      std::cerr << "reboundctl: cannot read '" << file << "'\n";
      return 2;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    rebound::v1::AssessDraftRequest req;
    if (auto st = google::protobuf::util::JsonStringToMessage(text, &req);
        !st.ok()) {
      std::cerr << file << ": " << st.message() << "\n";
      return 2;
    }
    if (req.tenant_id().empty()) req.set_tenant_id(tenant);
    auto stub =
        rebound::v1::Scoring::NewStub(grpc::CreateChannel(scoring, creds));
    grpc::ClientContext ctx;
    context(&ctx);
    rebound::v1::Assessment resp;
    auto s = stub->AssessDraft(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    std::cout << Json(resp) << "\n";
    return 0;
  }
  if (command == "scores") {
    auto stub =
        rebound::v1::Scoring::NewStub(grpc::CreateChannel(scoring, creds));
    grpc::ClientContext ctx;
    context(&ctx);
    rebound::v1::GetMemberScoresRequest req;
    req.set_tenant_id(tenant);
    req.set_member_id(member);
    rebound::v1::MemberScores resp;
    auto s = stub->GetMemberScores(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    std::cout << Json(resp) << "\n";
    return 0;
  }
  auto stub = rebound::v1::Notify::NewStub(grpc::CreateChannel(notify, creds));
  if (command == "watch") {
    grpc::ClientContext ctx;
    context(&ctx, /*deadline=*/false);
    rebound::v1::WatchSuggestionsRequest req;
    req.set_tenant_id(tenant);
    req.set_member_id(member);
    req.set_from_beginning(from_beginning);
    req.set_start_marker(start_marker);
    req.set_resume_token(resume);
    auto reader = stub->WatchSuggestions(&ctx, req);
    rebound::v1::SuggestionUpdate u;
    int64_t seen = 0;
    while (reader->Read(&u)) {
      std::cout << Json(u) << "\n" << std::flush;
      if (max_updates > 0 && ++seen >= max_updates) {
        ctx.TryCancel();
        break;
      }
    }
    auto s = reader->Finish();
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED)
      return Fail(s);
    return 0;
  }
  if (command == "list") {
    rebound::v1::ListSuggestionsRequest req;
    req.set_tenant_id(tenant);
    req.set_member_id(member);
    if (!state.empty()) {
      rebound::v1::SuggestionState st;
      if (!rebound::v1::SuggestionState_Parse("SUGGESTION_STATE_" + state,
                                              &st)) {
        std::cerr << "reboundctl: setting 'state': '" << state
                  << "' is not a SuggestionState\n";
        return 2;
      }
      req.add_states(st);
    }
    do {
      grpc::ClientContext ctx;
      context(&ctx);
      rebound::v1::ListSuggestionsResponse resp;
      auto s = stub->ListSuggestions(&ctx, req, &resp);
      if (!s.ok()) return Fail(s);
      for (const auto& sg : resp.suggestions()) std::cout << Json(sg) << "\n";
      req.set_page_token(resp.next_page_token());
    } while (!req.page_token().empty());
    return 0;
  }
  if (command == "insights") {
    grpc::ClientContext ctx;
    context(&ctx);
    rebound::v1::GetInsightsRequest req;
    req.set_tenant_id(tenant);
    req.set_member_id(member);
    rebound::v1::Insights resp;
    auto s = stub->GetInsights(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    std::cout << Json(resp) << "\n";
    return 0;
  }
  if (command == "act" || command == "dismiss") {
    grpc::ClientContext ctx;
    context(&ctx);
    rebound::v1::SuggestionActionRequest req;
    req.set_tenant_id(tenant);
    req.set_member_id(member);
    req.set_suggestion_id(suggestion);
    rebound::v1::RetrySuggestion resp;
    auto s = command == "act" ? stub->MarkActed(&ctx, req, &resp)
                              : stub->Dismiss(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    std::cout << Json(resp) << "\n";
    return 0;
  }
  std::cerr << "reboundctl: unknown command '" << command << "'\n";
  return 2;
}
