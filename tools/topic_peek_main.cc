// rebound-topic-peek: counts the records in a topic and prints a few of them
// decoded (key, partition, CloudEvents headers, event as protobuf JSON).
#include <iostream>
#include <map>

#include "common/config.h"
#include "google/protobuf/util/json_util.h"
#include "rebound/v1/events.pb.h"
#include "tools/topic_reader.h"

int main(int argc, char** argv) {
  rebound::ConfigReader c(argc, argv);
  std::string brokers =
      c.RequiredString("kafka-brokers", "Kafka bootstrap servers");
  std::string topic = c.String("topic", "connection-events", "topic to read");
  int64_t show = c.Int("show", 3, 0, 1000, "records to print decoded");
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
  for (int64_t i = 0; i < show && i < static_cast<int64_t>(records->size());
       ++i) {
    const auto& r = (*records)[records->size() * i / show];
    rebound::v1::ConnectionEvent e;
    std::string body;
    if (!e.ParseFromString(r.value)) {
      body = "<not a ConnectionEvent>";
    } else {
      (void)google::protobuf::util::MessageToJsonString(e, &body, json);
    }
    std::cout << "--- partition " << r.partition << " offset " << r.offset
              << " key " << r.key << "\n    headers:";
    for (const auto& [k, v] : r.headers) std::cout << " " << k << "=" << v;
    std::cout << "\n    " << body << "\n";
  }
  return 0;
}
