#pragma once
// The load generator behind `tally bench`: pre-signed transfers offered to every node of a
// network over keep-alive connections, in batches, at a fixed rate or as fast as the network
// commits them; commits are read back from blocks to measure throughput and latency.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "crypto/address.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace tally::cli {

using BenchClock = std::chrono::steady_clock;

struct BenchAccount {
  SecretKey key;
  Address address;
  uint64_t next_nonce = 0;
  uint64_t balance_units = 0;  // what this client believes; used to size endorsements
};

struct LoadSettings {
  // Offered transactions per second; 0 offers as fast as the network commits (closed loop,
  // bounded by `in_flight_per_sender`).
  double rate = 0;
  // Uncommitted transactions per sender; the mempool accepts at most 16 future nonces.
  size_t in_flight_per_sender = 8;
  std::chrono::seconds warmup{5};
  std::chrono::seconds window{30};
  std::chrono::seconds drain_timeout{120};
  std::string label;  // for the progress line
};

struct SeenBlock {
  uint64_t height = 0;
  uint64_t time_ms = 0;  // the block's own time
  size_t transactions = 0;
  BenchClock::time_point seen;
};

struct LoadResult {
  uint64_t submitted = 0;
  uint64_t committed = 0;            // of everything submitted, once drained
  uint64_t committed_in_window = 0;  // seen in blocks during the measuring window
  uint64_t submitted_in_window = 0;
  uint64_t rejected = 0;
  std::string first_rejection;
  uint64_t still_pending = 0;  // after draining
  bool ran_out = false;        // the pre-signed transactions ran out before the window ended
  double window_seconds = 0;
  double committed_per_second = 0;
  double offered_per_second = 0;
  // Submit to seen in a block on node 0, for transactions submitted during the window.
  double latency_p50_ms = 0;
  double latency_p90_ms = 0;
  double latency_p99_ms = 0;
  std::vector<SeenBlock> blocks_in_window;
};

class LoadGenerator {
 public:
  // `rpc_ports[i]` is node i's API; sender s always submits to node s % nodes, so its nonces
  // arrive in order.
  LoadGenerator(std::vector<BenchAccount*> senders, std::vector<uint16_t> rpc_ports,
                std::string chain_id);

  // Signs `count` transfers, round robin over the senders, to recipients chosen by
  // `pick_recipient(sender_index, random_number)`; uses every core. Replaces what was prepared.
  void prepare(size_t count, const std::function<Address(size_t, uint64_t)>& pick_recipient);

  // Offers the prepared transfers; calls `at_window_edge(true)` when the measuring window opens
  // and `at_window_edge(false)` when it closes; then stops offering and waits for everything
  // submitted to be committed (or the drain timeout).
  LoadResult run(const LoadSettings& settings,
                 const std::function<void(bool opening)>& at_window_edge);

 private:
  struct Prepared {
    Hash256 hash;
    std::string hex;
    uint64_t nonce;
    uint64_t spent_units;
  };
  std::vector<BenchAccount*> senders_;
  std::vector<uint16_t> rpc_ports_;
  std::string chain_id_;
  std::vector<std::vector<Prepared>> prepared_;  // per sender, in nonce order
};

// Progress lines go to stderr when stdout carries JSON.
void set_bench_progress_to_stderr(bool to_stderr);

}  // namespace tally::cli
