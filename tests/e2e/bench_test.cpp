// A short run of `tally bench` at a small fixed load: everything it sends is committed, supply
// is conserved, every node ends with the same state root, and the report has its figures.
// Nothing here depends on how fast the machine is.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster.h"

namespace tally::e2e {
namespace {

TEST(BenchSmokeTest, CommitsEverythingItSentAndConservesSupply) {
  CommandRun run = tally(
      "bench --validators 4 --seconds 3 --warmup 1 --rate 150 --senders 32 --state-accounts 0 "
      "--json --rpc-port 28201 --p2p-port 28301");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json report = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << run.out;

  EXPECT_TRUE(report["checks_passed"].get<bool>());
  EXPECT_GT(report["verify"]["single_core_per_s"].get<double>(), 0);
  EXPECT_GE(report["verify"]["all_cores_per_s"].get<double>(),
            report["verify"]["single_core_per_s"].get<double>() * 0.5);
  // The bound comes from distinct signatures, as nodes see them; the one-signature loop is
  // reported beside it.
  EXPECT_GE(report["verify"]["distinct_signatures"].get<size_t>(), 256u);
  EXPECT_GT(report["verify"]["single_core_repeated_per_s"].get<double>(), 0);
  ASSERT_EQ(report["networks"].size(), 1u);
  const nlohmann::json& network = report["networks"][0];
  EXPECT_TRUE(network["all_committed"].get<bool>()) << network["failure"];
  EXPECT_TRUE(network["supply_conserved"].get<bool>()) << network["supply_detail"];
  EXPECT_TRUE(network["state_roots_equal"].get<bool>());
  // 16 funded accounts, 32 senders, 4 validators' fee accounts.
  EXPECT_EQ(network["accounts"].get<uint64_t>(), 16u + 32u + 4u);

  ASSERT_EQ(network["phases"].size(), 1u);
  const nlohmann::json& phase = network["phases"][0];
  EXPECT_EQ(phase["name"], "rate");
  EXPECT_GT(phase["submitted"].get<uint64_t>(), 0u);
  EXPECT_EQ(phase["committed"].get<uint64_t>(), phase["submitted"].get<uint64_t>());
  EXPECT_EQ(phase["rejected"].get<uint64_t>(), 0u);
  EXPECT_EQ(phase["still_pending"].get<uint64_t>(), 0u);
  ASSERT_EQ(phase["validators"].size(), 4u);
  for (const nlohmann::json& validator : phase["validators"]) {
    EXPECT_GT(validator["rss_bytes"].get<uint64_t>(), 0u);
    EXPECT_GE(validator["signature_us_per_tx"].get<double>(), 0);
  }
}

TEST(BenchSmokeTest, RefusesConflictingModes) {
  CommandRun run = tally("bench --max --rate 100");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("excludes"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace tally::e2e
