#include "common/proto_wire.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace rebound::wire {

void PutBytes(int field, std::string_view bytes, std::string* out) {
  google::protobuf::io::StringOutputStream raw(out);
  google::protobuf::io::CodedOutputStream o(&raw);
  o.WriteTag(static_cast<uint32_t>(field) << 3 | 2);
  o.WriteVarint32(static_cast<uint32_t>(bytes.size()));
  o.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
}

void PutVarint(int field, uint64_t value, std::string* out) {
  google::protobuf::io::StringOutputStream raw(out);
  google::protobuf::io::CodedOutputStream o(&raw);
  o.WriteTag(static_cast<uint32_t>(field) << 3 | 0);
  o.WriteVarint64(value);
}

bool Parse(std::string_view bytes, std::vector<Field>* out) {
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  while (!in.ExpectAtEnd()) {
    // A tag that does not read (cut short, over 32 bits, 0) is not one.
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    Field f;
    f.number = static_cast<int>(tag >> 3);
    if (f.number == 0) return false;
    switch (tag & 7) {
      case 0:
        if (!in.ReadVarint64(&f.value)) return false;
        break;
      case 2: {
        uint32_t n = 0;
        if (!in.ReadVarint32(&n) || n > bytes.size() ||
            !in.ReadString(&f.bytes, static_cast<int>(n))) {
          return false;
        }
        f.delimited = true;
        break;
      }
      default:
        return false;
    }
    out->push_back(std::move(f));
  }
  return in.CurrentPosition() == static_cast<int>(bytes.size());
}

}  // namespace rebound::wire
