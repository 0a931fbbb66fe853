// The rules for ids in events and API requests, shared by every service so
// an id ingest accepts is one notify and scoring accept too.
//
// Member, recipient, request and suggestion ids: 1..128 characters (Unicode
// code points) of well-formed UTF-8, so at most 512 bytes; no control
// characters (C0, DEL, C1); not only whitespace; member ids also no '/'.
// Tenant ids: 2..63 of [a-z0-9-], not starting with '-'.
#ifndef REBOUND_COMMON_IDS_H_
#define REBOUND_COMMON_IDS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rebound {

inline constexpr size_t kMaxIdChars = 128;
inline constexpr size_t kMaxIdBytes = 4 * kMaxIdChars;

// Why `id` is not a valid member id (`allow_slash` false) or request or
// suggestion id (true); nullopt when it is. `utf8_checked`: the caller
// already knows it is well-formed UTF-8.
std::optional<std::string> IdProblem(std::string_view id, bool allow_slash,
                                     bool utf8_checked = false);

// Why `id` is not a valid tenant id; nullopt when it is.
std::optional<std::string> TenantIdProblem(std::string_view id);

}  // namespace rebound

#endif  // REBOUND_COMMON_IDS_H_
