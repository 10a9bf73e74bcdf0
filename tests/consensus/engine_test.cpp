// Four engines in one process, connected by a loss-free in-memory network with a virtual clock:
// the engine's wiring (building, validating, committing, catch-up, restart) end to end.

#include "consensus/engine.h"
#include "simple_pool.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "consensus_fixture.h"

namespace tally {
namespace {

using namespace testing;

class MemoryStorage final : public ConsensusStorage {
 public:
  Status save_replica_state(const ReplicaPersistentState& state) override {
    replica_state = state.encode();
    return Status::success();
  }
  std::optional<ReplicaPersistentState> load_replica_state() const override {
    if (replica_state.empty())
      return std::nullopt;
    return ReplicaPersistentState::decode(replica_state).value();
  }
  Status save_decided_block(const DecidedBlock& decided) override {
    blocks[decided.block.header.height] = decided;
    return Status::success();
  }
  std::optional<DecidedBlock> load_decided_block(uint64_t height) const override {
    auto found = blocks.find(height);
    if (found == blocks.end())
      return std::nullopt;
    return found->second;
  }
  uint64_t last_decided_height() const override {
    return blocks.empty() ? 0 : blocks.rbegin()->first;
  }

  // With keep_accounts, the storage also keeps the account state, as the node's does.
  Status save_decided_block_and_accounts(
      const DecidedBlock& decided,
      const std::vector<std::pair<Address, Account>>& changes) override {
    if (keep_accounts) {
      for (const auto& [address, account] : changes)
        accounts[address] = account;
    }
    return save_decided_block(decided);
  }
  std::optional<std::vector<std::pair<Address, Account>>> load_accounts() const override {
    if (!keep_accounts || accounts.empty())
      return std::nullopt;
    return std::vector<std::pair<Address, Account>>(accounts.begin(), accounts.end());
  }

  bool keep_accounts = false;
  std::map<Address, Account> accounts;
  Bytes replica_state;
  std::map<uint64_t, DecidedBlock> blocks;
};

struct Node {
  std::unique_ptr<Ed25519Signer> signer;
  MemoryStorage storage;
  SimplePool pool;
  std::unique_ptr<Engine> engine;
  bool up = true;
};

class EngineClusterTest : public ::testing::Test {
 protected:
  EngineClusterTest() {
    genesis_ = make_genesis({1'000'000, 1'000'000}, {1, 1, 1, 1}, 10);
    config_.timeouts = ConsensusTimeouts{300, 100, 200, 100, 200, 100, 200};
    config_.empty_block_interval_ms = 1000;
    config_.max_clock_drift_ms = 2000;
    for (uint32_t index = 0; index < 4; ++index) {
      auto node = std::make_unique<Node>();
      node->signer = std::make_unique<Ed25519Signer>(key_for(kValidatorKeyBase + index));
      nodes_.push_back(std::move(node));
      boot(index);
    }
  }

  void boot(size_t index) {
    Node& node = *nodes_[index];
    node.engine = std::make_unique<Engine>(genesis_, config_, node.signer.get(), checker_,
                                           node.pool, node.storage);
    node.up = true;
    ASSERT_TRUE(node.engine->start(now_).ok());
    drain(index);
  }

  void drain(size_t index) {
    EngineOutput out = nodes_[index]->engine->take_output();
    for (const CommittedBlock& committed : out.committed) {
      // Whatever path decided the block (built, validated or caught up), its hashes come along.
      EXPECT_EQ(committed.transaction_hashes,
                transaction_hashes(committed.decided.block.transactions));
    }
    for (const EngineTimer& timer : out.timers) {
      events_.emplace(std::make_pair(timer.at_ms, sequence_++), Event{index, timer.request, {}, 0});
    }
    for (const Envelope& envelope : out.messages) {
      for (size_t peer = 0; peer < nodes_.size(); ++peer) {
        if (peer == index || (envelope.to && *envelope.to != peer))
          continue;
        // Round-trip through the codec, as on a real wire.
        Message copy = decode_message(encode_message(envelope.message), 100'000).value();
        events_.emplace(std::make_pair(now_ + 5, sequence_++),
                        Event{peer, std::nullopt, copy, index});
      }
    }
  }

  // Runs the cluster until `until_ms` of virtual time.
  void run_until(uint64_t until_ms) {
    while (!events_.empty() && events_.begin()->first.first <= until_ms) {
      auto node_event = events_.extract(events_.begin());
      now_ = node_event.key().first;
      Event& event = node_event.mapped();
      Node& node = *nodes_[event.node];
      if (!node.up)
        continue;
      if (event.timer) {
        node.engine->on_timer(*event.timer, now_);
      } else {
        node.engine->on_message(event.from, *event.message, now_);
      }
      drain(event.node);
    }
    now_ = until_ms;
  }

  struct Event {
    size_t node;
    std::optional<TimeoutRequest> timer;
    std::optional<Message> message;
    size_t from;
  };

  Genesis genesis_;
  EngineConfig config_;
  Ed25519Checker checker_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::pair<uint64_t, uint64_t>, Event> events_;
  uint64_t sequence_ = 0;
  uint64_t now_ = 1'700'000'000'000;
};

TEST_F(EngineClusterTest, CommitsTransfersAndAgrees) {
  Transaction create = signed_transfer(0, address_for(7), 500, 10, 0, true);
  ASSERT_TRUE(nodes_[2]->engine->submit_transaction(create, now_).ok());
  drain(2);
  run_until(now_ + 3000);
  Transaction transfer = signed_transfer(7, address_for(1), 100, 10, 0);
  ASSERT_TRUE(nodes_[1]->engine->submit_transaction(transfer, now_).ok());
  drain(1);
  run_until(now_ + 3000);

  for (auto& node : nodes_) {
    const State& state = node->engine->state();
    EXPECT_EQ(state.account(address_for(7))->balance.units, 500u - 100u - 10u);
    EXPECT_EQ(state.account(address_for(7))->endorser, address_for(0));
    EXPECT_EQ(state.sum_of_balances(), state.total_supply().units);
    EXPECT_EQ(node->engine->height(), nodes_[0]->engine->height());
    EXPECT_EQ(node->engine->last_header()->hash(), nodes_[0]->engine->last_header()->hash());
  }
  EXPECT_GE(nodes_[0]->engine->height(), 2u);
  EXPECT_EQ(nodes_[0]->engine->state().height(), nodes_[0]->engine->height());
}

TEST_F(EngineClusterTest, IdleChainMakesOnlyHeartbeatBlocks) {
  run_until(now_ + 5500);
  // One empty block per heartbeat interval (1 s), not one per round of timeouts.
  uint64_t height = nodes_[0]->engine->height();
  EXPECT_GE(height, 3u);
  EXPECT_LE(height, 7u);
  EXPECT_EQ(nodes_[0]->engine->replica().round(), 0u);
}

TEST_F(EngineClusterTest, KeepsCommittingWithOneNodeDownAndTheNodeCatchesUpAfterRestart) {
  nodes_[3]->up = false;
  for (uint64_t nonce = 0; nonce < 5; ++nonce) {
    ASSERT_TRUE(
        nodes_[0]
            ->engine->submit_transaction(signed_transfer(0, address_for(1), 1, 10, nonce), now_)
            .ok());
    drain(0);
    run_until(now_ + 2000);
  }
  uint64_t height = nodes_[0]->engine->height();
  EXPECT_GE(height, 3u);
  boot(3);  // restart from its storage: it replays and then catches up from peers
  run_until(now_ + 5000);
  EXPECT_GE(nodes_[3]->engine->height(), height);
  EXPECT_EQ(nodes_[3]->engine->state().account(address_for(0))->nonce, 5u);
}

TEST_F(EngineClusterTest, HaltsWithTwoOfFourDownAndResumesWithoutForking) {
  nodes_[2]->up = false;
  nodes_[3]->up = false;
  uint64_t height = nodes_[0]->engine->height();
  ASSERT_TRUE(nodes_[0]
                  ->engine->submit_transaction(signed_transfer(0, address_for(1), 1, 10, 0), now_)
                  .ok());
  drain(0);
  run_until(now_ + 10'000);
  EXPECT_LE(nodes_[0]->engine->height(), height + 1);  // at most the block already in flight
  uint64_t halted_at = nodes_[0]->engine->height();
  boot(2);
  boot(3);
  run_until(now_ + 10'000);
  EXPECT_GT(nodes_[0]->engine->height(), halted_at);
  for (auto& node : nodes_) {
    EXPECT_EQ(node->engine->state().account(address_for(0))->nonce, 1u);
  }
  for (uint64_t check = 1; check <= nodes_[0]->engine->height(); ++check) {
    auto reference = nodes_[0]->storage.load_decided_block(check);
    for (auto& node : nodes_) {
      auto block = node->storage.load_decided_block(check);
      if (block) {
        EXPECT_EQ(block->block.hash(), reference->block.hash()) << check;
      }
    }
  }
}

TEST_F(EngineClusterTest, RestartsFromStoredAccountsWithoutReplayingAndRefusesTamperedOnes) {
  MemoryStorage& storage = nodes_[3]->storage;
  storage.keep_accounts = true;
  // Seed the account store with the genesis accounts, as the node's storage does at init.
  for (const auto& entry : State::from_genesis(genesis_).value().sorted_accounts()) {
    storage.accounts[entry.first] = entry.second;
  }
  ASSERT_TRUE(nodes_[0]
                  ->engine->submit_transaction(signed_transfer(0, address_for(1), 5, 10, 0), now_)
                  .ok());
  drain(0);
  run_until(now_ + 3000);
  ASSERT_GE(storage.last_decided_height(), 1u);

  // Without the early blocks the node can only start from its stored accounts.
  uint64_t last = storage.last_decided_height();
  for (uint64_t height = 1; height < last; ++height)
    storage.blocks.erase(height);
  boot(3);
  EXPECT_EQ(nodes_[3]->engine->height(), last);
  EXPECT_EQ(nodes_[3]->engine->state().account(address_for(0))->nonce, 1u);

  storage.accounts[address_for(1)].balance.units += 1;
  storage.accounts[address_for(0)].balance.units -= 1;  // same supply, wrong root
  Engine restarted(genesis_, config_, nodes_[3]->signer.get(), checker_, nodes_[3]->pool, storage);
  Status status = restarted.start(now_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "storage_corrupt");
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

// With a minimum block interval, transactions arriving just after a decision wait for it and
// share the next block, which comes no sooner than the interval.
TEST_F(EngineClusterTest, AMinimumBlockIntervalGathersTransactionsIntoOneBlock) {
  config_.min_block_interval_ms = 500;
  events_.clear();
  for (size_t index = 0; index < nodes_.size(); ++index)
    boot(index);
  run_until(now_ + 2500);  // empty heartbeat blocks
  uint64_t decided = nodes_[0]->engine->height();
  while (nodes_[0]->engine->height() == decided)
    run_until(now_ + 1);
  decided = nodes_[0]->engine->height();
  uint64_t decided_at_ms = now_;

  run_until(decided_at_ms + 10);
  ASSERT_TRUE(
      nodes_[0]
          ->engine->submit_transaction(signed_transfer(0, address_for(5), 5, 10, 0, true), now_)
          .ok());
  ASSERT_TRUE(
      nodes_[0]
          ->engine->submit_transaction(signed_transfer(1, address_for(6), 5, 10, 0, true), now_)
          .ok());
  drain(0);
  run_until(decided_at_ms + 400);
  for (auto& node : nodes_)
    EXPECT_EQ(node->engine->height(), decided) << "the interval has not passed";
  run_until(decided_at_ms + 1500);
  ASSERT_GT(nodes_[0]->engine->height(), decided);
  std::optional<DecidedBlock> next = nodes_[0]->storage.load_decided_block(decided + 1);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->block.transactions.size(), 2u);
  EXPECT_GE(next->block.header.time_ms, decided_at_ms + 500 - 10);
}

TEST_F(EngineClusterTest, AnnouncesNewTransactionsToOthersButNeverBackOrTwice) {
  Engine& engine = *nodes_[1]->engine;
  (void)engine.take_output();
  Transaction transaction = signed_transfer(0, address_for(1), 5, 10, 0);
  engine.on_message(/*from=*/2, TransactionsMessage{{transaction}}, now_);
  EngineOutput first = engine.take_output();
  size_t announced = 0;
  for (const Envelope& envelope : first.messages) {
    EXPECT_FALSE(std::holds_alternative<TransactionsMessage>(envelope.message))
        << "beyond the first hop only the hash travels";
    if (const auto* hashes = std::get_if<TransactionHashesMessage>(&envelope.message)) {
      ++announced;
      EXPECT_FALSE(envelope.to.has_value());
      ASSERT_TRUE(envelope.except.has_value());
      EXPECT_EQ(*envelope.except, 2u);
      EXPECT_EQ(hashes->hashes, std::vector<Hash256>{transaction.hash()});
    }
  }
  EXPECT_EQ(announced, 1u);
  engine.on_message(/*from=*/3, TransactionsMessage{{transaction}}, now_);
  for (const Envelope& envelope : engine.take_output().messages) {
    EXPECT_FALSE(std::holds_alternative<TransactionHashesMessage>(envelope.message))
        << "known: not again";
  }
}

TEST_F(EngineClusterTest, SubmittedTransactionsArePushedInFull) {
  Engine& engine = *nodes_[1]->engine;
  (void)engine.take_output();
  Transaction transaction = signed_transfer(0, address_for(1), 5, 10, 0);
  ASSERT_TRUE(engine.submit_transaction(transaction, now_).ok());
  size_t pushed = 0;
  for (const Envelope& envelope : engine.take_output().messages) {
    if (const auto* batch = std::get_if<TransactionsMessage>(&envelope.message)) {
      ++pushed;
      EXPECT_FALSE(envelope.to.has_value());
      EXPECT_FALSE(envelope.except.has_value());
      EXPECT_EQ(batch->transactions, std::vector<Transaction>{transaction});
    }
  }
  EXPECT_EQ(pushed, 1u);
}

// The request an engine sends for announced hashes, if any.
std::optional<Envelope> request_in(EngineOutput output) {
  for (Envelope& envelope : output.messages) {
    if (std::holds_alternative<TransactionRequest>(envelope.message))
      return std::move(envelope);
  }
  return std::nullopt;
}

TEST_F(EngineClusterTest, AsksForAnnouncedTransactionsItLacksOnceAndFromTheAnnouncer) {
  Engine& engine = *nodes_[1]->engine;
  (void)engine.take_output();
  Transaction pending = signed_transfer(0, address_for(1), 5, 10, 0);
  ASSERT_TRUE(engine.submit_transaction(pending, now_).ok());
  (void)engine.take_output();
  Transaction lacking = signed_transfer(1, address_for(0), 5, 10, 0);

  engine.on_message(/*from=*/2, TransactionHashesMessage{{pending.hash(), lacking.hash()}}, now_);
  std::optional<Envelope> request = request_in(engine.take_output());
  ASSERT_TRUE(request.has_value());
  ASSERT_TRUE(request->to.has_value());
  EXPECT_EQ(*request->to, 2u);
  EXPECT_EQ(std::get<TransactionRequest>(request->message).hashes,
            std::vector<Hash256>{lacking.hash()});

  // Announced again by another peer while the answer is awaited: not asked twice.
  engine.on_message(/*from=*/3, TransactionHashesMessage{{lacking.hash()}}, now_);
  EXPECT_FALSE(request_in(engine.take_output()).has_value());

  // Once received, a later announcement asks for nothing either.
  engine.on_message(/*from=*/2, TransactionsMessage{{lacking}}, now_);
  (void)engine.take_output();
  engine.on_message(/*from=*/3, TransactionHashesMessage{{lacking.hash()}}, now_);
  EXPECT_FALSE(request_in(engine.take_output()).has_value());
}

TEST_F(EngineClusterTest, AnswersRequestsWithThePendingTransactionsOnly) {
  Engine& engine = *nodes_[1]->engine;
  (void)engine.take_output();
  Transaction pending = signed_transfer(0, address_for(1), 5, 10, 0);
  ASSERT_TRUE(engine.submit_transaction(pending, now_).ok());
  (void)engine.take_output();
  Transaction unknown = signed_transfer(2, address_for(3), 5, 10, 0);

  engine.on_message(/*from=*/3, TransactionRequest{{unknown.hash(), pending.hash()}}, now_);
  size_t answers = 0;
  for (const Envelope& envelope : engine.take_output().messages) {
    if (const auto* batch = std::get_if<TransactionsMessage>(&envelope.message)) {
      ++answers;
      ASSERT_TRUE(envelope.to.has_value());
      EXPECT_EQ(*envelope.to, 3u);
      EXPECT_EQ(batch->transactions, std::vector<Transaction>{pending});
    }
  }
  EXPECT_EQ(answers, 1u);

  engine.on_message(/*from=*/3, TransactionRequest{{unknown.hash()}}, now_);
  for (const Envelope& envelope : engine.take_output().messages)
    EXPECT_FALSE(std::holds_alternative<TransactionsMessage>(envelope.message));
}

// Messages of one kind in an output.
template <typename Kind>
std::vector<Envelope> all_of(const EngineOutput& output) {
  std::vector<Envelope> found;
  for (const Envelope& envelope : output.messages) {
    if (std::holds_alternative<Kind>(envelope.message))
      found.push_back(envelope);
  }
  return found;
}

TEST_F(EngineClusterTest, GossipedTransactionsWithTheirHashesAreAdmittedAndAnnouncedOnce) {
  Engine& engine = *nodes_[1]->engine;
  (void)engine.take_output();
  std::vector<Transaction> transactions = {signed_transfer(0, address_for(1), 5, 10, 0)};
  std::vector<Hash256> hashes = transaction_hashes(transactions);
  engine.on_gossiped_transactions(/*from=*/2, transactions, hashes, now_);
  EXPECT_TRUE(nodes_[1]->pool.contains(hashes[0]));
  std::vector<Envelope> announced = all_of<TransactionHashesMessage>(engine.take_output());
  ASSERT_EQ(announced.size(), 1u);
  EXPECT_EQ(std::get<TransactionHashesMessage>(announced[0].message).hashes, hashes);
  EXPECT_EQ(announced[0].except, std::optional<PeerId>(2));
  engine.on_gossiped_transactions(/*from=*/3, transactions, hashes, now_);
  EXPECT_TRUE(all_of<TransactionHashesMessage>(engine.take_output()).empty()) << "known: not again";
}

TEST_F(EngineClusterTest, ATransactionCrossesAHopByAnnouncementRequestAndAnswer) {
  // Peer ids as the engines see each other: node 2 hears only node 1 (a line 9 - 1 - 2).
  Engine& middle = *nodes_[1]->engine;
  Engine& far = *nodes_[2]->engine;
  (void)middle.take_output();
  (void)far.take_output();
  Transaction transaction = signed_transfer(0, address_for(1), 5, 10, 0);

  middle.on_message(/*from=*/9, TransactionsMessage{{transaction}}, now_);
  std::vector<Envelope> announced = all_of<TransactionHashesMessage>(middle.take_output());
  ASSERT_EQ(announced.size(), 1u);

  far.on_message(/*from=*/1, announced.front().message, now_);
  std::vector<Envelope> requests = all_of<TransactionRequest>(far.take_output());
  ASSERT_EQ(requests.size(), 1u);

  middle.on_message(/*from=*/2, requests.front().message, now_);
  std::vector<Envelope> answers = all_of<TransactionsMessage>(middle.take_output());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(*answers.front().to, 2u);

  far.on_message(/*from=*/1, answers.front().message, now_);
  // Admitted there: it announces the transaction onward, to everyone but the middle node.
  std::vector<Envelope> onward = all_of<TransactionHashesMessage>(far.take_output());
  ASSERT_EQ(onward.size(), 1u);
  EXPECT_EQ(*onward.front().except, 1u);
  EXPECT_EQ(std::get<TransactionHashesMessage>(onward.front().message).hashes,
            std::vector<Hash256>{transaction.hash()});
}

TEST_F(EngineClusterTest, ForgetsTheOldestRequestsBeyondTheBound) {
  Engine& engine = *nodes_[1]->engine;
  (void)engine.take_output();
  // A peer that announces and never answers: after kMaxRequestedTransactions newer requests the
  // first hash may be asked for again (from another peer).
  std::vector<Hash256> announced;
  for (size_t index = 0; index <= kMaxRequestedTransactions; ++index)
    announced.push_back(sha256(as_bytes("never answered " + std::to_string(index))));
  for (size_t offset = 0; offset < announced.size(); offset += kMaxTransactionsPerMessage) {
    size_t end = std::min(announced.size(), offset + kMaxTransactionsPerMessage);
    engine.on_message(
        /*from=*/2, TransactionHashesMessage{{announced.begin() + offset, announced.begin() + end}},
        now_);
  }
  (void)engine.take_output();
  engine.on_message(/*from=*/3, TransactionHashesMessage{{announced.front()}}, now_);
  std::optional<Envelope> again = request_in(engine.take_output());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again->to, 3u);
  engine.on_message(/*from=*/3, TransactionHashesMessage{{announced.back()}}, now_);
  EXPECT_FALSE(request_in(engine.take_output()).has_value()) << "the newest is still awaited";
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

TEST(EngineAlone, ATransactionBehindANonceGapDoesNotMakeEmptyBlocksForever) {
  Genesis genesis = make_genesis({1'000'000}, {1}, 10);
  EngineConfig config;
  config.empty_block_interval_ms = 1000;
  Ed25519Checker checker;
  Ed25519Signer signer(key_for(kValidatorKeyBase));
  MemoryStorage storage;
  // The simple pool admits only what is valid now; a gap needs a pool that keeps future nonces,
  // so use one that accepts anything and offers nothing: the shape of "waiting behind a gap".
  class StuckPool final : public TransactionPool {
   public:
    using TransactionPool::add;
    Status add(const Transaction&, const Hash256&, const State&) override {
      size_ = 1;
      return Status::success();
    }
    std::vector<Transaction> select_for_block(const State&, size_t, size_t) override { return {}; }
    void remove_committed(const Block&, std::span<const Hash256>, const State&) override {}
    size_t size() const override { return size_; }
    bool contains(const Hash256&) const override { return false; }
    std::optional<Transaction> get(const Hash256&) const override { return std::nullopt; }
    const SignatureVerifier& verifier() const override { return verifier_; }

   private:
    size_t size_ = 0;
    DirectSignatureVerifier verifier_;
  } stuck;
  Engine engine(genesis, config, &signer, checker, stuck, storage);
  ASSERT_TRUE(engine.start(1'000).ok());
  ASSERT_TRUE(engine.submit_transaction(signed_transfer(0, address_for(1), 5, 10, 7), 1'000).ok());
  // A lone validator decides synchronously; without the fix this call never returned.
  EXPECT_LE(engine.height(), 2u);
}

// With a minimum block interval, transactions arriving after a decision wait for it and share
// the next block; without one, each starts a height of its own.

}  // namespace
}  // namespace tally
