// The simulator's building blocks: its random source, event order, storage crash model,
// signature scheme and network faults.

#include <gtest/gtest.h>

#include <set>

#include "ledger/genesis.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/random.h"
#include "sim/sim_crypto.h"
#include "sim/sim_storage.h"

namespace tally::sim {
namespace {

TEST(SimRandom, SameSeedSameSequenceEverywhere) {
  // Golden values: the generator is ours, so a seed means the same run on every platform and
  // standard library. Changing these values changes every seed's meaning.
  Random random(42);
  EXPECT_EQ(random.next(), 1546998764402558742ULL);
  EXPECT_EQ(random.next(), 6990951692964543102ULL);
  EXPECT_EQ(random.next(), 12544586762248559009ULL);
  EXPECT_NE(Random(43).next(), 1546998764402558742ULL);
}

TEST(SimRandom, HelpersStayInTheirRanges) {
  Random random(7);
  std::set<uint64_t> seen;
  for (int index = 0; index < 2000; ++index) {
    uint64_t value = random.range(4, 10);
    ASSERT_GE(value, 4u);
    ASSERT_LE(value, 10u);
    seen.insert(value);
    ASSERT_LT(random.below(3), 3u);
  }
  EXPECT_EQ(seen.size(), 7u);  // every value of the range turns up
  EXPECT_FALSE(random.chance(0));
  EXPECT_TRUE(random.chance(kPpm));
  std::vector<int> items{1, 2, 3, 4, 5, 6};
  random.shuffle(items);
  EXPECT_EQ(std::multiset<int>(items.begin(), items.end()), (std::multiset<int>{1, 2, 3, 4, 5, 6}));
}

TEST(SimEventQueue, RunsByTimeThenByScheduleOrder) {
  EventQueue events(100);
  std::vector<int> order;
  events.at(110, [&] { order.push_back(3); });
  events.at(105, [&] { order.push_back(1); });
  events.at(105, [&] { order.push_back(2); });
  events.at(50, [&] { order.push_back(0); });  // in the past: runs now, first
  while (!events.empty())
    events.run_next();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(events.now_ms(), 110u);
}

ReplicaPersistentState state_at(uint64_t height) {
  ReplicaPersistentState state;
  state.height = height;
  return state;
}

TEST(SimStorage, ACrashKeepsEveryWriteThatReturned) {
  SimStorage storage;
  ASSERT_TRUE(storage.save_replica_state(state_at(1)).ok());
  storage.crash();
  ASSERT_TRUE(storage.load_replica_state().has_value());
  EXPECT_EQ(storage.load_replica_state()->height, 1u);
}

TEST(SimStorage, ACrashPointLosesTheWritesAfterIt) {
  SimStorage storage;
  storage.arm_crash_after_writes(2);
  ASSERT_TRUE(storage.save_replica_state(state_at(1)).ok());
  EXPECT_FALSE(storage.crash_point_reached());
  ASSERT_TRUE(storage.save_replica_state(state_at(2)).ok());
  EXPECT_TRUE(storage.crash_point_reached());
  // The engine still runs its step: later writes are visible to it, but not durable.
  ASSERT_TRUE(storage.save_replica_state(state_at(3)).ok());
  EXPECT_EQ(storage.load_replica_state()->height, 3u);
  EXPECT_EQ(storage.durable_replica_state()->height, 2u);
  storage.crash();
  EXPECT_EQ(storage.load_replica_state()->height, 2u);
  EXPECT_FALSE(storage.crash_point_reached());
}

TEST(SimStorage, KeptAccountsStartAtGenesisAndMoveWithTheirBlockAtomically) {
  Genesis genesis;
  genesis.accounts.push_back(GenesisAllocation{Address{Random(1).hash()}, Amount{100}});
  SimStorage storage;
  storage.keep_accounts(genesis);
  ASSERT_EQ(storage.load_accounts()->size(), 1u);
  EXPECT_EQ(storage.load_accounts()->front().second.balance, Amount{100});

  DecidedBlock decided;
  decided.block.header.height = 1;
  Account changed;
  changed.balance = Amount{40};
  storage.arm_crash_after_writes(1);
  ASSERT_TRUE(
      storage.save_decided_block_and_accounts(decided, {{genesis.accounts[0].address, changed}})
          .ok());
  storage.crash();  // the crash point came after the write: it survives, block and accounts
  EXPECT_EQ(storage.last_decided_height(), 1u);
  EXPECT_EQ(storage.load_accounts()->front().second.balance, Amount{40});
  EXPECT_TRUE(storage.contract_violation().empty());
  decided.block.header.height = 2;
  ASSERT_TRUE(storage.save_decided_block(decided).ok());  // the accounts are missing
  EXPECT_FALSE(storage.contract_violation().empty());
}

TEST(SimCrypto, SignaturesVerifyOnlyForTheirSignerAndMessage) {
  Random random(1);
  SimSigner alice(random.hash());
  SimSigner bob(random.hash());
  SimChecker checker;
  checker.add(alice);
  checker.add(bob);
  Bytes message{1, 2, 3};
  Signature signature = alice.sign(message);
  EXPECT_TRUE(checker.verify(alice.address(), message, signature));
  EXPECT_FALSE(checker.verify(bob.address(), message, signature));
  Bytes other{1, 2, 4};
  EXPECT_FALSE(checker.verify(alice.address(), other, signature));
  SimSigner stranger(random.hash());
  EXPECT_FALSE(checker.verify(stranger.address(), message, stranger.sign(message)));
}

TEST(SimNetwork, PartitionsBlockTrafficUntilHealed) {
  EventQueue events(0);
  Counters counters;
  std::vector<std::pair<size_t, size_t>> delivered;
  SimNetwork network(3, events, Random(5), counters,
                     [&](size_t from, size_t to, const SimNetwork::SharedBytes&) {
                       delivered.emplace_back(from, to);
                     });
  auto bytes = std::make_shared<const Bytes>(Bytes{9});
  network.block(0, 1);  // asymmetric: 0 -> 1 blocked, 1 -> 0 open
  network.send(0, 1, bytes);
  network.send(1, 0, bytes);
  while (!events.empty())
    events.run_next();
  EXPECT_EQ(delivered, (std::vector<std::pair<size_t, size_t>>{{1, 0}}));
  network.partition({0, 0, 1});
  network.send(2, 0, bytes);
  network.send(0, 2, bytes);
  while (!events.empty())
    events.run_next();
  EXPECT_EQ(delivered.size(), 1u);
  network.heal();
  network.send(0, 1, bytes);
  while (!events.empty())
    events.run_next();
  EXPECT_EQ(delivered.size(), 2u);
}

TEST(SimNetwork, LossAndDuplicationHappenAtTheirRates) {
  EventQueue events(0);
  Counters counters;
  size_t delivered = 0;
  SimNetwork network(2, events, Random(6), counters,
                     [&](size_t, size_t, const SimNetwork::SharedBytes&) { ++delivered; });
  LinkFaults faults;
  faults.loss_ppm = 200'000;
  faults.duplication_ppm = 100'000;
  network.set_faults(faults);
  auto bytes = std::make_shared<const Bytes>(Bytes{1});
  for (int index = 0; index < 400; ++index) {
    network.send(0, 1, bytes);
    while (!events.empty())
      events.run_next();  // keep the link queue short
  }
  EXPECT_GT(counters.get("fault.loss"), 40u);
  EXPECT_LT(counters.get("fault.loss"), 130u);
  EXPECT_GT(counters.get("fault.duplication"), 10u);
  EXPECT_EQ(delivered, 400 - counters.get("fault.loss") + counters.get("fault.duplication"));
}

}  // namespace
}  // namespace tally::sim
