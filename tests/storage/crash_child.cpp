// The child process of the crash tests (crash_test.cpp): opens a NodeStorage, resumes the
// synthetic chain from what the store holds, and commits blocks the way the engine does (the
// signed replica state first, then the block with its accounts) until the target height, or
// until the crash hook kills it with SIGKILL at the chosen point. After each block is durably
// saved it writes the height on stdout: the parent's record of acknowledged commits.
//
//   tally_storage_crash_child DATA_DIR TARGET_HEIGHT CRASH_POINT CRASH_AT [SNAPSHOT_DIR]
//
// CRASH_POINT is a crash_hook point name (or "none"); the process dies the CRASH_AT-th time it
// passes that point. Exit status: 0 done, 2 usage, 3 storage error.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "crash_shape.h"
#include "storage/node_storage.h"

namespace {

using namespace tally;
using namespace tally::testing;

int fail(const std::string& what, const Error& error) {
  std::fprintf(stderr, "crash child: %s: %s: %s\n", what.c_str(), error.code.c_str(),
               error.message.c_str());
  return 3;
}

void acknowledge(uint64_t height) {
  std::string line = std::to_string(height) + "\n";
  ssize_t written = ::write(STDOUT_FILENO, line.data(), line.size());
  (void)written;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s DATA_DIR TARGET_HEIGHT CRASH_POINT CRASH_AT [SNAPSHOT_DIR]\n",
                 argv[0]);
    return 2;
  }
  std::filesystem::path data_directory = argv[1];
  uint64_t target = std::strtoull(argv[2], nullptr, 10);
  std::string crash_point = argv[3];
  uint64_t crash_at = std::strtoull(argv[4], nullptr, 10);
  std::optional<std::filesystem::path> snapshot_directory;
  if (argc == 6)
    snapshot_directory = argv[5];

  Genesis genesis = crash_genesis();
  StorageOptions options = crash_storage_options();
  uint64_t passes = 0;
  options.crash_hook = [&](std::string_view point) {
    if (point == crash_point && ++passes == crash_at)
      ::raise(SIGKILL);
  };
  Result<std::unique_ptr<NodeStorage>> opened = NodeStorage::open(data_directory, genesis, options);
  if (!opened.ok())
    return fail("open", opened.error());
  NodeStorage& storage = **opened;

  // Resume from the store: the accounts of the last decided height, checked against its block.
  std::optional<ChainBuilder> chain;
  uint64_t last = storage.last_decided_height();
  if (last == 0) {
    chain.emplace(genesis, crash_chain_shape());
  } else {
    Result<DecidedBlock> block = storage.get_decided_block(last);
    if (!block.ok())
      return fail("last block", block.error());
    Result<std::vector<std::pair<Address, Account>>> accounts = storage.get_accounts();
    if (!accounts.ok())
      return fail("accounts", accounts.error());
    Result<State> state = State::from_accounts(genesis, last, std::move(accounts).value());
    if (!state.ok())
      return fail("state", state.error());
    if (state->state_root() != block->block.header.state_root)
      return fail("state", make_error("root_mismatch", "accounts do not match the last block"));
    chain.emplace(genesis, std::move(state).value(), std::move(block).value(), crash_chain_shape());
  }

  Ed25519Signer signer(key_for(kValidatorKeyBase));
  while (chain->height() < target) {
    BuiltBlock built = chain->next();
    uint64_t height = built.decided.block.header.height;
    // What the replica persists before its precommit leaves the node.
    ReplicaPersistentState signed_state;
    signed_state.height = height;
    signed_state.step = Step::precommit;
    signed_state.locked_round = 0;
    signed_state.locked_block_hash = built.decided.block.hash();
    signed_state.valid_round = 0;
    signed_state.valid_block = built.decided.block;
    Vote precommit;
    precommit.type = VoteType::precommit;
    precommit.height = height;
    precommit.block_hash = built.decided.block.hash();
    precommit.sign(genesis.chain_id, signer);
    signed_state.own_votes.push_back(precommit);
    Status saved = storage.save_replica_state(signed_state);
    if (!saved.ok())
      return fail("replica state", saved.error());

    saved = storage.save_decided_block_and_accounts(built.decided, built.pending.changes());
    if (!saved.ok())
      return fail("block", saved.error());
    acknowledge(height);
    chain->commit(std::move(built));
    if (snapshot_directory) {
      saved = storage.maybe_write_snapshot(height, *snapshot_directory);
      if (!saved.ok())
        return fail("snapshot", saved.error());
    }
  }
  return 0;
}
