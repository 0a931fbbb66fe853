// Security settings for every Kafka client a process creates (producers,
// consumers, admin), from --kafka-config-file: a librdkafka properties file
// (key=value lines, # comments) limited to the security keys (security.*,
// sasl.*, ssl.*, enable.ssl.certificate.verification), so a broker that
// requires SASL or TLS can be reached without the service's own settings
// (acks, idempotence, group ids) being changed by accident.
#ifndef REBOUND_COMMON_KAFKA_PROPERTIES_H_
#define REBOUND_COMMON_KAFKA_PROPERTIES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace rebound {

// Parses `text`; INVALID_ARGUMENT naming the line for a line that is not
// key=value or a key outside the security keys. Values are never quoted in
// errors (they hold passwords).
absl::StatusOr<std::map<std::string, std::string>> ParseKafkaProperties(
    const std::string& text);

// Sets the properties every Kafka client of this process gets; call once at
// start, before any client is created.
void SetKafkaClientProperties(std::map<std::string, std::string> properties);

// What SetKafkaClientProperties set (empty by default).
const std::map<std::string, std::string>& KafkaClientProperties();

}  // namespace rebound

#endif  // REBOUND_COMMON_KAFKA_PROPERTIES_H_
