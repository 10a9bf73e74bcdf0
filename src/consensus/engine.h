#pragma once
// The whole of a node's logic, without I/O: consensus (the Replica), the chain it builds (ledger
// state, validators, last block and commit), catch-up of lagging peers, evidence, and block
// building and validation. It never reads a clock or a random source: time comes in with every
// input, randomness never. The node (asio, RocksDB) and the simulator (virtual network, disk
// and clock) drive the same Engine.
//
// Durability: an input's writes go to ConsensusStorage, which returns only once they are
// durable, before take_output() can release the messages that depend on them.

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "consensus/messages.h"
#include "consensus/replica.h"
#include "consensus/validator_set.h"
#include "ledger/genesis.h"
#include "ledger/state.h"

namespace tally {

using PeerId = uint64_t;

// The mempool, as consensus sees it.
class TransactionPool {
 public:
  virtual ~TransactionPool() = default;
  // Admits a transaction (checks the ledger rules against `state` plus the pool's pending
  // transactions of the same sender, and the signature). Already-known transactions are
  // refused with code "duplicate". REQUIRES: hash == transaction.hash() (computed once per node
  // by whoever received the transaction).
  virtual Status add(const Transaction& transaction, const Hash256& hash, const State& state) = 0;
  Status add(const Transaction& transaction, const State& state) {
    return add(transaction, transaction.hash(), state);
  }
  // Transactions for the next block, each valid in sequence against `state`, at most
  // `max_transactions` and `max_bytes`. Does not remove them.
  virtual std::vector<Transaction> select_for_block(const State& state, size_t max_transactions,
                                                    size_t max_bytes) = 0;
  // After a block is applied: drop its transactions and any that became invalid.
  // `transaction_hashes` are those of block.transactions, in order.
  virtual void remove_committed(const Block& block, std::span<const Hash256> transaction_hashes,
                                const State& state_after) = 0;
  virtual size_t size() const = 0;
  virtual bool contains(const Hash256& hash) const = 0;
  virtual std::optional<Transaction> get(const Hash256& hash) const = 0;
  // Answers from the signature checks done at admission, verifying only what it has not seen.
  virtual const SignatureVerifier& verifier() const = 0;
};

// Durable storage for the engine. Every write is durable when the call returns.
class ConsensusStorage {
 public:
  virtual ~ConsensusStorage() = default;
  virtual Status save_replica_state(const ReplicaPersistentState& state) = 0;
  virtual std::optional<ReplicaPersistentState> load_replica_state() const = 0;
  // The commit point of a height: the block and its commit, in one atomic write.
  virtual Status save_decided_block(const DecidedBlock& decided) = 0;
  virtual std::optional<DecidedBlock> load_decided_block(uint64_t height) const = 0;
  // Highest height saved by save_decided_block (0 if none).
  virtual uint64_t last_decided_height() const = 0;

  // Storage that keeps the account state saves the accounts a block changed in the same atomic
  // write as the block, and can then restart a node without replaying history (which it may
  // have discarded). The defaults keep blocks only, and restart replays them from genesis.
  virtual Status save_decided_block_and_accounts(
      const DecidedBlock& decided, const std::vector<std::pair<Address, Account>>& changes) {
    (void)changes;
    return save_decided_block(decided);
  }
  // Every account as of last_decided_height(), if kept.
  virtual std::optional<std::vector<std::pair<Address, Account>>> load_accounts() const {
    return std::nullopt;
  }
};

inline constexpr uint64_t kMaxEvidenceAge = 100;
// Announced transactions a node has asked for and not yet received, at most.
inline constexpr size_t kMaxRequestedTransactions = 100'000;

struct EngineConfig {
  ConsensusTimeouts timeouts;
  // A proposed block whose time is further ahead of the local clock is prevoted nil.
  uint64_t max_clock_drift_ms = 10'000;
  // With an empty mempool a proposer waits, and proposes an empty block only after this long
  // since the last block (a heartbeat).
  uint64_t empty_block_interval_ms = 10'000;
  // After a decision, the next height starts no sooner than this (unless a peer has started
  // it): transactions arriving meanwhile share one block, so under load blocks grow with the
  // load instead of the per-block cost (votes, signatures, synced writes) growing with the
  // block rate. 0 starts at once.
  uint64_t min_block_interval_ms = 0;
  // Evidence older than this many heights is no longer accepted. Part of the protocol: every
  // node must use the same value (kMaxEvidenceAge), or they would disagree on block validity.
  uint64_t max_evidence_age = kMaxEvidenceAge;
  // Limits on what one peer's status or request can make this node send.
  size_t max_blocks_per_response = kMaxBlocksPerResponse;
};

struct Envelope {
  std::optional<PeerId> to;  // empty: broadcast to every peer
  Message message;
  std::optional<PeerId> except = std::nullopt;  // a broadcast skips this peer (it sent it)
};

struct EngineTimer {
  TimeoutRequest request;
  uint64_t at_ms = 0;  // local time at which to call on_timer
};

struct CommittedBlock {
  DecidedBlock decided;
  std::vector<Hash256> transaction_hashes;  // of decided.block.transactions, in order
};

struct EngineOutput {
  std::vector<Envelope> messages;
  std::vector<EngineTimer> timers;
  std::vector<CommittedBlock> committed;  // applied to the state, in height order
};

class Engine {
 public:
  // `signer` is null for a non-validating node. Nothing is read from storage until start().
  Engine(Genesis genesis, EngineConfig config, const Signer* signer,
         const SignatureChecker& checker, TransactionPool& pool, ConsensusStorage& storage);
  ~Engine();

  // Rebuilds the state from storage (replaying decided blocks from genesis), restores the
  // replica's signed state and starts the next height.
  Status start(uint64_t now_ms);

  void on_message(PeerId from, const Message& message, uint64_t now_ms);
  void on_timer(const TimeoutRequest& request, uint64_t now_ms);
  // A client's transaction; gossiped on admission. REQUIRES: hash == transaction.hash().
  Status submit_transaction(const Transaction& transaction, const Hash256& hash, uint64_t now_ms);
  Status submit_transaction(const Transaction& transaction, uint64_t now_ms) {
    return submit_transaction(transaction, transaction.hash(), now_ms);
  }
  // Call before admitting transactions[index] of a batch: starts loading the accounts that
  // admitting the transaction a few places ahead reads (at index 0, those of the first few too).
  // With a large state each account read misses the cache; this way the misses overlap instead
  // of following one another. Changes nothing.
  void prefetch_ahead_of_admission(std::span<const Transaction> transactions, size_t index) const;
  // Gossiped transactions whose hashes the caller computed (REQUIRES: hashes[i] ==
  // transactions[i].hash()); the same as on_message with a TransactionsMessage otherwise.
  void on_gossiped_transactions(PeerId from, std::span<const Transaction> transactions,
                                std::span<const Hash256> hashes, uint64_t now_ms);

  EngineOutput take_output();

  const State& state() const { return *state_; }
  uint64_t height() const;  // the last decided height
  const BlockHeader* last_header() const;
  const ValidatorSet& validators() const { return validators_; }
  const Replica& replica() const { return replica_; }
  Replica& replica_for_testing() { return replica_; }
  const std::vector<DuplicateVoteEvidence>& pending_evidence() const { return pending_evidence_; }

 private:
  void process_replica_output(uint64_t now_ms);
  void flush_submitted_gossip();
  void handle_decision(const DecidedBlock& decided, uint64_t now_ms);
  // Starts deciding the next height now (the replica buffers its messages until then).
  void start_next_height();
  void start_awaited_height(uint64_t message_height);
  // A transaction arrived while awaiting the next height: start it unless the minimum block
  // interval is still running.
  void on_transaction_arrived();
  // Whether there is something to propose: evidence, or a transaction valid next.
  bool ready_to_propose();
  void answer_build_request(const BuildRequest& request, uint64_t now_ms);
  // `hashes` are transaction_hashes(block.transactions), from the replica.
  Status check_block(const Block& block, std::span<const Hash256> hashes, uint64_t now_ms);
  Status validate_evidence(const DuplicateVoteEvidence& evidence) const;
  void add_evidence(const DuplicateVoteEvidence& evidence);
  void on_status(PeerId from, const StatusMessage& status, uint64_t now_ms);
  void admit_gossiped(PeerId from, std::span<const Transaction> transactions,
                      std::span<const Hash256> hashes);
  void on_transaction_hashes(PeerId from, const TransactionHashesMessage& announced);
  void on_transaction_request(PeerId from, const TransactionRequest& request);
  void on_block_request(PeerId from, const BlockRequest& request);
  void on_decided_block(const DecidedBlock& decided, uint64_t now_ms);
  void schedule_timer(const TimeoutRequest& request, uint64_t now_ms);

  Genesis genesis_;
  EngineConfig config_;
  const Signer* signer_;
  const SignatureChecker& checker_;
  TransactionPool& pool_;
  ConsensusStorage& storage_;

  std::optional<State> state_;
  ValidatorSet validators_;
  Replica replica_;
  std::optional<DecidedBlock> last_decided_;
  Hash256 genesis_hash_;
  // After a decision with an empty mempool, the next height starts only when a transaction
  // arrives, a peer starts it, or the heartbeat interval has passed: no empty blocks while idle.
  bool awaiting_start_ = false;
  // Whether min_block_interval_ms has passed since the last decision.
  bool block_interval_passed_ = true;
  struct ExecutedBlock {
    PendingBlock pending;
    std::vector<Hash256> transaction_hashes;
  };
  // Blocks of the current height that passed validation, executed: reused when one is decided.
  std::map<Hash256, ExecutedBlock> executed_;
  std::vector<DuplicateVoteEvidence> pending_evidence_;
  std::map<Hash256, uint64_t> committed_evidence_;  // hash -> height of the double vote
  // Committed evidence is known completely from this height on (a node restarted from stored
  // accounts or a snapshot may lack older blocks). Only evidence of double votes at or after it
  // can be proposed: anything newer cannot have been committed before it.
  uint64_t evidence_history_from_ = 1;
  EngineOutput output_;
  // Transactions submitted since the last take_output(), gossiped as one message.
  TransactionsMessage submitted_for_gossip_;
  // Announced transactions asked for and not yet received: asked for once, from the first peer
  // that announced them. The oldest are forgotten beyond kMaxRequestedTransactions (a peer that
  // never answers), so another announcement can ask again.
  absl::flat_hash_set<Hash256, FixedBytesHasher<32>> requested_;
  std::deque<Hash256> requested_order_;
};

}  // namespace tally
