#include "common/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace rebound {
namespace {

// In the status of a refused AUTH (WaitForRedis stops at once on it).
constexpr char kAuthRefused[] = "AUTH refused";

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

constexpr int kClusterSlots = kRedisClusterSlots;
constexpr int kMaxRedirects = 10;

// TransactGuard's check, run (EVAL: never NOSCRIPT) between WATCH of its
// key and MULTI. KEYS[1]: the fence hash; ARGV: field, generation pairs.
// A field holding a newer generation: the hash is touched (a counter of
// refusals), which makes Redis refuse the watched MULTI/EXEC, and the
// field is returned; else "".
constexpr char kGuardScript[] = R"lua(
for i = 1, #ARGV, 2 do
  local now = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if now and now > tonumber(ARGV[i + 1]) then
    redis.call('HINCRBY', KEYS[1], 'refused', 1)
    return ARGV[i]
  end
end
return ''
)lua";

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

// A cluster redirect or transient cluster error in a reply.
enum class Redirect { kNone, kMoved, kAsk, kRetry };
Redirect RedirectOf(const redisReply* r, std::string* address) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return Redirect::kNone;
  absl::string_view e(r->str, r->len);
  auto target = [&] {
    // "MOVED <slot> <host:port>"
    auto sp = e.rfind(' ');
    if (sp != absl::string_view::npos) *address = std::string(e.substr(sp + 1));
  };
  if (absl::StartsWith(e, "MOVED ")) {
    target();
    return Redirect::kMoved;
  }
  if (absl::StartsWith(e, "ASK ")) {
    target();
    return Redirect::kAsk;
  }
  if (absl::StartsWith(e, "TRYAGAIN") || absl::StartsWith(e, "CLUSTERDOWN")) {
    return Redirect::kRetry;
  }
  return Redirect::kNone;
}

// Error replies a later attempt can succeed after: the server or the slot
// is busy, loading, failing over or out of memory for now.
// Also what the environment refuses until an operator acts, which no single
// input causes: persistence failing (MISCONF), credentials or ACLs
// (NOAUTH, NOPERM), the client limit. Those hold the stream (health
// NOT_SERVING) instead of dead-lettering every event.
bool IsTransientRedisReply(absl::string_view e) {
  const absl::string_view code = e.substr(0, e.find(' '));
  for (absl::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "NOREPLICAS", "OOM",
        "TRYAGAIN", "CLUSTERDOWN", "MISCONF", "NOAUTH", "NOPERM"}) {
    if (code == transient) return true;
  }
  return absl::StartsWith(e, "ERR max number of clients reached");
}

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

// RESP encoding of one command, appended to `out`: what hiredis's
// redisAppendCommandArgv would write, without its per-command copies.
void AppendBulk(std::string* out, std::string_view arg) {
  out->push_back('$');
  out->append(std::to_string(arg.size()));
  out->append("\r\n");
  out->append(arg);
  out->append("\r\n");
}
void AppendHeader(std::string* out, size_t args) {
  out->push_back('*');
  out->append(std::to_string(args));
  out->append("\r\n");
}
void AppendResp(std::string* out, const std::vector<std::string>& argv) {
  AppendHeader(out, argv.size());
  for (const auto& a : argv) AppendBulk(out, a);
}

void AppendArgv(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(args.size()), args.data(),
                         lens.data());
}

}  // namespace

int RedisClusterSlot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % kClusterSlots;
}

const std::string& RedisSlotTag(int slot) {
  static const std::vector<std::string>* const tags = [] {
    auto* t = new std::vector<std::string>(kClusterSlots);
    int left = kClusterSlots;
    for (uint64_t i = 0; left > 0; ++i) {
      std::string tag = std::to_string(i);
      std::string& at = (*t)[RedisClusterSlot(tag)];
      if (at.empty()) {
        at = std::move(tag);
        --left;
      }
    }
    return t;
  }();
  return (*tags)[slot];
}

std::string RedisSlotCopy(std::string_view key, int slot) {
  return absl::StrCat(std::string(key), ":{", RedisSlotTag(slot), "}");
}

const std::string* RedisCommandKey(const std::vector<std::string>& argv) {
  if (argv.empty()) return nullptr;
  const std::string cmd = absl::AsciiStrToUpper(argv[0]);
  if (cmd == "EVALSHA" || cmd == "EVAL" || cmd == "EVALSHA_RO" ||
      cmd == "EVAL_RO" || cmd == "FCALL") {
    int keys = 0;
    if (argv.size() > 3 && absl::SimpleAtoi(argv[2], &keys) && keys > 0) {
      return &argv[3];
    }
    return nullptr;
  }
  if (cmd == "XREAD" || cmd == "XREADGROUP") {
    for (size_t i = 1; i + 1 < argv.size(); ++i) {
      if (absl::EqualsIgnoreCase(argv[i], "STREAMS")) return &argv[i + 1];
    }
    return nullptr;
  }
  static const std::set<std::string> kKeyless = {
      "PING",     "INFO",     "SCAN",   "SCRIPT", "CLUSTER", "CONFIG",
      "FLUSHALL", "FLUSHDB",  "DBSIZE", "ECHO",   "TIME",    "WAIT",
      "ASKING",   "READONLY", "SELECT", "AUTH",   "HELLO",   "CLIENT"};
  if (kKeyless.contains(cmd) || argv.size() < 2) return nullptr;
  return &argv[1];
}

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

RedisOptions ReadRedisOptions(ConfigReader& c) {
  RedisOptions o;
  o.address = c.RequiredString(
      "redis-addr",
      "Redis host:port, or Redis Cluster seed nodes host:port,host:port,...");
  const std::string mode =
      c.String("redis-mode", "auto",
               "auto (cluster with several seeds or when the node says so), "
               "standalone or cluster");
  if (mode == "standalone") {
    o.mode = RedisOptions::Mode::kStandalone;
  } else if (mode == "cluster") {
    o.mode = RedisOptions::Mode::kCluster;
  } else if (mode != "auto") {
    c.Reject("redis-mode", "'" + mode + "' is not auto, standalone or cluster");
  }
  o.wait_replicas = static_cast<int>(
      c.Int("redis-wait-replicas", 0, 0, 16,
            "after each write pipeline, WAIT for this many replicas (0: no "
            "wait; a failover may lose the last writes)"));
  o.wait_timeout = c.Duration("redis-wait-timeout", o.wait_timeout,
                              "longest WAIT for --redis-wait-replicas");
  o.user = c.String("redis-user", "",
                    "Redis ACL user to AUTH as (with --redis-password-file; "
                    "empty: the default user)");
  const std::string password_file = c.String(
      "redis-password-file", "",
      "a file holding the Redis password (AUTH on every connection); mount "
      "it as a secret file");
  if (!password_file.empty()) {
    if (auto text = c.ReadSettingFile("redis-password-file", password_file)) {
      o.password = std::string(absl::StripTrailingAsciiWhitespace(*text));
      if (o.password.empty()) {
        c.Reject("redis-password-file",
                 "'" + password_file + "' holds no password");
      }
    }
  } else if (!o.user.empty()) {
    c.Reject("redis-user", "needs --redis-password-file");
  }
  return o;
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
  nodes_.clear();
  slot_owner_.clear();
  cluster_ = false;
}

void RedisClient::DropNode(Node& node) {
  if (!cluster_) {
    Drop();
    return;
  }
  const std::string address = node.address;  // `node` dies below.
  nodes_.erase(address);
  slot_owner_.clear();  // A node went away: ask for the map again.
}

absl::StatusOr<RedisClient::Context> RedisClient::Open(
    const std::string& address) {
  std::string host;
  int port = 0;
  if (auto s = ParseHostPort(address, &host, &port); !s.ok()) return s;
  redisContext* c = redisConnectWithTimeout(
      host.c_str(), port, ToTimeval(options_.connect_timeout));
  if (c == nullptr) {
    return absl::UnavailableError("redis " + address +
                                  ": cannot allocate a context");
  }
  Context owned(c);
  if (c->err) {
    return absl::UnavailableError("redis " + address + ": " + c->errstr);
  }
  redisSetTimeout(c, ToTimeval(options_.command_timeout));
  redisEnableKeepAlive(c);
  if (!options_.password.empty()) {
    ReplyPtr r(static_cast<redisReply*>(
        options_.user.empty()
            ? redisCommand(c, "AUTH %b", options_.password.data(),
                           options_.password.size())
            : redisCommand(c, "AUTH %b %b", options_.user.data(),
                           options_.user.size(), options_.password.data(),
                           options_.password.size())));
    if (r == nullptr) {
      return absl::UnavailableError("redis " + address + ": " + c->errstr);
    }
    if (r->type == REDIS_REPLY_ERROR) {
      // Redis's reply names no secret ("WRONGPASS invalid username-password
      // pair or user is disabled.").
      return absl::UnavailableError(
          absl::StrCat("redis ", address, ": ", kAuthRefused, " (user '",
                       options_.user.empty() ? "default" : options_.user,
                       "'): ", std::string(r->str ? r->str : "", r->len)));
    }
  }
  return owned;
}

absl::Status RedisClient::LoadScripts(Node& node) {
  for (auto& [name, script] : scripts_) {
    ReplyPtr r(static_cast<redisReply*>(
        redisCommand(node.ctx.get(), "SCRIPT LOAD %b", script.source.data(),
                     script.source.size())));
    if (r == nullptr) {
      return absl::UnavailableError("redis " + node.address + ": " +
                                    node.ctx->errstr);
    }
    if (r->type != REDIS_REPLY_STRING) {
      // Part of connecting, not of any one call's input: whatever Redis
      // answers (LOADING, NOSCRIPT-era restarts, ACLs), callers retry.
      return absl::UnavailableError(
          "redis " + node.address + ": SCRIPT LOAD of '" + name +
          "': " + std::string(r->str ? r->str : "", r->len));
    }
    script.sha.assign(r->str, r->len);
  }
  return absl::OkStatus();
}

absl::Status RedisClient::EnsureScripts() {
  bool missing = false;
  for (const auto& [name, script] : scripts_) missing |= script.sha.empty();
  if (!missing) return absl::OkStatus();
  for (auto& [address, node] : nodes_) {
    if (auto s = LoadScripts(node); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisClient::Node*> RedisClient::NodeAt(
    const std::string& address) {
  auto it = nodes_.find(address);
  if (it != nodes_.end()) return &it->second;
  auto ctx = Open(address);
  if (!ctx.ok()) return ctx.status();
  Node node{address, std::move(*ctx)};
  if (auto s = LoadScripts(node); !s.ok()) return s;
  return &nodes_.emplace(address, std::move(node)).first->second;
}

absl::Status RedisClient::RefreshSlots() {
  std::vector<std::string> sources;
  for (const auto& [address, node] : nodes_) sources.push_back(address);
  sources.insert(sources.end(), seeds_.begin(), seeds_.end());
  absl::Status last = absl::UnavailableError("no node to ask");
  // The first map with every slot owned; else the one with fewest unowned
  // (a node's view can lag a failover or a resharding: another's may not).
  std::vector<std::string> best;
  size_t best_unowned = kClusterSlots + 1;
  for (const auto& source : sources) {
    auto node = NodeAt(source);
    if (!node.ok()) {
      last = node.status();
      continue;
    }
    ReplyPtr r(static_cast<redisReply*>(
        redisCommand((*node)->ctx.get(), "CLUSTER SLOTS")));
    if (r == nullptr) {
      last = absl::UnavailableError("redis " + source + ": " +
                                    (*node)->ctx->errstr);
      DropNode(**node);
      continue;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
      last = absl::FailedPreconditionError(
          "redis " + source +
          ": CLUSTER SLOTS: " + std::string(r->str ? r->str : "", r->len));
      continue;
    }
    std::string host;
    int port = 0;
    (void)ParseHostPort(source, &host, &port);
    std::vector<std::string> owners(kClusterSlots);
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* range = r->element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
      const redisReply* master = range->element[2];
      if (master->type != REDIS_REPLY_ARRAY || master->elements < 2) continue;
      std::string ip(master->element[0]->str ? master->element[0]->str : "",
                     master->element[0]->len);
      if (ip.empty()) ip = host;  // The node answering does not know its IP.
      const std::string owner =
          ip + ":" + std::to_string(master->element[1]->integer);
      for (long long s = range->element[0]->integer;
           s <= range->element[1]->integer && s < kClusterSlots; ++s) {
        if (s >= 0) owners[s] = owner;
      }
    }
    const size_t unowned = static_cast<size_t>(
        std::count(owners.begin(), owners.end(), std::string()));
    if (unowned < best_unowned) {
      best = std::move(owners);
      best_unowned = unowned;
    }
    if (unowned == 0) break;
  }
  if (!best.empty()) {
    slot_owner_ = std::move(best);
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      "redis cluster " + options_.address +
      ": no slot map: " + std::string(last.message()));
}

absl::Status RedisClient::ConnectCluster() {
  cluster_ = true;
  absl::Status s = RefreshSlots();
  if (!s.ok()) {
    Drop();
    return absl::UnavailableError("redis cluster seeds " + options_.address +
                                  ": " + std::string(s.message()));
  }
  return absl::OkStatus();
}

absl::Status RedisClient::Connect() {
  if (deferred_) {
    // Its replies would be read as this call's.
    return absl::InternalError(
        "redis: a transaction's replies are still unread (TransactFinish)");
  }
  if (!nodes_.empty()) return absl::OkStatus();
  if (seeds_.empty()) {
    std::vector<std::string> seeds;
    for (const auto& seed : absl::StrSplit(options_.address, ',')) {
      std::string a(absl::StripAsciiWhitespace(seed));
      std::string host;
      int port = 0;
      if (auto s = ParseHostPort(a, &host, &port); !s.ok()) return s;
      seeds.push_back(std::move(a));
    }
    seeds_ = std::move(seeds);
  }
  using Mode = RedisOptions::Mode;
  if (options_.mode == Mode::kCluster ||
      (options_.mode == Mode::kAuto && seeds_.size() > 1)) {
    return ConnectCluster();
  }
  auto ctx = Open(seeds_[0]);
  if (!ctx.ok()) return ctx.status();
  bool cluster = false;
  if (options_.mode == Mode::kAuto) {
    ReplyPtr r(
        static_cast<redisReply*>(redisCommand(ctx->get(), "INFO cluster")));
    if (r == nullptr) {
      return absl::UnavailableError("redis " + seeds_[0] + ": " +
                                    (*ctx)->errstr);
    }
    cluster = r->type == REDIS_REPLY_STRING &&
              absl::StrContains(absl::string_view(r->str, r->len),
                                "cluster_enabled:1");
  }
  Node node{seeds_[0], std::move(*ctx)};
  if (auto s = LoadScripts(node); !s.ok()) return s;
  nodes_.emplace(seeds_[0], std::move(node));
  return cluster ? ConnectCluster() : absl::OkStatus();
}

absl::StatusOr<RedisClient::Node*> RedisClient::NodeFor(
    const std::vector<std::string>& argv) {
  if (auto s = Connect(); !s.ok()) return s;
  if (!cluster_) return &nodes_.begin()->second;
  if (slot_owner_.empty()) {
    if (auto s = RefreshSlots(); !s.ok()) return s;
  }
  const std::string* key = RedisCommandKey(argv);
  const int slot = key ? RedisClusterSlot(*key) : 0;
  for (int attempt = 0;; ++attempt) {
    const std::string owner = slot_owner_[slot];
    if (owner.empty()) {
      // The map may be older than the slot's owner (a failover, a slot
      // assigned since): ask again before saying so, or it stays unowned
      // for as long as nothing else refreshes the map.
      if (attempt == 0 && RefreshSlots().ok()) continue;
      return absl::UnavailableError("redis cluster: slot " +
                                    std::to_string(slot) + " has no master");
    }
    auto node = NodeAt(owner);
    if (node.ok() || attempt > 0) return node;
    // Its master is gone (failover?): ask a live node for the map again.
    if (auto s = RefreshSlots(); !s.ok()) return node;
  }
}

// `node` by value: callers pass a Node's own address, and a lost
// connection drops that Node below (ASan found the dangling reference).
absl::StatusOr<RedisValue> RedisClient::Convert(std::string node,
                                                redisReply* raw) {
  if (raw == nullptr) {
    auto it = nodes_.find(node);
    std::string why = it != nodes_.end() && it->second.ctx->err
                          ? it->second.ctx->errstr
                          : "no reply";
    if (it != nodes_.end()) DropNode(it->second);
    return absl::UnavailableError("redis " + node + ": " + why);
  }
  ReplyPtr reply(raw);
  if (const redisReply* e = FindError(reply.get())) {
    std::string text(e->str, e->len);
    if (IsTransientRedisReply(text)) {
      return absl::UnavailableError("redis " + node + ": " + text);
    }
    return absl::FailedPreconditionError(std::move(text));
  }
  return ToValue(reply.get());
}

absl::StatusOr<RedisValue> RedisClient::Check(const std::string& node,
                                              redisReply* raw) {
  if (raw != nullptr && FindError(raw) == nullptr) {
    freeReplyObject(raw);
    return RedisValue();
  }
  return Convert(node, raw);
}

absl::StatusOr<RedisValue> RedisClient::Exec(
    Node* node, const std::vector<std::string>& argv) {
  std::string last;
  for (int attempt = 0; attempt < kMaxRedirects; ++attempt) {
    AppendArgv(node->ctx.get(), argv);
    void* raw = nullptr;
    if (redisGetReply(node->ctx.get(), &raw) != REDIS_OK) raw = nullptr;
    auto* reply = static_cast<redisReply*>(raw);
    std::string target;
    const Redirect redirect =
        cluster_ ? RedirectOf(reply, &target) : Redirect::kNone;
    if (redirect == Redirect::kNone) return Convert(node->address, reply);
    last.assign(reply->str, reply->len);
    freeReplyObject(reply);
    if (redirect == Redirect::kRetry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
      (void)RefreshSlots();
      auto again = NodeFor(argv);
      if (!again.ok()) return again.status();
      node = *again;
      continue;
    }
    auto to = NodeAt(target);
    if (!to.ok()) return to.status();
    if (redirect == Redirect::kMoved) {
      // RefreshSlots may drop the node `to` points at: look it up again.
      (void)RefreshSlots();
      auto moved = NodeAt(target);
      if (!moved.ok()) return moved.status();
      node = *moved;
      continue;
    }
    // ASK: this one command, on the importing node, after ASKING; what it
    // answers is handled like any reply (TRYAGAIN while the slot's keys are
    // split between the two nodes).
    AppendArgv((*to)->ctx.get(), {"ASKING"});
    AppendArgv((*to)->ctx.get(), argv);
    void* asking = nullptr;
    if (redisGetReply((*to)->ctx.get(), &asking) != REDIS_OK) {
      return Convert((*to)->address, nullptr);
    }
    freeReplyObject(asking);
    if (redisGetReply((*to)->ctx.get(), &raw) != REDIS_OK) raw = nullptr;
    reply = static_cast<redisReply*>(raw);
    if (RedirectOf(reply, &target) == Redirect::kNone) {
      return Convert((*to)->address, reply);
    }
    last.assign(reply->str, reply->len);
    freeReplyObject(reply);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
    (void)RefreshSlots();
    auto again = NodeFor(argv);
    if (!again.ok()) return again.status();
    node = *again;
  }
  return absl::UnavailableError("redis cluster: " + last + " after " +
                                std::to_string(kMaxRedirects) + " attempts");
}

absl::StatusOr<RedisValue> RedisClient::Command(
    const std::vector<std::string>& argv) {
  auto node = NodeFor(argv);
  if (!node.ok()) return node.status();
  return Exec(*node, argv);
}

absl::StatusOr<std::vector<std::string>> RedisClient::Masters() {
  if (auto s = Connect(); !s.ok()) return s;
  if (!cluster_) return std::vector<std::string>{nodes_.begin()->first};
  if (slot_owner_.empty()) {
    if (auto s = RefreshSlots(); !s.ok()) return s;
  }
  std::set<std::string> masters(slot_owner_.begin(), slot_owner_.end());
  masters.erase("");
  return std::vector<std::string>(masters.begin(), masters.end());
}

absl::StatusOr<std::map<std::string, int>> RedisClient::SlotPerMaster() {
  if (auto s = Connect(); !s.ok()) return s;
  std::map<std::string, int> out;
  if (!cluster_) return out;
  if (slot_owner_.empty()) {
    if (auto s = RefreshSlots(); !s.ok()) return s;
  }
  for (int slot = 0; slot < static_cast<int>(slot_owner_.size()); ++slot) {
    if (!slot_owner_[slot].empty()) out.emplace(slot_owner_[slot], slot);
  }
  return out;
}

absl::StatusOr<RedisValue> RedisClient::CommandOn(
    const std::string& address, const std::vector<std::string>& argv) {
  if (auto s = Connect(); !s.ok()) return s;
  auto node = cluster_ ? NodeAt(address)
                       : absl::StatusOr<Node*>(&nodes_.begin()->second);
  if (!node.ok()) return node.status();
  AppendArgv((*node)->ctx.get(), argv);
  void* raw = nullptr;
  if (redisGetReply((*node)->ctx.get(), &raw) != REDIS_OK) raw = nullptr;
  return Convert((*node)->address, static_cast<redisReply*>(raw));
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::ForEachNode(
    const std::vector<std::string>& argv) {
  auto masters = Masters();
  if (!masters.ok()) return masters.status();
  std::vector<RedisValue> out;
  for (const auto& address : *masters) {
    auto v = CommandOn(address, argv);
    if (!v.ok()) return v.status();
    out.push_back(std::move(*v));
  }
  return out;
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  return PipelineRouted(commands, {}, {});
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::PipelineRouted(
    const std::vector<std::vector<std::string>>& commands,
    const std::vector<int>& route, const std::vector<char>& in_tx) {
  if (auto s = Connect(); !s.ok()) return s;
  // Each node's commands in order, sent together, then read together.
  // Groups name their node by address: a command run again on its own
  // (a redirect) may drop and reconnect another group's node.
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;
  std::map<std::string, size_t> group_of;
  for (size_t i = 0; i < commands.size(); ++i) {
    const bool routed = i < route.size() && route[i] >= 0;
    auto node = NodeFor(routed ? commands[route[i]] : commands[i]);
    if (!node.ok()) return node.status();
    auto [it, added] = group_of.try_emplace((*node)->address, groups.size());
    if (added) groups.push_back({(*node)->address, {}});
    groups[it->second].second.push_back(i);
  }
  std::vector<RedisValue> out(commands.size());
  absl::Status first_error;
  const bool wait = options_.wait_replicas > 0;
  const std::vector<std::string> wait_argv = WaitArgv();
  bool ran_elsewhere = false;  // A command run again on its own.
  for (const auto& [address, indices] : groups) {
    auto node = cluster_ ? NodeAt(address)
                         : absl::StatusOr<Node*>(&nodes_.begin()->second);
    if (!node.ok()) return node.status();
    redisContext* ctx = (*node)->ctx.get();
    for (size_t i : indices) AppendArgv(ctx, commands[i]);
    if (wait) AppendArgv(ctx, wait_argv);
    std::vector<ReplyPtr> replies;
    for (size_t k = 0; k < indices.size() + (wait ? 1 : 0); ++k) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK) {
        return Convert(address, nullptr).status();
      }
      replies.emplace_back(static_cast<redisReply*>(raw));
    }
    bool redirected = false;
    for (size_t k = 0; cluster_ && k < indices.size(); ++k) {
      std::string target;
      if (RedirectOf(replies[k].get(), &target) == Redirect::kNone) continue;
      redirected = true;
      if (indices[k] < in_tx.size() && in_tx[indices[k]]) {
        // Its transaction is discarded (EXECABORT): the whole call again,
        // once the map is fresh.
        const std::string why(replies[k]->str, replies[k]->len);
        (void)RefreshSlots();
        return absl::UnavailableError("redis " + address +
                                      ": transaction redirected: " + why);
      }
    }
    if (wait && !(redirected && replies.back()->type == REDIS_REPLY_ERROR)) {
      // (A node that lost its slots to a failover is a replica now: it
      // answers MOVED to the commands and an error to WAIT; the commands
      // run again elsewhere and are waited for there, below.)
      auto s = CheckWait(address, replies.back().get());
      if (!s.ok()) {
        if (cluster_) (void)RefreshSlots();  // A replica now, perhaps.
        return s;
      }
    }
    for (size_t k = 0; k < indices.size(); ++k) {
      const size_t i = indices[k];
      std::string target;
      absl::StatusOr<RedisValue> v;
      if (cluster_ &&
          RedirectOf(replies[k].get(), &target) != Redirect::kNone) {
        // Slot moved or moving, or cluster busy: this command again, on
        // its own (MOVED refreshes the map, ASK asks the importing node).
        replies[k].reset();
        v = Command(commands[i]);
        ran_elsewhere = true;
      } else {
        v = Convert(address, replies[k].release());
      }
      if (!v.ok()) {
        if (absl::IsUnavailable(v.status())) return v.status();
        if (first_error.ok()) first_error = v.status();
        continue;
      }
      out[i] = std::move(*v);
    }
  }
  if (wait && ran_elsewhere) {
    // Where a command ran after its redirect is not known here: every
    // master waits for its replicas.
    auto masters = Masters();
    if (!masters.ok()) return masters.status();
    for (const auto& address : *masters) {
      auto node = NodeAt(address);
      if (!node.ok()) return node.status();
      AppendArgv((*node)->ctx.get(), wait_argv);
      void* raw = nullptr;
      if (redisGetReply((*node)->ctx.get(), &raw) != REDIS_OK) {
        return Convert(address, nullptr).status();
      }
      ReplyPtr w(static_cast<redisReply*>(raw));
      if (auto s = CheckWait(address, w.get()); !s.ok()) return s;
    }
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
  if (!scripts_.contains(name)) {
    return absl::InternalError("redis script '" + name + "' is not registered");
  }
  auto v = RunSteps({ScriptCall{name, keys, args}});
  if (!v.ok()) {
    if (absl::IsFailedPrecondition(v.status())) {
      return absl::Status(
          v.status().code(),
          "redis script '" + name + "': " + std::string(v.status().message()));
    }
    return v.status();
  }
  return std::move((*v)[0]);
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::RunScripts(
    const std::vector<ScriptCall>& calls) {
  return RunSteps(std::vector<RedisStep>(calls.begin(), calls.end()));
}

absl::StatusOr<const std::string*> RedisClient::ShaOf(
    const std::string& script) const {
  auto it = scripts_.find(script);
  if (it == scripts_.end()) {
    return absl::InternalError("redis script '" + script +
                               "' is not registered");
  }
  return &it->second.sha;
}

std::vector<std::string> RedisClient::WaitArgv() const {
  return {"WAIT", std::to_string(options_.wait_replicas),
          std::to_string(options_.wait_timeout.count())};
}

absl::StatusOr<std::vector<std::string>> RedisClient::ArgvOf(
    const RedisStep& step) {
  if (const auto* argv = std::get_if<std::vector<std::string>>(&step)) {
    return *argv;
  }
  const auto& call = std::get<ScriptCall>(step);
  auto sha = ShaOf(call.script);
  if (!sha.ok()) return sha.status();
  std::vector<std::string> argv = {"EVALSHA", **sha,
                                   std::to_string(call.keys.size())};
  argv.insert(argv.end(), call.keys.begin(), call.keys.end());
  argv.insert(argv.end(), call.args.begin(), call.args.end());
  return argv;
}

absl::Status RedisClient::CheckWait(const std::string& address,
                                    const redisReply* w) const {
  if (w->type == REDIS_REPLY_INTEGER && w->integer >= options_.wait_replicas) {
    return absl::OkStatus();
  }
  if (w->type == REDIS_REPLY_ERROR) {
    // E.g. "WAIT cannot be used with replica instances": a failover made
    // this node a replica.
    return absl::UnavailableError("redis " + address +
                                  ": WAIT: " + std::string(w->str, w->len));
  }
  return absl::UnavailableError(
      "redis " + address + ": writes reached " +
      std::to_string(w->type == REDIS_REPLY_INTEGER ? w->integer : 0) + " of " +
      std::to_string(options_.wait_replicas) + " replicas within " +
      std::to_string(options_.wait_timeout.count()) + " ms");
}

absl::Status RedisClient::GuardRefusal(const std::string& address,
                                       const std::string& field) {
  if (field.empty()) {
    // The guard passed, yet the WATCHed fence changed before the EXEC: any
    // consumer's claim (of any partition) or refusal writes that key, so
    // this says nothing about ours. Not run; sent again, the guard decides.
    return absl::UnavailableError(
        "redis " + address +
        ": the fence changed between WATCH and EXEC (a claim somewhere); "
        "the transaction was not run and is sent again");
  }
  return absl::AbortedError("redis " + address + ": fenced: '" + field +
                            "' has a newer owner; the transaction was not run");
}

std::vector<std::string> RedisClient::GuardArgv(const std::string& key) const {
  std::vector<std::string> check = {"EVAL", kGuardScript, "1", key};
  for (const auto& [field, generation] : guard_->fields) {
    check.push_back(field);
    check.push_back(std::to_string(generation));
  }
  return check;
}

absl::StatusOr<RedisClient::Transaction> RedisClient::BuildTransaction(
    const std::vector<std::vector<RedisStep>>& groups,
    const std::vector<std::vector<std::string>>& reads) {
  Transaction t;
  auto* commands = &t.commands;
  auto* route = &t.route;
  auto* in_tx = &t.in_tx;
  bool open = false;  // A MULTI without its EXEC yet.
  int first = -1;     // The open transaction's first command.
  auto close = [&] {
    if (!open) return;
    commands->push_back({"EXEC"});
    route->push_back(first);
    in_tx->push_back(1);
    open = false;
    if (!t.guarded.empty() && t.guarded.back().second == 0) {
      t.guarded.back().second = commands->size() - 1;
    }
  };
  const bool fence = guard_ && !guard_->fields.empty();
  for (const auto& group : groups) {
    if (group.empty()) continue;
    if (cluster_) close();
    if (fence && !open) {
      // Behind WATCH of the fence (on a cluster, its copy in the group's
      // slot), and its check; both fail the call on a redirect, as the
      // group does.
      std::string copy = guard_->key;
      if (cluster_) {
        auto first = ArgvOf(group.front());
        if (!first.ok()) return first.status();
        const std::string* key = RedisCommandKey(*first);
        if (key == nullptr) {
          return absl::InternalError("redis: a fenced group without a key");
        }
        copy = RedisSlotCopy(guard_->key, RedisClusterSlot(*key));
      }
      commands->push_back({"WATCH", copy});
      route->push_back(-1);
      in_tx->push_back(1);
      commands->push_back(GuardArgv(copy));
      route->push_back(-1);
      in_tx->push_back(1);
      t.guarded.push_back({commands->size() - 1, 0});
    }
    if (!open) {
      commands->push_back({"MULTI"});
      first = static_cast<int>(commands->size());
      route->push_back(first);
      in_tx->push_back(1);
      open = true;
    }
    for (const auto& step : group) {
      auto argv = ArgvOf(step);
      if (!argv.ok()) return argv.status();
      commands->push_back(std::move(*argv));
      route->push_back(-1);
      in_tx->push_back(1);
    }
  }
  close();
  t.first_read = commands->size();
  for (const auto& r : reads) {
    commands->push_back(r);
    route->push_back(-1);
    in_tx->push_back(0);
  }
  return t;
}

absl::Status RedisClient::TransactStart(
    const std::vector<std::vector<RedisStep>>& groups,
    const std::vector<std::vector<std::string>>& reads) {
  if (auto s = Connect(); !s.ok()) return s;
  if (cluster_) {
    // Several nodes, redirects: run it now, hand the outcome over later.
    auto outcome = Transact(groups, reads);
    if (!outcome.ok()) return outcome.status();
    deferred_.emplace();
    deferred_->outcome = std::move(outcome);
    return absl::OkStatus();
  }
  return SendTransaction({}, groups, reads);
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::ReadThenTransactStart(
    const std::vector<std::vector<std::string>>& before,
    const std::vector<std::vector<RedisStep>>& groups,
    const std::vector<std::vector<std::string>>& reads) {
  if (auto s = Connect(); !s.ok()) return s;
  if (cluster_) {
    return absl::InternalError(
        "redis: reads ahead of a transaction need one node, not a cluster");
  }
  if (auto s = SendTransaction(before, groups, reads); !s.ok()) return s;
  Node& node = nodes_.begin()->second;
  std::vector<RedisValue> out;
  out.reserve(before.size());
  absl::Status first_error;
  for (size_t k = 0; k < before.size(); ++k) {
    void* raw = nullptr;
    if (redisGetReply(node.ctx.get(), &raw) != REDIS_OK) {
      // The connection is gone, and the transaction's outcome with it.
      deferred_.reset();
      return Convert(node.address, nullptr).status();
    }
    auto v = Convert(node.address, static_cast<redisReply*>(raw));
    if (!v.ok()) {
      if (first_error.ok()) first_error = v.status();
      continue;
    }
    out.push_back(std::move(*v));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::Status RedisClient::SendTransaction(
    const std::vector<std::vector<std::string>>& before,
    const std::vector<std::vector<RedisStep>>& groups,
    const std::vector<std::vector<std::string>>& reads) {
  if (auto s = EnsureScripts(); !s.ok()) return s;
  // Standalone: `before`, then one MULTI/EXEC of every group, then the
  // reads, encoded straight into one buffer (after `before`, the layout
  // BuildTransaction gives). The replies of `before` are the caller's.
  const bool writes = std::any_of(groups.begin(), groups.end(),
                                  [](const auto& g) { return !g.empty(); });
  std::string out;
  for (const auto& r : before) AppendResp(&out, r);
  size_t commands = 0;
  int guard_reply = -1;
  if (writes && guard_ && !guard_->fields.empty()) {
    AppendResp(&out, {"WATCH", guard_->key});
    AppendResp(&out, GuardArgv(guard_->key));
    guard_reply = 1;
    commands += 2;
  }
  if (writes) AppendResp(&out, {"MULTI"});
  for (const auto& group : groups) {
    for (const auto& step : group) {
      if (const auto* argv = std::get_if<std::vector<std::string>>(&step)) {
        AppendResp(&out, *argv);
      } else {
        const auto& call = std::get<ScriptCall>(step);
        auto sha = ShaOf(call.script);
        if (!sha.ok()) return sha.status();
        AppendHeader(&out, 3 + call.keys.size() + call.args.size());
        AppendBulk(&out, "EVALSHA");
        AppendBulk(&out, **sha);
        AppendBulk(&out, std::to_string(call.keys.size()));
        for (const auto& k : call.keys) AppendBulk(&out, k);
        for (const auto& a : call.args) AppendBulk(&out, a);
      }
      ++commands;
    }
  }
  if (writes) {
    AppendResp(&out, {"EXEC"});
    commands += 2;  // MULTI's and EXEC's replies.
  }
  const size_t first_read = commands;
  for (const auto& r : reads) AppendResp(&out, r);
  commands += reads.size();
  if (commands == 0 && before.empty()) {
    deferred_.emplace();
    deferred_->outcome = std::vector<RedisValue>{};
    return absl::OkStatus();
  }
  const bool wait = options_.wait_replicas > 0;
  if (wait) AppendResp(&out, WaitArgv());
  Node& node = nodes_.begin()->second;  // Standalone: the one node.
  if (redisAppendFormattedCommand(node.ctx.get(), out.data(), out.size()) !=
      REDIS_OK) {
    return Convert(node.address, nullptr).status();
  }
  // Out now; the replies are read by TransactFinish.
  int done = 0;
  while (!done) {
    if (redisBufferWrite(node.ctx.get(), &done) != REDIS_OK) {
      return Convert(node.address, nullptr).status();
    }
  }
  deferred_.emplace();
  deferred_->address = node.address;
  deferred_->replies = commands + (wait ? 1 : 0);
  deferred_->first_read = first_read;
  deferred_->wait = wait;
  deferred_->guard_reply = guard_reply;
  return absl::OkStatus();
}

bool RedisClient::TransactReady() {
  if (!deferred_ || deferred_->outcome) return true;
  auto it = nodes_.find(deferred_->address);
  if (it == nodes_.end()) return true;
  redisContext* c = it->second.ctx.get();
  // Parses what has arrived, reading the socket only when poll says it
  // would not block; an error is left for TransactFinish to report.
  while (deferred_->got.size() < deferred_->replies) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) return true;
    if (raw != nullptr) {
      deferred_->got.emplace_back(static_cast<redisReply*>(raw),
                                  freeReplyObject);
      continue;
    }
    pollfd p{c->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (redisBufferRead(c) != REDIS_OK) return true;
  }
  return true;
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::TransactFinish() {
  if (!deferred_) {
    return absl::InternalError("redis: no transaction in flight");
  }
  Deferred d = std::move(*deferred_);
  deferred_.reset();
  if (d.outcome) return std::move(*d.outcome);
  auto it = nodes_.find(d.address);
  if (it == nodes_.end()) {
    return absl::UnavailableError("redis " + d.address + ": connection lost");
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(d.replies);
  for (auto& r : d.got) {
    replies.emplace_back(r.release());
  }
  while (replies.size() < d.replies) {
    void* raw = nullptr;
    if (redisGetReply(it->second.ctx.get(), &raw) != REDIS_OK) {
      return Convert(d.address, nullptr).status();
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  if (d.guard_reply >= 0 && d.first_read > 0) {
    const redisReply* exec = replies[d.first_read - 1].get();
    const redisReply* guard = replies[d.guard_reply].get();
    if (exec != nullptr && exec->type == REDIS_REPLY_NIL) {
      return GuardRefusal(d.address,
                          guard != nullptr && guard->type == REDIS_REPLY_STRING
                              ? std::string(guard->str, guard->len)
                              : std::string());
    }
  }
  if (d.wait) {
    if (auto s = CheckWait(d.address, replies.back().get()); !s.ok()) return s;
    replies.pop_back();
  }
  std::vector<RedisValue> out;
  out.reserve(replies.size() - d.first_read);
  absl::Status first_error;
  for (size_t k = 0; k < replies.size(); ++k) {
    // The transaction's own replies are only checked for errors.
    auto v = k < d.first_read ? Check(d.address, replies[k].release())
                              : Convert(d.address, replies[k].release());
    if (!v.ok()) {
      if (absl::StrContains(v.status().message(), "NOSCRIPT")) {
        // Redis forgot the scripts: reconnecting loads them again; the
        // caller runs its (idempotent) writes again.
        Drop();
        return absl::UnavailableError("redis " + d.address +
                                      ": scripts missing; run again");
      }
      if (absl::IsUnavailable(v.status())) return v.status();
      if (first_error.ok()) first_error = v.status();
      continue;
    }
    if (k >= d.first_read) out.push_back(std::move(*v));
  }
  if (!first_error.ok()) return first_error;
  return out;
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::Transact(
    const std::vector<std::vector<RedisStep>>& groups,
    const std::vector<std::vector<std::string>>& reads) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto s = Connect(); !s.ok()) return s;
    if (auto s = EnsureScripts(); !s.ok()) return s;
    auto t = BuildTransaction(groups, reads);
    if (!t.ok()) return t.status();
    const size_t first_read = t->first_read;
    auto replies = PipelineRouted(t->commands, t->route, t->in_tx);
    if (!replies.ok() &&
        absl::StrContains(replies.status().message(), "NOSCRIPT")) {
      // A node forgot its scripts: reconnecting loads them again. The
      // callers' writes are idempotent, so running them again is safe.
      Drop();
      continue;
    }
    if (!replies.ok()) return replies.status();
    for (const auto& [guard, exec] : t->guarded) {
      if ((*replies)[exec].is_nil()) {
        const RedisValue& field = (*replies)[guard];
        return GuardRefusal("cluster", field.type == RedisValue::Type::kString
                                           ? field.str
                                           : "");
      }
    }
    return std::vector<RedisValue>(
        std::make_move_iterator(replies->begin() + first_read),
        std::make_move_iterator(replies->end()));
  }
  return absl::InternalError("redis scripts kept missing");
}

absl::StatusOr<std::vector<RedisValue>> RedisClient::RunSteps(
    const std::vector<RedisStep>& steps) {
  if (steps.empty()) return std::vector<RedisValue>{};
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto s = Connect(); !s.ok()) return s;
    if (auto s = EnsureScripts(); !s.ok()) return s;
    std::vector<std::vector<std::string>> commands;
    commands.reserve(steps.size());
    for (const auto& step : steps) {
      auto argv = ArgvOf(step);
      if (!argv.ok()) return argv.status();
      commands.push_back(std::move(*argv));
    }
    auto replies = Pipeline(commands);
    if (!replies.ok() && replies.status().message().rfind("NOSCRIPT", 0) == 0) {
      // A node forgot its scripts (restarted, SCRIPT FLUSH): reconnecting
      // loads them again.
      Drop();
      continue;
    }
    return replies;
  }
  return absl::InternalError("redis scripts kept missing");
}

absl::Status WaitForRedis(const std::function<absl::Status()>& connect,
                          const std::string& address,
                          std::chrono::milliseconds timeout) {
  const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  while (true) {
    absl::Status s = connect();
    if (s.ok()) return s;
    if (absl::StrContains(s.message(), kAuthRefused)) {
      // Waiting does not fix credentials: say so at once.
      return absl::UnavailableError(std::string(s.message()));
    }
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          "redis at " + address + " did not answer within " +
          absl::FormatDuration(absl::FromChrono(timeout)) + ": " +
          std::string(s.message()));
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
}

}  // namespace rebound
