#pragma once
// A local network of real `tally node` processes for end-to-end tests, with an HTTP client.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "ledger/transaction.h"
#include "node/config.h"

namespace tally::e2e {

struct CommandRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `tally ARGS` (the built binary) with extra environment, capturing stdout and stderr.
CommandRun tally(const std::string& arguments, const std::string& environment = "");

struct ClusterOptions {
  size_t validators = 4;
  size_t accounts = 4;
  uint64_t retain_blocks = 100;
  uint64_t snapshot_interval = 0;
  uint32_t snapshot_keep = 2;
  uint64_t empty_block_interval_ms = 1000;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();  // kills every node and removes the directory

  size_t size() const { return homes_.size(); }
  void start(size_t node);
  void stop(size_t node);  // SIGTERM, waits
  void kill(size_t node);  // SIGKILL, waits
  bool running(size_t node) const { return pids_[node] > 0; }

  // A non-validator node with an empty home, peered with every validator. Returns its index.
  size_t add_follower();

  // GET or POST on node's API; nullopt when the node does not answer.
  std::optional<std::pair<int, nlohmann::json>> get(size_t node, const std::string& path) const;
  std::optional<std::pair<int, nlohmann::json>> post(size_t node, const std::string& path,
                                                     const nlohmann::json& body) const;

  uint64_t height(size_t node) const;  // 0 when unreachable
  // Waits until `condition` holds, polling; false after `timeout`.
  static bool wait_for(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool wait_for_height(size_t node, uint64_t height,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // A signed transfer from funded account `from` (nonce tracked here) to `to`.
  Transaction transfer(size_t from, const Address& to, uint64_t amount_units, bool create = false);
  Address account_address(size_t account) const;
  // Signs `transfer` with account `from`'s key, for this chain or another; the tracked nonce is
  // left alone.
  Transaction sign_as(size_t from, const Transfer& transfer,
                      const std::string& chain_id = "") const;
  // Sets the tracked nonce of `account` from node 0's view (after refused transfers).
  void resync_nonce(size_t account);
  uint64_t next_nonce(size_t account) const { return nonces_[account]; }
  uint16_t rpc_port(size_t node) const { return rpc_ports_[node]; }
  // Submits and returns the HTTP status.
  int submit(size_t node, const Transaction& transaction) const;
  bool wait_committed(size_t node, const Hash256& hash,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  std::string log_tail(size_t node, size_t lines = 30) const;
  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
  std::string chain_id_;
  std::vector<std::filesystem::path> homes_;
  std::vector<pid_t> pids_;
  std::vector<uint16_t> rpc_ports_;
  std::vector<SecretKey> account_keys_;
  std::vector<uint64_t> nonces_;
  uint16_t p2p_base_port_ = 0;
  uint16_t rpc_base_port_ = 0;
};

}  // namespace tally::e2e
