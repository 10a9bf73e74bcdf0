// A checker that never fails proves nothing. These runs break the assumptions on purpose and
// require the matching checker to notice.

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace tally::sim {
namespace {

TEST(SimCheckersFail, AgreementCatchesAForkByOneThirdByzantinePower) {
  install_abort_reporter();
  // 2 of 4 equal-power validators collude: the honest two are partitioned from each other and
  // each is told a different block. Search seeds deterministically; at least one must fork.
  uint64_t forks = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimulationOptions options;
    options.seed = seed;
    options.validators = 4;
    options.byzantine_power_ppm = 500'000;
    options.fork_attack = true;
    SimulationReport report = run_simulation(options);
    EXPECT_EQ(report.byzantine_validators, 2u);
    if (!report.ok()) {
      // Whatever breaks, it must be agreement, never an honest node's signature.
      EXPECT_EQ(report.violation->checker, "agreement") << report.violation->detail;
      ++forks;
    }
  }
  EXPECT_GE(forks, 1u);
}

TEST(SimCheckersFail, ValidityCatchesABlockThatBreaksTheLedgerRules) {
  SimulationOptions options;
  options.seed = 1;
  options.byzantine = false;
  options.node_faults = false;
  options.network_faults = false;
  options.tamper_state_root_at_height = 3;
  SimulationReport report = run_simulation(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.violation->checker, "validity");
  EXPECT_NE(report.violation->detail.find("height 3: state_root"), std::string::npos)
      << report.violation->detail;
  EXPECT_EQ(report.heights_committed, 2u);
}

TEST(SimCheckersFail, LivenessCatchesATooShortBound) {
  SimulationOptions options;
  options.seed = 2;
  options.safety_ms = 2'000;
  options.liveness_ms_max = 50;  // no cluster commits 3 heights in 50 ms
  SimulationReport report = run_simulation(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.violation->checker, "liveness");
}

TEST(SimCheckersFail, WithoutFaultsTheSameClusterPasses) {
  SimulationOptions options;
  options.seed = 1;
  options.byzantine = false;
  options.node_faults = false;
  options.network_faults = false;
  SimulationReport report = run_simulation(options);
  EXPECT_TRUE(report.ok()) << report.violation->detail;
  EXPECT_TRUE(report.liveness_ms.has_value());
  EXPECT_GT(report.transactions_committed, 0u);
}

}  // namespace
}  // namespace tally::sim
