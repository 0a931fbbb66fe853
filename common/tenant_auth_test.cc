// Token lists: plaintext and SHA-256 entries, the lists that used to turn
// authentication off silently, and the token file setting.
#include "common/tenant_auth.h"

#include <cstdio>
#include <fstream>

#include "common/config.h"
#include "common/grpc_server.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

TEST(TenantAuth, DigestsAreSha256Hex) {
  EXPECT_EQ(TenantAuth::TokenDigestHex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TenantAuth, ParsesPlainAndHashedTokens) {
  auto a = TenantAuth::Parse("acme:plain-token-1,beta:sha256:" +
                             TenantAuth::TokenDigestHex("hashed-token-2") +
                             "\n# a comment\n");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->enabled());
  EXPECT_FALSE(TenantAuth::Parse("").value().enabled());
}

TEST(TenantAuth, ListsThatWouldTurnAuthOffOrAreMalformedAreRefused) {
  struct Case {
    std::string spec, says;
  };
  for (const Case& c : std::vector<Case>{
           {",", "no tenant:token entry"},
           {" , \n,", "no tenant:token entry"},
           {"# only a comment", "no tenant:token entry"},
           {"acme", "entry 1 is not tenant:token"},
           {"acme:short", "shorter than 8"},
           {"acme:sha256:abc", "64 hex digits"},
           {"Acme!:long-enough-token", "tenant id"},
           {"acme:token-one-1,beta:token-one-1", "entry 2 (tenant 'beta')"},
       }) {
    auto a = TenantAuth::Parse(c.spec);
    ASSERT_FALSE(a.ok()) << c.spec;
    EXPECT_NE(a.status().message().find(c.says), std::string::npos)
        << c.spec << ": " << a.status();
    // Errors never hold the token.
    EXPECT_EQ(a.status().message().find("token-one-1"), std::string::npos);
  }
}

TEST(TenantAuth, TokensComeFromAFileWhenAsked) {
  const std::string path = ::testing::TempDir() + "/tokens";
  {
    std::ofstream out(path);
    out << "# rotated 2026-12-01\nacme:file-token-1\n";
  }
  const std::string flag = "--tenant-tokens-file=" + path;
  const char* argv[] = {"prog", flag.c_str()};
  ConfigReader c(2, argv, [](const std::string&) { return std::nullopt; });
  GrpcPortSecurity s = ReadGrpcPortSecurity(c);
  EXPECT_TRUE(c.Finish().ok()) << c.Finish();
  EXPECT_TRUE(s.auth.enabled());
  // Both ways at once, or a file that cannot be read: refused by name.
  const char* both[] = {"prog", flag.c_str(), "--tenant-tokens=acme:abcdefgh"};
  ConfigReader c2(3, both, [](const std::string&) { return std::nullopt; });
  ReadGrpcPortSecurity(c2);
  ASSERT_FALSE(c2.Finish().ok());
  EXPECT_NE(c2.Finish().message().find("tenant-tokens-file"),
            std::string::npos);
  const char* missing[] = {"prog", "--tenant-tokens-file=/nonexistent/x"};
  ConfigReader c3(2, missing, [](const std::string&) { return std::nullopt; });
  ReadGrpcPortSecurity(c3);
  ASSERT_FALSE(c3.Finish().ok());
  EXPECT_NE(c3.Finish().message().find("cannot read"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace rebound
