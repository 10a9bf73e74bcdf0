// The swarm: many random seeds, each a random cluster (4..10 validators, random powers), a
// random fault mix and random Byzantine behaviours below 1/3 of the power, all checkers on.
// Any failure prints the command that reproduces it; a failing seed becomes a SimRegression.
// TALLY_SIM_SEEDS (environment) overrides the number of seeds per case.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "sim/simulation.h"

#ifndef TALLY_SIM_SEEDS_PER_CASE
#define TALLY_SIM_SEEDS_PER_CASE 50
#endif

namespace tally::sim {
namespace {

uint64_t seeds_per_case() {
  if (const char* text = std::getenv("TALLY_SIM_SEEDS"))
    return std::strtoull(text, nullptr, 10);
  return TALLY_SIM_SEEDS_PER_CASE;
}

void run_swarm(uint64_t case_index) {
  install_abort_reporter();
  uint64_t count = seeds_per_case();
  // Case k runs seeds k*1000+1 ...: disjoint ranges whatever the count.
  uint64_t first = case_index * 1000 + 1;
  Counters totals;
  uint64_t heights = 0;
  std::string failures;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimulationOptions options;
    options.seed = seed;
    SimulationReport report = run_simulation(options);
    totals.merge(report.counters);
    heights += report.heights_committed;
    if (!report.ok()) {
      failures += "  seed " + std::to_string(seed) + " [" + report.violation->checker + "] " +
                  report.violation->detail + "\n    reproduce: " + report.reproduce_command + "\n";
    }
  }
  EXPECT_TRUE(failures.empty()) << "violations:\n" << failures;
  // The swarm must actually attack and actually make progress.
  EXPECT_GT(heights, count * 3);
  if (count >= 20) {
    EXPECT_GT(totals.get("fault.crash") + totals.get("fault.crash_in_step"), 0u);
    EXPECT_GT(totals.get("fault.loss"), 0u);
    EXPECT_GT(totals.get("byz.double_vote"), 0u);
    EXPECT_GT(totals.get("chain.evidence_committed"), 0u);
    EXPECT_GT(totals.get("fault.partition_symmetric") + totals.get("fault.partition_asymmetric"),
              0u);
  }
}

TEST(SimSwarm, Case0) {
  run_swarm(0);
}
TEST(SimSwarm, Case1) {
  run_swarm(1);
}
TEST(SimSwarm, Case2) {
  run_swarm(2);
}
TEST(SimSwarm, Case3) {
  run_swarm(3);
}

}  // namespace
}  // namespace tally::sim
