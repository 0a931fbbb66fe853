// rebound-sim: writes a seeded, realistic multi-tenant stream of connection
// events (protobuf JSON, one ConnectionEvent per line, in time order) and the
// true cause of every decline and expiry (JSON lines), for back-testing the
// classifier with rebound-classify and rebound-evaluate.
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "tools/sim/scenario.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  rebound::sim::ScenarioOptions o;
  o.seed = static_cast<uint64_t>(
      c.Int("seed", 42, 0, INT64_MAX, "generator seed (same seed, same file)"));
  o.tenants = static_cast<int>(c.Int("tenants", 3, 1, 1000, "tenants"));
  o.members_per_tenant = static_cast<int>(
      c.Int("members", 300, 4, 1'000'000, "members per tenant"));
  o.requests = static_cast<int>(
      c.Int("requests", 20000, 1, 50'000'000, "connection requests in total"));
  o.send_span = absl::Hours(
      24 * c.Int("send-days", 90, 1, 36'500,
                 "days over which requests are sent; pending ones expire "
                 "180 days after their send, so a history longer than 180 "
                 "days has expiries in its stream, as a live network does, "
                 "not only in the tail after the last send"));
  o.run_id = c.String("run-id", "sim", "prefix of every event_id");
  o.tenant_prefix = c.String(
      "tenant-prefix", o.tenant_prefix,
      "tenant ids are this prefix and 1, 2, ... (runs replaying different "
      "histories into one pipeline take different prefixes)");
  std::string out_path =
      c.RequiredString("out", "events file (ConnectionEvent JSON lines)");
  std::string truth_path = c.RequiredString(
      "truth", "truth file (one JSON line per decline/expiry)");
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-sim");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-sim: " << s.message() << "\n";
    return 2;
  }
  std::ofstream out(out_path), truth(truth_path);
  if (!out || !truth) {
    std::cerr << "rebound-sim: cannot write " << (!out ? out_path : truth_path)
              << "\n";
    return 2;
  }
  auto scenario = rebound::sim::GenerateScenario(o);
  google::protobuf::util::JsonPrintOptions print;
  std::string json;
  for (const auto& e : scenario.events) {
    json.clear();
    if (!google::protobuf::util::MessageToJsonString(e, &json, print).ok()) {
      std::cerr << "rebound-sim: cannot serialise event " << e.event_id()
                << "\n";
      return 1;
    }
    out << json << "\n";
  }
  for (const auto& t : scenario.truth) {
    truth << rebound::sim::TruthToJson(t) << "\n";
  }
  out.flush();
  truth.flush();
  if (!out || !truth) {
    std::cerr << "rebound-sim: write failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat("rebound-sim: %d events, %d truth records\n",
                               scenario.events.size(), scenario.truth.size());
  return 0;
}
