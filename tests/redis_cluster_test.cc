// The slot-aware RedisClient and scoring's store against a real Redis
// Cluster (3 masters, 3 replicas) that scripts/test.sh starts with
// deploy/local/redis_cluster.sh: commands and pipelines reach the owners of
// their slots, scoring's scripts run there, and slots resharded while events
// are written lose and double nothing.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/redis_client.h"
#include "gtest/gtest.h"
#include "services/scoring/classifier.h"
#include "services/scoring/score_store.h"
#include "state/epoch.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"

namespace rebound {
namespace {

using rebound::v1::ConnectionEvent;

// A connection the server closed (here: CLIENT KILL) fails the next command
// with UNAVAILABLE naming the node, and the one after reconnects. The
// failing command used to build its message from the address of the node
// it had just dropped (a use after free, found by scripts/sanitize.sh).
TEST(RedisClient, AConnectionTheServerClosedIsReportedThenReplaced) {
  const std::string addr = testing::RequiredEnv("REBOUND_REDIS_ADDR");
  ASSERT_FALSE(addr.empty());
  RedisOptions o;
  o.address = addr;
  o.mode = RedisOptions::Mode::kStandalone;
  RedisClient client(o);
  auto id = client.Command({"CLIENT", "ID"});
  ASSERT_TRUE(id.ok()) << id.status();
  RedisClient killer(o);
  auto killed =
      killer.Command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(killed->integer, 1);
  auto lost = client.Command({"PING"});
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(lost.status().message().find("redis " + addr),
            absl::string_view::npos)
      << lost.status();
  auto again = client.Command({"PING"});
  EXPECT_TRUE(again.ok()) << again.status();
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// `cluster nodes` of the node at `port`: one row of fields per node.
std::vector<std::vector<std::string>> ClusterNodes(const std::string& port) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(Shell("redis-cli -p " + port + " cluster nodes"));
  for (std::string line; std::getline(lines, line);) {
    rows.push_back(absl::StrSplit(line, ' ', absl::SkipEmpty()));
  }
  return rows;
}

std::string PortOf(const std::string& bus_address) {
  const std::string addr = bus_address.substr(0, bus_address.find('@'));
  return addr.substr(addr.rfind(':') + 1);
}

// Polls `done` every 100 ms for up to `seconds`.
bool WaitUntil(int seconds, const std::function<bool()>& done) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

bool IsMasterWithSyncedReplica(const std::string& port) {
  const std::string info = Shell("redis-cli -p " + port + " info replication");
  return absl::StrContains(info, "role:master") &&
         absl::StrContains(info, "state=online");
}

// A slot's master (as the node at `port` sees it) and its replica.
struct SlotNodes {
  std::string id, port, replica_port;
};
SlotNodes OwnerOfAt(const std::string& port, int slot) {
  const auto rows = ClusterNodes(port);
  SlotNodes out;
  for (const auto& f : rows) {
    if (f.size() < 9 || !absl::StrContains(f[2], "master")) continue;
    for (size_t i = 8; i < f.size(); ++i) {
      std::vector<std::string> range = absl::StrSplit(f[i], '-');
      if (range[0].empty() || range[0][0] == '[') continue;  // Migrating.
      const int lo = std::stoi(range[0]);
      const int hi = range.size() > 1 ? std::stoi(range[1]) : lo;
      if (slot >= lo && slot <= hi) {
        out.id = f[0];
        out.port = PortOf(f[1]);
      }
    }
  }
  for (const auto& f : rows) {
    if (f.size() > 3 && !out.id.empty() && f[3] == out.id) {
      out.replica_port = PortOf(f[1]);
    }
  }
  return out;
}

// A manual failover of `replica` (its master agreeing): true once it is a
// master with `old_master` as its synced replica. Redis drops a manual
// failover its master did not answer within 5 s (seen right after an
// earlier one), so it is asked again, up to 5 times.
bool ManualFailover(const std::string& replica, const std::string& old_master) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    Shell("redis-cli -p " + replica + " cluster failover");
    if (WaitUntil(12, [&] {
          return IsMasterWithSyncedReplica(replica) &&
                 absl::StartsWith(Shell("redis-cli -p " + old_master + " role"),
                                  "slave");
        })) {
      return true;
    }
  }
  return false;
}

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seeds_ = testing::RequiredEnv("REBOUND_REDIS_CLUSTER_ADDR");
    ASSERT_FALSE(seeds_.empty());
    options_.address = seeds_;
    auto cfg = scoring::LoadClassifierConfig(std::string(REBOUND_SOURCE_DIR) +
                                             "/config/classifier.json");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    classifier_ = *cfg;
  }

  // Applies `events` as scoring's consumer does (a decline's context read
  // after everything before it is written), retrying what the cluster
  // answers while slots move. False if a call kept failing.
  bool ApplyAll(scoring::ScoreStore& store,
                const std::vector<ConnectionEvent>& events) {
    // Up to 60 s per call: after a master is killed, its replica's takeover
    // and the old master's return and full sync (before WAIT has a replica
    // again) took over 20 s on a loaded CI machine.
    constexpr int kAttempts = 1200;
    std::vector<std::pair<const ConnectionEvent*,
                          std::optional<rebound::v1::DeclineVerdict>>>
        held;
    auto items = [&] {
      scoring::ScoreStore::Batch b;
      for (auto& [e, v] : held) b.emplace_back(e, v ? &*v : nullptr);
      return b;
    };
    for (const auto& e : events) {
      std::optional<rebound::v1::DeclineVerdict> verdict;
      if (e.has_request_declined() || e.has_request_expired()) {
        absl::StatusOr<scoring::ScoreStore::DeclineState> st;
        for (int i = 0; i < kAttempts; ++i) {
          st = store.ApplyBatchThenRead(items(), e);
          if (st.ok()) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!st.ok()) {
          ADD_FAILURE() << st.status();
          return false;
        }
        held.clear();
        verdict = st->stored_verdict
                      ? *st->stored_verdict
                      : scoring::Classify(classifier_, st->context);
      }
      held.emplace_back(&e, std::move(verdict));
    }
    absl::Status s;
    for (int i = 0; i < kAttempts; ++i) {
      s = store.ApplyBatch(items());
      if (s.ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << s;
    return false;
  }

  void ExpectCounters(RedisClient& redis, const std::string& tenant,
                      const std::vector<ConnectionEvent>& events) {
    for (const auto& [member, want] : testing::ExpectedCounters(events)) {
      auto got = state::ReadMemberScores(redis, tenant, member);
      ASSERT_TRUE(got.ok()) << member << ": " << got.status();
      const auto& s = got->as_sender();
      const auto& r = got->as_recipient();
      EXPECT_EQ(s.sent(), want.sent) << member;
      EXPECT_EQ(s.accepted(), want.accepted) << member;
      EXPECT_EQ(s.declined(), want.declined) << member;
      EXPECT_EQ(s.reported(), want.reported) << member;
      EXPECT_EQ(s.pending(), want.pending) << member;
      EXPECT_EQ(s.expired(), want.expired) << member;
      EXPECT_EQ(s.withdrawn(), want.withdrawn) << member;
      EXPECT_EQ(r.received(), want.received) << member;
      EXPECT_EQ(r.accepted(), want.received_accepted) << member;
    }
  }

  // The cluster's options with WAIT for one replica after each write.
  RedisOptions Waiting() const {
    RedisOptions o = options_;
    o.wait_replicas = 1;
    o.wait_timeout = std::chrono::milliseconds(500);
    return o;
  }
  // `argv` alone in a pipeline, tried up to 5 times; `attempts` counts them.
  static absl::StatusOr<std::vector<RedisValue>> Tried(
      RedisClient& redis, const std::vector<std::string>& argv, int* attempts) {
    absl::StatusOr<std::vector<RedisValue>> got;
    for (*attempts = 1; *attempts <= 5; ++*attempts) {
      got = redis.Pipeline({argv});
      if (got.ok()) break;
    }
    *attempts = std::min(*attempts, 5);
    return got;
  }

  SlotNodes OwnerOf(int slot) const {
    return OwnerOfAt(PortOf(seeds_.substr(0, seeds_.find(','))), slot);
  }

  std::string seeds_;
  RedisOptions options_;
  scoring::ClassifierConfig classifier_;
};

TEST_F(RedisClusterTest, CommandsAndPipelinesReachTheirSlotsOwners) {
  RedisClient redis(options_);
  ASSERT_TRUE(redis.Connect().ok());
  EXPECT_TRUE(redis.cluster());
  const std::string run = testing::UniqueTopic("rc");
  std::vector<std::vector<std::string>> sets, gets;
  for (int i = 0; i < 300; ++i) {
    const std::string key = absl::StrCat(run, ":{k", i, "}");
    sets.push_back({"SET", key, std::to_string(i * 7)});
    gets.push_back({"GET", key});
  }
  auto set = redis.Pipeline(sets);
  ASSERT_TRUE(set.ok()) << set.status();
  auto got = redis.Pipeline(gets);
  ASSERT_TRUE(got.ok()) << got.status();
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ((*got)[i].str, std::to_string(i * 7)) << "reply out of order";
  }
  // The keys are spread over the masters, each on its slot's owner.
  auto sizes = redis.ForEachNode({"DBSIZE"});
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_EQ(sizes->size(), 3u);
  int with_keys = 0;
  for (const auto& v : *sizes) with_keys += v.integer > 0;
  EXPECT_EQ(with_keys, 3);
  auto one = redis.Command({"GET", absl::StrCat(run, ":{k42}")});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->str, "294");
}

// The epoch on a cluster: one master losing its data (its copies of the
// epoch gone, the main key on another master intact) is reported naming
// that master, by a holder's check and by a new holder's adoption; copies
// missing everywhere (a state made before they existed) are written.
TEST_F(RedisClusterTest, AMasterThatLostItsDataIsFoundByTheEpochsCopies) {
  RedisClient redis(options_);
  ASSERT_TRUE(redis.Connect().ok());
  ASSERT_TRUE(redis.cluster());
  const std::string key = "rb:epoch:" + testing::UniqueTopic("it");
  state::Epoch holder(key, "the rebuild");
  ASSERT_TRUE(holder.Ensure(redis, /*may_create=*/true).ok());
  ASSERT_TRUE(holder.CheckNow(redis).ok());
  // Every copy on `node`, as a master that lost its data would have none.
  auto copies_on = [&](const std::string& node) {
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      auto page = redis.CommandOn(
          node, {"SCAN", cursor, "MATCH", key + ":slot:*", "COUNT", "1000"});
      if (!page.ok() || page->array.size() != 2) {
        ADD_FAILURE() << "SCAN on " << node;
        break;
      }
      cursor = page->array[0].str;
      for (const auto& k : page->array[1].array) keys.push_back(k.str);
    } while (cursor != "0");
    return keys;
  };
  auto drop = [&](const std::vector<std::string>& keys) {
    std::vector<std::vector<std::string>> dels;
    for (const auto& k : keys) dels.push_back({"DEL", k});
    if (dels.empty()) return;
    ASSERT_TRUE(redis.Pipeline(dels).ok());
  };
  auto masters = redis.Masters();
  ASSERT_TRUE(masters.ok()) << masters.status();
  ASSERT_EQ(masters->size(), 3u);
  int total = 0;
  for (const auto& m : *masters) total += copies_on(m).size();
  EXPECT_EQ(total, 16384);
  // A master not holding the main key loses its copies.
  const SlotNodes main = OwnerOf(RedisClusterSlot(key));
  std::string lost;
  for (const auto& m : *masters) {
    if (m.substr(m.rfind(':') + 1) != main.port) lost = m;
  }
  ASSERT_FALSE(lost.empty());
  drop(copies_on(lost));
  absl::Status check = holder.CheckNow(redis);
  EXPECT_TRUE(absl::IsDataLoss(check)) << check;
  EXPECT_NE(check.message().find(lost), absl::string_view::npos) << check;
  state::Epoch late(key, "the rebuild");
  EXPECT_TRUE(absl::IsDataLoss(late.Ensure(redis, /*may_create=*/false)));
  EXPECT_FALSE(late.adopted());
  // Not over until a rebuild: the main key alone is not adopted again.
  EXPECT_TRUE(absl::IsDataLoss(holder.AdoptRebuilt(redis)));
  // A rebuild's new epoch (copies first, then the main key) is.
  state::Epoch rebuilder(key, "the rebuild");
  ASSERT_TRUE(rebuilder.SetNew(redis).ok());
  ASSERT_TRUE(holder.AdoptRebuilt(redis).ok());
  EXPECT_TRUE(holder.CheckNow(redis).ok());
  ASSERT_TRUE(late.Ensure(redis, /*may_create=*/false).ok());
  // Copies never all written (an older version's state, or a write cut
  // short: no marker): written now from the main key, not a loss.
  drop(copies_on(lost));
  drop({holder.MarkerKey()});
  state::Epoch cut_short(key, "the rebuild");
  ASSERT_TRUE(cut_short.Ensure(redis, /*may_create=*/false).ok());
  EXPECT_TRUE(holder.CheckNow(redis).ok());
  for (const auto& m : *masters) drop(copies_on(m));
  drop({holder.MarkerKey()});
  state::Epoch upgraded(key, "the rebuild");
  ASSERT_TRUE(upgraded.Ensure(redis, /*may_create=*/false).ok());
  EXPECT_TRUE(holder.CheckNow(redis).ok());
  total = 0;
  for (const auto& m : *masters) total += copies_on(m).size();
  EXPECT_EQ(total, 16384);
  for (const auto& m : *masters) drop(copies_on(m));
  drop({key, holder.MarkerKey()});
}

// Transactions (scoring's and notify's writes): one MULTI/EXEC per group on
// its slot's master, the reads after them in the same round trip; a group
// Redis refuses as it is queued is applied not at all.
TEST_F(RedisClusterTest, TransactionsRunPerGroupOnTheirSlotsOwners) {
  RedisClient redis(options_);
  ASSERT_TRUE(redis.Connect().ok());
  const std::string run = testing::UniqueTopic("tx");
  std::vector<std::vector<RedisStep>> groups;
  std::vector<std::vector<std::string>> reads;
  for (int i = 0; i < 100; ++i) {
    const std::string tag = absl::StrCat(run, ":{m", i, "}");
    groups.push_back({std::vector<std::string>{"SET", tag + ":a", "1"},
                      std::vector<std::string>{"HINCRBY", tag + ":h", "n", "2"},
                      std::vector<std::string>{"EXPIRE", tag + ":h", "600"}});
    reads.push_back({"HGET", tag + ":h", "n"});
  }
  auto got = redis.Transact(groups, reads);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 100u);
  for (const auto& v : *got) EXPECT_EQ(v.str, "2");
  auto sizes = redis.ForEachNode({"DBSIZE"});
  ASSERT_TRUE(sizes.ok());
  int with_keys = 0;
  for (const auto& v : *sizes) with_keys += v.integer > 0;
  EXPECT_EQ(with_keys, 3) << "the groups did not spread over the masters";

  // A command with a wrong number of arguments is refused as it is queued:
  // its group's transaction is discarded, the SET before it never runs.
  const std::string tag = absl::StrCat(run, ":{bad}");
  auto bad =
      redis.Transact({{std::vector<std::string>{"SET", tag + ":a", "1"},
                       std::vector<std::string>{"HINCRBY", tag + ":h", "n"}}},
                     {});
  EXPECT_FALSE(bad.ok());
  auto exists = redis.Command({"EXISTS", tag + ":a"});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 0);
}

TEST_F(RedisClusterTest, OneSeedIsEnoughAndItsNodeRunsScriptsToo) {
  // A single seed: the client finds out it is a cluster (cluster_enabled:1)
  // and loads the scripts on that node as on every other.
  RedisOptions one = options_;
  one.address = seeds_.substr(0, seeds_.find(','));
  const std::string tenant = testing::UniqueTopic("rc1");
  auto events = testing::SimulatedStream(tenant, 600, 37);
  scoring::ScoreStoreOptions so;
  so.redis = one;
  scoring::ScoreStore store(so);
  ASSERT_TRUE(ApplyAll(store, events));
  RedisClient redis(one);
  ASSERT_TRUE(redis.Connect().ok());
  EXPECT_TRUE(redis.cluster());
  ExpectCounters(redis, tenant, events);
}

// The partition fence on a cluster: a claim raises every slot's copy, so a
// store whose partition was claimed since has every group of its batch
// refused (nothing written), while the new owner's writes go.
TEST_F(RedisClusterTest, AStoreWhosePartitionWasClaimedSinceWritesNothing) {
  const std::string tenant = testing::UniqueTopic("rcf");
  auto events = testing::SimulatedStream(tenant, 400, 41);
  const std::string field = state::FenceField(tenant, "events", 0);
  scoring::ScoreStoreOptions so;
  so.redis = options_;
  scoring::ScoreStore a(so), b(so);
  ASSERT_TRUE(a.Connect().ok());
  ASSERT_TRUE(b.Connect().ok());
  ASSERT_TRUE(a.Claim({field}).ok());
  ASSERT_TRUE(b.Claim({field}).ok());
  EXPECT_GT(b.claimed().at(field), a.claimed().at(field));
  std::vector<scoring::ScoreStore::Step> steps;
  for (const auto& e : events) {
    steps.push_back(scoring::ScoreStore::Step::Of(e, std::nullopt));
  }
  const auto classify = [&](const scoring::DeclineContext& c) {
    return scoring::Classify(classifier_, c);
  };
  auto refused = a.RunSteps(steps, classify);
  EXPECT_TRUE(scoring::IsFenced(refused.status())) << refused.status();
  RedisClient redis(options_);
  ASSERT_TRUE(redis.Connect().ok());
  for (const auto& e : events) {
    auto there = redis.Command(
        {"EXISTS", state::MemberKeys(tenant, e.sender_id()).Sender()});
    ASSERT_TRUE(there.ok()) << there.status();
    ASSERT_EQ(there->integer, 0) << "a refused batch wrote " << e.sender_id();
  }
  ASSERT_TRUE(b.RunSteps(steps, classify).ok());
  ExpectCounters(redis, tenant, events);
  a.ForgetCached();
  refused = a.RunSteps(steps, classify);
  EXPECT_TRUE(scoring::IsFenced(refused.status())) << refused.status();
}

TEST_F(RedisClusterTest, ScoringsScriptsRunOnTheClusterAndSurviveAReshard) {
  const std::string tenant = testing::UniqueTopic("rct");
  auto events = testing::SimulatedStream(tenant, 4000, 23);
  const size_t half = events.size() / 2;
  std::vector<ConnectionEvent> first(events.begin(), events.begin() + half);
  std::vector<ConnectionEvent> second(events.begin() + half, events.end());
  scoring::ScoreStoreOptions so;
  so.redis = options_;
  scoring::ScoreStore store(so);
  ASSERT_TRUE(ApplyAll(store, first));

  // Move 2000 slots between two masters while the second half is written.
  const std::string seed = seeds_.substr(0, seeds_.find(','));
  const std::string port = seed.substr(seed.rfind(':') + 1);
  // Master id -> slots it owns, from CLUSTER NODES.
  auto owners = [&] {
    std::map<std::string, int> slots;
    std::istringstream nodes(Shell("redis-cli -p " + port + " cluster nodes"));
    for (std::string line; std::getline(nodes, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() < 8 || f[2].find("master") == std::string::npos) continue;
      int n = 0;
      for (size_t i = 8; i < f.size(); ++i) {
        if (f[i].empty() || f[i][0] == '[') continue;  // Migrating marks.
        std::vector<std::string> r = absl::StrSplit(f[i], '-');
        n += r.size() == 2 ? std::stoi(r[1]) - std::stoi(r[0]) + 1 : 1;
      }
      slots[f[0]] = n;
    }
    return slots;
  };
  const auto before = owners();
  // From the master with the most slots (runs before this one, on the
  // same cluster, moved some) to another one.
  std::vector<std::string> masters;
  for (const auto& [id, n] : before) masters.push_back(id);
  ASSERT_GE(masters.size(), 2u);
  std::sort(masters.begin(), masters.end(), [&](const auto& a, const auto& b) {
    return before.at(a) > before.at(b);
  });
  ASSERT_GE(before.at(masters[0]), 2000);
  std::thread reshard([&] {
    Shell("redis-cli --cluster reshard 127.0.0.1:" + port + " --cluster-from " +
          masters[0] + " --cluster-to " + masters[1] +
          " --cluster-slots 2000 --cluster-yes >/dev/null 2>&1");
  });
  ASSERT_TRUE(ApplyAll(store, second));
  reshard.join();
  const auto after = owners();
  EXPECT_EQ(after.at(masters[1]), before.at(masters[1]) + 2000)
      << "the reshard did not happen";
  // Replays (the whole stream again) change nothing.
  ASSERT_TRUE(ApplyAll(store, events));

  RedisClient redis(options_);
  ExpectCounters(redis, tenant, events);

  // A rebuild starts from empty scoring keys on every master.
  auto removed = store.RemoveScoringState();
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_GT(*removed, 0);
  for (const auto& [member, want] : testing::ExpectedCounters(events)) {
    EXPECT_TRUE(absl::IsNotFound(
        state::ReadMemberScores(redis, tenant, member).status()))
        << member << " kept keys on some master";
  }
}

TEST_F(RedisClusterTest, ASlotWithoutAMasterInTheMapIsAskedAgain) {
  // A slot map taken while a slot had no master (a node's view lagging a
  // failover; a slot unassigned, then assigned again) is asked again when
  // that slot is used, not answered "no master" for as long as nothing
  // else refreshes it (CI run 50: 60 s of that after a failover).
  const std::string key = testing::UniqueTopic("rcu") + ":{unowned}";
  const std::string slot = std::to_string(RedisClusterSlot(key));
  const SlotNodes owner = OwnerOf(RedisClusterSlot(key));
  ASSERT_FALSE(owner.id.empty()) << "no master owns the key's slot";
  std::vector<std::string> ports;
  for (const auto& seed : absl::StrSplit(seeds_, ',')) {
    ports.push_back(std::string(seed.substr(seed.rfind(':') + 1)));
  }
  auto all_ok = [&] {
    for (const auto& p : ports) {
      if (!absl::StrContains(Shell("redis-cli -p " + p + " cluster info"),
                             "cluster_state:ok")) {
        return false;
      }
    }
    return true;
  };
  // Every node forgets who owns the slot.
  for (const auto& p : ports) {
    Shell("redis-cli -p " + p + " cluster delslots " + slot);
  }
  RedisClient redis(options_);
  auto unowned = redis.Command({"GET", key});
  EXPECT_TRUE(absl::IsUnavailable(unowned.status())) << unowned.status();
  // Its master takes it again; once every node agrees, the same client
  // finds it.
  Shell("redis-cli -p " + owner.port + " cluster addslots " + slot);
  ASSERT_TRUE(WaitUntil(30, all_ok)) << "the cluster did not recover";
  auto put = redis.Command({"SET", key, "owned"});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(Shell("redis-cli -p " + owner.port + " get " + key), "owned\n");
}

TEST_F(RedisClusterTest, AMasterTurnedReplicaSendsWritesToItsSuccessor) {
  // A master that loses its slots and stays up as a replica (a failover,
  // or a killed master back as its successor's replica) answers MOVED to
  // writes and an error to WAIT: the client must take the new map, not
  // report "0 replicas" for ever.
  RedisClient redis(Waiting());
  const std::string key = testing::UniqueTopic("rcm") + ":{turn}";
  // Replicas of a cluster just made may still be in their first sync.
  absl::StatusOr<std::vector<RedisValue>> first;
  ASSERT_TRUE(WaitUntil(60, [&] {
    first = redis.Pipeline({{"SET", key, "1"}});
    return first.ok();
  })) << first.status();

  const SlotNodes owner = OwnerOf(RedisClusterSlot(key));
  ASSERT_FALSE(owner.id.empty()) << "no master owns the key's slot";
  const std::string& owner_port = owner.port;
  const std::string& replica_port = owner.replica_port;
  ASSERT_FALSE(replica_port.empty()) << "the owner has no replica";

  // The replica takes over with the master's consent; the old master
  // stays up as its replica.
  ASSERT_TRUE(ManualFailover(replica_port, owner_port))
      << "the manual failover did not complete";

  int attempts = 0;
  auto second = Tried(redis, {"SET", key, "2"}, &attempts);
  ASSERT_TRUE(second.ok()) << second.status() << " after " << attempts
                           << " attempts";
  EXPECT_LE(attempts, 2) << "one attempt to learn the map, one to write";
  EXPECT_EQ(Shell("redis-cli -p " + replica_port + " get " + key), "2\n");

  // The old layout back, for the tests after this one.
  EXPECT_TRUE(ManualFailover(owner_port, replica_port))
      << "the failover back did not complete";
}

TEST_F(RedisClusterTest, AWaitedPipelineFollowsAnAskAndWaitsWhereItWrote) {
  // A slot being migrated answers ASK for a key its source does not hold:
  // the command runs again on the importing node, and with WAIT the
  // pipeline waits for the replicas of every master it may have written
  // to (not only the one it asked first), and does not fail the call.
  RedisClient redis(Waiting());
  const std::string key = testing::UniqueTopic("rca") + ":{ask}";
  const int slot = RedisClusterSlot(key);
  // The slot's master and another one, each with its replica (as the
  // nodes see them: after an earlier test's failover that may take a
  // moment).
  SlotNodes src, dst;
  WaitUntil(30, [&] {
    src = OwnerOf(slot);
    dst = SlotNodes();
    for (const auto& f : ClusterNodes(src.port)) {
      if (f.size() > 8 && absl::StrContains(f[2], "master") && f[0] != src.id &&
          f[8][0] != '[') {
        // The owner of its own first slot.
        dst = OwnerOfAt(src.port, std::stoi(f[8].substr(0, f[8].find('-'))));
        break;
      }
    }
    return !src.replica_port.empty() && !dst.replica_port.empty();
  });
  ASSERT_FALSE(src.replica_port.empty()) << "slot " << slot << ": no replica";
  ASSERT_FALSE(dst.replica_port.empty()) << "no other master with a replica";
  ASSERT_TRUE(WaitUntil(60, [&] {
    return IsMasterWithSyncedReplica(src.port) &&
           IsMasterWithSyncedReplica(dst.port);
  })) << "replicas not in sync";
  const std::string setslot = " cluster setslot " + std::to_string(slot) + " ";
  Shell("redis-cli -p " + dst.port + setslot + "importing " + src.id);
  Shell("redis-cli -p " + src.port + setslot + "migrating " + dst.id);

  int attempts = 0;
  auto put = Tried(redis, {"SET", key, "asked"}, &attempts);
  // The migration finished either way: the slot (and the key) is the
  // importing node's, on every master's map.
  Shell("redis-cli -p " + dst.port + setslot + "node " + dst.id);
  Shell("redis-cli -p " + src.port + setslot + "node " + dst.id);
  for (const auto& f : ClusterNodes(src.port)) {
    if (f.size() > 2 && absl::StrContains(f[2], "master")) {
      Shell("redis-cli -p " + PortOf(f[1]) + setslot + "node " + dst.id);
    }
  }
  ASSERT_TRUE(put.ok()) << put.status() << " after " << attempts << " attempts";
  EXPECT_EQ(attempts, 1) << "an ASK is followed, not failed";
  // Waited for where it was written: the importing node's replica has it.
  EXPECT_EQ(Shell("printf 'READONLY\\nGET " + key + "\\n' | redis-cli -p " +
                  dst.replica_port),
            "OK\nasked\n");
}

TEST_F(RedisClusterTest, AMasterKilledMidStreamLosesNothingWithWait) {
  // With WAIT for one replica after every pipeline, a write is acknowledged
  // only once a replica has it, so the replica promoted when its master is
  // killed -9 holds every counted event.
  const std::string tenant = testing::UniqueTopic("rcf");
  auto events = testing::SimulatedStream(tenant, 4000, 31);
  const size_t half = events.size() / 2;
  std::vector<ConnectionEvent> first(events.begin(), events.begin() + half);
  std::vector<ConnectionEvent> second(events.begin() + half, events.end());
  scoring::ScoreStoreOptions so;
  so.redis = options_;
  so.redis.wait_replicas = 1;
  so.redis.wait_timeout = std::chrono::milliseconds(500);
  scoring::ScoreStore store(so);
  ASSERT_TRUE(ApplyAll(store, first));

  RedisClient redis(options_);
  auto masters = redis.Masters();
  ASSERT_TRUE(masters.ok()) << masters.status();
  const std::string victim = masters->front();
  const std::string port = victim.substr(victim.rfind(':') + 1);
  // The victim's replica, which is to take over (as the victim sees it:
  // after an earlier test's failover that view may take a moment).
  std::string replica_port;
  WaitUntil(30, [&] {
    const auto rows = ClusterNodes(port);
    std::string victim_id;
    for (const auto& f : rows) {
      if (f.size() > 2 && absl::StartsWith(f[1], victim + "@")) {
        victim_id = f[0];
      }
    }
    for (const auto& f : rows) {
      if (f.size() > 3 && !victim_id.empty() && f[3] == victim_id) {
        replica_port = PortOf(f[1]);
      }
    }
    return !replica_port.empty();
  });
  ASSERT_FALSE(replica_port.empty()) << "the victim has no replica";
  const std::string dir =
      Shell("redis-cli -p " + port + " config get dir | tail -n 1");
  const std::string pid = Shell("redis-cli -p " + port +
                                " info server | sed -n 's/^process_id:"
                                "\\([0-9]*\\).*/\\1/p'");
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(std::system(("kill -9 " + pid).c_str()), 0);
  // The dead master comes back as its old replica's replica once that one
  // took over, so WAIT has a replica again on the promoted side.
  std::thread revive([&] {
    // Once its replica has taken over (failover done), the victim returns.
    for (int i = 0; i < 300; ++i) {
      if (absl::StartsWith(Shell("redis-cli -p " + replica_port + " role"),
                           "master")) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string d = dir;
    while (!d.empty() && (d.back() == '\n' || d.back() == '\r')) d.pop_back();
    Shell("redis-server " + d + "/redis.conf >/dev/null 2>&1");
  });
  const bool applied = ApplyAll(store, second);
  revive.join();
  ASSERT_TRUE(applied);
  ASSERT_TRUE(ApplyAll(store, events));  // A replay changes nothing.
  RedisClient after(options_);           // A fresh slot map.
  auto now = after.Masters();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(std::count(now->begin(), now->end(), victim), 0)
      << "no failover happened";
  ExpectCounters(after, tenant, events);
}

}  // namespace
}  // namespace rebound
