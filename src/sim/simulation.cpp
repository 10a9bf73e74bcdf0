#include "sim/simulation.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>

#include "core/amount.h"
#include "sim/adversary.h"
#include "sim/network.h"
#include "sim/node.h"
#include "sim/workload.h"

namespace tally::sim {
namespace {

constexpr std::string_view kChainId = "tally-sim";
constexpr uint64_t kGenesisTimeMs = 1'700'000'000'000;
constexpr uint64_t kStartOffsetMs = 1'000;
constexpr uint64_t kFundedBalanceUnits = 1'000'000 * kUnitsPerTally;
constexpr uint64_t kValidatorBalanceUnits = kUnitsPerTally;
constexpr uint32_t kMaxBlockTransactions = 256;
constexpr size_t kMaxDeferredWhilePaused = 2'000;
constexpr uint32_t kOneThirdPpm = 333'334;

EngineConfig simulation_engine_config() {
  EngineConfig config;
  config.timeouts.propose_ms = 300;
  config.timeouts.propose_delta_ms = 100;
  config.timeouts.prevote_ms = 200;
  config.timeouts.prevote_delta_ms = 100;
  config.timeouts.precommit_ms = 200;
  config.timeouts.precommit_delta_ms = 100;
  config.timeouts.gossip_ms = 200;
  config.max_clock_drift_ms = 2'000;
  config.empty_block_interval_ms = 1'000;
  return config;
}

std::string format_ms_as_seconds(uint64_t ms) {
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (!fraction.empty() && fraction.back() == '0')
      fraction.pop_back();
    text += "." + fraction;
  }
  return text;
}

std::string format_ppm(uint32_t ppm) {
  std::string text = std::to_string(ppm / kPpm);
  if (ppm % kPpm != 0) {
    std::string fraction = std::to_string(kPpm + ppm % kPpm).substr(1);
    while (!fraction.empty() && fraction.back() == '0')
      fraction.pop_back();
    text += "." + fraction;
  }
  return text;
}

// The run in progress, for the abort reporter (written before each run, read in the handler).
char current_run_command[512] = "";

void report_abort(int) {
  static const char prefix[] = "\ntally-sim: aborted; reproduce with: ";
  ssize_t ignored = ::write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
  ignored = ::write(STDERR_FILENO, current_run_command, std::strlen(current_run_command));
  ignored = ::write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  std::signal(SIGABRT, SIG_DFL);
}

class Simulation {
 public:
  explicit Simulation(const SimulationOptions& options);
  SimulationReport run();

 private:
  void choose_cluster(Random& setup);
  void choose_link_faults(Random& setup);
  void schedule_node_faults();
  void schedule_partitions();

  void start_node(size_t index);
  void crash_node(size_t index);
  void restart_later(size_t index, uint64_t delay_ms);
  void drain(size_t index);
  void schedule_timer(size_t index, const EngineTimer& timer);
  void fire_timer(size_t index, uint64_t incarnation, const TimeoutRequest& request);
  void route(size_t index, std::vector<Envelope> messages);
  void deliver(size_t from, size_t to, const SharedBytes& bytes);
  void on_node_commit(size_t index, const DecidedBlock& decided);
  void workload_tick();
  void amnesia_tick(size_t index);
  void begin_liveness_phase();
  void check_progress();
  void on_deadline();
  void final_checks();
  std::string describe_nodes() const;
  void log_released(size_t index, const Envelope& envelope);
  bool log_ = std::getenv("TALLY_SIM_LOG") != nullptr;
  std::set<std::string> logged_;
  void trace(uint8_t kind, uint64_t first, uint64_t second, ByteSpan payload);

  uint64_t now() const { return events_.now_ms(); }
  bool honest(size_t index) const { return !nodes_[index]->byzantine; }
  bool byzantine_can_break_safety() const { return 3 * byzantine_power_ >= total_power_; }

  SimulationOptions options_;
  Random root_random_;
  Random fault_random_;
  Counters counters_;
  EventQueue events_;
  SimChecker signatures_;
  EngineConfig config_ = simulation_engine_config();
  Genesis genesis_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  uint64_t total_power_ = 0;
  uint64_t byzantine_power_ = 0;
  std::unique_ptr<Workload> workload_;
  std::unique_ptr<SimNetwork> network_;
  std::unique_ptr<Checkers> checkers_;
  std::unique_ptr<Adversary> adversary_;
  LinkFaults safety_link_faults_;

  std::vector<uint64_t> observed_heights_;  // per node: highest committed height it reported
  enum class Phase : uint8_t { safety, liveness, done } phase_ = Phase::safety;
  uint64_t start_ms_ = kGenesisTimeMs + kStartOffsetMs;
  uint64_t liveness_start_ms_ = 0;
  uint64_t liveness_target_height_ = 0;
  std::optional<uint64_t> liveness_ms_;
  bool finished_ = false;
  AccountabilitySummary accountability_;
  Hash256 trace_;
};

Simulation::Simulation(const SimulationOptions& options)
    : options_(options),
      root_random_(options.seed),
      fault_random_(0),
      events_(kGenesisTimeMs + kStartOffsetMs) {
  // One independent stream per concern.
  Random setup = root_random_.fork();
  Random network_random = root_random_.fork();
  fault_random_ = root_random_.fork();
  Random workload_random = root_random_.fork();
  Random adversary_random = root_random_.fork();
  Random storage_random = root_random_.fork();  // forked last: new streams go after it

  choose_cluster(setup);
  size_t node_count = nodes_.size();
  workload_ = std::make_unique<Workload>(workload_random, std::string(kChainId), setup.range(6, 16),
                                         options_.max_transactions);

  genesis_.chain_id = std::string(kChainId);
  genesis_.genesis_time_ms = kGenesisTimeMs;
  genesis_.params.max_block_txs = kMaxBlockTransactions;
  uint64_t supply = 0;
  for (const Address& address : workload_->funded_addresses()) {
    genesis_.accounts.push_back(GenesisAllocation{address, Amount{kFundedBalanceUnits}});
    supply += kFundedBalanceUnits;
  }
  for (const auto& node : nodes_) {
    genesis_.accounts.push_back(
        GenesisAllocation{node->signer.address(), Amount{kValidatorBalanceUnits}});
    supply += kValidatorBalanceUnits;
    genesis_.validators.push_back(
        GenesisValidator{node->signer.address(), node->power, "v" + std::to_string(node->index)});
  }
  genesis_.total_supply = Amount{supply};
  Status valid = genesis_.validate();
  TALLY_ASSERT_MSG(valid.ok(), "the simulator built an invalid genesis");
  // Half the nodes keep the account state in storage and restart from it; the others replay
  // every block from genesis. Both restart paths run in every swarm.
  for (auto& node : nodes_) {
    if (storage_random.coin()) {
      node->storage.keep_accounts(genesis_);
      counters_.add("setup.storage_keeps_accounts");
    }
  }
  Result<ValidatorSet> validators = ValidatorSet::from_genesis(genesis_);
  TALLY_ASSERT(validators.ok());

  std::vector<Address> addresses;
  std::vector<bool> honest_nodes;
  for (const auto& node : nodes_) {
    addresses.push_back(node->signer.address());
    honest_nodes.push_back(!node->byzantine);
  }
  checkers_ = std::make_unique<Checkers>(genesis_, validators.value(), signatures_, addresses,
                                         honest_nodes, counters_);
  checkers_->set_pending_probe([this](const Checkers::VoteKey& key) {
    const auto& [validator, height, round, type] = key;
    for (const auto& node : nodes_) {
      if (node->byzantine || !node->up)
        continue;
      for (const DuplicateVoteEvidence& evidence : node->engine->pending_evidence()) {
        if (evidence.first.validator == validator && evidence.first.height == height &&
            evidence.first.round == round && uint8_t(evidence.first.type) == type) {
          return true;
        }
      }
    }
    return false;
  });
  if (options_.tamper_state_root_at_height) {
    checkers_->tamper_state_root_at(*options_.tamper_state_root_at_height);
  }
  adversary_ = std::make_unique<Adversary>(adversary_random, counters_, std::string(kChainId),
                                           validators.value(), node_count);
  network_ = std::make_unique<SimNetwork>(
      node_count, events_, network_random, counters_,
      [this](size_t from, size_t to, const SharedBytes& bytes) { deliver(from, to, bytes); });
  choose_link_faults(setup);
  observed_heights_.assign(node_count, 0);

  if (options_.fork_attack) {
    // Honest validators alternate between the two groups; the groups cannot talk.
    int next_group = 0;
    SplitBrainPlan& plan = adversary_->plan();
    for (size_t index = 0; index < node_count; ++index) {
      plan.group_of_node[index] = nodes_[index]->byzantine ? -1 : next_group;
      if (!nodes_[index]->byzantine)
        next_group = 1 - next_group;
    }
    for (size_t from = 0; from < node_count; ++from) {
      for (size_t to = 0; to < node_count; ++to) {
        int from_group = plan.group_of_node[from];
        int to_group = plan.group_of_node[to];
        if (from_group >= 0 && to_group >= 0 && from_group != to_group)
          network_->block(from, to);
      }
    }
    counters_.add("fault.partition_symmetric");
  }
}

void Simulation::choose_cluster(Random& setup) {
  size_t node_count =
      options_.validators.value_or(options_.fork_attack ? 4 : size_t(setup.range(4, 10)));
  TALLY_ASSERT_MSG(node_count >= 2 && node_count <= 100, "validator count out of range");
  bool equal_power = options_.equal_power || options_.fork_attack;
  for (size_t index = 0; index < node_count; ++index) {
    Hash256 secret = setup.hash();
    uint64_t power = equal_power ? 1 : setup.range(1, 10);
    int64_t skew = int64_t(setup.range(0, 400)) - 200;
    auto node = std::make_unique<SimNode>(index, secret, power, skew);
    signatures_.add(node->signer);
    total_power_ += power;
    nodes_.push_back(std::move(node));
  }
  if (options_.node_faults && setup.chance(300'000)) {
    uint64_t skewed = setup.range(1, 2);
    for (uint64_t count = 0; count < skewed; ++count) {
      SimNode& node = *nodes_[setup.below(node_count)];
      int64_t magnitude = int64_t(setup.range(300, 900));
      node.clock_skew_ms = setup.coin() ? magnitude : -magnitude;
      counters_.add("fault.clock_skew");
    }
  }

  std::vector<size_t> order(node_count);
  for (size_t index = 0; index < node_count; ++index)
    order[index] = index;
  setup.shuffle(order);
  std::optional<uint32_t> forced = options_.byzantine_power_ppm;
  if (options_.fork_attack && !forced)
    forced = kOneThirdPpm;
  if (forced) {
    for (size_t index : order) {
      // Stop once byzantine_power / total >= forced.
      if (uint64_t(byzantine_power_) * kPpm >= uint64_t(*forced) * total_power_)
        break;
      nodes_[index]->byzantine = true;
      byzantine_power_ += nodes_[index]->power;
    }
  } else if (options_.byzantine && setup.chance(700'000)) {
    uint64_t max_count = setup.range(1, node_count);
    uint64_t count = 0;
    for (size_t index : order) {
      if (count == max_count)
        break;
      if (3 * (byzantine_power_ + nodes_[index]->power) >= total_power_)
        continue;
      nodes_[index]->byzantine = true;
      byzantine_power_ += nodes_[index]->power;
      ++count;
    }
  }
  for (auto& node : nodes_) {
    if (!node->byzantine)
      continue;
    ByzantineBehaviours& behaviours = node->behaviours;
    if (options_.fork_attack) {
      behaviours.split_brain = true;
      continue;
    }
    behaviours.equivocate_proposals = setup.coin();
    behaviours.double_votes = setup.coin();
    behaviours.invalid_votes = setup.coin();
    behaviours.withhold = setup.chance(350'000);
    behaviours.amnesia = setup.coin();
    behaviours.replay = setup.coin();
    behaviours.malformed = setup.coin();
    if (!behaviours.any())
      behaviours.double_votes = true;
  }
}

void Simulation::choose_link_faults(Random& setup) {
  LinkFaults faults;
  faults.latency_base_ms = setup.range(1, 30);
  faults.latency_jitter_ms = setup.range(0, 80);
  if (options_.network_faults && !options_.fork_attack) {
    if (setup.coin()) {
      faults.long_tail_ppm = uint32_t(setup.range(1'000, 30'000));
      faults.long_tail_max_ms = setup.range(300, 3'000);
    }
    if (setup.chance(600'000))
      faults.loss_ppm = uint32_t(setup.range(1'000, 150'000));
    if (setup.coin())
      faults.duplication_ppm = uint32_t(setup.range(1'000, 50'000));
  }
  safety_link_faults_ = faults;
  network_->set_faults(faults);
}

// --- Fault schedule --------------------------------------------------------------------------

void Simulation::schedule_node_faults() {
  Random& random = fault_random_;
  size_t node_count = nodes_.size();
  std::vector<size_t> honest_nodes;
  for (size_t index = 0; index < node_count; ++index) {
    if (honest(index))
      honest_nodes.push_back(index);
  }
  if (honest_nodes.empty())
    return;
  uint64_t window = options_.safety_ms;

  if (random.chance(700'000)) {  // crashes and restarts
    uint64_t crashes = random.range(1, node_count);
    for (uint64_t count = 0; count < crashes; ++count) {
      uint64_t at = start_ms_ + random.below(window);
      size_t index = random.pick(honest_nodes);
      uint64_t down_ms = random.range(200, 4'000);
      events_.at(at, [this, index, down_ms] {
        if (phase_ != Phase::safety || !nodes_[index]->up)
          return;
        counters_.add("fault.crash");
        crash_node(index);
        restart_later(index, down_ms);
      });
    }
  }
  if (random.coin()) {  // crashes inside an engine step, after the k-th storage write
    uint64_t armed = random.range(1, 3);
    for (uint64_t count = 0; count < armed; ++count) {
      uint64_t at = start_ms_ + random.below(window);
      size_t index = random.pick(honest_nodes);
      uint32_t writes = uint32_t(random.range(1, 3));
      events_.at(at, [this, index, writes] {
        if (phase_ != Phase::safety || !nodes_[index]->up)
          return;
        counters_.add("fault.crash_point_armed");
        nodes_[index]->storage.arm_crash_after_writes(writes);
      });
    }
  }
  if (random.coin()) {  // pauses
    uint64_t pauses = random.range(1, node_count);
    for (uint64_t count = 0; count < pauses; ++count) {
      uint64_t at = start_ms_ + random.below(window);
      size_t index = random.below(node_count);
      uint64_t pause_ms = random.range(100, 2'500);
      events_.at(at, [this, index, pause_ms] {
        SimNode& node = *nodes_[index];
        if (phase_ != Phase::safety || !node.up || node.paused)
          return;
        counters_.add("fault.pause");
        node.paused = true;
        node.paused_until_ms = now() + pause_ms;
        events_.at(node.paused_until_ms, [this, index] {
          SimNode& paused = *nodes_[index];
          if (paused.paused && paused.paused_until_ms <= now())
            paused.paused = false;
        });
      });
    }
  }
}

void Simulation::schedule_partitions() {
  Random& random = fault_random_;
  size_t node_count = nodes_.size();
  if (!random.chance(600'000))
    return;
  uint64_t partitions = random.range(1, 3);
  for (uint64_t count = 0; count < partitions; ++count) {
    uint64_t at = start_ms_ + random.below(options_.safety_ms);
    uint64_t length_ms = random.range(300, 4'000);
    bool symmetric = random.coin();
    std::vector<int> side(node_count, 0);
    side[random.below(node_count)] = 1;  // both sides non-empty
    for (size_t index = 0; index < node_count; ++index) {
      if (random.coin())
        side[index] = 1;
    }
    side[(std::find(side.begin(), side.end(), 1) - side.begin() + 1) % node_count] = 0;
    events_.at(at, [this, side, symmetric] {
      if (phase_ != Phase::safety)
        return;
      if (symmetric) {
        counters_.add("fault.partition_symmetric");
        network_->partition(side);
      } else {
        // Side 0 cannot reach side 1; side 1 still reaches side 0.
        counters_.add("fault.partition_asymmetric");
        for (size_t from = 0; from < side.size(); ++from) {
          for (size_t to = 0; to < side.size(); ++to) {
            if (side[from] == 0 && side[to] == 1)
              network_->block(from, to);
          }
        }
      }
    });
    events_.at(at + length_ms, [this] {
      if (phase_ != Phase::safety || !network_->any_blocked())
        return;
      counters_.add("fault.heal");
      network_->heal();
    });
  }
}

// --- Nodes -----------------------------------------------------------------------------------

void Simulation::start_node(size_t index) {
  SimNode& node = *nodes_[index];
  TALLY_ASSERT(!node.up);
  node.mempool = std::make_unique<Mempool>(std::string(kChainId), MempoolLimits{});
  node.engine = std::make_unique<Engine>(genesis_, config_, &node.signer, signatures_,
                                         *node.mempool, node.storage);
  node.up = true;
  node.paused = false;
  ++node.incarnation;
  Status started = node.engine->start(node.local_time(now()));
  if (!started.ok()) {
    return checkers_->fail("recovery",
                           "node " + std::to_string(index) +
                               " cannot restart from its storage: " + started.error().message,
                           now());
  }
  if (honest(index) && node.engine->height() < observed_heights_[index]) {
    return checkers_->fail("durability",
                           "node " + std::to_string(index) + " reported height " +
                               std::to_string(observed_heights_[index]) +
                               " committed but restarted at height " +
                               std::to_string(node.engine->height()),
                           now());
  }
  // Heights committed inside a step that crashed were never reported; the restart replayed
  // them from storage.
  if (honest(index)) {
    for (uint64_t height = observed_heights_[index] + 1; height <= node.engine->height();
         ++height) {
      std::optional<DecidedBlock> stored = node.storage.load_decided_block(height);
      TALLY_ASSERT(stored.has_value());
      checkers_->on_commit(index, *stored, now());
      observed_heights_[index] = height;
    }
  }
  drain(index);
}

void Simulation::crash_node(size_t index) {
  SimNode& node = *nodes_[index];
  node.engine.reset();
  node.mempool.reset();
  node.storage.crash();
  node.up = false;
  node.paused = false;
  ++node.incarnation;
  if (honest(index))
    checkers_->on_crash(index);
}

void Simulation::restart_later(size_t index, uint64_t delay_ms) {
  uint64_t incarnation = nodes_[index]->incarnation;
  events_.after(delay_ms, [this, index, incarnation] {
    SimNode& node = *nodes_[index];
    if (node.up || node.incarnation != incarnation || phase_ == Phase::done)
      return;
    counters_.add("fault.restart");
    start_node(index);
  });
}

void Simulation::drain(size_t index) {
  SimNode& node = *nodes_[index];
  if (!node.up)
    return;
  EngineOutput output = node.engine->take_output();
  if (node.storage.crash_point_reached()) {
    // The process died inside this step: nothing of it leaves the node.
    counters_.add("fault.crash_in_step");
    crash_node(index);
    restart_later(index, phase_ == Phase::safety ? fault_random_.range(100, 2'000) : 1);
    return;
  }
  if (!node.storage.contract_violation().empty()) {
    return checkers_->fail(
        "storage_contract",
        "node " + std::to_string(index) + ": " + node.storage.contract_violation(), now());
  }
  for (const CommittedBlock& committed : output.committed)
    on_node_commit(index, committed.decided);
  for (const EngineTimer& timer : output.timers)
    schedule_timer(index, timer);
  route(index, std::move(output.messages));
}

void Simulation::schedule_timer(size_t index, const EngineTimer& timer) {
  SimNode& node = *nodes_[index];
  uint64_t incarnation = node.incarnation;
  TimeoutRequest request = timer.request;
  events_.at(node.virtual_time(timer.at_ms),
             [this, index, incarnation, request] { fire_timer(index, incarnation, request); });
}

void Simulation::fire_timer(size_t index, uint64_t incarnation, const TimeoutRequest& request) {
  SimNode& node = *nodes_[index];
  if (!node.up || node.incarnation != incarnation)
    return;
  if (node.paused) {
    events_.at(node.paused_until_ms,
               [this, index, incarnation, request] { fire_timer(index, incarnation, request); });
    return;
  }
  node.engine->on_timer(request, node.local_time(now()));
  drain(index);
}

void Simulation::route(size_t index, std::vector<Envelope> messages) {
  SimNode& node = *nodes_[index];
  if (node.byzantine) {
    for (const Wire& wire : adversary_->tamper(node, std::move(messages), now())) {
      network_->send(index, wire.to, wire.bytes);
    }
    return;
  }
  for (const Envelope& envelope : messages) {
    SharedBytes bytes = share(encode_message(envelope.message));
    // Paired check: what an honest node sends decodes to exactly what it meant.
    Result<Message> decoded = decode_message(*bytes, kMaxBlockTransactions);
    if (!decoded.ok() || !(decoded.value() == envelope.message)) {
      return checkers_->fail("codec",
                             "node " + std::to_string(index) + " sent a " +
                                 std::string(kind_name(kind_of(envelope.message))) +
                                 " that does not decode to itself" +
                                 (decoded.ok() ? std::string() : ": " + decoded.error().message),
                             now());
    }
    checkers_->on_released(index, envelope.message, node.storage, now());
    if (log_)
      log_released(index, envelope);
    if (envelope.to) {
      if (*envelope.to < nodes_.size() && *envelope.to != index) {
        network_->send(index, size_t(*envelope.to), bytes);
      }
    } else {
      for (size_t peer = 0; peer < nodes_.size(); ++peer) {
        if (peer != index && (!envelope.except || *envelope.except != peer))
          network_->send(index, peer, bytes);
      }
    }
  }
}

void Simulation::deliver(size_t from, size_t to, const SharedBytes& bytes) {
  if (finished_ || checkers_->failed())
    return;
  SimNode& node = *nodes_[to];
  if (!node.up) {
    counters_.add("net.dropped_node_down");
    return;
  }
  if (node.paused) {
    if (node.deferred_while_paused >= kMaxDeferredWhilePaused) {
      counters_.add("net.dropped_node_paused");
      return;
    }
    ++node.deferred_while_paused;
    events_.at(node.paused_until_ms, [this, from, to, bytes] {
      --nodes_[to]->deferred_while_paused;
      deliver(from, to, bytes);
    });
    return;
  }
  trace(1, from, to, *bytes);
  Result<Message> decoded = decode_message(*bytes, kMaxBlockTransactions);
  if (!decoded.ok()) {
    counters_.add("net.decode_rejected");
    if (honest(from)) {
      checkers_->fail("codec",
                      "node " + std::to_string(to) + " cannot decode a message from honest node " +
                          std::to_string(from) + ": " + decoded.error().message,
                      now());
    }
    return;
  }
  counters_.add("net.delivered");
  const Vote* vote = std::get_if<Vote>(&decoded.value());
  const Replica& replica = node.engine->replica();
  bool processed_before = vote && replica.height() == vote->height && !replica.decided();
  node.engine->on_message(PeerId(from), decoded.value(), node.local_time(now()));
  if (vote && honest(to)) {
    const Replica& after = node.engine->replica();
    bool processed_after = after.height() == vote->height && !after.decided();
    if (processed_before || processed_after)
      checkers_->on_vote_processed(to, *vote, now());
  }
  drain(to);
}

void Simulation::on_node_commit(size_t index, const DecidedBlock& decided) {
  uint64_t height = decided.block.header.height;
  Hash256 hash = decided.block.hash();
  trace(2, index, height, hash.span());
  if (!honest(index))
    return;
  counters_.add("chain.node_commits");
  uint64_t& seen = observed_heights_[index];
  if (height > seen) {
    // Heights the node committed inside a step that crashed are only in its storage.
    for (uint64_t missing = seen + 1; missing < height; ++missing) {
      std::optional<DecidedBlock> stored = nodes_[index]->storage.load_decided_block(missing);
      if (!stored) {
        return checkers_->fail("durability",
                               "node " + std::to_string(index) + " committed height " +
                                   std::to_string(height) + " without height " +
                                   std::to_string(missing) + " in its storage",
                               now());
      }
      checkers_->on_commit(index, *stored, now());
    }
    seen = height;
  }
  checkers_->on_commit(index, decided, now());
  const SimNode& node = *nodes_[index];
  if (node.up) {
    checkers_->check_pending_evidence(
        index, node.engine->height(), node.engine->pending_evidence(),
        std::string(node.storage.keeps_accounts() ? "restarted from stored accounts"
                                                  : "restarted by replaying blocks") +
            " " + std::to_string(node.incarnation / 2) + " time(s)",
        now());
  }
  if (phase_ == Phase::liveness)
    check_progress();
}

// --- Workload and Byzantine timers -----------------------------------------------------------

void Simulation::workload_tick() {
  if (finished_ || phase_ == Phase::done || workload_->exhausted())
    return;
  std::vector<const State*> states(nodes_.size(), nullptr);
  for (size_t index = 0; index < nodes_.size(); ++index) {
    if (nodes_[index]->accepts_input())
      states[index] = &nodes_[index]->engine->state();
  }
  std::vector<Submission> submissions = workload_->next(now(), states, checkers_->reference());
  for (const Submission& submission : submissions) {
    SimNode& node = *nodes_[submission.node];
    if (!node.accepts_input())
      continue;
    std::string kind(transaction_kind_name(submission.kind));
    Status status = node.engine->submit_transaction(submission.transaction, node.local_time(now()));
    counters_.add("tx." + kind + (status.ok() ? ".admitted" : ".refused"));
    if (status.ok() && submission.must_be_refused) {
      return checkers_->fail("admission",
                             "node " + std::to_string(submission.node) + " admitted a " + kind +
                                 " transaction " +
                                 submission.transaction.hash().hex().substr(0, 16),
                             now());
    }
    drain(submission.node);
  }
  events_.after(fault_random_.range(50, 400), [this] { workload_tick(); });
}

void Simulation::amnesia_tick(size_t index) {
  if (finished_ || phase_ == Phase::done)
    return;
  SimNode& node = *nodes_[index];
  if (node.accepts_input()) {
    adversary_->amnesia(node);
    drain(index);
  }
  events_.after(fault_random_.range(300, 2'000), [this, index] { amnesia_tick(index); });
}

// --- Phases ----------------------------------------------------------------------------------

void Simulation::begin_liveness_phase() {
  if (finished_)
    return;
  if (byzantine_can_break_safety()) {
    // With >= 1/3 Byzantine power nothing is promised after the faults: end here.
    finished_ = true;
    phase_ = Phase::done;
    return;
  }
  phase_ = Phase::liveness;
  liveness_start_ms_ = now();
  network_->heal();
  LinkFaults calm;
  calm.latency_base_ms = safety_link_faults_.latency_base_ms;
  calm.latency_jitter_ms = safety_link_faults_.latency_jitter_ms;
  network_->set_faults(calm);
  for (size_t index = 0; index < nodes_.size(); ++index) {
    SimNode& node = *nodes_[index];
    node.storage.disarm();
    node.paused = false;
    if (!node.up) {
      counters_.add("fault.restart");
      start_node(index);
    }
  }
  uint64_t highest = 0;
  for (size_t index = 0; index < nodes_.size(); ++index) {
    if (honest(index))
      highest = std::max(highest, observed_heights_[index]);
  }
  liveness_target_height_ = highest + options_.liveness_heights;
  check_progress();
}

void Simulation::check_progress() {
  if (finished_ || phase_ != Phase::liveness)
    return;
  if (!liveness_ms_) {
    for (size_t index = 0; index < nodes_.size(); ++index) {
      if (honest(index) && observed_heights_[index] < liveness_target_height_)
        return;
    }
    liveness_ms_ = now() - liveness_start_ms_;
  }
  if (checkers_->accountability_settled(liveness_start_ms_)) {
    finished_ = true;
    phase_ = Phase::done;
  }
}

void Simulation::on_deadline() {
  if (finished_)
    return;
  if (!liveness_ms_) {
    std::string heights;
    for (size_t index = 0; index < nodes_.size(); ++index) {
      if (!honest(index))
        continue;
      heights += " node" + std::to_string(index) + "=" + std::to_string(observed_heights_[index]);
    }
    checkers_->fail("liveness",
                    "honest nodes did not all reach height " +
                        std::to_string(liveness_target_height_) + " within " +
                        format_ms_as_seconds(options_.liveness_ms_max) +
                        " s after faults stopped; heights:" + heights + "\n" + describe_nodes(),
                    now());
  }
  finished_ = true;
  phase_ = Phase::done;
}

void Simulation::log_released(size_t index, const Envelope& envelope) {
  std::string line;
  if (const auto* proposal = std::get_if<Proposal>(&envelope.message)) {
    line = "proposal h" + std::to_string(proposal->height) + " r" +
           std::to_string(proposal->round) + " pol " +
           std::to_string(int64_t(proposal->proof_of_lock_round == kNoRound
                                      ? -1
                                      : int64_t(proposal->proof_of_lock_round))) +
           " block " + proposal->block.hash().hex().substr(0, 8) + " txs " +
           std::to_string(proposal->block.transactions.size()) + " evidence " +
           std::to_string(proposal->block.evidence.size()) + " time " +
           std::to_string(proposal->block.header.time_ms);
  } else if (const auto* vote = std::get_if<Vote>(&envelope.message)) {
    if (vote->validator != nodes_[index]->signer.address())
      return;
    line = std::string(vote_type_name(vote->type)) + " h" + std::to_string(vote->height) + " r" +
           std::to_string(vote->round) + " " +
           (vote->is_nil() ? std::string("nil") : vote->block_hash.hex().substr(0, 8));
  } else {
    return;
  }
  line = "node" + std::to_string(index) + " " + line;
  if (!logged_.insert(line).second)
    return;
  std::fprintf(stderr, "%llu %s\n", static_cast<unsigned long long>(now() - start_ms_),
               line.c_str());
}

std::string Simulation::describe_nodes() const {
  std::string text;
  for (const auto& node : nodes_) {
    text += "    node" + std::to_string(node->index) +
            (node->byzantine ? " byzantine" : " honest") + " power " + std::to_string(node->power) +
            " skew " + std::to_string(node->clock_skew_ms) + " ms";
    if (!node->up) {
      text += ": down\n";
      continue;
    }
    const Replica& replica = node->engine->replica();
    text += ": decided " + std::to_string(node->engine->height()) + ", replica height " +
            std::to_string(replica.height()) + " round " + std::to_string(replica.round()) +
            " step " + std::to_string(int(replica.step())) +
            (replica.decided() ? " (decided)" : "") + " locked round " +
            (replica.locked_round() == kNoRound ? std::string("none")
                                                : std::to_string(replica.locked_round())) +
            ", mempool " + std::to_string(node->mempool->size()) + ", pending evidence " +
            std::to_string(node->engine->pending_evidence().size()) + "\n";
  }
  return text;
}

void Simulation::final_checks() {
  if (checkers_->failed() || byzantine_can_break_safety())
    return;
  accountability_ = checkers_->finish_accountability(liveness_start_ms_, now());
  if (checkers_->failed())
    return;

  // Every honest node at the reference height holds exactly the reference state.
  std::vector<std::pair<Address, Account>> reference = checkers_->reference().sorted_accounts();
  for (size_t index = 0; index < nodes_.size(); ++index) {
    SimNode& node = *nodes_[index];
    if (!honest(index) || !node.up)
      continue;
    if (node.storage.durable_last_decided_height() < observed_heights_[index]) {
      return checkers_->fail("durability",
                             "node " + std::to_string(index) + " reported height " +
                                 std::to_string(observed_heights_[index]) +
                                 " but its storage holds less",
                             now());
    }
    if (node.engine->height() != checkers_->reference_height())
      continue;
    if (node.engine->state().sorted_accounts() != reference) {
      return checkers_->fail("validity",
                             "node " + std::to_string(index) +
                                 "'s accounts differ from the reference state at height " +
                                 std::to_string(checkers_->reference_height()),
                             now());
    }
  }
}

void Simulation::trace(uint8_t kind, uint64_t first, uint64_t second, ByteSpan payload) {
  Writer header;
  header.u8(kind);
  header.u64(now());
  header.u64(first);
  header.u64(second);
  trace_ = sha256_parts({trace_.span(), header.bytes(), payload});
}

SimulationReport Simulation::run() {
  for (size_t index = 0; index < nodes_.size(); ++index) {
    events_.at(start_ms_, [this, index] { start_node(index); });
    if (nodes_[index]->behaviours.amnesia) {
      events_.at(start_ms_ + fault_random_.range(300, 2'000),
                 [this, index] { amnesia_tick(index); });
    }
  }
  if (options_.node_faults && !options_.fork_attack)
    schedule_node_faults();
  if (options_.network_faults && !options_.fork_attack)
    schedule_partitions();
  events_.at(start_ms_ + 100, [this] { workload_tick(); });
  events_.at(start_ms_ + options_.safety_ms, [this] { begin_liveness_phase(); });
  events_.at(start_ms_ + options_.safety_ms + options_.liveness_ms_max, [this] { on_deadline(); });

  while (!finished_ && !checkers_->failed() && !events_.empty())
    events_.run_next();
  final_checks();

  SimulationReport report;
  report.seed = options_.seed;
  report.validators = nodes_.size();
  report.total_power = total_power_;
  report.byzantine_power = byzantine_power_;
  for (const auto& node : nodes_) {
    if (!node->byzantine)
      continue;
    ++report.byzantine_validators;
    if (!report.byzantine_behaviours.empty())
      report.byzantine_behaviours += "; ";
    report.byzantine_behaviours +=
        "node" + std::to_string(node->index) + ":" + node->behaviours.describe();
  }
  report.violation = checkers_->violation();
  report.trace_hash = trace_;
  report.heights_committed = checkers_->checked_height();
  report.transactions_committed = checkers_->transactions_committed();
  report.liveness_ms = liveness_ms_;
  report.virtual_ms = now() - start_ms_;
  report.accountability = accountability_;
  report.counters = counters_;
  report.reproduce_command = options_.reproduce_command();
  return report;
}

}  // namespace

std::string SimulationOptions::reproduce_command() const {
  SimulationOptions defaults;
  std::string command = "build/tally-sim --seed " + std::to_string(seed);
  if (validators)
    command += " --validators " + std::to_string(*validators);
  if (byzantine_power_ppm)
    command += " --byzantine-fraction " + format_ppm(*byzantine_power_ppm);
  if (safety_ms != defaults.safety_ms)
    command += " --seconds " + format_ms_as_seconds(safety_ms);
  if (liveness_ms_max != defaults.liveness_ms_max) {
    command += " --liveness-seconds " + format_ms_as_seconds(liveness_ms_max);
  }
  if (liveness_heights != defaults.liveness_heights) {
    command += " --liveness-heights " + std::to_string(liveness_heights);
  }
  if (!network_faults)
    command += " --no-network-faults";
  if (!node_faults)
    command += " --no-node-faults";
  if (!byzantine)
    command += " --no-byzantine";
  if (equal_power)
    command += " --equal-power";
  if (fork_attack)
    command += " --fork-attack";
  if (max_transactions != defaults.max_transactions) {
    command += " --transactions " + std::to_string(max_transactions);
  }
  if (tamper_state_root_at_height) {
    command += " --tamper-state-root-at " + std::to_string(*tamper_state_root_at_height);
  }
  return command;
}

void install_abort_reporter() {
  std::signal(SIGABRT, report_abort);
}

SimulationReport run_simulation(const SimulationOptions& options) {
  std::string command = options.reproduce_command();
  std::strncpy(current_run_command, command.c_str(), sizeof(current_run_command) - 1);
  Simulation simulation(options);
  return simulation.run();
}

}  // namespace tally::sim
