#include "common/reflection_v1.h"

#include <memory>
#include <mutex>
#include <set>

#include "common/proto_wire.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace rebound {
namespace {

namespace pb = google::protobuf;

// ServerReflectionRequest fields.
constexpr int kHost = 1;
constexpr int kFileByFilename = 3;
constexpr int kFileContainingSymbol = 4;
constexpr int kFileContainingExtension = 5;
constexpr int kAllExtensionNumbersOfType = 6;
constexpr int kListServices = 7;
// ServerReflectionResponse fields.
constexpr int kValidHost = 1;
constexpr int kOriginalRequest = 2;
constexpr int kFileDescriptorResponse = 4;
constexpr int kAllExtensionNumbersResponse = 5;
constexpr int kListServicesResponse = 6;
constexpr int kErrorResponse = 7;

std::string Error(grpc::StatusCode code, const std::string& message) {
  std::string e;
  wire::PutVarint(1, static_cast<uint64_t>(code), &e);
  wire::PutBytes(2, message, &e);
  return e;
}

// A FileDescriptorResponse: `file` and every file it imports, each once,
// dependencies first.
std::string Files(const pb::FileDescriptor* file) {
  std::vector<const pb::FileDescriptor*> order;
  std::set<const pb::FileDescriptor*> seen;
  std::vector<std::pair<const pb::FileDescriptor*, int>> stack{{file, 0}};
  seen.insert(file);
  while (!stack.empty()) {
    auto& [f, next] = stack.back();
    if (next < f->dependency_count()) {
      const pb::FileDescriptor* dep = f->dependency(next++);
      if (seen.insert(dep).second) stack.push_back({dep, 0});
      continue;
    }
    order.push_back(f);
    stack.pop_back();
  }
  std::string out;
  for (const pb::FileDescriptor* f : order) {
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    wire::PutBytes(1, proto.SerializeAsString(), &out);
  }
  return out;
}

class Reactor : public grpc::ServerGenericBidiReactor {
 public:
  explicit Reactor(const ReflectionV1Service* service) : service_(service) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    grpc::Slice slice;
    if (!request_.DumpToSingleSlice(&slice).ok()) {
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "unreadable request"));
      return;
    }
    const std::string answer(reinterpret_cast<const char*>(slice.begin()),
                             slice.size());
    const std::string bytes = service_->Answer(answer);
    grpc::Slice out(bytes);
    response_ = grpc::ByteBuffer(&out, 1);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  const ReflectionV1Service* service_;
  grpc::ByteBuffer request_, response_;
};

class Unimplemented : public grpc::ServerGenericBidiReactor {
 public:
  explicit Unimplemented(const std::string& method) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "unknown method " + method));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* ReflectionV1Service::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  if (context->method() !=
      std::string("/") + kReflectionV1Service + "/ServerReflectionInfo") {
    return new Unimplemented(context->method());
  }
  return new Reactor(this);
}

std::string ReflectionV1Service::Answer(const std::string& request) const {
  std::string out;
  // A real request is a name or two; a large one (the port takes megabytes)
  // would be parsed into a field per two bytes and echoed back whole.
  constexpr size_t kMaxRequestBytes = 64 * 1024;
  if (request.size() > kMaxRequestBytes) {
    wire::PutBytes(
        kErrorResponse,
        Error(grpc::StatusCode::INVALID_ARGUMENT,
              "ServerReflectionRequest of " + std::to_string(request.size()) +
                  " bytes; at most 65536 are read"),
        &out);
    return out;
  }
  std::vector<wire::Field> fields;
  if (!wire::Parse(request, &fields)) {
    wire::PutBytes(kErrorResponse,
                   Error(grpc::StatusCode::INVALID_ARGUMENT,
                         "not a ServerReflectionRequest"),
                   &out);
    return out;
  }
  std::string host;
  for (const wire::Field& f : fields) {
    if (f.number == kHost) host = f.bytes;
  }
  wire::PutBytes(kValidHost, host, &out);
  // Echoed as it came (it parsed, so the answer parses too).
  wire::PutBytes(kOriginalRequest, request, &out);
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  for (const wire::Field& f : fields) {
    switch (f.number) {
      case kListServices: {
        std::string list;
        for (const std::string& name : services_) {
          std::string one;
          wire::PutBytes(1, name, &one);
          wire::PutBytes(1, one, &list);
        }
        wire::PutBytes(kListServicesResponse, list, &out);
        return out;
      }
      case kFileByFilename: {
        const pb::FileDescriptor* file = pool->FindFileByName(f.bytes);
        if (file == nullptr) break;
        wire::PutBytes(kFileDescriptorResponse, Files(file), &out);
        return out;
      }
      case kFileContainingSymbol: {
        const pb::FileDescriptor* file =
            pool->FindFileContainingSymbol(f.bytes);
        if (file == nullptr) break;
        wire::PutBytes(kFileDescriptorResponse, Files(file), &out);
        return out;
      }
      case kFileContainingExtension: {
        std::vector<wire::Field> ext;
        std::string type;
        int64_t number = -1;
        if (wire::Parse(f.bytes, &ext)) {
          for (const wire::Field& e : ext) {
            if (e.number == 1) type = e.bytes;
            if (e.number == 2) number = static_cast<int32_t>(e.value);
          }
        }
        const pb::Descriptor* d = pool->FindMessageTypeByName(type);
        const pb::FieldDescriptor* x =
            d == nullptr
                ? nullptr
                : pool->FindExtensionByNumber(d, static_cast<int>(number));
        if (x == nullptr) break;
        wire::PutBytes(kFileDescriptorResponse, Files(x->file()), &out);
        return out;
      }
      case kAllExtensionNumbersOfType: {
        const pb::Descriptor* d = pool->FindMessageTypeByName(f.bytes);
        if (d == nullptr) break;
        std::vector<const pb::FieldDescriptor*> exts;
        pool->FindAllExtensions(d, &exts);
        std::string numbers, resp;
        for (const pb::FieldDescriptor* e : exts) {
          // Unpacked repeated int32: every parser reads it.
          wire::PutVarint(2, static_cast<uint64_t>(e->number()), &numbers);
        }
        wire::PutBytes(1, f.bytes, &resp);
        resp += numbers;
        wire::PutBytes(kAllExtensionNumbersResponse, resp, &out);
        return out;
      }
      default:
        continue;
    }
    wire::PutBytes(kErrorResponse,
                   Error(grpc::StatusCode::NOT_FOUND, "not found: " + f.bytes),
                   &out);
    return out;
  }
  wire::PutBytes(kErrorResponse,
                 Error(grpc::StatusCode::INVALID_ARGUMENT,
                       "the request names nothing to reflect on"),
                 &out);
  return out;
}

ReflectionV1Service* NewReflectionV1(std::vector<std::string> services) {
  static std::mutex mu;
  // Never destroyed (servers stopped at exit may still point here); a few
  // hundred bytes per server started.
  static auto* kept = new std::vector<std::unique_ptr<ReflectionV1Service>>();
  std::lock_guard<std::mutex> lock(mu);
  kept->push_back(std::make_unique<ReflectionV1Service>(std::move(services)));
  return kept->back().get();
}

}  // namespace rebound
