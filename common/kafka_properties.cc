#include "common/kafka_properties.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

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

}  // namespace rebound
