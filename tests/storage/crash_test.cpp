// Crash tests: a child process (crash_child.cpp) commits blocks into a NodeStorage and is killed
// with SIGKILL, either by its crash hook at a named point of the k-th commit or by the parent at
// a random time. The parent then reopens the store and checks that the last decided block is
// there and complete, that the accounts match its state root (so no commit was half applied),
// that the supply is conserved, that the replica state decodes, that every acknowledged commit
// survived, and that the retained window and snapshots are whole.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include "consensus/validator_set.h"
#include "crash_shape.h"
#include "storage/node_storage.h"

namespace tally {
namespace {

using namespace testing;
namespace fs = std::filesystem;

struct ChildRun {
  bool killed = false;  // by SIGKILL
  int exit_code = -1;
  std::vector<uint64_t> acknowledged;
  uint64_t last_acknowledged() const { return acknowledged.empty() ? 0 : acknowledged.back(); }
};

ChildRun run_child(const fs::path& data, uint64_t target, const std::string& point,
                   uint64_t crash_at, const std::optional<fs::path>& snapshots = std::nullopt,
                   std::optional<uint32_t> kill_after_ms = std::nullopt) {
  std::vector<std::string> arguments = {TALLY_STORAGE_CRASH_CHILD, data.string(),
                                        std::to_string(target), point, std::to_string(crash_at)};
  if (snapshots)
    arguments.push_back(snapshots->string());
  std::vector<char*> argv;
  for (std::string& argument : arguments)
    argv.push_back(argument.data());
  argv.push_back(nullptr);

  int pipe_ends[2];
  TALLY_ASSERT(::pipe(pipe_ends) == 0);
  pid_t pid = ::fork();
  TALLY_ASSERT(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(pipe_ends[1], STDOUT_FILENO);
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_ends[1]);
  std::string output;
  char buffer[4096];
  auto read_some = [&]() {
    for (;;) {
      ssize_t count = ::read(pipe_ends[0], buffer, sizeof buffer);
      if (count < 0 && errno == EINTR)
        continue;
      if (count > 0)
        output.append(buffer, static_cast<size_t>(count));
      return count > 0;
    }
  };
  if (kill_after_ms) {
    // Counted from the first acknowledged commit, so the kill lands in the commit loop however
    // slow the machine is at starting a process and opening the store.
    while (output.find('\n') == std::string::npos && read_some()) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(*kill_after_ms));
    ::kill(pid, SIGKILL);
  }
  while (read_some()) {
  }
  ::close(pipe_ends[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ChildRun run;
  run.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream lines(output);
  uint64_t height = 0;
  while (lines >> height)
    run.acknowledged.push_back(height);
  return run;
}

// Everything a crash must not break. Returns the last decided height.
uint64_t verify_store(const fs::path& data, uint64_t acknowledged,
                      const std::optional<fs::path>& snapshots = std::nullopt) {
  Genesis genesis = crash_genesis();
  Result<std::unique_ptr<NodeStorage>> opened =
      NodeStorage::open(data, genesis, crash_storage_options());
  EXPECT_TRUE(opened.ok()) << opened.error().code << ": " << opened.error().message;
  if (!opened.ok())
    return 0;
  NodeStorage& storage = **opened;
  uint64_t last = storage.last_decided_height();
  // Durability: an acknowledged commit survives.
  EXPECT_GE(last, acknowledged);

  std::vector<std::pair<Address, Account>> accounts = storage.get_accounts().value();
  Result<State> state = State::from_accounts(genesis, last, accounts);
  EXPECT_TRUE(state.ok()) << state.error().message;  // includes the supply check
  if (!state.ok())
    return last;
  EXPECT_EQ(state->sum_of_balances(), genesis.total_supply.units);

  if (last == 0) {
    EXPECT_EQ(state->state_root(), State::from_genesis(genesis)->state_root());
  } else {
    Result<DecidedBlock> block = storage.get_decided_block(last);
    EXPECT_TRUE(block.ok()) << block.error().message;
    if (!block.ok())
      return last;
    EXPECT_EQ(block->block.header.height, last);
    EXPECT_TRUE(block->block.check_body_matches_header().ok());
    Ed25519Checker checker;
    EXPECT_TRUE(verify_commit(ValidatorSet::from_genesis(genesis).value(), block->block.header,
                              block->commit, checker)
                    .ok());
    // No half-applied commit: the accounts are exactly those after the last block.
    EXPECT_EQ(state->state_root(), block->block.header.state_root);
    // The retained window is whole and chained.
    uint64_t oldest = storage.oldest_retained_height();
    EXPECT_GE(oldest, 1u);
    EXPECT_EQ(oldest, last > 20 ? last - 20 : 1);
    for (uint64_t height = oldest; height < last; ++height) {
      std::optional<DecidedBlock> earlier = storage.load_decided_block(height);
      std::optional<DecidedBlock> later = storage.load_decided_block(height + 1);
      EXPECT_TRUE(earlier && later) << height;
      if (earlier && later) {
        EXPECT_EQ(later->block.header.previous_block_hash, earlier->block.hash());
      }
    }
    if (oldest > 1) {
      EXPECT_FALSE(storage.load_decided_block(oldest - 1));
    }
  }
  // The signed state decodes (open() checks it) and is for a height being decided.
  std::optional<ReplicaPersistentState> replica = storage.load_replica_state();
  if (replica) {
    EXPECT_TRUE(replica->height == last || replica->height == last + 1) << replica->height;
  }
  if (snapshots) {
    for (uint64_t height : list_snapshots(*snapshots)) {
      Result<SnapshotManifest> manifest = read_snapshot_manifest(*snapshots, height);
      EXPECT_TRUE(manifest.ok());
      if (!manifest.ok())
        continue;
      std::vector<Bytes> chunks;
      for (uint32_t index = 0; index < manifest->chunk_hashes.size(); ++index)
        chunks.push_back(read_snapshot_chunk(*snapshots, height, index).value());
      Result<State> restored = restore_state_from_snapshot(genesis, *manifest, chunks);
      EXPECT_TRUE(restored.ok()) << height << ": " << restored.error().message;
    }
  }
  return last;
}

TEST(CrashTest, KilledBeforeTheCommitBatchLosesOnlyThatBlock) {
  for (uint64_t k : {1, 2, 7, 21, 26}) {
    TempDir directory;
    ChildRun run = run_child(directory.path(), 40, "before_commit_batch", k);
    ASSERT_TRUE(run.killed) << "k=" << k << " exit " << run.exit_code;
    EXPECT_EQ(run.last_acknowledged(), k - 1);
    EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged()), k - 1) << "k=" << k;
  }
}

TEST(CrashTest, KilledAfterTheCommitBatchKeepsTheBlock) {
  for (uint64_t k : {1, 2, 7, 21, 26}) {
    TempDir directory;
    ChildRun run = run_child(directory.path(), 40, "after_commit_batch", k);
    ASSERT_TRUE(run.killed) << "k=" << k << " exit " << run.exit_code;
    EXPECT_EQ(run.last_acknowledged(), k - 1);  // killed before it could acknowledge k
    EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged()), k) << "k=" << k;
  }
}

TEST(CrashTest, KilledAroundTheReplicaState) {
  for (const char* point : {"before_replica_state", "after_replica_state"}) {
    TempDir directory;
    ChildRun run = run_child(directory.path(), 40, point, 5);
    ASSERT_TRUE(run.killed) << point;
    EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged()), 4u) << point;
  }
}

TEST(CrashTest, RecoversAndContinuesAfterEachCrash) {
  TempDir directory;
  ChildRun run = run_child(directory.path(), 60, "before_commit_batch", 9);
  ASSERT_TRUE(run.killed);
  EXPECT_EQ(verify_store(directory.path(), 8), 8u);
  run = run_child(directory.path(), 60, "after_commit_batch", 15);  // resumes at 9
  ASSERT_TRUE(run.killed);
  EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged()), 23u);
  run = run_child(directory.path(), 60, "after_replica_state", 3);
  ASSERT_TRUE(run.killed);
  EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged()), 25u);
  run = run_child(directory.path(), 60, "none", 0);
  EXPECT_FALSE(run.killed);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.last_acknowledged(), 60u);
  EXPECT_EQ(verify_store(directory.path(), 60), 60u);
}

TEST(CrashTest, RandomKillsKeepEveryAcknowledgedCommit) {
  TempDir directory;
  fs::path snapshots = directory.path() / "snapshots";
  std::mt19937 random(20240611);
  std::uniform_int_distribution<uint32_t> delay_ms(0, 40);
  uint64_t last = 0;
  for (int iteration = 0; iteration < 25; ++iteration) {
    ChildRun run = run_child(directory.path(), 1'000'000, "none", 0, snapshots, delay_ms(random));
    EXPECT_TRUE(run.killed);
    ASSERT_FALSE(run.acknowledged.empty());
    // Each run resumes exactly where the previous one's store ended.
    EXPECT_EQ(run.acknowledged.front(), last + 1);
    uint64_t now_last = verify_store(directory.path(), run.last_acknowledged(), snapshots);
    EXPECT_GE(now_last, last + 1);
    last = now_last;
  }
  std::printf("random kills: 25 runs reached height %llu\n", static_cast<unsigned long long>(last));
}

TEST(CrashTest, KilledWhileWritingASnapshot) {
  TempDir directory;
  fs::path snapshots = directory.path() / "snapshots";
  // 30 genesis accounts + the validator + created ones, 7 per chunk: 5+ chunks at height 10.
  ChildRun run = run_child(directory.path(), 40, "after_snapshot_chunk", 2, snapshots);
  ASSERT_TRUE(run.killed);
  EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged(), snapshots), 10u);
  EXPECT_TRUE(list_snapshots(snapshots).empty());
  EXPECT_TRUE(fs::exists(snapshots / ".partial-10"));

  // Everything but the rename: still not a snapshot.
  run = run_child(directory.path(), 40, "after_snapshot_manifest", 1, snapshots);
  ASSERT_TRUE(run.killed);
  EXPECT_EQ(verify_store(directory.path(), run.last_acknowledged(), snapshots), 20u);
  EXPECT_TRUE(list_snapshots(snapshots).empty());

  run = run_child(directory.path(), 35, "none", 0, snapshots);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(verify_store(directory.path(), 35, snapshots), 35u);
  EXPECT_EQ(list_snapshots(snapshots), std::vector<uint64_t>({30}));
  EXPECT_FALSE(fs::exists(snapshots / ".partial-10"));
  EXPECT_FALSE(fs::exists(snapshots / ".partial-20"));
}

}  // namespace
}  // namespace tally
