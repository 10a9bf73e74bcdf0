// POST /v1/transactions: the body as clients send it is read without a JSON document, every other
// body by the general parser, with the same results; the answer is the JSON the library would
// write.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "rpc_test_util.h"

namespace tally {
namespace {

using Json = nlohmann::json;
using testing::batch_body;
using testing::describe;
using testing::quoted_hex;
using testing::some_transactions;

constexpr size_t kMaxBatch = 8;
constexpr size_t kMaxTransactionBytes = 1024;

Result<Submission> parse(const std::string& body) {
  Result<Submission> result = parse_submission(body, kMaxBatch, kMaxTransactionBytes);
  // Whatever path read it, the general parser agrees.
  EXPECT_EQ(describe(result),
            describe(parse_submission_document(body, kMaxBatch, kMaxTransactionBytes)))
      << body;
  return result;
}

TEST(SubmissionTest, ReadsABatchAsClientsSendIt) {
  std::vector<Transaction> transactions = some_transactions(5);
  for (std::string space : {"", " ", "\n\t ", "\r\n"}) {
    Result<Submission> submission = parse(batch_body(transactions, space));
    ASSERT_TRUE(submission.ok()) << submission.error().message;
    EXPECT_FALSE(submission->single);
    EXPECT_EQ(submission->transactions, transactions);
  }
}

TEST(SubmissionTest, ReadsASingleTransaction) {
  std::vector<Transaction> transactions = some_transactions(1);
  Result<Submission> submission = parse("{\"tx\": " + quoted_hex(transactions[0]) + "}");
  ASSERT_TRUE(submission.ok()) << submission.error().message;
  EXPECT_TRUE(submission->single);
  EXPECT_EQ(submission->transactions, transactions);
}

TEST(SubmissionTest, UppercaseHexAndEscapedDigitsReadTheSame) {
  std::vector<Transaction> transactions = some_transactions(2);
  std::string upper = quoted_hex(transactions[1]);
  for (char& character : upper)
    character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  std::string escaped = quoted_hex(transactions[0]);
  escaped.replace(1, 1,
                  "\\u00" + to_hex(ByteSpan(reinterpret_cast<const uint8_t*>(&escaped[1]), 1)));
  Result<Submission> submission = parse("{\"txs\":[" + escaped + "," + upper + "]}");
  ASSERT_TRUE(submission.ok()) << submission.error().message;
  EXPECT_EQ(submission->transactions, transactions);
}

TEST(SubmissionTest, RefusesWhatTheApiRefuses) {
  std::vector<Transaction> transactions = some_transactions(kMaxBatch + 1);
  std::string hex = quoted_hex(transactions[0]);
  struct Case {
    std::string body;
    std::string code;
  };
  std::vector<Case> cases = {
      {"", "invalid_json"},
      {"[]", "invalid_json"},
      {"{\"txs\":[" + hex + "]", "invalid_json"},
      {"{\"txs\":[" + hex + "]} x", "invalid_json"},
      {"{}", "invalid_request"},
      {"{\"txs\":[]}", "invalid_request"},
      {"{\"txs\":" + hex + "}", "invalid_request"},
      {"{\"txs\":[" + hex + "],\"tx\":" + hex + "}", "invalid_request"},
      {"{\"txs\":[" + hex + "],\"memo\":1}", "invalid_request"},
      {"{\"txs\":[1]}", "invalid_request"},
      {batch_body(transactions), "batch_too_large"},
      {"{\"tx\":\"zz" + hex.substr(3), "invalid_json"},
      {"{\"tx\":\"zz" + hex.substr(3) + "}", "invalid_hex"},
      {"{\"tx\":\"" + hex.substr(2) + "}", "invalid_hex"},          // an odd length
      {"{\"tx\":\"" + hex.substr(3) + "}", "invalid_transaction"},  // a byte short
      {"{\"tx\":\"00" + hex.substr(3) + "}", "invalid_transaction"},
  };
  for (const Case& test : cases) {
    Result<Submission> submission = parse(test.body);
    ASSERT_FALSE(submission.ok()) << test.body;
    EXPECT_EQ(submission.error().code, test.code) << test.body;
  }
}

TEST(SubmissionTest, ReadsTheLargestBatchAllowed) {
  std::vector<Transaction> transactions = some_transactions(kMaxBatch);
  Result<Submission> submission = parse(batch_body(transactions));
  ASSERT_TRUE(submission.ok()) << submission.error().message;
  EXPECT_EQ(submission->transactions.size(), kMaxBatch);
}

std::vector<Hash256> hashes_of(const std::vector<Transaction>& transactions) {
  std::vector<Hash256> hashes;
  for (const Transaction& transaction : transactions)
    hashes.push_back(transaction.hash());
  return hashes;
}

// The answer parses, and is written exactly as the JSON library writes that value.
Json parsed_answer(const HttpAnswer& answer) {
  Json body = Json::parse(answer.body);
  EXPECT_EQ(body.dump(), answer.body);
  return body;
}

TEST(SubmissionTest, AnswersABatchWithEveryHashAndOutcome) {
  std::vector<Hash256> hashes = hashes_of(some_transactions(3));
  std::vector<Status> outcomes = {Status::success(), make_error("bad_nonce", "nonce \"7\"\n"),
                                  make_error("duplicate", "already pending")};
  HttpAnswer answer = submission_answer(false, hashes, outcomes);
  EXPECT_EQ(answer.status, 202);
  Json body = parsed_answer(answer);
  EXPECT_EQ(body["accepted"], 2);
  ASSERT_EQ(body["hashes"].size(), 3u);
  ASSERT_EQ(body["results"].size(), 3u);
  for (size_t index = 0; index < 3; ++index) {
    EXPECT_EQ(body["hashes"][index], hashes[index].hex());
    EXPECT_EQ(body["results"][index]["hash"], hashes[index].hex());
  }
  EXPECT_EQ(body["results"][0], (Json{{"accepted", true}, {"hash", hashes[0].hex()}}));
  EXPECT_EQ(body["results"][1]["accepted"], false);
  EXPECT_EQ(body["results"][1]["error"],
            (Json{{"code", "bad_nonce"}, {"message", "nonce \"7\"\n"}}));
  EXPECT_EQ(body["results"][2]["accepted"], true);  // a duplicate is pending, not an error
}

TEST(SubmissionTest, ABatchWithNoSuccessIsRefused) {
  std::vector<Hash256> hashes = hashes_of(some_transactions(2));
  std::vector<Status> outcomes(2, make_error("insufficient_funds", "too poor"));
  HttpAnswer answer = submission_answer(false, hashes, outcomes);
  EXPECT_EQ(answer.status, 400);
  Json body = parsed_answer(answer);
  EXPECT_EQ(body["error"]["code"], "all_rejected");
  ASSERT_EQ(body["results"].size(), 2u);
  EXPECT_EQ(body["results"][1]["error"]["code"], "insufficient_funds");
  EXPECT_FALSE(body.contains("hashes"));
}

TEST(SubmissionTest, ASingleRefusalIsTheError) {
  std::vector<Hash256> hashes = hashes_of(some_transactions(1));
  std::vector<Status> outcomes = {make_error("mempool_full", "full")};
  HttpAnswer answer = submission_answer(true, hashes, outcomes);
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(parsed_answer(answer),
            (Json{{"error", {{"code", "mempool_full"}, {"message", "full"}}}}));

  outcomes = {make_error("bad_nonce", "late")};
  EXPECT_EQ(submission_answer(true, hashes, outcomes).status, 400);

  outcomes = {make_error("duplicate", "already pending")};
  answer = submission_answer(true, hashes, outcomes);
  EXPECT_EQ(answer.status, 202);
  EXPECT_EQ(parsed_answer(answer)["accepted"], 1);
}

}  // namespace
}  // namespace tally
