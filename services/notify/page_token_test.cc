#include "services/notify/page_token.h"

#include <string>

#include "gtest/gtest.h"

namespace rebound::notify {
namespace {

const PageScope kScope{"acme", "carol", {2, 1}};

TEST(PageToken, RoundTripsACursorInItsScope) {
  const PageCursor c{1796093163774, "v:ev-1:x/ü"};
  const std::string t = EncodePageToken(c, kScope, kDefaultPageTokenKey);
  auto back = DecodePageToken(t, kScope, kDefaultPageTokenKey);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, c);
  // The states filter in another order or repeated is the same scope.
  auto same = DecodePageToken(t, PageScope{"acme", "carol", {1, 2, 2}},
                              kDefaultPageTokenKey);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(*same, c);
  // Opaque: the id is not readable in the token.
  EXPECT_EQ(t.find("ev-1"), std::string::npos);
}

TEST(PageToken, RefusesAnyAlteredByteAndAnyOtherScopeOrKey) {
  const std::string t =
      EncodePageToken({42, "s1"}, kScope, kDefaultPageTokenKey);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < t.size(); ++i) {
    for (char c : alphabet) {
      if (c == t[i]) continue;
      std::string bad = t;
      bad[i] = c;
      EXPECT_FALSE(DecodePageToken(bad, kScope, kDefaultPageTokenKey))
          << "byte " << i << " -> " << c;
    }
  }
  for (size_t n = 0; n < t.size(); ++n) {
    EXPECT_FALSE(DecodePageToken(t.substr(0, n), kScope, kDefaultPageTokenKey));
  }
  for (const std::string& bad : {t + "A", t + "=", " " + t, t + " ", t + "\n",
                                 std::string("5"), std::string("+3")}) {
    EXPECT_FALSE(DecodePageToken(bad, kScope, kDefaultPageTokenKey)) << bad;
  }
  EXPECT_FALSE(DecodePageToken(t, PageScope{"acme", "dave", {1, 2}},
                               kDefaultPageTokenKey));
  EXPECT_FALSE(DecodePageToken(t, PageScope{"acme2", "carol", {1, 2}},
                               kDefaultPageTokenKey));
  EXPECT_FALSE(DecodePageToken(t, PageScope{"acme", "carol", {2}},
                               kDefaultPageTokenKey));
  EXPECT_FALSE(
      DecodePageToken(t, PageScope{"acme", "carol", {}}, kDefaultPageTokenKey));
  EXPECT_FALSE(DecodePageToken(t, kScope, "another key"));
  // Tenant and member boundaries are not ambiguous.
  const std::string ab =
      EncodePageToken({1, "x"}, PageScope{"ab", "c", {}}, kDefaultPageTokenKey);
  EXPECT_FALSE(
      DecodePageToken(ab, PageScope{"a", "bc", {}}, kDefaultPageTokenKey));
}

}  // namespace
}  // namespace rebound::notify
