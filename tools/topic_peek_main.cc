// rebound-topic-peek: counts the records in a topic and prints a few of them
// decoded (key, partition, CloudEvents headers, event as protobuf JSON).
#include <fstream>
#include <iostream>
#include <map>

#include "common/config.h"
#include "common/kafka_properties.h"
#include "google/protobuf/util/json_util.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/scoring.pb.h"
#include "tools/topic_reader.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string brokers =
      c.RequiredString("kafka-brokers", "Kafka bootstrap servers");
  std::string topic = c.String("topic", "connection-events", "topic to read");
  rebound::ReadKafkaConfigFileSetting(c);
  int64_t show = c.Int("show", 3, 0, 1000, "records to print decoded");
  std::string verdicts_out = c.String(
      "verdicts-jsonl", "", "write every DeclineVerdict as a JSON line here");
  if (c.help_requested()) {
    std::cout << c.Usage("rebound-topic-peek");
    return 0;
  }
  if (auto s = c.Finish(); !s.ok()) {
    std::cerr << "rebound-topic-peek: " << s.message() << "\n";
    return 2;
  }
  auto records =
      rebound::tools::ReadTopic(brokers, topic, std::chrono::seconds(60));
  if (!records.ok()) {
    std::cerr << "rebound-topic-peek: " << records.status().message() << "\n";
    return 1;
  }
  std::map<std::string, int> by_type;
  std::map<int, int> by_partition;
  for (const auto& r : *records) {
    ++by_type[r.Header("ce_type")];
    ++by_partition[r.partition];
  }
  std::cout << "topic " << topic << ": " << records->size() << " records\n";
  std::cout << "  by partition:";
  for (const auto& [p, n] : by_partition) std::cout << " [" << p << "]=" << n;
  std::cout << "\n  by type:";
  for (const auto& [t, n] : by_type) std::cout << " " << t << "=" << n;
  std::cout << "\n";
  google::protobuf::util::JsonPrintOptions json;
  if (!verdicts_out.empty()) {
    std::ofstream out(verdicts_out);
    int64_t written = 0;
    for (const auto& r : *records) {
      rebound::v1::DeclineVerdict v;
      if (r.Header("ce_type") != "rebound.v1.DeclineVerdict" ||
          !v.ParseFromString(r.value)) {
        continue;
      }
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(v, &line, json);
      out << line << "\n";
      ++written;
    }
    std::cout << "wrote " << written << " verdicts to " << verdicts_out << "\n";
  }
  for (int64_t i = 0; i < show && i < static_cast<int64_t>(records->size());
       ++i) {
    const auto& r = (*records)[records->size() * i / show];
    std::string body;
    if (r.Header("ce_type") == "rebound.v1.DeclineVerdict") {
      rebound::v1::DeclineVerdict v;
      if (v.ParseFromString(r.value)) {
        v.clear_request();  // Keep the line short: reason, scores, signals.
        (void)google::protobuf::util::MessageToJsonString(v, &body, json);
      } else {
        body = "<not a DeclineVerdict>";
      }
    } else {
      rebound::v1::ConnectionEvent e;
      if (!e.ParseFromString(r.value)) {
        body = "<not a ConnectionEvent>";
      } else {
        (void)google::protobuf::util::MessageToJsonString(e, &body, json);
      }
    }
    std::cout << "--- partition " << r.partition << " offset " << r.offset
              << " key " << r.key << "\n    headers:";
    for (const auto& [k, v] : r.headers) std::cout << " " << k << "=" << v;
    std::cout << "\n    " << body << "\n";
  }
  return 0;
}
