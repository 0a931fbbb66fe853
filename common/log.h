// Structured JSON logs, one object per line on stderr:
//   {"ts":"2026-11-25T23:10:00.123Z","level":"info","service":"ingest",
//    "msg":"kafka available","brokers":"127.0.0.1:9092"}
// Backed by spdlog's default logger (thread-safe, one process-wide sink is
// what a log stream is); `InitLogging` configures it once in main().
#ifndef REBOUND_COMMON_LOG_H_
#define REBOUND_COMMON_LOG_H_

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace rebound::log {

// level: "debug", "info", "warn" or "error". Returns false for another value.
bool InitLogging(const std::string& service, const std::string& level);

// InitLogging for a binary's main(): on a bad level, says so on stderr as
// "<binary>: setting 'log-level': ..." and returns false (exit 2).
bool InitServiceLogging(const std::string& binary, const std::string& service,
                        const std::string& level);

void Debug(std::string_view msg,
           nlohmann::json fields = nlohmann::json::object());
void Info(std::string_view msg,
          nlohmann::json fields = nlohmann::json::object());
void Warn(std::string_view msg,
          nlohmann::json fields = nlohmann::json::object());
void Error(std::string_view msg,
           nlohmann::json fields = nlohmann::json::object());

}  // namespace rebound::log

#endif  // REBOUND_COMMON_LOG_H_
