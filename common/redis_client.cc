#include "common/redis_client.h"

#include <hiredis/hiredis.h>

#include "absl/strings/numbers.h"

namespace rebound {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

RedisValue ToValue(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) {
        v.array.push_back(ToValue(r->element[i]));
      }
      break;
    default:
      v.type = RedisValue::Type::kNil;
      break;
  }
  return v;
}

// Nested error replies (inside arrays) are reported as a whole-call error.
const redisReply* FindError(const redisReply* r) {
  if (r->type == REDIS_REPLY_ERROR) return r;
  if (r->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < r->elements; ++i) {
      if (const redisReply* e = FindError(r->element[i])) return e;
    }
  }
  return nullptr;
}

}  // namespace

std::map<std::string, std::string> HashFields(const RedisValue& reply) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < reply.array.size(); i += 2) {
    m[reply.array[i].str] = reply.array[i + 1].str;
  }
  return m;
}

void RedisClient::ContextDeleter::operator()(redisContext* c) const {
  redisFree(c);
}

absl::Status ParseHostPort(const std::string& address, std::string* host,
                           int* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), port) || *port <= 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError("'" + address +
                                      "' is not a host:port address");
  }
  *host = address.substr(0, colon);
  return absl::OkStatus();
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}
RedisClient::~RedisClient() = default;

void RedisClient::Drop() {
  ctx_.reset();
  for (auto& [name, s] : scripts_) s.sha.clear();
}

absl::Status RedisClient::Connect() {
  if (ctx_) return absl::OkStatus();
  std::string host;
  int port = 0;
  if (auto s = ParseHostPort(options_.address, &host, &port); !s.ok()) return s;
  redisContext* c = redisConnectWithTimeout(
      host.c_str(), port, ToTimeval(options_.connect_timeout));
  if (c == nullptr) {
    return absl::UnavailableError("redis " + options_.address +
                                  ": cannot allocate a context");
  }
  std::unique_ptr<redisContext, ContextDeleter> owned(c);
  if (c->err) {
    return absl::UnavailableError("redis " + options_.address + ": " +
                                  c->errstr);
  }
  redisSetTimeout(c, ToTimeval(options_.command_timeout));
  redisEnableKeepAlive(c);
  ctx_ = std::move(owned);
  return absl::OkStatus();
}

absl::StatusOr<RedisValue> RedisClient::Convert(redisReply* raw) {
  if (raw == nullptr) {
    std::string why = ctx_ && ctx_->err ? ctx_->errstr : "no reply";
    Drop();
    return absl::UnavailableError("redis " + options_.address + ": " + why);
  }
  ReplyPtr reply(raw);
  if (const redisReply* e = FindError(reply.get())) {
    return absl::FailedPreconditionError(std::string(e->str, e->len));
  }
  return ToValue(reply.get());
}

absl::StatusOr<RedisValue> RedisClient::Command(
    const std::vector<std::string>& argv) {
  if (auto s = Connect(); !s.ok()) return s;
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(ctx_.get(), static_cast<int>(args.size()),
                               args.data(), lens.data());
  return Convert(static_cast<redisReply*>(raw));
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (auto s = Connect(); !s.ok()) return s;
  for (const auto& argv : commands) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()),
                               args.data(), lens.data()) != REDIS_OK) {
      std::string why = ctx_->errstr;
      Drop();
      return absl::UnavailableError("redis " + options_.address + ": " + why);
    }
  }
  std::vector<RedisValue> out;
  absl::Status first_error;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) raw = nullptr;
    auto v = Convert(static_cast<redisReply*>(raw));
    if (!v.ok()) {
      if (absl::IsUnavailable(v.status())) return v.status();
      if (first_error.ok()) first_error = v.status();
      out.emplace_back();
      continue;
    }
    out.push_back(std::move(*v));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

void RedisClient::AddScript(const std::string& name,
                            const std::string& source) {
  scripts_[name] = Script{source, ""};
}

absl::StatusOr<RedisValue> RedisClient::RunScript(
    const std::string& name, const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  auto it = scripts_.find(name);
  if (it == scripts_.end()) {
    return absl::InternalError("redis script '" + name + "' is not registered");
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (it->second.sha.empty()) {
      auto sha = Command({"SCRIPT", "LOAD", it->second.source});
      if (!sha.ok()) return sha.status();
      it->second.sha = sha->str;
    }
    std::vector<std::string> argv = {"EVALSHA", it->second.sha,
                                     std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    auto v = Command(argv);
    if (!v.ok() && v.status().message().rfind("NOSCRIPT", 0) == 0) {
      it->second.sha.clear();  // Redis restarted or flushed its scripts.
      continue;
    }
    if (!v.ok() && absl::IsFailedPrecondition(v.status())) {
      return absl::Status(
          v.status().code(),
          "redis script '" + name + "': " + std::string(v.status().message()));
    }
    return v;
  }
  return absl::InternalError("redis script '" + name + "' kept missing");
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::RunScripts(
    const std::vector<ScriptCall>& calls) {
  return RunScriptsThen(calls, {});
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::RunScriptsThen(
    const std::vector<ScriptCall>& calls,
    const std::vector<std::vector<std::string>>& then) {
  if (calls.empty() && then.empty()) return std::vector<RedisValue>{};
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<std::vector<std::string>> commands;
    commands.reserve(calls.size() + then.size());
    for (const auto& call : calls) {
      auto it = scripts_.find(call.script);
      if (it == scripts_.end()) {
        return absl::InternalError("redis script '" + call.script +
                                   "' is not registered");
      }
      if (it->second.sha.empty()) {
        auto sha = Command({"SCRIPT", "LOAD", it->second.source});
        if (!sha.ok()) return sha.status();
        it->second.sha = sha->str;
      }
      std::vector<std::string> argv = {"EVALSHA", it->second.sha,
                                       std::to_string(call.keys.size())};
      argv.insert(argv.end(), call.keys.begin(), call.keys.end());
      argv.insert(argv.end(), call.args.begin(), call.args.end());
      commands.push_back(std::move(argv));
    }
    commands.insert(commands.end(), then.begin(), then.end());
    auto replies = Pipeline(commands);
    if (!replies.ok() && replies.status().message().rfind("NOSCRIPT", 0) == 0) {
      for (auto& [name, s] : scripts_) s.sha.clear();
      continue;
    }
    return replies;
  }
  return absl::InternalError("redis scripts kept missing");
}

}  // namespace rebound
