// Same seed, same run, bit for bit; different seeds, different runs.

#include <gtest/gtest.h>

#include "sim/simulation.h"

namespace tally::sim {
namespace {

TEST(SimDeterminism, SameSeedGivesTheSameTrace) {
  install_abort_reporter();
  for (uint64_t seed : {3u, 11u}) {
    SimulationOptions options;
    options.seed = seed;
    SimulationReport first = run_simulation(options);
    SimulationReport second = run_simulation(options);
    EXPECT_EQ(first.trace_hash, second.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.heights_committed, second.heights_committed);
    EXPECT_EQ(first.virtual_ms, second.virtual_ms);
    EXPECT_EQ(first.counters.values(), second.counters.values());
    EXPECT_GT(first.counters.get("net.delivered"), 0u);  // the trace covers real traffic
  }
}

TEST(SimDeterminism, DifferentSeedsGiveDifferentTraces) {
  SimulationOptions options;
  options.seed = 5;
  Hash256 five = run_simulation(options).trace_hash;
  options.seed = 6;
  Hash256 six = run_simulation(options).trace_hash;
  EXPECT_NE(five, six);
}

TEST(SimDeterminism, TheReproduceCommandNamesEveryNonDefaultOption) {
  SimulationOptions options;
  options.seed = 17;
  EXPECT_EQ(options.reproduce_command(), "build/tally-sim --seed 17");
  options.validators = 4;
  options.byzantine_power_ppm = 500'000;
  options.safety_ms = 2'500;
  options.fork_attack = true;
  EXPECT_EQ(options.reproduce_command(),
            "build/tally-sim --seed 17 --validators 4 --byzantine-fraction 0.5 --seconds 2.5 "
            "--fork-attack");
}

}  // namespace
}  // namespace tally::sim
