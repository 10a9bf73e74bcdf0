// The HTTP API against a real node: every endpoint's success path, and a table of bad inputs
// that must each get the right 4xx code and error code, after which the node still commits.

#include <gtest/gtest.h>
#include <httplib.h>

#include "cluster.h"

namespace tally::e2e {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.validators = 1;
    options.accounts = 2;
    cluster_ = new Cluster(options);
    cluster_->start(0);
    ASSERT_TRUE(cluster_->wait_for_height(0, 1)) << cluster_->log_tail(0);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static Cluster* cluster_;
};

Cluster* ApiTest::cluster_ = nullptr;

TEST_F(ApiTest, EndpointsAnswerTheirSuccessPaths) {
  Cluster& cluster = *cluster_;
  auto status = cluster.get(0, "/v1/status");
  ASSERT_TRUE(status && status->first == 200);
  for (const char* field : {"chain_id", "node_id", "height", "latest_block_hash",
                            "latest_block_time", "state_root", "peers", "syncing", "validator"}) {
    EXPECT_TRUE(status->second.contains(field)) << field;
  }
  Address account = cluster.account_address(0);
  auto plain = cluster.get(0, "/v1/accounts/" + account.to_string());
  ASSERT_TRUE(plain && plain->first == 200);
  for (const char* field : {"address", "balance", "nonce", "endorser", "created_height"}) {
    EXPECT_TRUE(plain->second.contains(field)) << field;
  }
  EXPECT_TRUE(plain->second["balance"].is_string()) << "amounts are strings of base units";
  auto proved = cluster.get(0, "/v1/accounts/" + account.to_string() + "?prove=true");
  ASSERT_TRUE(proved && proved->first == 200);
  EXPECT_TRUE(proved->second.contains("proof") && proved->second.contains("header") &&
              proved->second.contains("commit"));
  Address nobody{SecretKey::generate().public_key()};
  auto absent = cluster.get(0, "/v1/accounts/" + nobody.to_string());
  ASSERT_TRUE(absent);
  EXPECT_EQ(absent->first, 404);

  Transaction transfer = cluster.transfer(0, cluster.account_address(1), 5);
  ASSERT_EQ(cluster.submit(0, transfer), 202);
  auto pending_or_committed = cluster.get(0, "/v1/transactions/" + transfer.hash().hex());
  ASSERT_TRUE(pending_or_committed && pending_or_committed->first == 200);
  ASSERT_TRUE(cluster.wait_committed(0, transfer.hash()));
  auto committed = cluster.get(0, "/v1/transactions/" + transfer.hash().hex());
  EXPECT_EQ(committed->second["status"], "committed");
  EXPECT_GE(committed->second["height"].get<uint64_t>(), 1u);
  auto unknown = cluster.get(0, "/v1/transactions/" + std::string(64, 'a'));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->first, 404);

  // A batch, with one good and one refused.
  Transaction good = cluster.transfer(1, cluster.account_address(0), 3);
  Transaction stale = good;  // same again: a duplicate is accepted (already pending)
  auto batch = cluster.post(0, "/v1/transactions",
                            {{"txs", {to_hex(good.encode()), to_hex(stale.encode())}}});
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->first, 202);
  EXPECT_EQ(batch->second["hashes"].size(), 2u);

  auto latest = cluster.get(0, "/v1/blocks/latest");
  ASSERT_TRUE(latest && latest->first == 200);
  uint64_t height = latest->second["header"]["height"];
  auto by_height = cluster.get(0, "/v1/blocks/" + std::to_string(height));
  ASSERT_TRUE(by_height && by_height->first == 200);
  EXPECT_EQ(by_height->second["header"]["hash"], latest->second["header"]["hash"]);
  auto future = cluster.get(0, "/v1/blocks/" + std::to_string(height + 1000));
  ASSERT_TRUE(future);
  EXPECT_EQ(future->first, 404);
  auto validators = cluster.get(0, "/v1/validators");
  ASSERT_TRUE(validators && validators->first == 200);
  EXPECT_EQ(validators->second["validators"].size(), 1u);

  httplib::Client client("127.0.0.1", static_cast<uint16_t>(cluster.rpc_port(0)));
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("tally_height "), std::string::npos);
  EXPECT_NE(metrics->body.find("# TYPE tally_transactions_committed_total counter"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("tally_commit_latency_ms_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("tally_verify_queue "), std::string::npos);
}

TEST_F(ApiTest, EveryBadInputGetsItsOwnClientErrorAndTheNodeKeepsCommitting) {
  Cluster& cluster = *cluster_;
  uint16_t port = static_cast<uint16_t>(cluster.rpc_port(0));
  auto raw_post = [port](const std::string& body) -> std::pair<int, nlohmann::json> {
    httplib::Client client("127.0.0.1", port);
    auto result = client.Post("/v1/transactions", body, "application/json");
    if (!result)
      return {0, {}};
    return {result->status, nlohmann::json::parse(result->body, nullptr, false)};
  };
  auto raw_get = [port](const std::string& path) -> std::pair<int, nlohmann::json> {
    httplib::Client client("127.0.0.1", port);
    auto result = client.Get(path);
    if (!result)
      return {0, {}};
    return {result->status, nlohmann::json::parse(result->body, nullptr, false)};
  };
  auto submit = [&](const Transaction& transaction) {
    return raw_post(nlohmann::json{{"tx", to_hex(transaction.encode())}}.dump());
  };
  Address existing = cluster.account_address(1);
  Address nobody{SecretKey::generate().public_key()};
  SecretKey stranger = SecretKey::generate();
  // One committed transfer first, so that nonce 0 is stale.
  cluster.resync_nonce(0);
  Transaction first = cluster.transfer(0, existing, 1);
  ASSERT_EQ(cluster.submit(0, first), 202);
  ASSERT_TRUE(cluster.wait_committed(0, first.hash()));
  auto transfer_with_nonce = [&](uint64_t nonce) {
    Transfer transfer{cluster.account_address(0), existing, Amount{5}, Amount{1000}, nonce, false};
    return cluster.sign_as(0, transfer);
  };
  // A transfer with the sender's current nonce, so that only the rule under test is broken.
  auto current = [&](const Address& to, uint64_t amount, bool create,
                     const std::string& chain_id = "") {
    cluster.resync_nonce(0);
    Transfer transfer{cluster.account_address(0), to,    Amount{amount}, Amount{1000},
                      cluster.next_nonce(0),      create};
    return cluster.sign_as(0, transfer, chain_id);
  };

  struct Case {
    std::string name;
    std::function<std::pair<int, nlohmann::json>()> send;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"malformed JSON", [&] { return raw_post("{\"tx\": "); }, 400, "invalid_json"},
      {"not an object", [&] { return raw_post("[1, 2]"); }, 400, "invalid_json"},
      {"wrong type", [&] { return raw_post("{\"tx\": 5}"); }, 400, "invalid_request"},
      {"missing field", [&] { return raw_post("{}"); }, 400, "invalid_request"},
      {"unknown field", [&] { return raw_post("{\"tx\": \"00\", \"fee\": 1}"); }, 400,
       "invalid_request"},
      {"invalid hex", [&] { return raw_post("{\"tx\": \"zz\"}"); }, 400, "invalid_hex"},
      {"truncated transaction", [&] { return raw_post("{\"tx\": \"0101\"}"); }, 400,
       "invalid_transaction"},
      {"bad bech32 checksum",
       [&] {
         std::string address = existing.to_string();
         address[20] = address[20] == 'q' ? 'p' : 'q';
         return raw_get("/v1/accounts/" + address);
       },
       400, "invalid_address"},
      {"bad transaction hash", [&] { return raw_get("/v1/transactions/xyz"); }, 400,
       "invalid_hash"},
      {"oversized body", [&] { return raw_post(std::string(5 * 1024 * 1024, ' ')); }, 413,
       "body_too_large"},
      {"batch too long",
       [&] {
         nlohmann::json txs = nlohmann::json::array();
         for (int index = 0; index < 10'001; ++index)
           txs.push_back("00");
         return raw_post(nlohmann::json{{"txs", txs}}.dump());
       },
       400, "batch_too_large"},
      {"bad signature",
       [&] {
         Transaction transaction = current(existing, 5, false);
         transaction.signature.data[10] ^= 1;
         return submit(transaction);
       },
       400, "invalid_signature"},
      {"wrong chain id", [&] { return submit(current(existing, 5, false, "another-chain")); }, 400,
       "invalid_signature"},
      {"overflowing amount", [&] { return submit(current(existing, UINT64_MAX, false)); }, 400,
       "amount_overflow"},
      {"unknown sender",
       [&] {
         Transfer transfer{
             Address{stranger.public_key()}, existing, Amount{1}, Amount{1000}, 0, false};
         return submit(sign_transfer(transfer, stranger, "tally-e2e"));
       },
       400, "unknown_sender"},
      {"stale nonce", [&] { return submit(transfer_with_nonce(0)); }, 400, "bad_nonce"},
      {"nonce too far ahead", [&] { return submit(transfer_with_nonce(1000)); }, 400,
       "nonce_too_far_ahead"},
      {"unknown recipient without create", [&] { return submit(current(nobody, 5, false)); }, 400,
       "unknown_recipient"},
      {"create of an existing address", [&] { return submit(current(existing, 5, true)); }, 400,
       "recipient_exists"},
  };
  for (const Case& test : cases) {
    auto [status, body] = test.send();
    EXPECT_EQ(status, test.status) << test.name << ": " << body.dump();
    ASSERT_TRUE(body.is_object() && body.contains("error")) << test.name << ": " << body.dump();
    EXPECT_EQ(body["error"]["code"], test.code) << test.name << ": " << body.dump();
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty()) << test.name;
  }
  // Nonces consumed by refused transfers were never used: resynchronise, then commit one.
  cluster.resync_nonce(0);
  Transaction valid = cluster.transfer(0, existing, 5);
  ASSERT_EQ(cluster.submit(0, valid), 202);
  EXPECT_TRUE(cluster.wait_committed(0, valid.hash())) << cluster.log_tail(0);
}

}  // namespace
}  // namespace tally::e2e
