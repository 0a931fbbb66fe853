// Writes the fuzz targets' seed corpora, from the simulator's events:
//   make_seeds OUT_DIR
// OUT_DIR/<target>/seed-N for event_view_fuzz (one encoded event),
// batch_decoder_fuzz (a PublishRequest of 1-8 events), event_lines_fuzz
// (2-20 consecutive events as JSON lines), tokens_fuzz (page tokens and
// resume tokens), classifier_config_fuzz and retry_policy_fuzz (the shipped
// config files); OUT_DIR/json.dict: every key and string of the configs,
// as a libFuzzer dictionary.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "rebound/v1/ingest.pb.h"
#include "services/notify/page_token.h"
#include "tools/sim/event_generator.h"

namespace {

namespace fs = std::filesystem;

void Write(const fs::path& dir, int n, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / absl::StrCat("seed-", n), std::ios::binary);
  out << bytes;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Every object key and string value, quoted as JSON, escaped for a dict.
void CollectTokens(const nlohmann::json& j, std::set<std::string>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out->insert(nlohmann::json(k).dump());
      CollectTokens(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) CollectTokens(v, out);
  } else if (j.is_string()) {
    out->insert(j.dump());
  }
}

std::string DictEntry(const std::string& token) {
  std::string out = "\"";
  for (unsigned char c : token) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path src = REBOUND_SOURCE_DIR;
  rebound::sim::GeneratorOptions g;
  g.seed = 2026;
  g.members_per_tenant = 40;
  g.end = absl::FromUnixSeconds(1'780'000'000);
  const auto events = rebound::sim::EventGenerator(g).Next(1200);
  std::mt19937_64 rng(7);

  for (int i = 0; i < 300; ++i) {
    Write(out / "event_view_fuzz", i, events[i * 4].SerializeAsString());
  }
  for (int i = 0; i < 120; ++i) {
    rebound::v1::PublishRequest r;
    r.set_batch_id(rng() % 100000);
    r.set_validate_only(i % 5 == 0);
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < n; ++k) *r.add_events() = events[(i * 9 + k) % 1200];
    Write(out / "batch_decoder_fuzz", i, r.SerializeAsString());
  }
  for (int i = 0; i < 100; ++i) {
    const int n = 2 + static_cast<int>(rng() % 19);
    std::string lines;
    for (int k = 0; k < n; ++k) {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(
          events[(i * 11 + k) % 1200], &json);
      lines += json + "\n";
    }
    Write(out / "event_lines_fuzz", i, lines);
  }
  const rebound::notify::PageScope scope{"acme", "m-1", {1, 2}};
  for (int i = 0; i < 40; ++i) {
    rebound::notify::PageCursor c;
    c.created_ms = static_cast<int64_t>(rng() % 2'000'000'000'000);
    c.suggestion_id = events[i * 7].event_id();
    Write(out / "tokens_fuzz", i,
          rebound::notify::EncodePageToken(
              c, scope, rebound::notify::kDefaultPageTokenKey));
    Write(out / "tokens_fuzz", 100 + i,
          absl::StrCat(rng() % 2'000'000'000'000, "-", rng() % 5));
  }
  std::set<std::string> tokens;
  const char* configs[][2] = {{"classifier.json", "classifier_config_fuzz"},
                              {"retry_policy.json", "retry_policy_fuzz"}};
  for (const auto& [file, target] : configs) {
    const std::string text = ReadFile(src / "config" / file);
    Write(out / target, 0, text);
    try {
      CollectTokens(nlohmann::json::parse(text), &tokens);
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "make_seeds: config/" << file << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::ofstream dict(out / "json.dict");
  for (const auto& t : tokens) dict << DictEntry(t) << "\n";
  std::cout << "seeds in " << out.string() << " (" << tokens.size()
            << " dictionary entries)\n";
  return 0;
}
