#include "services/notify/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "absl/strings/escaping.h"

namespace rebound::notify {
namespace {

constexpr char kVersion = 1;
constexpr size_t kMacBytes = 16;
constexpr size_t kMaxIdBytes = 4096;

void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (i * 8)));
}

uint64_t GetU64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(s[i]);
  return v;
}

// The scope, length-prefixed field by field, so no two scopes encode alike.
std::string ScopeBytes(const PageScope& scope) {
  std::vector<int> states = scope.states;
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  std::string out;
  PutU64(scope.tenant.size(), &out);
  out.append(scope.tenant);
  PutU64(scope.member.size(), &out);
  out.append(scope.member);
  PutU64(states.size(), &out);
  for (int s : states) PutU64(static_cast<uint32_t>(s), &out);
  return out;
}

std::string Mac(std::string_view body, const PageScope& scope,
                std::string_view key) {
  const std::string scoped = ScopeBytes(scope) + std::string(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(scoped.data()), scoped.size(),
       mac, &len);
  return std::string(reinterpret_cast<const char*>(mac),
                     std::min<size_t>(len, kMacBytes));
}

}  // namespace

std::string EncodePageToken(const PageCursor& cursor, const PageScope& scope,
                            std::string_view key) {
  std::string body;
  body.push_back(kVersion);
  PutU64(static_cast<uint64_t>(cursor.created_ms), &body);
  body.append(cursor.suggestion_id);
  return absl::WebSafeBase64Escape(body + Mac(body, scope, key));
}

std::optional<PageCursor> DecodePageToken(std::string_view token,
                                          const PageScope& scope,
                                          std::string_view key) {
  // Canonical unpadded base64url only: re-encoding must give the token back.
  std::string raw;
  if (token.empty() || token.size() > 2 * kMaxIdBytes ||
      !absl::WebSafeBase64Unescape(
          absl::string_view(token.data(), token.size()), &raw) ||
      absl::WebSafeBase64Escape(raw) != std::string(token)) {
    return std::nullopt;
  }
  if (raw.size() < 1 + 8 + kMacBytes || raw[0] != kVersion) return std::nullopt;
  const std::string_view all(raw);
  const std::string_view body = all.substr(0, raw.size() - kMacBytes);
  const std::string_view mac = all.substr(raw.size() - kMacBytes);
  const std::string want = Mac(body, scope, key);
  if (CRYPTO_memcmp(want.data(), mac.data(), kMacBytes) != 0) {
    return std::nullopt;
  }
  PageCursor c;
  c.created_ms = static_cast<int64_t>(GetU64(body.substr(1, 8)));
  c.suggestion_id = std::string(body.substr(9));
  return c;
}

}  // namespace rebound::notify
