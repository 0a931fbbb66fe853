#include "common/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"

namespace rebound {

ConfigReader::ConfigReader(int argc, const char* const* argv, EnvLookup env)
    : env_(std::move(env)) {
  if (!env_) {
    env_ = [](const std::string& n) -> std::optional<std::string> {
      const char* v = std::getenv(n.c_str());
      if (v == nullptr) return std::nullopt;
      return std::string(v);
    };
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (entry.rfind("REBOUND_", 0) != 0) continue;
      env_names_.emplace_back(entry.substr(0, entry.find('=')));
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      errors_.push_back("unexpected argument '" + arg +
                        "': settings are given as --name=value");
      continue;
    }
    std::string body = arg.substr(2);
    auto eq = body.find('=');
    if (eq != std::string::npos) {
      flags_[body.substr(0, eq)] = body.substr(eq + 1);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      flags_[body] = argv[++i];
    } else {
      flags_[body] = "true";  // A bare boolean flag.
    }
  }
}

std::string ConfigReader::EnvName(const std::string& name) {
  std::string out = "REBOUND_";
  for (char c : name) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> ConfigReader::Lookup(
    const std::string& name) {
  known_.insert(name);
  if (auto it = flags_.find(name); it != flags_.end()) {
    sources_[name] = "--" + name;
    return std::make_pair(it->second, "--" + name);
  }
  if (auto v = env_(EnvName(name)); v.has_value()) {
    sources_[name] = EnvName(name);
    return std::make_pair(*v, EnvName(name));
  }
  return std::nullopt;
}

void ConfigReader::Reject(const std::string& name, const std::string& why) {
  auto it = sources_.find(name);
  AddError(name, it == sources_.end() ? "its default" : it->second, why);
}

void ConfigReader::AddError(const std::string& name, const std::string& source,
                            const std::string& why) {
  errors_.push_back("setting '" + name + "' (from " + source + "): " + why);
}

std::string ConfigReader::String(const std::string& name,
                                 const std::string& def,
                                 const std::string& help) {
  usage_.push_back("  --" + name + " / " + EnvName(name) + " (default \"" +
                   def + "\")\n      " + help);
  auto v = Lookup(name);
  return v ? v->first : def;
}

std::string ConfigReader::RequiredString(const std::string& name,
                                         const std::string& help) {
  usage_.push_back("  --" + name + " / " + EnvName(name) +
                   " (required)\n      " + help);
  auto v = Lookup(name);
  if (!v || v->first.empty()) {
    errors_.push_back("setting '" + name + "' is required: set --" + name +
                      " or " + EnvName(name));
    return "";
  }
  return v->first;
}

int64_t ConfigReader::Int(const std::string& name, int64_t def, int64_t min,
                          int64_t max, const std::string& help) {
  usage_.push_back("  --" + name + " / " + EnvName(name) + " (default " +
                   std::to_string(def) + ", " + std::to_string(min) + ".." +
                   std::to_string(max) + ")\n      " + help);
  auto v = Lookup(name);
  if (!v) return def;
  int64_t out = 0;
  if (!absl::SimpleAtoi(v->first, &out)) {
    AddError(name, v->second, "'" + v->first + "' is not an integer");
    return def;
  }
  if (out < min || out > max) {
    AddError(name, v->second,
             std::to_string(out) + " is out of range " + std::to_string(min) +
                 ".." + std::to_string(max));
    return def;
  }
  return out;
}

double ConfigReader::Double(const std::string& name, double def, double min,
                            double max, const std::string& help) {
  std::ostringstream u;
  u << "  --" << name << " / " << EnvName(name) << " (default " << def << ", "
    << min << ".." << max << ")\n      " << help;
  usage_.push_back(u.str());
  auto v = Lookup(name);
  if (!v) return def;
  double out = 0;
  if (!absl::SimpleAtod(v->first, &out)) {
    AddError(name, v->second, "'" + v->first + "' is not a number");
    return def;
  }
  if (out < min || out > max) {
    std::ostringstream e;
    e << out << " is out of range " << min << ".." << max;
    AddError(name, v->second, e.str());
    return def;
  }
  return out;
}

bool ConfigReader::Bool(const std::string& name, bool def,
                        const std::string& help) {
  usage_.push_back("  --" + name + " / " + EnvName(name) + " (default " +
                   (def ? "true" : "false") + ")\n      " + help);
  auto v = Lookup(name);
  if (!v) return def;
  bool out = false;
  if (!absl::SimpleAtob(v->first, &out)) {
    AddError(name, v->second,
             "'" + v->first + "' is not a boolean (true/false/1/0/yes/no)");
    return def;
  }
  return out;
}

std::chrono::milliseconds ConfigReader::Duration(const std::string& name,
                                                 std::chrono::milliseconds def,
                                                 const std::string& help) {
  usage_.push_back("  --" + name + " / " + EnvName(name) + " (default " +
                   std::to_string(def.count()) + "ms)\n      " + help);
  auto v = Lookup(name);
  if (!v) return def;
  auto d = ParseDuration(v->first);
  if (!d) {
    AddError(
        name, v->second,
        "'" + v->first + "' is not a duration (e.g. 250ms, 5s, 2m, 1h, 21d)");
    return def;
  }
  return *d;
}

std::string ConfigReader::Usage(const std::string& program) const {
  return "usage: " + program + " [--name=value ...]\n" +
         absl::StrJoin(usage_, "\n") + "\n";
}

std::optional<std::string> ConfigReader::ReadSettingFile(
    const std::string& name, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    Reject(name, "cannot read '" + path + "'");
    return std::nullopt;
  }
  return text.str();
}

namespace {

// Levenshtein distance between `a` and `b`, short names only.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

absl::Status ConfigReader::Finish() const {
  std::vector<std::string> errs = errors_;
  for (const auto& [name, value] : flags_) {
    if (known_.contains(name)) continue;
    std::string e = "unknown flag --" + name;
    for (const auto& known : known_) {
      if (EditDistance(name, known) <= 2) {
        e += " (did you mean --" + known + "?)";
        break;
      }
    }
    errs.push_back(e);
  }
  // A variable near a setting that is not given is a misspelling of it; a
  // variable far from every setting may be another program's and is left.
  std::set<std::string> read;
  for (const auto& name : known_) read.insert(EnvName(name));
  for (const auto& var :
       refuse_misspelt_ ? env_names_ : std::vector<std::string>{}) {
    if (read.contains(var)) continue;
    for (const auto& name : known_) {
      if (sources_.contains(name)) continue;
      const size_t near =
          std::min(var.size(), EnvName(name).size()) > 8 + 8 ? 2 : 1;
      if (EditDistance(var, EnvName(name)) <= near) {
        errs.push_back(var + " is no setting of this program: did you mean " +
                       EnvName(name) + " (unset, so its default is used)?");
        break;
      }
    }
  }
  if (errs.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("bad configuration:\n  " +
                                    absl::StrJoin(errs, "\n  "));
}

std::optional<std::chrono::milliseconds> ParseDuration(
    const std::string& text) {
  size_t i = 0;
  while (
      i < text.size() &&
      (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  double n = 0;
  if (!absl::SimpleAtod(text.substr(0, i), &n) || n < 0) return std::nullopt;
  std::string unit = text.substr(i);
  double ms;
  if (unit.empty() || unit == "ms") {
    ms = n;
  } else if (unit == "s") {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60 * 1000;
  } else if (unit == "h") {
    ms = n * 3600 * 1000;
  } else if (unit == "d") {
    ms = n * 86400 * 1000;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace rebound
