// The load generator reads what a node writes directly, and anything else through the JSON
// library, with the same result.

#include "cli/bench_answers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../rpc/rpc_test_util.h"
#include "rpc/json.h"

namespace tally::cli {
namespace {

using Json = nlohmann::json;

std::vector<Hash256> hashes_of(size_t count) {
  return transaction_hashes(testing::some_transactions(count));
}

TEST(BenchAnswersTest, AcceptedCountOfASubmissionAnswer) {
  std::vector<Hash256> hashes = hashes_of(3);
  std::vector<Status> outcomes = {Status::success(), make_error("bad_nonce", "late"),
                                  Status::success()};
  HttpAnswer answer = submission_answer(false, hashes, outcomes);
  EXPECT_EQ(accepted_count(answer.body), 2u);
  // The same value written another way is read in full.
  EXPECT_EQ(accepted_count(Json::parse(answer.body).dump(2)), 2u);
  EXPECT_EQ(accepted_count(R"({"hashes":[],"accepted":12})"), 12u);
  EXPECT_EQ(accepted_count(R"({"accepted":1000,"hashes":[]})"), 1000u);
  // Not an answer with a count.
  EXPECT_EQ(accepted_count(R"({"error":{"code":"all_rejected"}})"), std::nullopt);
  EXPECT_EQ(accepted_count(R"({"accepted":"3"})"), std::nullopt);
  EXPECT_EQ(accepted_count(R"({"accepted":3)"), std::nullopt);
  EXPECT_EQ(accepted_count(R"({"accepted":-3,"hashes":[]})"), std::nullopt);
  EXPECT_EQ(accepted_count(""), std::nullopt);
}

DecidedBlock block_with(size_t transactions) {
  DecidedBlock decided;
  decided.block.header.chain_id = "tally-test";
  decided.block.header.height = 3;
  decided.block.header.time_ms = 1'700'000'000'123;
  decided.block.transactions = testing::some_transactions(transactions);
  return decided;
}

TEST(BenchAnswersTest, ReadsTheHashesOfABlockAsANodeWritesIt) {
  for (size_t count : {0, 1, 4}) {
    DecidedBlock decided = block_with(count);
    const std::string text = block_text(decided, true);
    std::optional<ObservedBlock> block = read_observed_block(text);
    ASSERT_TRUE(block.has_value());
    EXPECT_EQ(block->time_ms, decided.block.header.time_ms);
    EXPECT_EQ(block->transaction_hashes, transaction_hashes(decided.block.transactions));

    // Written another way (spaces, another key order), it is read in full with the same result.
    std::optional<ObservedBlock> reread = read_observed_block(Json::parse(text).dump(1));
    ASSERT_TRUE(reread.has_value());
    EXPECT_EQ(reread->time_ms, block->time_ms);
    EXPECT_EQ(reread->transaction_hashes, block->transaction_hashes);
  }
}

TEST(BenchAnswersTest, RefusesWhatIsNotABlockOfHashes) {
  DecidedBlock decided = block_with(2);
  const std::string text = block_text(decided, true);
  EXPECT_FALSE(read_observed_block(block_text(decided, false)).has_value());  // full transactions
  EXPECT_FALSE(read_observed_block(text.substr(0, text.size() - 1)).has_value());
  EXPECT_FALSE(read_observed_block(R"({"transaction_hashes":[]})").has_value());  // no header
  std::string bad_hash = text;
  bad_hash[bad_hash.size() - 5] = 'x';
  EXPECT_FALSE(read_observed_block(bad_hash).has_value());
  EXPECT_FALSE(read_observed_block("").has_value());
}

}  // namespace
}  // namespace tally::cli
