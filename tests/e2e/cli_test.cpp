// The tally command against a real node: keys, send (with and without --create, --wait) and
// account --prove, which must reject a node that lies about a balance or a proof.

#include <gtest/gtest.h>
#include <httplib.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "cluster.h"

namespace tally::e2e {
namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.validators = 1;
    options.accounts = 1;
    cluster_ = new Cluster(options);
    cluster_->start(0);
    ASSERT_TRUE(cluster_->wait_for_height(0, 1));
  }
  static void TearDownTestSuite() { delete cluster_; }
  std::string node() { return "--node http://127.0.0.1:" + std::to_string(cluster_->rpc_port(0)); }
  std::string funded_key() { return (cluster_->directory() / "keys" / "account0.key").string(); }
  std::string keystore() { return (cluster_->directory() / "wallet").string(); }
  static Cluster* cluster_;
};
Cluster* CliTest::cluster_ = nullptr;

TEST_F(CliTest, KeysRoundTripAndAWrongPassphraseIsRefused) {
  CommandRun created =
      tally("keys --home " + keystore() + " new alice", "TALLY_PASSPHRASE=right-horse");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string address = first_line(created.out);
  EXPECT_EQ(address.rfind("tally1", 0), 0u);
  CommandRun shown = tally("keys --home " + keystore() + " show alice");
  EXPECT_EQ(first_line(shown.out), address);
  EXPECT_NE(shown.out.find("encrypted: yes"), std::string::npos);
  CommandRun listed = tally("keys --home " + keystore() + " list");
  EXPECT_NE(listed.out.find("alice  " + address + "  encrypted"), std::string::npos);
  CommandRun again = tally("keys --home " + keystore() + " new alice", "TALLY_PASSPHRASE=x");
  EXPECT_NE(again.exit_code, 0);

  // Fund alice, then spend with the wrong and the right passphrase.
  CommandRun funding = tally("send " + node() + " --key " + funded_key() + " --to " + address +
                             " --amount 3 --create --wait");
  ASSERT_EQ(funding.exit_code, 0) << funding.err;
  CommandRun wrong = tally("send " + node() + " --home " + keystore() + " --key alice --to " +
                               cluster_->account_address(0).to_string() + " --amount 1",
                           "TALLY_PASSPHRASE=wrong-horse");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("wrong passphrase"), std::string::npos) << wrong.err;
  CommandRun right = tally("send " + node() + " --home " + keystore() + " --key alice --to " +
                               cluster_->account_address(0).to_string() + " --amount 1 --wait",
                           "TALLY_PASSPHRASE=right-horse");
  EXPECT_EQ(right.exit_code, 0) << right.err;
  CommandRun no_terminal = tally("keys --home " + keystore() + " new bob");
  EXPECT_NE(no_terminal.exit_code, 0)
      << "no passphrase and no terminal: refuse, never store unprotected";
  EXPECT_EQ(std::count(no_terminal.err.begin(), no_terminal.err.end(), '\n'), 1) << "one line";
}

TEST_F(CliTest, SendWithCreateAndWaitThenWithoutCreateIsRefused) {
  std::string fresh = Address{SecretKey::generate().public_key()}.to_string();
  CommandRun created = tally("send " + node() + " --key " + funded_key() + " --to " + fresh +
                             " --amount 2.5 --create --wait");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(first_line(created.out).size(), 64u) << "the hash first";
  EXPECT_NE(created.out.find("committed at height"), std::string::npos);
  CommandRun account = tally("account " + node() + " " + fresh);
  EXPECT_NE(account.out.find("balance: 2.5 TALLY"), std::string::npos) << account.out;

  std::string unknown = Address{SecretKey::generate().public_key()}.to_string();
  CommandRun refused =
      tally("send " + node() + " --key " + funded_key() + " --to " + unknown + " --amount 1");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("unknown_recipient"), std::string::npos) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << "one line on stderr";
  CommandRun bad_amount = tally("send " + node() + " --key " + funded_key() + " --to " + unknown +
                                " --amount 1.0000000001");
  EXPECT_NE(bad_amount.exit_code, 0);
  EXPECT_NE(bad_amount.err.find("9 decimal"), std::string::npos) << bad_amount.err;
}

// Forwards GETs to the node, rewriting the account answer with `tamper`.
class LyingProxy {
 public:
  LyingProxy(uint16_t node_port, std::function<void(nlohmann::json&)> tamper) {
    server_.Get(R"(/.*)",
                [node_port, tamper](const httplib::Request& request, httplib::Response& response) {
                  httplib::Client client("127.0.0.1", node_port);
                  std::string path = request.path;
                  if (!request.params.empty())
                    path += "?prove=true";
                  auto upstream = client.Get(path);
                  if (!upstream)
                    return;
                  nlohmann::json body = nlohmann::json::parse(upstream->body, nullptr, false);
                  if (request.path.rfind("/v1/accounts/", 0) == 0 && body.is_object())
                    tamper(body);
                  response.status = upstream->status;
                  response.set_content(body.dump(), "application/json");
                });
    port_ = static_cast<uint16_t>(server_.bind_to_any_port("127.0.0.1"));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LyingProxy() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "--node http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(CliTest, AccountProveVerifiesAndRejectsATamperedAnswer) {
  std::string address = cluster_->account_address(0).to_string();
  CommandRun honest = tally("account " + node() + " " + address + " --prove");
  ASSERT_EQ(honest.exit_code, 0) << honest.err;
  EXPECT_NE(honest.out.find("proof: verified"), std::string::npos) << honest.out;

  LyingProxy inflated(cluster_->rpc_port(0), [](nlohmann::json& body) {
    body["balance"] = std::to_string(std::stoull(body["balance"].get<std::string>()) + 1);
  });
  CommandRun lie = tally("account " + inflated.url() + " " + address + " --prove");
  EXPECT_NE(lie.exit_code, 0) << lie.out;
  EXPECT_NE(lie.err.find("PROOF REJECTED"), std::string::npos) << lie.err;

  LyingProxy forged(cluster_->rpc_port(0), [](nlohmann::json& body) {
    std::string proof = body["proof"];
    proof[proof.size() - 1] = proof.back() == '0' ? '1' : '0';
    body["proof"] = proof;
  });
  CommandRun forgery = tally("account " + forged.url() + " " + address + " --prove");
  EXPECT_NE(forgery.exit_code, 0) << forgery.out;
  EXPECT_NE(forgery.err.find("PROOF REJECTED"), std::string::npos) << forgery.err;
}

}  // namespace
}  // namespace tally::e2e
