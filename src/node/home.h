#pragma once
// The node home directory and the local test network layout.
//
//   HOME/config.toml     node configuration (config.h)
//   HOME/genesis.json    the chain's genesis
//   HOME/node_key        the P2P identity (key file)
//   HOME/validator_key   the consensus key, for validators (key file)
//   HOME/data/           storage (RocksDB) and snapshots

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "ledger/genesis.h"

namespace tally {

struct NodeHome {
  std::filesystem::path directory;

  std::filesystem::path config() const { return directory / "config.toml"; }
  std::filesystem::path genesis() const { return directory / "genesis.json"; }
  std::filesystem::path node_key() const { return directory / "node_key"; }
  std::filesystem::path validator_key() const { return directory / "validator_key"; }
  std::filesystem::path data() const { return directory / "data"; }
  std::filesystem::path snapshots() const { return directory / "data" / "snapshots"; }
};

struct LocalnetOptions {
  size_t validators = 4;
  size_t accounts = 8;
  std::filesystem::path directory;
  std::string chain_id = "tally-local";
  std::string host = "127.0.0.1";
  uint16_t p2p_base_port = 7101;
  uint16_t rpc_base_port = 7001;
  uint64_t total_supply_units = kDefaultTotalSupplyUnits;
  // Accounts in genesis besides the funded ones, at random addresses nobody holds a key for,
  // each with `generated_balance_units`: a large state for benchmarks.
  size_t generated_accounts = 0;
  uint64_t generated_balance_units = 1'000'000'000;
  // Short timeouts suit a network on one machine.
  uint64_t timeout_propose_ms = 1000;
  uint64_t timeout_vote_ms = 500;
  uint64_t empty_block_interval_ms = 5000;
};

struct Localnet {
  std::vector<NodeHome> nodes;                      // DIR/node0 ... DIR/node{N-1}
  std::vector<std::filesystem::path> account_keys;  // DIR/keys/account0.key ...
  Genesis genesis;
};

// Writes N node homes sharing one genesis, and K funded accounts whose keys are written
// unencrypted (a test network) as DIR/keys/account{i}.key. The supply is split evenly among the
// accounts (the remainder to account 0), after the generated accounts' balances. Refuses a
// directory that already holds a localnet.
Result<Localnet> init_localnet(const LocalnetOptions& options);

// The node homes of an existing localnet directory, in order.
Result<std::vector<NodeHome>> find_localnet_nodes(const std::filesystem::path& directory);

}  // namespace tally
