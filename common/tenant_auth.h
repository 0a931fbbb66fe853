// Binds gRPC calls to tenants by bearer token
// (`authorization: Bearer <token>`), and optional TLS for servers.
#ifndef REBOUND_COMMON_TENANT_AUTH_H_
#define REBOUND_COMMON_TENANT_AUTH_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

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

  // Also (or only) accept a verified client certificate: a call without an
  // authorization header acts for the tenant named by its certificate's
  // subject Common Name (which must be a valid tenant id). Only meaningful
  // on a port that requires client certificates (--tls-client-ca).
  void AcceptClientCertificates() { client_certs_ = true; }
  bool enabled() const { return !tenant_by_token_.empty() || client_certs_; }
  // How calls are authenticated, for the start-up log: "bearer tokens (2
  // tenants)", "client certificates", both, or "none".
  std::string Mode() const;
  // Counts refused calls in `registry` as rebound_auth_failures_total
  // {reason: missing_credentials, bad_token, bad_certificate,
  // wrong_tenant}; every copy of this TenantAuth counts there.
  // The registry is kept alive by the counters (copies may outlive the
  // server that registered them).
  void CountFailuresIn(std::shared_ptr<prometheus::Registry> registry) const;

  // OK when the call may act for `tenant`: UNAUTHENTICATED without a known
  // token, PERMISSION_DENIED when the token belongs to another tenant.
  grpc::Status Authorize(const grpc::ServerContextBase& context,
                         const std::string& tenant) const;

  // The tenant the call's token belongs to ("" when authentication is off),
  // or UNAUTHENTICATED. For calls that carry many tenant ids (ingest).
  grpc::Status TenantOf(const grpc::ServerContextBase& context,
                        std::string* tenant) const;

  // For one item of such a call naming `wanted` while the caller is
  // `caller` (from TenantOf): counted and logged as a wrong_tenant
  // failure; returns the reason to give that item (PERMISSION_DENIED).
  std::string RefuseItemForTenant(const std::string& caller,
                                  const std::string& wanted) const;

 private:
  enum Failure { kMissing, kBadToken, kBadCertificate, kWrongTenant, kKinds };
  grpc::Status Refuse(Failure why, grpc::StatusCode code,
                      const std::string& message) const;
  grpc::Status TenantOfCertificate(const grpc::ServerContextBase& context,
                                   std::string* tenant) const;

  // Raw SHA-256 digest of a token -> its tenant.
  std::map<std::string, std::string> tenant_by_token_;
  bool client_certs_ = false;
  // Shared by copies (services copy their TenantAuth); set once at start.
  struct Counters {
    std::array<std::atomic<prometheus::Counter*>, kKinds> by_reason{};
    std::shared_ptr<prometheus::Registry> registry;  // Owns the counters.
  };
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

// Server credentials: TLS from PEM files when both paths are set, else
// insecure; with `client_ca_path` too, clients must present a certificate
// that CA signed (mutual TLS). Errors name the setting whose file cannot
// be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFrom(
    const std::string& cert_path, const std::string& key_path,
    const std::string& client_ca_path = "");

}  // namespace rebound

#endif  // REBOUND_COMMON_TENANT_AUTH_H_
