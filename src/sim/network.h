#pragma once
// The simulated network: point-to-point links carrying encoded bytes, with latency (base +
// jitter + an occasional long tail, so messages reorder), loss, duplication, symmetric and
// asymmetric partitions, and a bounded in-flight queue per link. Partitions are checked when a
// message is sent and again when it would arrive.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/bytes.h"
#include "sim/event_queue.h"
#include "sim/random.h"

namespace tally::sim {

struct LinkFaults {
  uint64_t latency_base_ms = 5;
  uint64_t latency_jitter_ms = 20;
  uint32_t long_tail_ppm = 0;  // probability of an extra delay up to long_tail_max_ms
  uint64_t long_tail_max_ms = 0;
  uint32_t loss_ppm = 0;
  uint32_t duplication_ppm = 0;
};

class SimNetwork {
 public:
  using SharedBytes = std::shared_ptr<const Bytes>;
  using Deliver = std::function<void(size_t from, size_t to, const SharedBytes& bytes)>;

  static constexpr size_t kInFlightMaxPerLink = 512;

  SimNetwork(size_t nodes, EventQueue& events, Random random, Counters& counters, Deliver deliver);

  void set_faults(const LinkFaults& faults) { faults_ = faults; }
  const LinkFaults& faults() const { return faults_; }

  void send(size_t from, size_t to, const SharedBytes& bytes);

  // Blocks messages from `from` to `to` (one direction).
  void block(size_t from, size_t to) { blocked_[from * nodes_ + to] = true; }
  bool blocked(size_t from, size_t to) const { return blocked_[from * nodes_ + to]; }
  // Nodes on different sides cannot talk in either direction.
  void partition(const std::vector<int>& side_of_node);
  void heal();
  bool any_blocked() const;

 private:
  void schedule_delivery(size_t from, size_t to, const SharedBytes& bytes);
  uint64_t latency_ms();

  size_t nodes_;
  EventQueue& events_;
  Random random_;
  Counters& counters_;
  Deliver deliver_;
  LinkFaults faults_;
  std::vector<bool> blocked_;
  std::vector<size_t> in_flight_;
};

}  // namespace tally::sim
