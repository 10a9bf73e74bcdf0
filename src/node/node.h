#pragma once
// A running node: the engine, mempool, RocksDB storage and P2P transport on one asio event loop.
// Everything that touches consensus state runs on that loop; other threads (the HTTP API) hand
// work to it with call(). The wall clock is read here, at the edge, and passed to the engine as
// an input; the engine itself never reads a clock.

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "consensus/engine.h"
#include "mempool/mempool.h"
#include "node/config.h"
#include "node/home.h"
#include "node/recent_transactions.h"
#include "p2p/transport.h"
#include "storage/node_storage.h"
#include "storage/snapshot.h"

namespace tally {

// A new node first asks its peers for snapshots; if one has a snapshot it downloads and checks it
// (state sync) before starting consensus, then catches up by blocks.
struct StateSyncProgress {
  enum class Phase { probing, downloading, done };
  Phase phase = Phase::done;
  uint64_t height = 0;
  size_t chunks_done = 0;
  size_t chunks_total = 0;
  size_t peers_dropped = 0;
};

struct NodeCounters {
  uint64_t blocks_committed = 0;
  uint64_t transactions_committed = 0;
  uint64_t messages_received = 0;
  uint64_t messages_rejected = 0;  // undecodable bytes from peers
  // Transaction gossip: full transactions messages, the transactions in them, and hash
  // announcements. Copies per transaction = transactions / committed.
  uint64_t transaction_messages_received = 0;
  uint64_t gossiped_transactions_received = 0;
  uint64_t transaction_announcements_received = 0;
  uint64_t last_block_transactions = 0;
  uint64_t last_block_bytes = 0;
  uint64_t last_commit_latency_ms = 0;  // from the block's time to its commit here
  // Histogram of that latency, per block (Prometheus buckets, in ms; the last is +Inf).
  static constexpr std::array<uint64_t, 9> kLatencyBucketsMs = {50,   100,  250,   500,       1000,
                                                                2500, 5000, 10000, UINT64_MAX};
  std::array<uint64_t, 9> latency_buckets{};
  uint64_t latency_sum_ms = 0;
  uint64_t latency_count = 0;
};

class Node {
 public:
  // Loads HOME (config, genesis, keys) and opens storage. Error codes: "invalid_config",
  // "invalid_genesis", "invalid_key_file", "storage_corrupt", "io_error", ...
  static Result<std::unique_ptr<Node>> open(const std::filesystem::path& home_directory);
  ~Node();

  // Starts the transport (binds the P2P port) and consensus.
  Status start();
  // Runs the event loop on this thread until stop() or SIGINT/SIGTERM.
  void run();
  // Safe from any thread.
  void stop();

  // Runs `work` on the event loop and waits for it. False if the node is stopping or the loop
  // did not get to it within `timeout`.
  bool call(const std::function<void()>& work,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Checks the signatures of `transactions` for this chain, in order; safe from any thread. The
  // CPU time spent is added to signature_cpu_ns(), so a benchmark can split a node's CPU time
  // into signature checks and everything else.
  std::vector<bool> verify_signatures(const std::vector<Transaction>& transactions);
  uint64_t signature_cpu_ns() const { return signature_cpu_ns_.load(std::memory_order_relaxed); }
  // Ed25519 checks of transaction signatures on every thread (the same ones as that CPU time).
  uint64_t signature_checks() const { return signature_checks_.load(std::memory_order_relaxed); }

  // --- Event loop only (inside call()) ---------------------------------------------------------
  Status submit(const Transaction& transaction);
  // submit() for each, in order; whatever is admitted leaves in one gossip message, not one
  // message per transaction. `hashes` are the transactions' hashes (REQUIRES: hashes[i] ==
  // transactions[i].hash()): a node hashes each transaction once.
  std::vector<Status> submit_batch(std::span<const Transaction> transactions,
                                   std::span<const Hash256> hashes);
  // A signature checked off the event loop (by the API's threads or the worker pool).
  void note_signature_verified(const Hash256& hash) { mempool_->note_signature_verified(hash); }
  TransactionStatus transaction_status(const Hash256& hash) const;
  const Engine& engine() const { return *engine_; }
  const Mempool& mempool() const { return *mempool_; }
  NodeStorage& storage() { return *storage_; }
  const p2p::Transport& transport() const { return *transport_; }
  const NodeCounters& counters() const { return counters_; }
  // Transaction batches waiting for, or in, signature verification on the worker pool.
  uint64_t verify_queue() const { return verify_queue_.load(); }
  bool syncing() const;
  const StateSyncProgress& state_sync() const { return sync_progress_; }
  // False while a new node looks for snapshots or syncs one: the engine has no state yet.
  bool consensus_started() const { return consensus_started_; }

  // --- Immutable after open() -------------------------------------------------------------------
  const NodeConfig& config() const { return config_; }
  const Genesis& genesis() const { return genesis_; }
  const NodeHome& home() const { return home_; }
  const PublicKey& node_id() const { return node_id_; }
  bool is_validator() const { return validator_signer_ != nullptr; }
  std::optional<Address> validator_address() const;

 private:
  Node(NodeHome home, NodeConfig config, Genesis genesis);

  uint64_t now_ms() const;
  void drain_engine();
  void schedule(const EngineTimer& timer);
  void on_peer_message(p2p::PeerId peer, Bytes bytes);
  void on_gossiped_transactions(p2p::PeerId peer, TransactionsMessage batch);
  void on_committed(const CommittedBlock& committed);
  // The pool's signature check on the event loop: timed, and shared with the worker pool.
  bool check_signature_on_loop(const Transaction& transaction, const Hash256& hash);
  // verify_signatures for a gossiped batch, taking outcomes the event loop found meanwhile.
  std::vector<bool> verify_gossiped(const std::vector<Transaction>& transactions,
                                    const std::vector<Hash256>& hashes);
  Status submit_without_drain(const Transaction& transaction, const Hash256& hash);
  void start_consensus();
  // State sync.
  bool serve_snapshot_request(p2p::PeerId peer, const Message& message);
  void on_sync_message(p2p::PeerId peer, const Message& message);
  void finish_probe();
  void request_next_sync_item();
  void drop_sync_peer(const std::string& reason);
  void arm_sync_timer(std::chrono::milliseconds delay, std::function<void()> action);
  void send_to(p2p::PeerId peer, const Message& message);

  NodeHome home_;
  NodeConfig config_;
  Genesis genesis_;
  PublicKey node_id_;
  asio::io_context io_;
  asio::signal_set signals_;
  std::unique_ptr<Ed25519Signer> validator_signer_;
  Ed25519Checker checker_;
  std::unique_ptr<NodeStorage> storage_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<p2p::Transport> transport_;
  std::list<asio::steady_timer> timers_;
  NodeCounters counters_;
  uint64_t highest_peer_height_ = 0;
  RecentTransactions recent_;
  bool stopping_ = false;
  bool consensus_started_ = false;

  StateSyncProgress sync_progress_;
  std::map<p2p::PeerId, std::vector<uint64_t>> snapshot_offers_;
  std::vector<p2p::PeerId> sync_candidates_;  // peers offering the chosen height, in order
  std::optional<SnapshotManifest> sync_manifest_;
  std::vector<Bytes> sync_chunks_;
  std::optional<asio::steady_timer> sync_timer_;
  uint64_t sync_request_serial_ = 0;  // a reply or timeout for an older request is stale

  // Verifies the signatures of transactions from peers off the event loop. Declared last, so it
  // is destroyed (joined) first, while everything its tasks post back to still exists.
  bool snapshot_in_progress_ = false;  // event loop only
  // Hashes of gossiped transactions on their way through the worker pool (event loop only):
  // the copies that other peers relay meanwhile are dropped rather than verified again.
  absl::flat_hash_set<Hash256, FixedBytesHasher<32>> verifying_;
  // Signature outcomes of the transactions in verifying_, from whichever side checked first: the
  // worker pool, or the event loop when a block brought one before the worker reached it (or
  // before its answer reached the loop). The other side takes the answer instead of checking
  // again. Entries leave with their batch's answer, so at most kMaxTransactionsVerifying.
  std::mutex signature_outcomes_mutex_;
  absl::flat_hash_map<Hash256, bool, FixedBytesHasher<32>> signature_outcomes_;
  std::atomic<uint64_t> verify_queue_{0};
  std::atomic<uint64_t> signature_cpu_ns_{0};
  std::atomic<uint64_t> signature_checks_{0};
  asio::thread_pool verify_pool_{std::max(1u, std::thread::hardware_concurrency())};
  // Writes snapshot files off the event loop, one at a time.
  asio::thread_pool snapshot_pool_{1};
};

}  // namespace tally
