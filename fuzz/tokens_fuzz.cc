// The tokens notify hands out and reads back, on any text:
// - a ListSuggestions page token decodes only if it is exactly the token
//   EncodePageToken issues for that cursor (so no second spelling, no
//   altered byte, passes), and never for another member or states filter;
// - a watch resume token ("<ms>-<seq>") parses only as digits-dash-digits
//   and reads back the same id when printed again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_check.h"
#include "services/notify/page_token.h"
#include "services/notify/stream_id.h"

using rebound::notify::PageScope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  const std::string_view key = rebound::notify::kDefaultPageTokenKey;
  const PageScope scope{"acme", "m-1", {1, 2}};
  if (auto cursor = rebound::notify::DecodePageToken(token, scope, key)) {
    FUZZ_CHECK(rebound::notify::EncodePageToken(*cursor, scope, key) == token,
               "a token decoded that is not the one issued for its cursor");
    const PageScope other_member{"acme", "m-2", {1, 2}};
    const PageScope other_states{"acme", "m-1", {1}};
    FUZZ_CHECK(!rebound::notify::DecodePageToken(token, other_member, key),
               "a token decoded for another member");
    FUZZ_CHECK(!rebound::notify::DecodePageToken(token, other_states, key),
               "a token decoded for another states filter");
  }
  if (auto id = rebound::notify::ParseStreamId(token)) {
    for (char c : token) {
      FUZZ_CHECK((c >= '0' && c <= '9') || c == '-',
                 "resume token with a byte %d parsed", c);
    }
    auto again =
        rebound::notify::ParseStreamId(absl::StrCat(id->ms, "-", id->seq));
    FUZZ_CHECK(again && *again == *id, "resume token does not read back");
  }
  return 0;
}
