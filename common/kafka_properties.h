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

namespace RdKafka {
class Conf;
}

namespace rebound {

class ConfigReader;

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

// Sets KafkaClientProperties() on `conf` (a client's global config); an
// error names the key, never the value.
absl::Status ApplyKafkaClientProperties(RdKafka::Conf* conf);

// Reads the --kafka-config-file setting (rejecting it in `c` when the file
// cannot be read or parsed) and sets the properties; returns the
// security.protocol in force ("plaintext" when the file sets none).
std::string ReadKafkaConfigFileSetting(ConfigReader& c);

}  // namespace rebound

#endif  // REBOUND_COMMON_KAFKA_PROPERTIES_H_
