// ListSuggestions page tokens: keyset cursors, opaque to clients.
//
// A token names the last index entry a page consumed (its creation time,
// which is its score in the member's index, and its suggestion id), so the
// next page starts strictly after it in the index's order (newest first,
// ties by id, descending): new suggestions (newer, so before it) and state
// changes (which move nothing in the index) neither skip nor repeat an item.
// It is bound to the request it continues (tenant, member, the states
// filter) and sealed with a keyed SHA-256 MAC: a token altered in any byte,
// cut short, or used with another member or filter does not parse.
#ifndef REBOUND_SERVICES_NOTIFY_PAGE_TOKEN_H_
#define REBOUND_SERVICES_NOTIFY_PAGE_TOKEN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rebound::notify {

struct PageCursor {
  int64_t created_ms = 0;
  std::string suggestion_id;
  friend bool operator==(const PageCursor&, const PageCursor&) = default;
};

// What a token is bound to: the request it continues.
struct PageScope {
  std::string_view tenant;
  std::string_view member;
  std::vector<int> states;  // Any order; duplicates ignored.
};

// The token for `cursor` in `scope`, sealed with `key` (any bytes; every
// replica must use the same one).
std::string EncodePageToken(const PageCursor& cursor, const PageScope& scope,
                            std::string_view key);

// The cursor of a token EncodePageToken issued for the same scope and key;
// nullopt for anything else.
std::optional<PageCursor> DecodePageToken(std::string_view token,
                                          const PageScope& scope,
                                          std::string_view key);

// The key used when the operator sets none (--page-token-key-file): tokens
// are still tamper-evident, but a client that knows this key could forge
// one; a forged cursor only moves within the member's own list.
inline constexpr std::string_view kDefaultPageTokenKey =
    "rebound notify page token v1";

}  // namespace rebound::notify

#endif  // REBOUND_SERVICES_NOTIFY_PAGE_TOKEN_H_
