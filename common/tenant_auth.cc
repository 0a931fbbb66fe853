#include "common/tenant_auth.h"

#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/log.h"

namespace rebound {

namespace {

std::string Sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof(md));
}

// Failed authentications, logged at most once a second and never with the
// token (the reasons below never quote one).
void LogRefused(const char* why) {
  static std::atomic<int64_t> last_ms{0};
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t last = last_ms.load(std::memory_order_relaxed);
  if (now_ms - last >= 1000 && last_ms.compare_exchange_strong(last, now_ms)) {
    log::Warn("authentication refused", {{"reason", why}});
  }
}

}  // namespace

std::string TenantAuth::TokenDigestHex(const std::string& token) {
  return absl::BytesToHexString(Sha256(token));
}

absl::StatusOr<TenantAuth> TenantAuth::Parse(const std::string& spec) {
  TenantAuth auth;
  if (spec.empty()) return auth;
  int entry = 0;
  for (absl::string_view pair :
       absl::StrSplit(spec, absl::ByAnyChar(",\n"), absl::SkipWhitespace())) {
    pair = absl::StripAsciiWhitespace(pair);
    if (absl::StartsWith(pair, "#")) continue;  // A comment line (a file).
    ++entry;
    std::vector<std::string> parts =
        absl::StrSplit(pair, absl::MaxSplits(':', 1));
    // Errors name the entry and its tenant, never the token: they end up in
    // logs.
    const std::string which = absl::StrCat(
        "entry ", entry,
        parts.size() == 2 && !parts[0].empty() ? " (tenant '" + parts[0] + "')"
                                               : std::string());
    if (parts.size() != 2 || parts[0].empty()) {
      return absl::InvalidArgumentError(which + " is not tenant:token");
    }
    if (auto why = TenantIdProblem(parts[0])) {
      return absl::InvalidArgumentError(which + ": the tenant id " + *why);
    }
    std::string digest;
    absl::string_view value = parts[1];
    if (absl::ConsumePrefix(&value, "sha256:")) {
      const bool hex =
          value.size() == 64 &&
          std::all_of(value.begin(), value.end(), [](char c) {
            return absl::ascii_isxdigit(static_cast<unsigned char>(c));
          });
      if (!hex) {
        return absl::InvalidArgumentError(
            which + ": a sha256: token needs 64 hex digits");
      }
      digest = absl::HexStringToBytes(absl::AsciiStrToLower(value));
    } else {
      if (parts[1].size() < 8) {
        return absl::InvalidArgumentError(
            which + ": the token is shorter than 8 characters");
      }
      digest = Sha256(parts[1]);
    }
    if (!auth.tenant_by_token_.emplace(digest, parts[0]).second) {
      return absl::InvalidArgumentError(
          which + ": the same token is given for an earlier entry");
    }
  }
  if (entry == 0) {
    return absl::InvalidArgumentError(
        "holds no tenant:token entry (leave it empty to turn authentication "
        "off)");
  }
  return auth;
}

std::string TenantAuth::Mode() const {
  std::string tokens;
  if (!tenant_by_token_.empty()) {
    std::set<std::string> tenants;
    for (const auto& [digest, tenant] : tenant_by_token_)
      tenants.insert(tenant);
    tokens = absl::StrCat("bearer tokens (", tenants.size(),
                          tenants.size() == 1 ? " tenant)" : " tenants)");
  }
  if (client_certs_) {
    return tokens.empty() ? "client certificates (tenant = subject CN)"
                          : tokens +
                                " or client certificates (tenant = "
                                "subject CN)";
  }
  return tokens.empty() ? "none" : tokens;
}

void TenantAuth::CountFailuresIn(
    std::shared_ptr<prometheus::Registry> registry) const {
  auto& family = prometheus::BuildCounter()
                     .Name("rebound_auth_failures_total")
                     .Help(
                         "Calls refused by authentication or "
                         "authorization, by reason")
                     .Register(*registry);
  const char* names[kKinds] = {"missing_credentials", "bad_token",
                               "bad_certificate", "wrong_tenant"};
  // Keep the newest registry alive before its counters are published;
  // an older one stays alive as long as a reader may hold its counter.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  static std::vector<std::shared_ptr<prometheus::Registry>>* kept =
      new std::vector<std::shared_ptr<prometheus::Registry>>;
  kept->push_back(registry);
  counters_->registry = registry;
  for (int i = 0; i < kKinds; ++i) {
    counters_->by_reason[i].store(&family.Add({{"reason", names[i]}}));
  }
}

grpc::Status TenantAuth::Refuse(Failure why, grpc::StatusCode code,
                                const std::string& message) const {
  if (prometheus::Counter* c = counters_->by_reason[why].load()) {
    c->Increment();
  }
  LogRefused(message.c_str());
  return grpc::Status(code, message);
}

std::string TenantAuth::RefuseItemForTenant(const std::string& caller,
                                            const std::string& wanted) const {
  // The caller learns only its own tenant, which it already knows; the
  // wanted id is its own input (validated as a tenant id before this).
  return Refuse(kWrongTenant, grpc::StatusCode::PERMISSION_DENIED,
                "the caller's credentials are for tenant '" + caller +
                    "', not '" + wanted + "'")
      .error_message();
}

grpc::Status TenantAuth::TenantOfCertificate(
    const grpc::ServerContextBase& context, std::string* tenant) const {
  auto auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return Refuse(kMissing, grpc::StatusCode::UNAUTHENTICATED,
                  "missing 'authorization: Bearer <token>' metadata or a "
                  "client certificate");
  }
  auto cn = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (cn.size() != 1) {
    return Refuse(kBadCertificate, grpc::StatusCode::UNAUTHENTICATED,
                  "the client certificate names no tenant (subject CN)");
  }
  const std::string name(cn[0].data(), cn[0].size());
  if (auto why = TenantIdProblem(name)) {
    return Refuse(
        kBadCertificate, grpc::StatusCode::UNAUTHENTICATED,
        "the client certificate's subject CN is not a tenant id: " + *why);
  }
  *tenant = name;
  return grpc::Status::OK;
}

grpc::Status TenantAuth::TenantOf(const grpc::ServerContextBase& context,
                                  std::string* tenant) const {
  tenant->clear();
  if (!enabled()) return grpc::Status::OK;
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    if (client_certs_) return TenantOfCertificate(context, tenant);
    return Refuse(kMissing, grpc::StatusCode::UNAUTHENTICATED,
                  "missing 'authorization: Bearer <token>' metadata");
  }
  if (md.count("authorization") > 1) {
    // Which one a proxy or library would pick differs: refuse, never guess.
    return Refuse(kBadToken, grpc::StatusCode::UNAUTHENTICATED,
                  "more than one 'authorization' metadata entry");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return Refuse(kBadToken, grpc::StatusCode::UNAUTHENTICATED,
                  "authorization metadata is not 'Bearer <token>'");
  }
  // Looked up by digest: the comparison never runs over the secret.
  auto t = tenant_by_token_.find(
      Sha256(std::string_view(value.data(), value.size())));
  if (t == tenant_by_token_.end()) {
    return Refuse(kBadToken, grpc::StatusCode::UNAUTHENTICATED,
                  "unknown bearer token");
  }
  *tenant = t->second;
  return grpc::Status::OK;
}

grpc::Status TenantAuth::Authorize(const grpc::ServerContextBase& context,
                                   const std::string& tenant) const {
  std::string own;
  grpc::Status s = TenantOf(context, &own);
  if (!s.ok() || !enabled()) return s;
  if (own != tenant) {
    return Refuse(
        kWrongTenant, grpc::StatusCode::PERMISSION_DENIED,
        "tenant_id: these credentials may not act for tenant '" + tenant + "'");
  }
  return grpc::Status::OK;
}

namespace {
absl::StatusOr<std::string> ReadFile(const std::string& setting,
                                     const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError("setting '" + setting +
                                      "': cannot read '" + path + "'");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFrom(
    const std::string& cert_path, const std::string& key_path,
    const std::string& client_ca_path) {
  if (cert_path.empty() && key_path.empty()) {
    if (!client_ca_path.empty()) {
      return absl::InvalidArgumentError(
          "setting 'tls-client-ca' needs 'tls-cert' and 'tls-key' (mutual "
          "TLS is TLS first)");
    }
    return grpc::InsecureServerCredentials();
  }
  if (cert_path.empty() || key_path.empty()) {
    return absl::InvalidArgumentError(
        "settings 'tls-cert' and 'tls-key' must be given together");
  }
  auto cert = ReadFile("tls-cert", cert_path);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("tls-key", key_path);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions o;
  o.pem_key_cert_pairs.push_back({*key, *cert});
  if (!client_ca_path.empty()) {
    auto ca = ReadFile("tls-client-ca", client_ca_path);
    if (!ca.ok()) return ca.status();
    o.pem_root_certs = *ca;
    o.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(o);
}

}  // namespace rebound
