#include "node/home.h"

#include <chrono>
#include <cstring>
#include <random>

#include "core/file.h"
#include "crypto/keystore.h"
#include "node/config.h"

namespace tally {
namespace {

Status write_plain_key(const std::filesystem::path& path, const std::string& name,
                       const SecretKey& key) {
  return write_key_file(path, name, key, /*encrypted=*/false, "", KdfStrength::interactive);
}

}  // namespace

Result<Localnet> init_localnet(const LocalnetOptions& options) {
  if (options.validators == 0 || options.validators > 100) {
    return make_error("invalid_argument", "--validators must be between 1 and 100");
  }
  if (options.accounts == 0 || options.accounts > 100'000) {
    return make_error("invalid_argument", "--accounts must be between 1 and 100000");
  }
  if (options.directory.empty())
    return make_error("invalid_argument", "--dir is required");
  std::error_code error;
  if (std::filesystem::exists(options.directory / "node0", error)) {
    return make_error("already_exists", options.directory.string() + " already holds a localnet");
  }
  std::filesystem::create_directories(options.directory / "keys", error);
  if (error)
    return make_error("io_error",
                      "cannot create " + options.directory.string() + ": " + error.message());

  Localnet localnet;
  Genesis& genesis = localnet.genesis;
  genesis.chain_id = options.chain_id;
  genesis.genesis_time_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  genesis.total_supply = Amount{options.total_supply_units};
  if (options.generated_accounts > 10'000'000)
    return make_error("invalid_argument", "at most 10,000,000 generated accounts");
  unsigned __int128 generated_total =
      static_cast<unsigned __int128>(options.generated_accounts) * options.generated_balance_units;
  if (generated_total >= options.total_supply_units)
    return make_error("invalid_argument", "the generated accounts would hold the whole supply");
  uint64_t funded_total = options.total_supply_units - static_cast<uint64_t>(generated_total);
  uint64_t share = funded_total / options.accounts;
  uint64_t remainder = funded_total - share * options.accounts;
  for (size_t index = 0; index < options.accounts; ++index) {
    SecretKey key = SecretKey::generate();
    std::filesystem::path path =
        options.directory / "keys" / ("account" + std::to_string(index) + ".key");
    TALLY_TRY(write_plain_key(path, "account" + std::to_string(index), key));
    localnet.account_keys.push_back(path);
    genesis.accounts.push_back(
        {Address{key.public_key()}, Amount{share + (index == 0 ? remainder : 0)}});
  }

  genesis.accounts.reserve(options.accounts + options.generated_accounts);
  // Addresses only (no keys exist), so a seeded generator is enough.
  std::mt19937_64 random(std::random_device{}());
  for (size_t index = 0; index < options.generated_accounts; ++index) {
    Address address;
    for (size_t offset = 0; offset < address.key.data.size(); offset += 8) {
      uint64_t word = random();
      std::memcpy(address.key.data.data() + offset, &word, 8);
    }
    genesis.accounts.push_back({address, Amount{options.generated_balance_units}});
  }

  std::vector<SecretKey> node_keys;
  std::vector<SecretKey> validator_keys;
  for (size_t index = 0; index < options.validators; ++index) {
    node_keys.push_back(SecretKey::generate());
    validator_keys.push_back(SecretKey::generate());
    genesis.validators.push_back(
        {Address{validator_keys.back().public_key()}, 10, "node" + std::to_string(index)});
  }
  TALLY_TRY(genesis.validate());

  std::string genesis_text = genesis.to_json();  // once: with many accounts it is large
  for (size_t index = 0; index < options.validators; ++index) {
    NodeHome home{options.directory / ("node" + std::to_string(index))};
    std::filesystem::create_directories(home.data(), error);
    if (error)
      return make_error("io_error", "cannot create " + home.data().string());
    NodeConfig config;
    config.moniker = "node" + std::to_string(index);
    config.p2p_listen = {options.host, static_cast<uint16_t>(options.p2p_base_port + index)};
    config.rpc_listen = {options.host, static_cast<uint16_t>(options.rpc_base_port + index)};
    for (size_t peer = 0; peer < options.validators; ++peer) {
      if (peer == index)
        continue;
      config.persistent_peers.push_back(
          {node_keys[peer].public_key(),
           {options.host, static_cast<uint16_t>(options.p2p_base_port + peer)}});
    }
    config.timeout_propose_ms = options.timeout_propose_ms;
    config.timeout_prevote_ms = options.timeout_vote_ms;
    config.timeout_precommit_ms = options.timeout_vote_ms;
    config.gossip_interval_ms = options.timeout_vote_ms;
    config.empty_block_interval_ms = options.empty_block_interval_ms;
    TALLY_TRY(config.validate());
    TALLY_TRY(write_file_atomically(home.config(), config.to_toml()));
    TALLY_TRY(write_file_atomically(home.genesis(), genesis_text));
    TALLY_TRY(write_plain_key(home.node_key(), "node_key", node_keys[index]));
    TALLY_TRY(write_plain_key(home.validator_key(), "validator_key", validator_keys[index]));
    localnet.nodes.push_back(home);
  }
  return localnet;
}

Result<std::vector<NodeHome>> find_localnet_nodes(const std::filesystem::path& directory) {
  std::vector<NodeHome> nodes;
  for (size_t index = 0;; ++index) {
    NodeHome home{directory / ("node" + std::to_string(index))};
    std::error_code error;
    if (!std::filesystem::exists(home.config(), error))
      break;
    nodes.push_back(home);
  }
  if (nodes.empty()) {
    return make_error("not_found", "no localnet in " + directory.string() +
                                       " (run: tally localnet init --dir " + directory.string() +
                                       ")");
  }
  return nodes;
}

}  // namespace tally
