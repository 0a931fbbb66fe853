// Binds gRPC calls to tenants by bearer token
// (`authorization: Bearer <token>`), and optional TLS for servers.
#ifndef REBOUND_COMMON_TENANT_AUTH_H_
#define REBOUND_COMMON_TENANT_AUTH_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace rebound {

class TenantAuth {
 public:
  TenantAuth() = default;
  // "tenant-a:token-a,tenant-b:token-b" (commas or newlines between
  // entries). A token may be given as its SHA-256 instead,
  // "tenant:sha256:<64 hex digits>", so the list need not hold secrets.
  // Empty: authentication off (every call may act for any tenant; for local
  // development only). A list with text but no entry (",") is an error, not
  // "off". Only tokens' SHA-256 digests are kept: a presented token is
  // hashed and its digest looked up, so no comparison runs over a secret.
  static absl::StatusOr<TenantAuth> Parse(const std::string& spec);

  // The SHA-256 of `token`, hex: what "tenant:sha256:<hex>" holds.
  static std::string TokenDigestHex(const std::string& token);

  bool enabled() const { return !tenant_by_token_.empty(); }

  // OK when the call may act for `tenant`: UNAUTHENTICATED without a known
  // token, PERMISSION_DENIED when the token belongs to another tenant.
  grpc::Status Authorize(const grpc::ServerContextBase& context,
                         const std::string& tenant) const;

  // The tenant the call's token belongs to ("" when authentication is off),
  // or UNAUTHENTICATED. For calls that carry many tenant ids (ingest).
  grpc::Status TenantOf(const grpc::ServerContextBase& context,
                        std::string* tenant) const;

 private:
  // Raw SHA-256 digest of a token -> its tenant.
  std::map<std::string, std::string> tenant_by_token_;
};

// Server credentials: TLS from PEM files when both paths are set, else
// insecure. Errors name the setting whose file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFrom(
    const std::string& cert_path, const std::string& key_path);

}  // namespace rebound

#endif  // REBOUND_COMMON_TENANT_AUTH_H_
