#include "sim/network.h"

namespace tally::sim {

SimNetwork::SimNetwork(size_t nodes, EventQueue& events, Random random, Counters& counters,
                       Deliver deliver)
    : nodes_(nodes),
      events_(events),
      random_(random),
      counters_(counters),
      deliver_(std::move(deliver)),
      blocked_(nodes * nodes, false),
      in_flight_(nodes * nodes, 0) {}

uint64_t SimNetwork::latency_ms() {
  uint64_t latency = faults_.latency_base_ms + random_.range(0, faults_.latency_jitter_ms);
  if (faults_.long_tail_max_ms > 0 && random_.chance(faults_.long_tail_ppm)) {
    latency += random_.range(1, faults_.long_tail_max_ms);
    counters_.add("net.long_tail");
  }
  return latency;
}

void SimNetwork::send(size_t from, size_t to, const SharedBytes& bytes) {
  TALLY_ASSERT(from < nodes_ && to < nodes_ && from != to);
  counters_.add("net.sent");
  if (blocked(from, to)) {
    counters_.add("net.dropped_partition");
    return;
  }
  if (random_.chance(faults_.loss_ppm)) {
    counters_.add("fault.loss");
    return;
  }
  schedule_delivery(from, to, bytes);
  if (random_.chance(faults_.duplication_ppm)) {
    counters_.add("fault.duplication");
    schedule_delivery(from, to, bytes);
  }
}

void SimNetwork::schedule_delivery(size_t from, size_t to, const SharedBytes& bytes) {
  size_t& in_flight = in_flight_[from * nodes_ + to];
  if (in_flight >= kInFlightMaxPerLink) {
    counters_.add("net.dropped_queue_full");
    return;
  }
  ++in_flight;
  events_.after(latency_ms(), [this, from, to, bytes] {
    --in_flight_[from * nodes_ + to];
    if (blocked(from, to)) {
      counters_.add("net.dropped_partition");
      return;
    }
    deliver_(from, to, bytes);
  });
}

void SimNetwork::partition(const std::vector<int>& side_of_node) {
  TALLY_ASSERT(side_of_node.size() == nodes_);
  for (size_t from = 0; from < nodes_; ++from) {
    for (size_t to = 0; to < nodes_; ++to) {
      if (side_of_node[from] != side_of_node[to])
        block(from, to);
    }
  }
}

void SimNetwork::heal() {
  std::fill(blocked_.begin(), blocked_.end(), false);
}

bool SimNetwork::any_blocked() const {
  for (bool value : blocked_) {
    if (value)
      return true;
  }
  return false;
}

}  // namespace tally::sim
