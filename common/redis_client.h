// A small RAII client over hiredis 0.14 (no TLS, no connect-with-options):
// binary-safe commands, pipelines, and Lua scripts loaded once and run with
// EVALSHA. Not thread-safe: one client per thread.
#ifndef REBOUND_COMMON_REDIS_CLIENT_H_
#define REBOUND_COMMON_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct redisContext;
struct redisReply;

namespace rebound {

// A reply converted to plain values: enough for scripts and hashes.
struct RedisValue {
  enum class Type { kNil, kInteger, kString, kArray, kStatus };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString and kStatus.
  std::vector<RedisValue> array;

  bool is_nil() const { return type == Type::kNil; }
};

// One call of a registered script.
struct ScriptCall {
  std::string script;
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// An HGETALL reply as field -> value (empty for nil or a non-array).
std::map<std::string, std::string> HashFields(const RedisValue& reply);

struct RedisOptions {
  // "host:port".
  std::string address = "127.0.0.1:6379";
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
};

class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects if not connected. UNAVAILABLE naming the address on failure.
  absl::Status Connect();

  // Runs one command. A Redis error reply becomes FAILED_PRECONDITION with
  // Redis's message; a lost connection becomes UNAVAILABLE and the next call
  // reconnects.
  absl::StatusOr<RedisValue> Command(const std::vector<std::string>& argv);

  // Runs several commands in one round trip; one value per command, or the
  // first error.
  absl::StatusOr<std::vector<RedisValue>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

  // Registers a Lua script under `name` (its SHA1 is computed by SCRIPT LOAD
  // on first use and after a reconnect, if Redis forgot it).
  void AddScript(const std::string& name, const std::string& source);

  // EVALSHA of script `name`, loading it first if needed (NOSCRIPT is
  // handled by loading and retrying once).
  absl::StatusOr<RedisValue> RunScript(const std::string& name,
                                       const std::vector<std::string>& keys,
                                       const std::vector<std::string>& args);

  // Runs several scripts in one round trip (pipelined EVALSHA), in order.
  // A script Redis forgot (NOSCRIPT, e.g. after a restart) makes the whole
  // batch load the scripts and run again once: callers pass idempotent
  // scripts.
  absl::StatusOr<std::vector<RedisValue>> RunScripts(
      const std::vector<ScriptCall>& calls);
  // RunScripts(calls), then `commands`, in the same round trip: the
  // commands see every write of the scripts. One value per script, then one
  // per command; the first error fails the whole call.
  absl::StatusOr<std::vector<RedisValue>> RunScriptsThen(
      const std::vector<ScriptCall>& calls,
      const std::vector<std::vector<std::string>>& commands);

  bool connected() const { return ctx_ != nullptr; }
  const std::string& address() const { return options_.address; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  absl::StatusOr<RedisValue> Convert(redisReply* reply);
  void Drop();

  RedisOptions options_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  struct Script {
    std::string source;
    std::string sha;
  };
  std::map<std::string, Script> scripts_;
};

// Parses "host:port"; INVALID_ARGUMENT naming the text otherwise.
absl::Status ParseHostPort(const std::string& address, std::string* host,
                           int* port);

}  // namespace rebound

#endif  // REBOUND_COMMON_REDIS_CLIENT_H_
