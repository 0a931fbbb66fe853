// A few protobuf wire-format helpers for messages whose .proto files Debian
// 12 does not ship (google.rpc.Status and BadRequest, gRPC reflection v1):
// they are built and read field by field.
#ifndef REBOUND_COMMON_PROTO_WIRE_H_
#define REBOUND_COMMON_PROTO_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rebound::wire {

// Appends field `field` as length-delimited `bytes` (a string, bytes or a
// nested message).
void PutBytes(int field, std::string_view bytes, std::string* out);
// Appends field `field` as a varint.
void PutVarint(int field, uint64_t value, std::string* out);

// One field read back: length-delimited (`bytes`) or varint (`value`).
struct Field {
  int number = 0;
  bool delimited = false;
  std::string bytes;
  uint64_t value = 0;
};
// The fields of a message in order; false when `bytes` does not parse (or
// holds a wire type other than varint and length-delimited).
bool Parse(std::string_view bytes, std::vector<Field>* out);

}  // namespace rebound::wire

#endif  // REBOUND_COMMON_PROTO_WIRE_H_
