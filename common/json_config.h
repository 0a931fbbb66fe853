// Loading a JSON config file (classifier weights, retry policy): parse errors
// and I/O errors become statuses that name the file, never exceptions.
#ifndef REBOUND_COMMON_JSON_CONFIG_H_
#define REBOUND_COMMON_JSON_CONFIG_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace rebound {

// Parses `text` and hands the document to `parse` (which checks keys and
// types and reports them by name). INVALID_ARGUMENT "not valid JSON: ..." or
// "malformed: ..." when nlohmann throws.
template <typename T, typename Parse>
absl::StatusOr<T> ParseJsonConfig(const std::string& text, Parse parse) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", e.what()));
  }
  try {
    return parse(root);
  } catch (const nlohmann::json::exception& e) {
    // The parser's type checks should catch everything; this keeps a
    // surprise from escaping the module as an exception.
    return absl::InvalidArgumentError(absl::StrCat("malformed: ", e.what()));
  }
}

// Reads `path` and parses it with `parse_text`; every error is prefixed
// "<what> <path>: " (NOT_FOUND when the file cannot be opened).
template <typename T, typename ParseText>
absl::StatusOr<T> LoadJsonConfig(const std::string& what,
                                 const std::string& path,
                                 ParseText parse_text) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(what, " ", path, ": cannot open"));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  absl::StatusOr<T> c = parse_text(buf.str());
  if (!c.ok()) {
    return absl::Status(c.status().code(), absl::StrCat(what, " ", path, ": ",
                                                        c.status().message()));
  }
  return c;
}

}  // namespace rebound

#endif  // REBOUND_COMMON_JSON_CONFIG_H_
