// Real validator processes on 127.0.0.1: commits, kill -9 and restart, one and two of four down,
// and a fresh node joining by state sync after the blocks it would need were discarded.

#include <gtest/gtest.h>

#include <httplib.h>

#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "cluster.h"

namespace tally::e2e {
namespace {

// Every node that has height `height` reports the same block hash and state root for it.
void expect_same_block(const Cluster& cluster, const std::vector<size_t>& nodes, uint64_t height) {
  std::set<std::string> hashes;
  std::set<std::string> roots;
  for (size_t node : nodes) {
    auto block = cluster.get(node, "/v1/blocks/" + std::to_string(height));
    ASSERT_TRUE(block.has_value()) << "node" << node << " does not answer";
    ASSERT_EQ(block->first, 200) << "node" << node << " height " << height << ": "
                                 << block->second.dump();
    hashes.insert(block->second["header"]["hash"].get<std::string>());
    roots.insert(block->second["header"]["state_root"].get<std::string>());
  }
  EXPECT_EQ(hashes.size(), 1u) << "fork at height " << height;
  EXPECT_EQ(roots.size(), 1u) << "state roots differ at height " << height;
}

std::string logs(const Cluster& cluster) {
  std::string all;
  for (size_t node = 0; node < cluster.size(); ++node)
    all += cluster.log_tail(node, 15);
  return all;
}

class NetworkTest : public ::testing::Test {
 protected:
  void start_all(Cluster& cluster) {
    for (size_t node = 0; node < cluster.size(); ++node)
      cluster.start(node);
    for (size_t node = 0; node < cluster.size(); ++node) {
      ASSERT_TRUE(cluster.wait_for_height(node, 1)) << "node" << node << " never committed\n"
                                                    << logs(cluster);
    }
  }
};

TEST_F(NetworkTest, FourValidatorsCommitTransfersAndAgree) {
  Cluster cluster({});
  start_all(cluster);
  Address recipient = cluster.account_address(1);
  std::vector<Hash256> hashes;
  for (int count = 0; count < 20; ++count) {
    Transaction transaction = cluster.transfer(0, recipient, 1000 + count);
    ASSERT_EQ(cluster.submit(count % 4, transaction), 202);
    hashes.push_back(transaction.hash());
    // At most 8 outstanding: the mempool holds only 16 future nonces per sender.
    if (count % 8 == 7) {
      ASSERT_TRUE(cluster.wait_committed(count % 4, transaction.hash()));
    }
  }
  for (const Hash256& hash : hashes) {
    ASSERT_TRUE(cluster.wait_committed(0, hash)) << logs(cluster);
  }
  uint64_t height = cluster.height(0);
  for (size_t node = 0; node < 4; ++node)
    ASSERT_TRUE(cluster.wait_for_height(node, height));
  for (uint64_t check = 1; check <= height; ++check)
    expect_same_block(cluster, {0, 1, 2, 3}, check);
  auto account = cluster.get(3, "/v1/accounts/" + cluster.account_address(0).to_string());
  ASSERT_TRUE(account && account->first == 200);
  EXPECT_EQ(account->second["nonce"], 20);
}

// A counter from the node's /metrics, or nothing when it does not answer.
std::optional<uint64_t> metric(const Cluster& cluster, size_t node, const std::string& name) {
  httplib::Client client("127.0.0.1", cluster.rpc_port(node));
  auto response = client.Get("/metrics");
  if (!response || response->status != 200)
    return std::nullopt;
  std::istringstream lines(response->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0)
      return std::stoull(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

TEST_F(NetworkTest, AClientsBatchReachesEveryPeerAsOneGossipMessageAndIsCheckedOnce) {
  Cluster cluster({.accounts = 8});
  start_all(cluster);
  const std::string messages = "tally_p2p_transaction_messages_received_total";
  const std::string transactions = "tally_p2p_transactions_received_total";
  std::optional<uint64_t> messages_before = metric(cluster, 1, messages);
  std::optional<uint64_t> transactions_before = metric(cluster, 1, transactions);
  const std::string checks = "tally_signature_checks_total";
  std::optional<uint64_t> checks_before = metric(cluster, 1, checks);
  ASSERT_TRUE(messages_before && transactions_before && checks_before);

  // 80 transfers from 8 senders (10 nonces each, within the mempool's 16 future nonces), in one
  // request to node0.
  nlohmann::json batch = nlohmann::json::array();
  std::vector<Hash256> hashes;
  for (int round = 0; round < 10; ++round) {
    for (size_t sender = 0; sender < 8; ++sender) {
      Transaction transaction =
          cluster.transfer(sender, cluster.account_address((sender + 1) % 8), 100 + round);
      batch.push_back(to_hex(transaction.encode()));
      hashes.push_back(transaction.hash());
    }
  }
  auto posted = cluster.post(0, "/v1/transactions", {{"txs", batch}});
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->first, 202) << posted->second.dump();
  for (const Hash256& hash : hashes)
    ASSERT_TRUE(cluster.wait_committed(1, hash)) << logs(cluster);

  uint64_t messages_received = *metric(cluster, 1, messages) - *messages_before;
  uint64_t transactions_received = *metric(cluster, 1, transactions) - *transactions_before;
  // node0 pushes the batch to node1 once; node2 and node3 only announce it. A message or two
  // more may answer a request node1 made when an announcement overtook the push.
  EXPECT_GE(messages_received, 1u);
  EXPECT_LE(messages_received, 3u) << "one message per transaction would be 80";
  EXPECT_GE(transactions_received, hashes.size());
  EXPECT_LE(transactions_received, 2 * hashes.size()) << "relays sent whole copies";
  // Each signature checked once on node1, however many copies and announcements arrived and
  // whether the block or the gossip brought the transaction first.
  uint64_t checked = *metric(cluster, 1, checks) - *checks_before;
  EXPECT_GE(checked, hashes.size());
  EXPECT_LE(checked, hashes.size() + 3);
}

TEST_F(NetworkTest, KilledValidatorRestartsAndCatchesUp) {
  Cluster cluster({});
  start_all(cluster);
  std::mt19937 random(static_cast<unsigned>(::getpid()));
  Address recipient = cluster.account_address(2);
  for (int count = 0; count < 30; ++count) {
    Transaction transaction = cluster.transfer(1, recipient, 5);
    ASSERT_EQ(cluster.submit(count % 2, transaction), 202);
    // At most 8 outstanding: the mempool holds only 16 future nonces per sender.
    if (count % 8 == 7) {
      ASSERT_TRUE(cluster.wait_committed(count % 2, transaction.hash()));
    }
    if (count == 10) {
      // kill -9 at a moment chosen at random, mid-stream.
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 400));
      cluster.kill(2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Transaction last = cluster.transfer(1, recipient, 5);
  ASSERT_EQ(cluster.submit(0, last), 202);
  ASSERT_TRUE(cluster.wait_committed(0, last.hash())) << logs(cluster);
  uint64_t height = cluster.height(0);
  cluster.start(2);
  ASSERT_TRUE(cluster.wait_for_height(2, height)) << logs(cluster);
  for (uint64_t check = 1; check <= height; ++check)
    expect_same_block(cluster, {0, 1, 2, 3}, check);
  auto account = cluster.get(2, "/v1/accounts/" + cluster.account_address(1).to_string());
  ASSERT_TRUE(account && account->first == 200);
  EXPECT_EQ(account->second["nonce"], 31);
}

TEST_F(NetworkTest, KeepsCommittingWithOneOfFourStopped) {
  Cluster cluster({});
  start_all(cluster);
  cluster.stop(3);
  std::vector<Hash256> hashes;
  for (int count = 0; count < 10; ++count) {
    Transaction transaction = cluster.transfer(0, cluster.account_address(1), 7);
    ASSERT_EQ(cluster.submit(count % 3, transaction), 202);
    hashes.push_back(transaction.hash());
  }
  for (const Hash256& hash : hashes)
    ASSERT_TRUE(cluster.wait_committed(1, hash)) << logs(cluster);
}

TEST_F(NetworkTest, HaltsWithTwoOfFourStoppedAndResumesWithoutForking) {
  Cluster cluster({});
  start_all(cluster);
  cluster.stop(2);
  cluster.stop(3);
  uint64_t before = std::max(cluster.height(0), cluster.height(1));
  Transaction stuck = cluster.transfer(0, cluster.account_address(1), 9);
  ASSERT_EQ(cluster.submit(0, stuck), 202);
  // Half the power cannot commit anything: wait long enough for several rounds.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  uint64_t during = std::max(cluster.height(0), cluster.height(1));
  EXPECT_LE(during, before + 1) << "at most the block already in flight";
  auto pending = cluster.get(0, "/v1/transactions/" + stuck.hash().hex());
  ASSERT_TRUE(pending.has_value());
  cluster.start(2);
  cluster.start(3);
  ASSERT_TRUE(cluster.wait_committed(0, stuck.hash())) << logs(cluster);
  uint64_t height = cluster.height(0);
  for (size_t node = 0; node < 4; ++node)
    ASSERT_TRUE(cluster.wait_for_height(node, height)) << logs(cluster);
  for (uint64_t check = 1; check <= height; ++check)
    expect_same_block(cluster, {0, 1, 2, 3}, check);
}

TEST_F(NetworkTest, FreshNodeJoinsByStateSyncAfterHistoryWasDiscarded) {
  ClusterOptions options;
  options.retain_blocks = 100;
  options.snapshot_interval = 20;
  options.snapshot_keep = 10;  // heights pass quickly here; keep snapshots around long enough
  options.empty_block_interval_ms = 30;  // heartbeat blocks, to pass the retained window quickly
  Cluster cluster(options);
  start_all(cluster);
  Address newcomer{SecretKey::generate().public_key()};
  Transaction create = cluster.transfer(0, newcomer, 123456, /*create=*/true);
  ASSERT_EQ(cluster.submit(0, create), 202);
  ASSERT_TRUE(cluster.wait_committed(0, create.hash())) << logs(cluster);
  ASSERT_TRUE(cluster.wait_for_height(0, 160, std::chrono::seconds(120))) << logs(cluster);
  auto discarded = cluster.get(0, "/v1/blocks/1");
  ASSERT_TRUE(discarded.has_value());
  ASSERT_EQ(discarded->first, 410) << "block 1 must be discarded for this test to mean anything";

  size_t follower = cluster.add_follower();
  cluster.start(follower);
  ASSERT_TRUE(Cluster::wait_for(
      [&] {
        auto status = cluster.get(follower, "/v1/status");
        return status && status->first == 200 && status->second["state_sync"]["phase"] == "done" &&
               status->second["height"].get<uint64_t>() >= 160;
      },
      std::chrono::seconds(90)))
      << logs(cluster);
  auto status = cluster.get(follower, "/v1/status");
  EXPECT_GT(status->second["state_sync"]["height"].get<uint64_t>(), 0u)
      << "it synced from a snapshot";
  // After the snapshot it follows the chain block by block.
  uint64_t target = cluster.height(0) + 10;
  ASSERT_TRUE(cluster.wait_for_height(follower, target)) << logs(cluster);
  uint64_t height = cluster.height(follower);
  ASSERT_TRUE(cluster.wait_for_height(0, height));
  expect_same_block(cluster, {0, 1, 2, 3, follower}, height);
  for (const Address& address :
       {newcomer, cluster.account_address(0), cluster.account_address(3)}) {
    auto on_validator = cluster.get(0, "/v1/accounts/" + address.to_string());
    auto on_follower = cluster.get(follower, "/v1/accounts/" + address.to_string());
    ASSERT_TRUE(on_validator && on_follower);
    EXPECT_EQ(on_follower->first, 200);
    EXPECT_EQ(on_follower->second["balance"], on_validator->second["balance"]);
  }
}

TEST_F(NetworkTest, SnapshotExportAndImportBootstrapANodeOffline) {
  ClusterOptions options;
  options.snapshot_interval = 10;
  options.snapshot_keep = 10;
  options.empty_block_interval_ms = 50;
  Cluster cluster(options);
  start_all(cluster);
  Address newcomer{SecretKey::generate().public_key()};
  Transaction create = cluster.transfer(2, newcomer, 777, /*create=*/true);
  ASSERT_EQ(cluster.submit(1, create), 202);
  ASSERT_TRUE(cluster.wait_committed(1, create.hash()));
  ASSERT_TRUE(cluster.wait_for_height(0, cluster.height(0) + 12));

  std::string file = (cluster.directory() / "export.snapshot").string();
  std::string home0 = (cluster.directory() / "node0").string();
  std::string export_command = std::string(TALLY_BINARY) + " snapshot export --home " + home0 +
                               " --out " + file + " > /dev/null";
  ASSERT_EQ(std::system(export_command.c_str()), 0);

  size_t follower = cluster.add_follower();
  std::string home = (cluster.directory() / ("node" + std::to_string(follower))).string();
  // A file altered in one byte is refused, and nothing is imported.
  std::string tampered = file + ".tampered";
  std::filesystem::copy_file(file, tampered);
  {
    std::fstream bytes(tampered, std::ios::in | std::ios::out | std::ios::binary);
    bytes.seekp(-5, std::ios::end);
    bytes.put('\x5a');
  }
  std::string bad_import = std::string(TALLY_BINARY) + " snapshot import --home " + home +
                           " --in " + tampered + " > /dev/null 2>&1";
  EXPECT_NE(std::system(bad_import.c_str()), 0);
  std::string import_command = std::string(TALLY_BINARY) + " snapshot import --home " + home +
                               " --in " + file + " > /dev/null";
  ASSERT_EQ(std::system(import_command.c_str()), 0);

  cluster.start(follower);
  uint64_t target = cluster.height(0) + 5;
  ASSERT_TRUE(cluster.wait_for_height(follower, target)) << logs(cluster);
  auto status = cluster.get(follower, "/v1/status");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->second["state_sync"]["phase"], "done");
  EXPECT_EQ(status->second["state_sync"]["height"], 0)
      << "it started from the import, not a network sync";
  auto balance = cluster.get(follower, "/v1/accounts/" + newcomer.to_string());
  ASSERT_TRUE(balance && balance->first == 200);
  EXPECT_EQ(balance->second["balance"], "777");
}

}  // namespace
}  // namespace tally::e2e
