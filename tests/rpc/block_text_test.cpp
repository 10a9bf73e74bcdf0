// GET /v1/blocks/{height}: the text of a committed block, with hashes written directly.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "rpc/json.h"
#include "rpc_test_util.h"

namespace tally {
namespace {

using Json = nlohmann::json;
using testing::some_transactions;

DecidedBlock some_block(size_t transactions) {
  DecidedBlock decided;
  decided.block.header.chain_id = "tally-test";
  decided.block.header.height = 9;
  decided.block.header.time_ms = 1'700'000'000'000;
  decided.block.header.state_root.data[0] = 7;
  decided.block.transactions = some_transactions(transactions);
  decided.commit.height = 9;
  decided.commit.round = 2;
  decided.commit.signatures.resize(2);
  decided.commit.signatures[1].validator.key.data[0] = 1;
  return decided;
}

TEST(BlockTextTest, HashesOnlyListsEveryTransactionHashAfterTheBlock) {
  for (size_t count : {0, 1, 5}) {
    DecidedBlock decided = some_block(count);
    std::string text = block_text(decided, true);
    Json body = Json::parse(text);
    EXPECT_EQ(body.dump(), text);  // as the JSON library writes it: keys sorted, no spaces
    EXPECT_EQ(body["header"], header_json(decided.block.header));
    EXPECT_EQ(body["evidence"], 0);
    EXPECT_EQ(body["commit"]["round"], 2);
    EXPECT_EQ(body["commit"]["signatures"].size(), 2u);
    EXPECT_FALSE(body.contains("transactions"));
    ASSERT_EQ(body["transaction_hashes"].size(), count);
    for (size_t index = 0; index < count; ++index)
      EXPECT_EQ(body["transaction_hashes"][index], decided.block.transactions[index].hash().hex());
  }
}

TEST(BlockTextTest, FullListsEachTransfer) {
  DecidedBlock decided = some_block(2);
  Json body = Json::parse(block_text(decided, false));
  EXPECT_FALSE(body.contains("transaction_hashes"));
  ASSERT_EQ(body["transactions"].size(), 2u);
  const Transfer& transfer = decided.block.transactions[1].transfer;
  EXPECT_EQ(body["transactions"][1]["hash"], decided.block.transactions[1].hash().hex());
  EXPECT_EQ(body["transactions"][1]["from"], transfer.from.to_string());
  EXPECT_EQ(body["transactions"][1]["to"], transfer.to.to_string());
  EXPECT_EQ(body["transactions"][1]["amount"], "101");
  EXPECT_EQ(body["transactions"][1]["nonce"], 1);
  EXPECT_EQ(body["transactions"][1]["create"], false);
}

}  // namespace
}  // namespace tally
