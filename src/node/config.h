#pragma once
// A node's config.toml: listen addresses, peers, consensus timeouts, limits, retention. Loading
// is strict: unknown keys, wrong types and out-of-range values are errors that name the key, so
// a typo never silently falls back to a default.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/ed25519.h"

namespace tally {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
  std::string to_string() const;
  // "host:port"; error code "invalid_config".
  static Result<HostPort> parse(std::string_view text);
};

struct PeerConfig {
  PublicKey node_id;  // the peer's node key, hex
  HostPort address;
  bool operator==(const PeerConfig&) const = default;
  std::string to_string() const;  // "<node id hex>@host:port"
  static Result<PeerConfig> parse(std::string_view text);
};

struct NodeConfig {
  std::string moniker = "node";

  HostPort p2p_listen{"127.0.0.1", 7101};
  std::vector<PeerConfig> persistent_peers;
  uint32_t max_inbound_peers = 40;
  uint32_t max_outbound_peers = 20;
  uint64_t max_frame_bytes = 16 * 1024 * 1024;
  uint64_t max_send_queue_bytes = 64 * 1024 * 1024;

  HostPort rpc_listen{"127.0.0.1", 7001};
  uint64_t rpc_max_body_bytes = 4 * 1024 * 1024;
  uint32_t rpc_max_batch_transactions = 10'000;
  uint32_t rpc_max_connections = 64;

  uint64_t timeout_propose_ms = 3000;
  uint64_t timeout_propose_delta_ms = 500;
  uint64_t timeout_prevote_ms = 1000;
  uint64_t timeout_prevote_delta_ms = 500;
  uint64_t timeout_precommit_ms = 1000;
  uint64_t timeout_precommit_delta_ms = 500;
  uint64_t gossip_interval_ms = 1000;
  uint64_t empty_block_interval_ms = 10'000;
  uint64_t min_block_interval_ms = 100;
  uint64_t max_clock_drift_ms = 10'000;

  uint64_t mempool_max_transactions = 50'000;
  uint64_t mempool_max_bytes = 64 * 1024 * 1024;

  uint64_t retain_blocks = 100;
  uint64_t snapshot_interval = 1000;
  uint32_t snapshot_keep = 2;

  std::string log_level = "info";

  bool operator==(const NodeConfig&) const = default;

  Status validate() const;
  std::string to_toml() const;
  // Error codes "invalid_config" (with the key's name) or "not_found"/"io_error".
  static Result<NodeConfig> parse(std::string_view text);
  static Result<NodeConfig> load(const std::filesystem::path& path);
};

}  // namespace tally
