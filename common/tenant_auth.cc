#include "common/tenant_auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rebound {

absl::StatusOr<TenantAuth> TenantAuth::Parse(const std::string& spec) {
  TenantAuth auth;
  if (spec.empty()) return auth;
  int entry = 0;
  for (absl::string_view pair : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
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
    if (parts[1].size() < 8) {
      return absl::InvalidArgumentError(
          which + ": the token is shorter than 8 characters");
    }
    if (!auth.tenant_by_token_.emplace(parts[1], parts[0]).second) {
      return absl::InvalidArgumentError(
          which + ": the same token is given for an earlier entry");
    }
  }
  return auth;
}

grpc::Status TenantAuth::TenantOf(const grpc::ServerContextBase& context,
                                  std::string* tenant) const {
  tenant->clear();
  if (!enabled()) return grpc::Status::OK;
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  if (md.count("authorization") > 1) {
    // Which one a proxy or library would pick differs: refuse, never guess.
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "more than one 'authorization' metadata entry");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata is not 'Bearer <token>'");
  }
  auto t = tenant_by_token_.find(std::string(value));
  if (t == tenant_by_token_.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
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
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        "tenant_id: this token may not act for tenant '" + tenant + "'");
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
    const std::string& cert_path, const std::string& key_path) {
  if (cert_path.empty() && key_path.empty())
    return grpc::InsecureServerCredentials();
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
  return grpc::SslServerCredentials(o);
}

}  // namespace rebound
