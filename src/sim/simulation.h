#pragma once
// One simulated cluster run from one 64-bit seed, in one thread, in virtual time.
//
// Safety phase (`safety_ms`): random validator count and powers, network faults (latency
// jitter and long tails, loss, duplication, symmetric and asymmetric partitions), node faults
// (crashes between and inside engine steps, restarts, pauses, clock skew), Byzantine
// validators (< 1/3 of the power unless forced) and a workload of valid and invalid
// transactions. Liveness phase: partitions heal, loss and long tails stop, crashed nodes
// restart, paused nodes resume; every honest node must then commit `liveness_heights` more
// heights and every double vote seen before the phase must be committed as evidence, within
// `liveness_ms_max`. Checkers (checkers.h) run online; the first violation stops the run.
//
// Determinism: nothing but the seed and the options decides anything, and the trace hash (a
// SHA-256 chain over every delivered message, every commit and their times and nodes) shows it.

#include <cstdint>
#include <optional>
#include <string>

#include "crypto/sha256.h"
#include "sim/checkers.h"
#include "sim/event_queue.h"

namespace tally::sim {

struct SimulationOptions {
  uint64_t seed = 1;
  std::optional<size_t> validators;  // default: random in 4..10
  // Forces at least this share of the voting power (parts per million) to be Byzantine, above
  // the 1/3 the protocol tolerates if asked: to show that the checkers do fail.
  std::optional<uint32_t> byzantine_power_ppm;
  uint64_t safety_ms = 10'000;
  uint64_t liveness_ms_max = 30'000;
  uint64_t liveness_heights = 3;
  bool network_faults = true;
  bool node_faults = true;
  bool byzantine = true;
  bool equal_power = false;
  // The colluding split-brain attack: honest validators partitioned in two groups, every
  // Byzantine validator telling each group a different block. Needs >= 1/3 Byzantine power.
  bool fork_attack = false;
  size_t max_transactions = 150;
  // Test hook: the checkers see this height's first report with a corrupted state root.
  std::optional<uint64_t> tamper_state_root_at_height;

  // The command line that reproduces this run.
  std::string reproduce_command() const;
};

struct SimulationReport {
  uint64_t seed = 0;
  size_t validators = 0;
  size_t byzantine_validators = 0;
  uint64_t total_power = 0;
  uint64_t byzantine_power = 0;
  std::string byzantine_behaviours;  // per Byzantine node: "node:behaviours;..."
  std::optional<Violation> violation;
  Hash256 trace_hash;
  uint64_t heights_committed = 0;
  size_t transactions_committed = 0;
  std::optional<uint64_t> liveness_ms;  // from the liveness phase start to the K-th new height
  uint64_t virtual_ms = 0;              // virtual time simulated
  AccountabilitySummary accountability;
  Counters counters;
  std::string reproduce_command;

  bool ok() const { return !violation.has_value(); }
};

SimulationReport run_simulation(const SimulationOptions& options);

// On SIGABRT (an invariant assertion inside the engine or the ledger), prints the command that
// reproduces the run in progress before the process dies.
void install_abort_reporter();

}  // namespace tally::sim
