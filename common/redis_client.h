// A small RAII client over hiredis 0.14 (no TLS, no connect-with-options):
// binary-safe commands, pipelines, and Lua scripts loaded once and run with
// EVALSHA. Not thread-safe: one client per thread.
//
// Redis Cluster: with several seed addresses, or a node that reports
// cluster_enabled:1, the client is slot-aware. Each command goes to the
// master owning its key's slot (CRC16 of the key's hash tag, from CLUSTER
// SLOTS); a pipeline is split per node (each node's part keeps its order,
// which is all callers rely on: every call's keys share one slot) and its
// replies are put back in order; MOVED refreshes the slot map and retries
// on the new owner, ASK retries once on the named node after ASKING,
// TRYAGAIN and CLUSTERDOWN are retried with a pause and then reported
// UNAVAILABLE. Scripts are loaded on every node connected. Keyless commands
// (PING, INFO, SCAN, ...) go to one node: see ForEachNode.
#ifndef REBOUND_COMMON_REDIS_CLIENT_H_
#define REBOUND_COMMON_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
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

// One step of a mixed pipeline (RedisClient::RunSteps): a script call or a
// plain command (its argv).
using RedisStep = std::variant<ScriptCall, std::vector<std::string>>;

// A fence on the transactions of a writer (RedisClient::set_guard): hash
// `key` maps each field (a partition, say) to the generation of its newest
// owner; a transaction runs only if none of `fields` holds a generation
// above the one given here, the one this writer claimed. On a Redis
// Cluster each slot has its copy of the hash (RedisSlotCopy(key, slot)),
// and a transaction checks the copy in its own slot.
struct TransactGuard {
  std::string key;
  std::vector<std::pair<std::string, int64_t>> fields;
};

// An HGETALL reply as field -> value (empty for nil or a non-array).
std::map<std::string, std::string> HashFields(const RedisValue& reply);

struct RedisOptions {
  // "host:port", or Redis Cluster seed nodes "host:port,host:port,...".
  std::string address = "127.0.0.1:6379";
  // kAuto: cluster mode when there are several seeds or the first node
  // reachable reports cluster_enabled:1.
  enum class Mode { kAuto, kStandalone, kCluster };
  Mode mode = Mode::kAuto;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  // When > 0, every pipeline ends, on each node it wrote to, with WAIT for
  // this many replicas (at most `wait_timeout`); fewer is UNAVAILABLE, so
  // callers retry and nothing is acknowledged that a failover to a replica
  // could lose. 0: no wait (a failover may lose the last ~ms of writes).
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
  // Credentials sent with AUTH on every new connection (Redis 6 ACLs:
  // user and password; a password alone authenticates the default user).
  // Empty password: no AUTH.
  std::string user{};
  std::string password{};
};

class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects if not connected. UNAVAILABLE naming the address on failure.
  absl::Status Connect();

  // Runs one command. A lost connection, a timeout, a failed script load,
  // or an error reply that a later attempt may not get (LOADING, BUSY,
  // MASTERDOWN, READONLY, NOREPLICAS, OOM, TRYAGAIN, CLUSTERDOWN; and
  // MISCONF, NOAUTH, NOPERM, the client limit, which an operator clears) is
  // UNAVAILABLE: retry it (the next call reconnects). Any other error reply
  // (WRONGTYPE, a script error, a syntax error) is FAILED_PRECONDITION with
  // Redis's message: retrying the same call fails the same way.
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
  // Script calls and plain commands interleaved, in order, in one round
  // trip: each step sees the writes of every step before it (on its node).
  // One value per step; the first error fails the whole call; NOSCRIPT is
  // handled as in RunScripts.
  absl::StatusOr<std::vector<RedisValue>> RunSteps(
      const std::vector<RedisStep>& steps);

  // Writes in transactions, then reads, in one round trip (per node).
  // Standalone: every group in one MULTI/EXEC. Cluster: each group, whose
  // commands must all address one slot, in its own MULTI/EXEC on that
  // slot's master. A group is applied whole or not at all when Redis
  // refuses a command as it is queued (OOM, a redirect, a bad command);
  // one that fails as it runs (a key of the wrong type) does not undo the
  // others (Redis has no rollback), so callers check key types first. A
  // redirect inside a transaction refreshes the slot map and is
  // UNAVAILABLE (nothing of that group was applied: retry). The reads'
  // values, in order; the first error fails the call.
  absl::StatusOr<std::vector<RedisValue>> Transact(
      const std::vector<std::vector<RedisStep>>& groups,
      const std::vector<std::vector<std::string>>& reads);

  // Transact in two halves, so the caller works while Redis runs it:
  // TransactStart sends the commands (standalone Redis; on a cluster it
  // runs the whole Transact now and keeps the outcome), TransactFinish
  // reads the replies and returns what Transact would. In between, no
  // other call may be made (it fails INTERNAL); TransactReady reads what
  // has come without waiting and tells whether every reply is in
  // (TransactFinish would not wait).
  absl::Status TransactStart(
      const std::vector<std::vector<RedisStep>>& groups,
      const std::vector<std::vector<std::string>>& reads);
  absl::StatusOr<std::vector<RedisValue>> TransactFinish();
  bool TransactReady();
  // Fences every later transaction of this client (nullopt or no fields:
  // none). Each goes behind WATCH of the guard's key and a script that,
  // when a field holds a newer generation, touches that key, so Redis
  // refuses the MULTI/EXEC whole (nothing of it runs): Transact and
  // TransactFinish return ABORTED "fenced: <field> ...". A transaction
  // whose guard passed but whose WATCHed key changed before its EXEC (any
  // consumer's claim writes it) did not run either: UNAVAILABLE, to be sent
  // again. On a Redis Cluster each group's transaction is fenced by the
  // copy of the key in its slot, and groups refused do not undo groups
  // that ran.
  void set_guard(std::optional<TransactGuard> guard) {
    guard_ = std::move(guard);
  }
  // `before` (reads), then TransactStart(groups, reads), in one write to
  // standalone Redis; returns the replies of `before` once they are in,
  // leaving the transaction in flight. On one connection Redis runs them in
  // that order, so `before` sees the state as it was before the
  // transaction, whatever the timing, while the caller works on their
  // replies as Redis runs the transaction. An error reply to one of
  // `before` is returned with the transaction still in flight
  // (transact_in_flight()); a lost connection, with nothing in flight
  // (the transaction's outcome unknown). A cluster: INTERNAL.
  absl::StatusOr<std::vector<RedisValue>> ReadThenTransactStart(
      const std::vector<std::vector<std::string>>& before,
      const std::vector<std::vector<RedisStep>>& groups,
      const std::vector<std::vector<std::string>>& reads);
  bool transact_in_flight() const { return deferred_.has_value(); }

  bool connected() const { return !nodes_.empty(); }
  bool cluster() const { return cluster_; }
  const std::string& address() const { return options_.address; }

  // Runs `argv` on every master (cluster) or on the one server: for
  // keyless work that spans the keyspace (INFO, DBSIZE). One value per node.
  absl::StatusOr<std::vector<RedisValue>> ForEachNode(
      const std::vector<std::string>& argv);
  // The masters' addresses (cluster), or the one server's.
  absl::StatusOr<std::vector<std::string>> Masters();
  // Cluster: the lowest slot each master owns, by its address (from the
  // slot map as last read). Standalone: empty.
  absl::StatusOr<std::map<std::string, int>> SlotPerMaster();
  // One keyless command on the node at `address` (SCAN of one node).
  absl::StatusOr<RedisValue> CommandOn(const std::string& address,
                                       const std::vector<std::string>& argv);

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using Context = std::unique_ptr<redisContext, ContextDeleter>;
  struct Node {
    std::string address;
    Context ctx;
  };
  absl::StatusOr<Context> Open(const std::string& address);
  // Pipeline's body. `route[i]` >= 0: command i goes to the node of command
  // route[i] (MULTI and EXEC follow their transaction's first command);
  // `in_tx[i]`: command i is inside a transaction, so a redirect fails the
  // call instead of running it again on its own. Both may be empty.
  absl::StatusOr<std::vector<RedisValue>> PipelineRouted(
      const std::vector<std::vector<std::string>>& commands,
      const std::vector<int>& route, const std::vector<char>& in_tx);
  // Transact's commands: each group in MULTI/EXEC (one transaction for
  // all on standalone Redis), then the reads; `route` and `in_tx` as
  // PipelineRouted takes them; `first_read` is the first read's index.
  struct Transaction {
    std::vector<std::vector<std::string>> commands;
    std::vector<int> route;
    std::vector<char> in_tx;
    size_t first_read = 0;
    // Fenced groups: the indices of the guard script's reply and of EXEC's.
    std::vector<std::pair<size_t, size_t>> guarded;
  };
  // Why a guarded transaction's EXEC answered nil: ABORTED "fenced" naming
  // `field` when the guard returned one (a newer owner); UNAVAILABLE
  // (transient: send it again) when the guard passed and the WATCHed key
  // changed anyway, as any consumer's claim changes it.
  static absl::Status GuardRefusal(const std::string& address,
                                   const std::string& field);
  // The guard's check (EVAL) on `key`, the fence hash or its slot copy.
  std::vector<std::string> GuardArgv(const std::string& key) const;
  absl::StatusOr<Transaction> BuildTransaction(
      const std::vector<std::vector<RedisStep>>& groups,
      const std::vector<std::vector<std::string>>& reads);
  // UNAVAILABLE unless `wait` (a WAIT reply) counts options_.wait_replicas.
  absl::Status CheckWait(const std::string& address,
                         const redisReply* wait) const;
  // The argv of a step (EVALSHA for a script call).
  absl::StatusOr<std::vector<std::string>> ArgvOf(const RedisStep& step);
  // The SHA of registered script `script`; INTERNAL when there is none.
  absl::StatusOr<const std::string*> ShaOf(const std::string& script) const;
  // WAIT for options_.wait_replicas within options_.wait_timeout.
  std::vector<std::string> WaitArgv() const;
  // Cluster mode: the slot map from a seed or a connected node.
  absl::Status ConnectCluster();
  absl::Status RefreshSlots();
  // The node for `argv` (its first key's slot; any node when keyless),
  // connected, with the scripts loaded.
  absl::StatusOr<Node*> NodeFor(const std::vector<std::string>& argv);
  absl::StatusOr<Node*> NodeAt(const std::string& address);
  absl::StatusOr<RedisValue> Convert(std::string node, redisReply* reply);
  // Convert's errors, without converting a reply that has none (an empty
  // value instead).
  absl::StatusOr<RedisValue> Check(const std::string& node, redisReply* reply);
  // Loads any script not loaded yet on every connected node.
  absl::Status EnsureScripts();
  // One command on `node`, following redirects (cluster).
  absl::StatusOr<RedisValue> Exec(Node* node,
                                  const std::vector<std::string>& argv);
  absl::Status LoadScripts(Node& node);
  void Drop();
  void DropNode(Node& node);

  RedisOptions options_;
  std::vector<std::string> seeds_;  // options_.address, parsed once.
  bool cluster_ = false;
  std::map<std::string, Node> nodes_;    // By address.
  std::vector<std::string> slot_owner_;  // Cluster: master per slot.
  struct Script {
    std::string source;
    std::string sha;
  };
  std::map<std::string, Script> scripts_;
  // Standalone: writes `before`, then the transaction of `groups` and
  // `reads` (TransactStart's layout), and leaves the transaction's replies
  // to TransactFinish (deferred_); the replies of `before` come first and
  // are the caller's to read.
  absl::Status SendTransaction(
      const std::vector<std::vector<std::string>>& before,
      const std::vector<std::vector<RedisStep>>& groups,
      const std::vector<std::vector<std::string>>& reads);
  // A transaction sent by TransactStart whose replies are unread.
  struct Deferred {
    std::string address;  // Standalone: the node it went to.
    size_t replies = 0;   // Replies to read (WAIT's included).
    size_t first_read = 0;
    bool wait = false;
    // Guarded: the index of the guard script's reply (EXEC's is just
    // before first_read); -1 when not guarded.
    int guard_reply = -1;
    // Replies TransactReady has read so far.
    std::vector<std::unique_ptr<redisReply, void (*)(void*)>> got;
    // Cluster: Transact's outcome, run in TransactStart.
    std::optional<absl::StatusOr<std::vector<RedisValue>>> outcome;
  };
  std::optional<Deferred> deferred_;
  std::optional<TransactGuard> guard_;
};

// The slots of a Redis Cluster.
inline constexpr int kRedisClusterSlots = 16384;

// A hash tag of Redis Cluster slot `slot` (0..16383): the smallest decimal
// number whose slot it is.
const std::string& RedisSlotTag(int slot);
// `key`'s copy in slot `slot`: "<key>:{<RedisSlotTag(slot)>}".
std::string RedisSlotCopy(std::string_view key, int slot);

// Redis Cluster's slot of `key`: CRC16 (XMODEM) of its hash tag (the text
// between the first '{' and the next '}', when non-empty) modulo 16384.
int RedisClusterSlot(std::string_view key);
// The key a command addresses first (its slot decides the node), or
// nullptr for a keyless command.
const std::string* RedisCommandKey(const std::vector<std::string>& argv);

// Whether `status` (from RedisClient) may go away by retrying the same
// call: UNAVAILABLE or DEADLINE_EXCEEDED. Everything else that is not OK
// (FAILED_PRECONDITION: Redis refused this call for good; INTERNAL: a
// reply of a shape the caller cannot use) is poison for the input that
// made the call.
inline bool IsTransientRedisError(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

// Calls `connect` every 250 ms until it is OK or `timeout` passed; then
// UNAVAILABLE: "redis at <address> did not answer within <timeout>: <the
// last error>". For start-up.
absl::Status WaitForRedis(const std::function<absl::Status()>& connect,
                          const std::string& address,
                          std::chrono::milliseconds timeout);

class ConfigReader;
// The Redis settings every service reads: --redis-addr (one host:port or
// cluster seeds), --redis-mode (auto, standalone, cluster),
// --redis-wait-replicas and --redis-wait-timeout (see RedisOptions).
RedisOptions ReadRedisOptions(ConfigReader& config);

// Parses "host:port"; INVALID_ARGUMENT naming the text otherwise.
absl::Status ParseHostPort(const std::string& address, std::string* host,
                           int* port);

}  // namespace rebound

#endif  // REBOUND_COMMON_REDIS_CLIENT_H_
