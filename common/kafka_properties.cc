#include "common/kafka_properties.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "librdkafka/rdkafkacpp.h"

namespace rebound {
namespace {

bool IsSecurityKey(const std::string& key) {
  return absl::StartsWith(key, "security.") || absl::StartsWith(key, "sasl.") ||
         absl::StartsWith(key, "ssl.") ||
         key == "enable.ssl.certificate.verification";
}

std::map<std::string, std::string>& Properties() {
  static auto* properties = new std::map<std::string, std::string>;
  return *properties;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseKafkaProperties(
    const std::string& text) {
  std::map<std::string, std::string> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, " is not key=value"));
    }
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    // A key is a property name; a mistyped line ("sasl.password: x=")
    // would otherwise make a secret part of a key that errors quote.
    if (key.empty() ||
        key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._") !=
            std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, " has no property name before '='"));
    }
    if (!IsSecurityKey(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_no, ": '", key,
          "' is not a security setting (security.*, sasl.*, ssl.*, "
          "enable.ssl.certificate.verification)"));
    }
    if (!out.emplace(key, value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": '", key, "' is given twice"));
    }
  }
  return out;
}

void SetKafkaClientProperties(std::map<std::string, std::string> properties) {
  Properties() = std::move(properties);
}

const std::map<std::string, std::string>& KafkaClientProperties() {
  return Properties();
}

absl::Status ApplyKafkaClientProperties(RdKafka::Conf* conf) {
  std::string err;
  for (const auto& [k, v] : Properties()) {
    // Never quoted: these hold passwords.
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError("kafka-config-file: '" + k +
                                        "': " + err);
    }
  }
  return absl::OkStatus();
}

std::string ReadKafkaConfigFileSetting(ConfigReader& c) {
  const std::string path = c.String(
      "kafka-config-file", "",
      "librdkafka security settings for every Kafka client (key=value lines: "
      "security.protocol, sasl.mechanism, sasl.username, sasl.password, "
      "ssl.ca.location...); mount it as a secret file");
  if (path.empty()) return "plaintext";
  auto text = c.ReadSettingFile("kafka-config-file", path);
  if (!text) return "plaintext";
  auto props = ParseKafkaProperties(*text);
  if (!props.ok()) {
    c.Reject("kafka-config-file", std::string(props.status().message()));
    return "plaintext";
  }
  std::string protocol = props->contains("security.protocol")
                             ? props->at("security.protocol")
                             : "plaintext";
  SetKafkaClientProperties(*std::move(props));
  return protocol;
}

}  // namespace rebound
