#pragma once
// Virtual time. Events run in (time_ms, sequence) order: two events at the same millisecond run
// in the order they were scheduled, so a run is a pure function of its seed.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/assert.h"

namespace tally::sim {

class EventQueue {
 public:
  using Action = std::function<void()>;

  explicit EventQueue(uint64_t start_ms) : now_ms_(start_ms) {}

  uint64_t now_ms() const { return now_ms_; }
  bool empty() const { return events_.empty(); }
  size_t size() const { return events_.size(); }
  uint64_t next_time_ms() const {
    TALLY_ASSERT(!events_.empty());
    return events_.front().time_ms;
  }

  // An event in the past runs now (after the events already due now).
  void at(uint64_t time_ms, Action action) {
    events_.push_back(Event{std::max(time_ms, now_ms_), next_sequence_++, std::move(action)});
    std::push_heap(events_.begin(), events_.end(), Later{});
  }
  void after(uint64_t delay_ms, Action action) { at(now_ms_ + delay_ms, std::move(action)); }

  // Advances the clock to the earliest event and runs it. REQUIRES !empty().
  void run_next() {
    TALLY_ASSERT(!events_.empty());
    std::pop_heap(events_.begin(), events_.end(), Later{});
    Event event = std::move(events_.back());
    events_.pop_back();
    TALLY_ASSERT(event.time_ms >= now_ms_);
    now_ms_ = event.time_ms;
    event.action();
  }

 private:
  struct Event {
    uint64_t time_ms = 0;
    uint64_t sequence = 0;
    Action action;
  };
  // std::*_heap builds a max-heap: "less" must mean "runs later".
  struct Later {
    bool operator()(const Event& left, const Event& right) const {
      if (left.time_ms != right.time_ms)
        return left.time_ms > right.time_ms;
      return left.sequence > right.sequence;
    }
  };

  std::vector<Event> events_;
  uint64_t now_ms_;
  uint64_t next_sequence_ = 0;
};

// Named counters (faults injected, messages dropped, transactions refused...), printed in name
// order.
class Counters {
 public:
  void add(const std::string& name, uint64_t amount = 1) { values_[name] += amount; }
  uint64_t get(const std::string& name) const {
    auto found = values_.find(name);
    return found == values_.end() ? 0 : found->second;
  }
  const std::map<std::string, uint64_t>& values() const { return values_; }
  void merge(const Counters& other) {
    for (const auto& [name, value] : other.values_)
      values_[name] += value;
  }

 private:
  std::map<std::string, uint64_t> values_;
};

}  // namespace tally::sim
