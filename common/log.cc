#include "common/log.h"

#include <chrono>
#include <iostream>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace rebound::log {
namespace {

std::mutex service_mu;
std::string& ServiceName() {
  static std::string name = "rebound";
  return name;
}

void Write(spdlog::level::level_enum level, std::string_view msg,
           nlohmann::json fields) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  nlohmann::json line = nlohmann::json::object();
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                absl::UTCTimeZone());
  line["level"] = std::string(spdlog::level::to_string_view(level).data(),
                              spdlog::level::to_string_view(level).size());
  {
    std::lock_guard<std::mutex> lock(service_mu);
    line["service"] = ServiceName();
  }
  line["msg"] = std::string(msg);
  if (fields.is_object()) {
    for (auto& [k, v] : fields.items()) line[k] = v;
  }
  spdlog::default_logger_raw()->log(
      level, "{}",
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

bool InitServiceLogging(const std::string& binary, const std::string& service,
                        const std::string& level) {
  if (InitLogging(service, level)) return true;
  std::cerr << binary << ": setting 'log-level': '" << level
            << "' is not one of debug, info, warn, error\n";
  return false;
}

bool InitLogging(const std::string& service, const std::string& level) {
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    return false;
  }
  auto logger = spdlog::stderr_logger_mt("rebound");
  logger->set_pattern("%v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  std::lock_guard<std::mutex> lock(service_mu);
  ServiceName() = service;
  return true;
}

void Debug(std::string_view msg, nlohmann::json fields) {
  Write(spdlog::level::debug, msg, std::move(fields));
}
void Info(std::string_view msg, nlohmann::json fields) {
  Write(spdlog::level::info, msg, std::move(fields));
}
void Warn(std::string_view msg, nlohmann::json fields) {
  Write(spdlog::level::warn, msg, std::move(fields));
}
void Error(std::string_view msg, nlohmann::json fields) {
  Write(spdlog::level::err, msg, std::move(fields));
}

}  // namespace rebound::log
