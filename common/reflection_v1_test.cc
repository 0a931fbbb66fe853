// Reflection v1's answers read back with protobuf's own parser, through
// the v1alpha descriptors gRPC's reflection library links in (the same
// fields and numbers under another package).
#include "common/reflection_v1.h"

#include <memory>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

namespace pb = google::protobuf;

class ReflectionV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    pool_ = pb::DescriptorPool::generated_pool();
    request_type_ = pool_->FindMessageTypeByName(
        "grpc.reflection.v1alpha.ServerReflectionRequest");
    response_type_ = pool_->FindMessageTypeByName(
        "grpc.reflection.v1alpha.ServerReflectionResponse");
    ASSERT_NE(request_type_, nullptr);
    ASSERT_NE(response_type_, nullptr);
  }

  // Asks `text` (a ServerReflectionRequest in text format); the answer as
  // text format.
  std::string Ask(const std::string& text) {
    std::unique_ptr<pb::Message> req(
        factory_.GetPrototype(request_type_)->New());
    EXPECT_TRUE(pb::TextFormat::ParseFromString(text, req.get())) << text;
    const std::string answer = service_.Answer(req->SerializeAsString());
    std::unique_ptr<pb::Message> resp(
        factory_.GetPrototype(response_type_)->New());
    EXPECT_TRUE(resp->ParseFromString(answer));
    // The request is echoed.
    const pb::Reflection* r = resp->GetReflection();
    const pb::FieldDescriptor* original =
        response_type_->FindFieldByName("original_request");
    EXPECT_EQ(r->GetMessage(*resp, original).SerializeAsString(),
              req->SerializeAsString());
    std::string out;
    pb::TextFormat::PrintToString(*resp, &out);
    return out;
  }

  ReflectionV1Service service_{{"a.B", "grpc.reflection.v1.ServerReflection"}};
  const pb::DescriptorPool* pool_ = nullptr;
  const pb::Descriptor* request_type_ = nullptr;
  const pb::Descriptor* response_type_ = nullptr;
  pb::DynamicMessageFactory factory_;
};

TEST_F(ReflectionV1Test, ListsItsServices) {
  const std::string out = Ask("host: 'h' list_services: ''");
  EXPECT_NE(out.find("valid_host: \"h\""), std::string::npos) << out;
  EXPECT_NE(out.find("service {\n    name: \"a.B\"\n  }"), std::string::npos)
      << out;
  EXPECT_NE(out.find("name: \"grpc.reflection.v1.ServerReflection\""),
            std::string::npos)
      << out;
}

TEST_F(ReflectionV1Test, AnswersFilesBySymbolAndNameWithTheirImports) {
  // descriptor.proto imports nothing; the reflection proto's own file does.
  std::string out =
      Ask("file_containing_symbol: 'google.protobuf.FileDescriptorProto'");
  EXPECT_NE(out.find("file_descriptor_response"), std::string::npos) << out;
  EXPECT_EQ(out.find("error_response"), std::string::npos) << out;
  out = Ask("file_by_filename: 'google/protobuf/descriptor.proto'");
  EXPECT_NE(out.find("file_descriptor_response"), std::string::npos) << out;
}

TEST_F(ReflectionV1Test, UnknownSymbolsAreNotFound) {
  const std::string out = Ask("file_containing_symbol: 'no.such.Thing'");
  EXPECT_NE(out.find("error_code: 5"), std::string::npos) << out;
  EXPECT_EQ(out.find("file_descriptor_response"), std::string::npos);
  const std::string none = Ask("host: 'h'");
  EXPECT_NE(none.find("error_code: 3"), std::string::npos) << none;
}

TEST_F(ReflectionV1Test, GarbageIsAnErrorNotACrash) {
  for (const std::string& bad : {std::string("\xff\xff\xff"),
                                 std::string("\x22\x05"
                                             "ab"),
                                 std::string("\x0b")}) {
    const std::string answer = service_.Answer(bad);
    std::unique_ptr<pb::Message> resp(
        factory_.GetPrototype(response_type_)->New());
    ASSERT_TRUE(resp->ParseFromString(answer)) << testing::PrintToString(bad);
    std::string out;
    pb::TextFormat::PrintToString(*resp, &out);
    EXPECT_NE(out.find("error_code: 3"), std::string::npos) << out;
  }
}

TEST_F(ReflectionV1Test, AnOversizedRequestIsRefusedNotParsedNorEchoed) {
  // 1 MiB of two-byte fields (a valid request of empty hosts).
  std::string big;
  for (int i = 0; i < 512 * 1024; ++i) big += std::string("\x0a\x00", 2);
  const std::string answer = service_.Answer(big);
  EXPECT_LT(answer.size(), 1024u);
  std::unique_ptr<pb::Message> resp(
      factory_.GetPrototype(response_type_)->New());
  ASSERT_TRUE(resp->ParseFromString(answer));
  std::string out;
  pb::TextFormat::PrintToString(*resp, &out);
  EXPECT_NE(out.find("error_code: 3"), std::string::npos) << out;
  EXPECT_NE(out.find("1048576 bytes"), std::string::npos) << out;
}

}  // namespace
}  // namespace rebound
