// Seeds that once failed. Each must pass from now on; the name says what went wrong.

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace tally::sim {
namespace {

void expect_seed_passes(uint64_t seed) {
  install_abort_reporter();
  SimulationOptions options;
  options.seed = seed;
  SimulationReport report = run_simulation(options);
  EXPECT_TRUE(report.ok()) << "[" << report.violation->checker << "] " << report.violation->detail
                           << "\n  reproduce: " << report.reproduce_command;
}

// The checker attributed a re-proposed block (whose header names the validator that built it
// in an earlier round) to that validator instead of the round's proposer.
TEST(SimRegression, Seed_1_ReproposedBlockSignerAttribution) {
  expect_seed_passes(1);
}

// Accountability: every witness of a double vote crashed after gossiping the evidence; the
// end-of-run check counted it as owed while the wait for settlement had counted it as lost.
TEST(SimRegression, Seed_10803_EvidenceOutlivesItsCrashedWitness) {
  expect_seed_passes(10803);
}
TEST(SimRegression, Seed_12889_EvidenceOutlivesItsCrashedWitness) {
  expect_seed_passes(12889);
}

// Accountability: a node restarted from stored accounts forgets the evidence committed before
// its last block, accepts it again from gossip and would propose it again: a block every other
// node rejects.
TEST(SimRegression, Seed_30209_EvidenceResurrectedAfterRestartFromAccounts) {
  expect_seed_passes(30209);
}
TEST(SimRegression, Seed_30604_EvidenceResurrectedAfterRestartFromAccounts) {
  expect_seed_passes(30604);
}

// Liveness: honest validators locked on different blocks, the proof-of-lock prevotes of the
// later round (including a Byzantine prevote that only some honest nodes received) are never
// relayed, and the replica re-gossips only its own votes of the last two rounds: nobody can
// unlock, and the height stalls forever after the faults stop.
TEST(SimRegression, Seed_9_LockSplitWithoutProofOfLockRelay) {
  expect_seed_passes(9);
}
TEST(SimRegression, Seed_32_LockSplitWithoutProofOfLockRelay) {
  expect_seed_passes(32);
}
TEST(SimRegression, Seed_77_LockSplitWithoutProofOfLockRelay) {
  expect_seed_passes(77);
}
TEST(SimRegression, Seed_79_LockSplitWithoutProofOfLockRelay) {
  expect_seed_passes(79);
}

}  // namespace
}  // namespace tally::sim

namespace tally::sim {
namespace {

// Liveness: a proposer paused and restarted keeps its round-0 lock (persisted) but not the other
// validators' round-0 prevotes (not persisted), so it re-proposes its locked block with a proof
// of lock that neither it nor one other honest node can check; the nodes that can check it relay
// nothing because they are not locked. Fixed by relaying the current proposal's proof-of-lock
// prevotes on every gossip tick.
TEST(SimRegression, Seed_101440_ReproposalProofOfLockNotRelayed) {
  expect_seed_passes(101440);
}

}  // namespace
}  // namespace tally::sim
