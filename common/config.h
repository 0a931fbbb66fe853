// Reads settings from command-line flags and REBOUND_* environment variables.
//
// A setting named "kafka-brokers" is read from `--kafka-brokers=VALUE` (or
// `--kafka-brokers VALUE`) first, then from REBOUND_KAFKA_BROKERS, then falls
// back to the default. Every malformed value, unknown flag or missing required
// setting is collected as an error naming the setting, so `main` can report
// all of them at once and exit before doing anything else.
#ifndef REBOUND_COMMON_CONFIG_H_
#define REBOUND_COMMON_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace rebound {

class ConfigReader {
 public:
  // `env` looks up an environment variable; defaults to std::getenv. Tests
  // pass their own.
  using EnvLookup =
      std::function<std::optional<std::string>(const std::string&)>;

  // With the default `env`, the names of the process's REBOUND_*
  // variables are kept too, for the check of misspelt ones
  // (RefuseMisspeltVariables).
  ConfigReader(int argc, const char* const* argv, EnvLookup env = nullptr);

  // The REBOUND_* variable names checked for misspellings (tests that pass
  // their own `env` pass these too).
  void SetEnvironmentNames(std::vector<std::string> names) {
    env_names_ = std::move(names);
  }
  // Makes Finish() refuse a REBOUND_* variable that names no setting of
  // this program but is a letter or two from one that is not given
  // (REBOUND_REDIS_ADRR for an unset REBOUND_REDIS_ADDR): the operator
  // meant a value and would silently get the default. One letter for
  // names of up to 8 characters after REBOUND_, two beyond. For the
  // services, whose settings are far from every other program's; a tool
  // sharing a shell with others (REBOUND_TENANT of reboundctl beside
  // rebound-sim's REBOUND_TENANTS) leaves it off.
  void RefuseMisspeltVariables() { refuse_misspelt_ = true; }

  // Each getter records the setting as known (for --help and unknown-flag
  // checks) and returns the default when the setting is absent or invalid.
  std::string String(const std::string& name, const std::string& def,
                     const std::string& help);
  // A setting that must be present and non-empty.
  std::string RequiredString(const std::string& name, const std::string& help);
  int64_t Int(const std::string& name, int64_t def, int64_t min, int64_t max,
              const std::string& help);
  double Double(const std::string& name, double def, double min, double max,
                const std::string& help);
  bool Bool(const std::string& name, bool def, const std::string& help);
  // Durations accept a number with a unit: "250ms", "5s", "2m", "1h", "21d".
  std::chrono::milliseconds Duration(const std::string& name,
                                     std::chrono::milliseconds def,
                                     const std::string& help);

  // True when --help was given.
  bool help_requested() const { return help_requested_; }
  // Text listing every setting read so far with its variable and help.
  std::string Usage(const std::string& program) const;

  // OK, or INVALID_ARGUMENT listing every problem (one per line, each naming
  // the flag and the variable). Call after every getter. An unknown flag a
  // letter or two from a setting names it ("did you mean").
  absl::Status Finish() const;

  // Records that `name`'s value, read by a getter above, cannot be used
  // (checked by the caller, e.g. a list that does not parse); Finish()
  // reports it like a malformed value, naming the setting and its source.
  void Reject(const std::string& name, const std::string& why);

  // The bytes of the file `path` that setting `name` gives; nullopt (and
  // `name` rejected: "cannot read '<path>'") when it cannot be read.
  std::optional<std::string> ReadSettingFile(const std::string& name,
                                             const std::string& path);

  // The environment variable for a setting name: "kafka-brokers" ->
  // "REBOUND_KAFKA_BROKERS".
  static std::string EnvName(const std::string& name);

 private:
  // Returns the raw value and where it came from, if present.
  std::optional<std::pair<std::string, std::string>> Lookup(
      const std::string& name);
  void AddError(const std::string& name, const std::string& source,
                const std::string& why);

  std::map<std::string, std::string> flags_;
  EnvLookup env_;
  std::vector<std::string> env_names_;
  bool refuse_misspelt_ = false;
  std::set<std::string> known_;
  std::map<std::string, std::string> sources_;  // Where each value came from.
  std::vector<std::string> usage_;
  std::vector<std::string> errors_;
  bool help_requested_ = false;
};

// Parses "250ms", "5s", "2m", "1h", "21d" (a bare number means milliseconds).
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text);

}  // namespace rebound

#endif  // REBOUND_COMMON_CONFIG_H_
