// toxiproxy-server (a Go module the test scripts install: $REBOUND_TOXIPROXY)
// and its HTTP API, for tests that put network faults between a service
// and its Kafka or Redis.
#ifndef REBOUND_TESTS_TOXIPROXY_H_
#define REBOUND_TESTS_TOXIPROXY_H_

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/test_support.h"

namespace rebound::testing {

class Toxiproxy {
 public:
  // Starts toxiproxy-server ($REBOUND_TOXIPROXY) on a free loopback port;
  // false with the reason in `why` when it is not installed or does not
  // answer.
  bool Start(std::string* why) {
    const char* bin = std::getenv("REBOUND_TOXIPROXY");
    if (bin == nullptr || *bin == '\0') {
      *why =
          "REBOUND_TOXIPROXY is not set: run the tests with scripts/test.sh, "
          "which installs toxiproxy-server from the Go module proxy";
      return false;
    }
    return Start(bin, why);
  }

  bool Start(const std::string& binary, std::string* why) {
    port_ = FreePort();
    server_ = std::make_unique<Child>(std::vector<std::string>{
        binary, "-host", "127.0.0.1", "-port", std::to_string(port_)});
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_connection_timeout(2);
    client_->set_read_timeout(10);
    for (int i = 0; i < 100; ++i) {
      if (auto r = client_->Get("/version"); r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *why = "toxiproxy-server did not answer on 127.0.0.1:" +
           std::to_string(port_) + ": " + server_->Output();
    return false;
  }

  bool AddProxy(const std::string& name, int listen_port,
                const std::string& upstream) {
    nlohmann::json body = {{"name", name},
                           {"listen", absl::StrCat("127.0.0.1:", listen_port)},
                           {"upstream", upstream},
                           {"enabled", true}};
    auto r = client_->Post("/proxies", body.dump(), "application/json");
    return r && r->status == 201;
  }

  // Adds toxic `type` (toxiproxy's names) to `streams` of `proxy`
  // ("upstream": client to server; "downstream": back).
  bool AddToxic(const std::string& proxy, const std::string& type,
                const nlohmann::json& attributes,
                const std::vector<std::string>& streams = {"downstream",
                                                           "upstream"}) {
    for (const auto& stream : streams) {
      nlohmann::json body = {{"name", absl::StrCat(type, "-", stream)},
                             {"type", type},
                             {"stream", stream},
                             {"toxicity", 1.0},
                             {"attributes", attributes}};
      auto r = client_->Post(absl::StrCat("/proxies/", proxy, "/toxics"),
                             body.dump(), "application/json");
      if (!r || r->status != 200) return false;
    }
    return true;
  }

  bool RemoveToxic(const std::string& proxy, const std::string& type,
                   const std::vector<std::string>& streams = {"downstream",
                                                              "upstream"}) {
    for (const auto& stream : streams) {
      auto r = client_->Delete(
          absl::StrCat("/proxies/", proxy, "/toxics/", type, "-", stream));
      if (!r || r->status != 204) return false;
    }
    return true;
  }

 private:
  int port_ = 0;
  std::unique_ptr<Child> server_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_TOXIPROXY_H_
