#include "ledger/genesis.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "ledger/state.h"
#include "test_chain.h"

namespace tally {
namespace {

using testing::address_for;
using testing::make_genesis;
using Json = nlohmann::json;

Json valid_json() {
  return Json::parse(make_genesis({600, 400}, {10, 20}).to_json());
}

std::string error_for(const Json& json) {
  Result<Genesis> parsed = Genesis::from_json(json.dump());
  EXPECT_FALSE(parsed.ok()) << json.dump();
  if (parsed.ok())
    return "";
  EXPECT_EQ(parsed.error().code, "invalid_genesis");
  return parsed.error().message;
}

#define EXPECT_GENESIS_ERROR(json, fragment) \
  EXPECT_NE(error_for(json).find(fragment), std::string::npos) << error_for(json)

TEST(Genesis, JsonRoundTrip) {
  Genesis genesis = make_genesis({600, 400}, {10, 20});
  Result<Genesis> parsed = Genesis::from_json(genesis.to_json());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, genesis);
  EXPECT_EQ(parsed->hash(), genesis.hash());
}

TEST(Genesis, SaveAndLoad) {
  auto directory = std::filesystem::temp_directory_path() / "tally-genesis-test";
  std::filesystem::create_directories(directory);
  Genesis genesis = make_genesis({1000});
  ASSERT_TRUE(genesis.save(directory / "genesis.json").ok());
  Result<Genesis> loaded = Genesis::load(directory / "genesis.json");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, genesis);
  EXPECT_EQ(Genesis::load(directory / "missing.json").error().code, "not_found");
  std::filesystem::remove_all(directory);
}

TEST(Genesis, HashCoversContent) {
  Genesis genesis = make_genesis({600, 400});
  Genesis changed = genesis;
  changed.accounts[0].balance = Amount{599};
  changed.accounts[1].balance = Amount{401};
  EXPECT_NE(genesis.hash(), changed.hash());
  changed = genesis;
  changed.chain_id = "tally-other";
  EXPECT_NE(genesis.hash(), changed.hash());
}

TEST(Genesis, RejectsAllocationsThatDoNotSumToSupply) {
  Json json = valid_json();
  json["total_supply"] = "1001";
  EXPECT_GENESIS_ERROR(json, "must be equal");
}

TEST(Genesis, RejectsBalanceOverflow) {
  Json json = valid_json();
  json["accounts"][0]["balance"] = "18446744073709551615";
  EXPECT_GENESIS_ERROR(json, "overflow");
}

TEST(Genesis, RejectsDuplicates) {
  Json json = valid_json();
  json["accounts"][1]["address"] = json["accounts"][0]["address"];
  EXPECT_GENESIS_ERROR(json, "duplicate address");
  json = valid_json();
  json["validators"][1]["address"] = json["validators"][0]["address"];
  EXPECT_GENESIS_ERROR(json, "duplicate validator");
}

TEST(Genesis, RejectsBadValidators) {
  Json json = valid_json();
  json["validators"][0]["power"] = 0;
  EXPECT_GENESIS_ERROR(json, "power must be positive");
  json = valid_json();
  json["validators"][0]["power"] = uint64_t{1} << 59;
  json["validators"][1]["power"] = uint64_t{1} << 59;
  EXPECT_GENESIS_ERROR(json, "below 2^60");
  json = valid_json();
  json["validators"] = Json::array();
  EXPECT_GENESIS_ERROR(json, "validators must not be empty");
  json = valid_json();
  json["validators"][0]["power"] = -5;
  EXPECT_GENESIS_ERROR(json, "non-negative integer");
}

TEST(Genesis, RejectsBadChainId) {
  Json json = valid_json();
  json["chain_id"] = "Tally Main";
  EXPECT_GENESIS_ERROR(json, "chain_id may contain only");
  json["chain_id"] = "";
  EXPECT_GENESIS_ERROR(json, "1 to 64");
  json["chain_id"] = std::string(65, 'a');
  EXPECT_GENESIS_ERROR(json, "1 to 64");
}

TEST(Genesis, RejectsStructuralMistakesWithTheirPath) {
  Json json = valid_json();
  json["accounts"][1]["balanse"] = "1";
  EXPECT_GENESIS_ERROR(json, "unknown field 'balanse' in accounts[1]");
  json = valid_json();
  json["accounts"][0].erase("balance");
  EXPECT_GENESIS_ERROR(json, "missing field 'balance' in accounts[0]");
  json = valid_json();
  json["accounts"][0]["balance"] = 600;
  EXPECT_GENESIS_ERROR(json, "accounts[0].balance must be a string");
  json = valid_json();
  json["accounts"][0]["balance"] = "-600";
  EXPECT_GENESIS_ERROR(json, "negative");
  json = valid_json();
  json["params"]["max_block_txs"] = "many";
  EXPECT_GENESIS_ERROR(json, "params.max_block_txs must be a non-negative integer");
  json = valid_json();
  json["accounts"] = Json::object();
  EXPECT_GENESIS_ERROR(json, "accounts must be an array");
  EXPECT_GENESIS_ERROR(Json::array(), "must be an object");
}

TEST(Genesis, RejectsBadAddressWithChecksumReason) {
  Json json = valid_json();
  std::string address = json["accounts"][0]["address"];
  address[10] = address[10] == 'q' ? 'p' : 'q';
  json["accounts"][0]["address"] = address;
  EXPECT_GENESIS_ERROR(json, "accounts[0].address");
}

TEST(Genesis, RejectsInconsistentParams) {
  Json json = valid_json();
  json["params"]["max_tx_bytes"] = 10;
  EXPECT_GENESIS_ERROR(json, "max_tx_bytes must be at least");
  json = valid_json();
  json["params"]["max_block_txs"] = 0;
  EXPECT_GENESIS_ERROR(json, "max_block_txs must be positive");
  json = valid_json();
  json["params"]["max_block_bytes"] = 200;
  EXPECT_GENESIS_ERROR(json, "max_block_bytes must be at least");
}

TEST(Genesis, RejectsInvalidJson) {
  Result<Genesis> parsed = Genesis::from_json("{\"chain_id\": ");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("not valid JSON"), std::string::npos);
}

TEST(Genesis, ValidatorsWithoutAllocationGetEmptyAccounts) {
  Result<State> state = State::from_genesis(make_genesis({1000}, {5}));
  ASSERT_TRUE(state.ok());
  std::optional<Account> validator = state->account(address_for(testing::kValidatorKeyBase));
  ASSERT_TRUE(validator.has_value());
  EXPECT_EQ(validator->balance.units, 0u);
  EXPECT_EQ(state->account_count(), 2u);
}

}  // namespace
}  // namespace tally
