#include "consensus/engine.h"

#include <algorithm>

#include "crypto/merkle.h"

namespace tally {
namespace {

constexpr size_t kMaxPendingEvidence = 1000;

Error invalid_block(std::string message) {
  return make_error("invalid_block", std::move(message));
}

}  // namespace

Engine::Engine(Genesis genesis, EngineConfig config, const Signer* signer,
               const SignatureChecker& checker, TransactionPool& pool, ConsensusStorage& storage)
    : genesis_(std::move(genesis)),
      config_(config),
      signer_(signer),
      checker_(checker),
      pool_(pool),
      storage_(storage),
      validators_(ValidatorSet::from_genesis(genesis_).value()),
      replica_(genesis_.chain_id, config.timeouts, signer, checker),
      genesis_hash_(genesis_.hash()) {}

Engine::~Engine() = default;

uint64_t Engine::height() const {
  return last_decided_ ? last_decided_->block.header.height : 0;
}

const BlockHeader* Engine::last_header() const {
  return last_decided_ ? &last_decided_->block.header : nullptr;
}

Status Engine::start(uint64_t now_ms) {
  Result<State> state = State::from_genesis(genesis_);
  if (!state.ok())
    return state.error();
  state_.emplace(std::move(state).value());

  uint64_t last = storage_.last_decided_height();
  std::optional<std::vector<std::pair<Address, Account>>> accounts =
      last > 0 ? storage_.load_accounts() : std::nullopt;
  if (accounts) {
    // Storage that keeps the accounts: load them and check them against the last header.
    std::optional<DecidedBlock> decided = storage_.load_decided_block(last);
    if (!decided) {
      return make_error("storage_corrupt",
                        "the last decided block " + std::to_string(last) + " is missing");
    }
    Result<State> loaded = State::from_accounts(genesis_, last, std::move(*accounts));
    if (!loaded.ok())
      return make_error("storage_corrupt", loaded.error().message);
    if (loaded->state_root() != decided->block.header.state_root) {
      return make_error("storage_corrupt", "stored accounts do not match the state root of block " +
                                               std::to_string(last));
    }
    state_.emplace(std::move(loaded).value());
    last_decided_ = std::move(decided);
    // Rebuild the committed evidence of the evidence window from the blocks still stored.
    evidence_history_from_ = last + 1;
    uint64_t window_start =
        last + 1 > config_.max_evidence_age ? last + 1 - config_.max_evidence_age : 1;
    for (uint64_t height = last; height >= window_start && height >= 1; --height) {
      std::optional<DecidedBlock> stored =
          height == last ? last_decided_ : storage_.load_decided_block(height);
      if (!stored)
        break;
      for (const DuplicateVoteEvidence& evidence : stored->block.evidence) {
        committed_evidence_[evidence.hash()] = evidence.first.height;
      }
      evidence_history_from_ = height;
    }
    if (evidence_history_from_ == window_start)
      evidence_history_from_ = 1;
  } else {
    // Replay what was decided before a restart. Every block is checked again against the state
    // it builds on: storage is trusted for durability, not for correctness.
    for (uint64_t height = 1; height <= last; ++height) {
      std::optional<DecidedBlock> decided = storage_.load_decided_block(height);
      if (!decided) {
        return make_error("storage_corrupt",
                          "decided block " + std::to_string(height) + " is missing");
      }
      const Block& block = decided->block;
      Result<PendingBlock> pending = state_->execute_block(height, block.header.proposer,
                                                           block.transactions, pool_.verifier());
      if (!pending.ok() || pending->outcome().state_root != block.header.state_root) {
        return make_error("storage_corrupt",
                          "stored block " + std::to_string(height) + " does not replay cleanly");
      }
      state_->commit_block(std::move(pending).value());
      for (const DuplicateVoteEvidence& evidence : block.evidence) {
        committed_evidence_[evidence.hash()] = evidence.first.height;
      }
      last_decided_ = std::move(decided);
    }
  }

  replica_.start_height(height() + 1, validators_, storage_.load_replica_state());
  process_replica_output(now_ms);
  return Status::success();
}

// --- Inputs ----------------------------------------------------------------------------------

void Engine::on_message(PeerId from, const Message& message, uint64_t now_ms) {
  if (!state_)
    return;
  if (const auto* proposal = std::get_if<Proposal>(&message)) {
    start_awaited_height(proposal->height);
    replica_.on_proposal(*proposal);
  } else if (const auto* vote = std::get_if<Vote>(&message)) {
    start_awaited_height(vote->height);
    replica_.on_vote(*vote);
  } else if (const auto* status = std::get_if<StatusMessage>(&message)) {
    on_status(from, *status, now_ms);
  } else if (const auto* request = std::get_if<BlockRequest>(&message)) {
    on_block_request(from, *request);
  } else if (const auto* decided = std::get_if<DecidedBlock>(&message)) {
    on_decided_block(*decided, now_ms);
  } else if (const auto* evidence = std::get_if<DuplicateVoteEvidence>(&message)) {
    add_evidence(*evidence);
  } else if (const auto* batch = std::get_if<TransactionsMessage>(&message)) {
    admit_gossiped(from, batch->transactions, transaction_hashes(batch->transactions));
  } else if (const auto* announced = std::get_if<TransactionHashesMessage>(&message)) {
    on_transaction_hashes(from, *announced);
  } else if (const auto* request = std::get_if<TransactionRequest>(&message)) {
    on_transaction_request(from, *request);
  }
  process_replica_output(now_ms);
}

void Engine::on_gossiped_transactions(PeerId from, std::span<const Transaction> transactions,
                                      std::span<const Hash256> hashes, uint64_t now_ms) {
  if (!state_)
    return;
  admit_gossiped(from, transactions, hashes);
  process_replica_output(now_ms);
}

void Engine::admit_gossiped(PeerId from, std::span<const Transaction> transactions,
                            std::span<const Hash256> hashes) {
  TALLY_ASSERT(transactions.size() == hashes.size());
  // Newly admitted transactions are announced to every other peer; known ones stop here, so
  // gossip ends, and nothing is echoed back to its sender.
  TransactionHashesMessage fresh;
  for (size_t index = 0; index < transactions.size(); ++index) {
    prefetch_ahead_of_admission(transactions, index);
    const Hash256& hash = hashes[index];
    requested_.erase(hash);
    if (pool_.add(transactions[index], hash, *state_).ok())
      fresh.hashes.push_back(hash);
  }
  if (!fresh.hashes.empty()) {
    output_.messages.push_back(Envelope{std::nullopt, std::move(fresh), from});
    on_transaction_arrived();
  }
}

void Engine::prefetch_ahead_of_admission(std::span<const Transaction> transactions,
                                         size_t index) const {
  constexpr size_t kDistance = 4;  // transactions
  if (!state_)
    return;
  if (index == 0) {
    for (size_t first = 0; first < std::min(transactions.size(), kDistance); ++first)
      state_->prefetch_accounts_of(transactions[first]);
  }
  if (index + kDistance < transactions.size())
    state_->prefetch_accounts_of(transactions[index + kDistance]);
}

void Engine::on_transaction_hashes(PeerId from, const TransactionHashesMessage& announced) {
  TransactionRequest request;
  for (const Hash256& hash : announced.hashes) {
    if (pool_.contains(hash) || !requested_.insert(hash).second)
      continue;
    requested_order_.push_back(hash);
    request.hashes.push_back(hash);
  }
  while (requested_order_.size() > kMaxRequestedTransactions) {
    requested_.erase(requested_order_.front());
    requested_order_.pop_front();
  }
  if (!request.hashes.empty())
    output_.messages.push_back(Envelope{from, std::move(request), std::nullopt});
}

void Engine::on_transaction_request(PeerId from, const TransactionRequest& request) {
  // Only what is pending here: a transaction committed meanwhile reaches the peer in its block.
  TransactionsMessage found;
  for (const Hash256& hash : request.hashes) {
    if (std::optional<Transaction> transaction = pool_.get(hash))
      found.transactions.push_back(std::move(*transaction));
  }
  if (!found.transactions.empty())
    output_.messages.push_back(Envelope{from, std::move(found), std::nullopt});
}

void Engine::on_timer(const TimeoutRequest& request, uint64_t now_ms) {
  if (!state_)
    return;
  if (request.kind == TimeoutKind::heartbeat) {
    if (awaiting_start_ && request.height == height() + 1)
      start_next_height();
  } else if (request.kind == TimeoutKind::block_interval) {
    if (request.height == height() + 1) {
      block_interval_passed_ = true;
      if (awaiting_start_ && ready_to_propose())
        start_next_height();
    }
  } else {
    replica_.on_timeout(request);
  }
  process_replica_output(now_ms);
}

Status Engine::submit_transaction(const Transaction& transaction, const Hash256& hash,
                                  uint64_t now_ms) {
  TALLY_ASSERT_MSG(state_.has_value(), "submit_transaction before start");
  Status status = pool_.add(transaction, hash, *state_);
  if (status.ok()) {
    // Submissions travel in batches: one message per take_output(), not one per transaction.
    if (submitted_for_gossip_.transactions.size() >= kMaxGossipBatch)
      flush_submitted_gossip();
    submitted_for_gossip_.transactions.push_back(transaction);
    on_transaction_arrived();
    process_replica_output(now_ms);
  }
  return status;
}

void Engine::flush_submitted_gossip() {
  if (submitted_for_gossip_.transactions.empty())
    return;
  output_.messages.push_back(
      Envelope{std::nullopt, std::exchange(submitted_for_gossip_, TransactionsMessage{})});
}

EngineOutput Engine::take_output() {
  flush_submitted_gossip();
  return std::exchange(output_, EngineOutput{});
}

// --- Replica output --------------------------------------------------------------------------

void Engine::process_replica_output(uint64_t now_ms) {
  for (;;) {
    ReplicaOutput out = replica_.take_output();
    if (out.empty())
      return;
    // What was signed is durable before anything that carries it leaves this node.
    if (out.persistent_state) {
      Status saved = storage_.save_replica_state(*out.persistent_state);
      TALLY_ASSERT_MSG(saved.ok(), "cannot persist consensus state; refusing to continue");
    }
    for (const DuplicateVoteEvidence& evidence : out.evidence)
      add_evidence(evidence);
    for (ConsensusMessage& message : out.messages) {
      std::visit(
          [this](auto&& value) {
            output_.messages.push_back(Envelope{std::nullopt, value});
          },
          std::move(message));
    }
    for (const TimeoutRequest& timeout : out.timeouts)
      schedule_timer(timeout, now_ms);
    for (const ValidationRequest& request : out.validation_requests) {
      Status valid = check_block(request.block, request.transaction_hashes, now_ms);
      replica_.on_block_validated(request.block.hash(), valid.ok());
    }
    if (out.build_request)
      answer_build_request(*out.build_request, now_ms);
    if (out.decision)
      handle_decision(*out.decision, now_ms);
  }
}

void Engine::schedule_timer(const TimeoutRequest& request, uint64_t now_ms) {
  output_.timers.push_back(EngineTimer{request, now_ms + request.delay_ms});
}

void Engine::handle_decision(const DecidedBlock& decided, uint64_t now_ms) {
  const Block& block = decided.block;
  uint64_t block_height = block.header.height;
  TALLY_ASSERT(block_height == height() + 1);

  Hash256 block_hash = block.hash();
  auto executed = executed_.find(block_hash);
  std::optional<PendingBlock> pending;
  std::vector<Hash256> hashes;
  if (executed != executed_.end()) {
    pending = std::move(executed->second.pending);
    hashes = std::move(executed->second.transaction_hashes);
  } else {
    hashes = transaction_hashes(block.transactions);
    Result<PendingBlock> result = state_->execute_block(
        block_height, block.header.proposer, block.transactions, pool_.verifier(), hashes);
    // More than 2/3 of the voting power decided this block, so an honest majority of them
    // checked it. If it does not apply, more than 1/3 is faulty or this node is broken: either
    // way continuing would fork.
    TALLY_ASSERT_MSG(result.ok(), "a decided block does not apply to the state");
    pending = std::move(result).value();
  }
  TALLY_ASSERT_MSG(pending->outcome().state_root == block.header.state_root,
                   "a decided block's state root does not match the state");

  // The commit point: durable before the state moves on.
  Status saved = storage_.save_decided_block_and_accounts(decided, pending->changes());
  TALLY_ASSERT_MSG(saved.ok(), "cannot persist a decided block; refusing to continue");
  state_->commit_block(std::move(*pending));
  executed_.clear();

  for (const DuplicateVoteEvidence& evidence : block.evidence) {
    committed_evidence_[evidence.hash()] = evidence.first.height;
  }
  std::erase_if(pending_evidence_, [this](const DuplicateVoteEvidence& evidence) {
    return committed_evidence_.count(evidence.hash()) != 0 ||
           evidence.first.height + config_.max_evidence_age <= height() + 1;
  });
  std::erase_if(committed_evidence_, [&](const auto& entry) {
    return entry.second + config_.max_evidence_age <= block_height;
  });
  pool_.remove_committed(block, hashes, *state_);
  last_decided_ = decided;
  output_.committed.push_back(CommittedBlock{decided, std::move(hashes)});

  bool ready = ready_to_propose();
  block_interval_passed_ = config_.min_block_interval_ms == 0;
  if (ready && block_interval_passed_) {
    start_next_height();
    return;
  }
  awaiting_start_ = true;
  if (!block_interval_passed_) {
    schedule_timer(TimeoutRequest{TimeoutKind::block_interval, block_height + 1, 0,
                                  config_.min_block_interval_ms},
                   now_ms);
  }
  if (!ready) {
    schedule_timer(TimeoutRequest{TimeoutKind::heartbeat, block_height + 1, 0,
                                  config_.empty_block_interval_ms},
                   now_ms);
  }
}

bool Engine::ready_to_propose() {
  // Only transactions that can go into the next block count: one waiting behind a nonce gap
  // would otherwise make an endless run of empty blocks (synchronously, for a lone validator).
  return !pending_evidence_.empty() ||
         (pool_.size() > 0 &&
          !pool_.select_for_block(*state_, 1, state_->params().max_block_bytes).empty());
}

void Engine::on_transaction_arrived() {
  if (awaiting_start_ && block_interval_passed_)
    start_next_height();
}

void Engine::start_next_height() {
  awaiting_start_ = false;
  replica_.start_height(height() + 1, validators_);
}

void Engine::start_awaited_height(uint64_t message_height) {
  if (awaiting_start_ && message_height == height() + 1)
    start_next_height();
}

void Engine::answer_build_request(const BuildRequest& request, uint64_t now_ms) {
  TALLY_ASSERT(signer_ != nullptr && request.height == height() + 1);
  const ChainParams& params = state_->params();
  Block block;
  BlockHeader& header = block.header;
  header.chain_id = genesis_.chain_id;
  header.height = request.height;
  uint64_t previous_time =
      last_decided_ ? last_decided_->block.header.time_ms : genesis_.genesis_time_ms;
  header.time_ms = std::max(now_ms, previous_time + 1);
  header.previous_block_hash = last_decided_ ? last_decided_->block.hash() : genesis_hash_;
  header.validators_hash = validators_.hash();
  header.next_validators_hash = header.validators_hash;
  header.proposer = signer_->address();
  if (last_decided_)
    block.last_commit = last_decided_->commit;
  for (const DuplicateVoteEvidence& evidence : pending_evidence_) {
    if (block.evidence.size() == kMaxEvidencePerBlock)
      break;
    if (evidence.first.height >= evidence_history_from_ && validate_evidence(evidence).ok())
      block.evidence.push_back(evidence);
  }

  block.transactions =
      pool_.select_for_block(*state_, params.max_block_txs, params.max_block_bytes);
  std::vector<Hash256> hashes = transaction_hashes(block.transactions);
  Result<PendingBlock> pending = state_->execute_block(
      request.height, header.proposer, block.transactions, pool_.verifier(), hashes);
  if (!pending.ok()) {
    // The pool promised transactions valid in sequence; never propose a block that is not.
    block.transactions.clear();
    hashes.clear();
    pending = state_->execute_block(request.height, header.proposer, block.transactions,
                                    pool_.verifier());
    TALLY_ASSERT(pending.ok());
  }
  header.state_root = pending->outcome().state_root;
  header.transactions_root = merkle_root(hashes);
  header.last_commit_hash = block.last_commit.hash();
  header.evidence_hash = evidence_root(block.evidence);
  executed_.insert_or_assign(block.hash(),
                             ExecutedBlock{std::move(pending).value(), std::move(hashes)});
  replica_.on_block_built(request.height, request.round, std::move(block));
}

Status Engine::check_block(const Block& block, std::span<const Hash256> hashes, uint64_t now_ms) {
  const BlockHeader& header = block.header;
  uint64_t expected_height = height() + 1;
  if (header.chain_id != genesis_.chain_id)
    return invalid_block("wrong chain id");
  if (header.height != expected_height)
    return invalid_block("wrong height");
  uint64_t previous_time =
      last_decided_ ? last_decided_->block.header.time_ms : genesis_.genesis_time_ms;
  if (header.time_ms <= previous_time && last_decided_) {
    return invalid_block("time does not increase");
  }
  if (header.time_ms > now_ms + config_.max_clock_drift_ms) {
    return invalid_block("time is too far ahead of the local clock");
  }
  Hash256 previous_hash = last_decided_ ? last_decided_->block.hash() : genesis_hash_;
  if (header.previous_block_hash != previous_hash)
    return invalid_block("wrong previous block");
  if (header.validators_hash != validators_.hash() ||
      header.next_validators_hash != validators_.hash()) {
    return invalid_block("wrong validator set hash");
  }
  if (!validators_.index_of(header.proposer))
    return invalid_block("the proposer is not a validator");
  TALLY_ASSERT(hashes.size() == block.transactions.size());
  TALLY_TRY(block.check_body_matches_header(hashes));
  if (last_decided_) {
    TALLY_TRY(verify_commit(validators_, last_decided_->block.header, block.last_commit, checker_));
  } else if (!block.last_commit.empty()) {
    return invalid_block("the first block cannot carry a last commit");
  }
  std::set<Hash256> evidence_seen;
  for (const DuplicateVoteEvidence& evidence : block.evidence) {
    TALLY_TRY(validate_evidence(evidence));
    if (!evidence_seen.insert(evidence.hash()).second)
      return invalid_block("duplicate evidence");
  }
  // A block this node built was executed then, against the same state (executed_ is cleared on
  // every commit, and the hash covers height, proposer and transactions): no need to run it twice.
  Hash256 block_hash = block.hash();
  auto executed = executed_.find(block_hash);
  if (executed != executed_.end()) {
    if (executed->second.pending.outcome().state_root != header.state_root) {
      return invalid_block("wrong state root");
    }
    return Status::success();
  }
  Result<PendingBlock> pending = state_->execute_block(
      header.height, header.proposer, block.transactions, pool_.verifier(), hashes);
  if (!pending.ok())
    return pending.error();
  if (pending->outcome().state_root != header.state_root)
    return invalid_block("wrong state root");
  executed_.insert_or_assign(block_hash,
                             ExecutedBlock{std::move(pending).value(),
                                           std::vector<Hash256>(hashes.begin(), hashes.end())});
  return Status::success();
}

// --- Evidence --------------------------------------------------------------------------------

Status Engine::validate_evidence(const DuplicateVoteEvidence& evidence) const {
  TALLY_TRY(evidence.verify(genesis_.chain_id, checker_));
  if (!validators_.index_of(evidence.first.validator)) {
    return make_error("invalid_evidence", "the double voter is not a validator");
  }
  uint64_t current = height() + 1;
  if (evidence.first.height > current)
    return make_error("invalid_evidence", "evidence from the future");
  if (evidence.first.height + config_.max_evidence_age <= current) {
    return make_error("invalid_evidence", "evidence is too old");
  }
  if (committed_evidence_.count(evidence.hash()) != 0) {
    return make_error("duplicate", "evidence already committed");
  }
  return Status::success();
}

void Engine::add_evidence(const DuplicateVoteEvidence& evidence) {
  if (pending_evidence_.size() >= kMaxPendingEvidence || !validate_evidence(evidence).ok())
    return;
  Hash256 hash = evidence.hash();
  for (const DuplicateVoteEvidence& known : pending_evidence_) {
    if (known.hash() == hash)
      return;
  }
  pending_evidence_.push_back(evidence);
  output_.messages.push_back(Envelope{std::nullopt, evidence});
}

// --- Catch-up --------------------------------------------------------------------------------

void Engine::on_status(PeerId from, const StatusMessage& status, uint64_t now_ms) {
  (void)now_ms;
  if (status.height <= height()) {
    on_block_request(from, BlockRequest{status.height});  // the peer is behind: help it
  } else if (status.height > height() + 1) {
    output_.messages.push_back(Envelope{from, BlockRequest{height() + 1}});  // we are behind
  }
}

void Engine::on_block_request(PeerId from, const BlockRequest& request) {
  if (request.height == 0)
    return;
  uint64_t last = std::min(height(), request.height + config_.max_blocks_per_response - 1);
  for (uint64_t block_height = request.height; block_height <= last; ++block_height) {
    std::optional<DecidedBlock> decided =
        block_height == height() ? last_decided_ : storage_.load_decided_block(block_height);
    if (!decided)
      break;
    output_.messages.push_back(Envelope{from, std::move(*decided)});
  }
}

void Engine::on_decided_block(const DecidedBlock& decided, uint64_t now_ms) {
  (void)now_ms;
  const BlockHeader& header = decided.block.header;
  if (header.height != height() + 1)
    return;
  if (!decided.block.check_body_matches_header().ok())
    return;
  if (!verify_commit(validators_, header, decided.commit, checker_).ok())
    return;
  if (decided.commit.block_hash != decided.block.hash())
    return;
  if (awaiting_start_)
    start_next_height();
  replica_.on_decided_block(decided);
}

}  // namespace tally
