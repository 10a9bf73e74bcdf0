#include "node/config.h"

#include <toml++/toml.h>
#include <charconv>
#include <set>
#include <sstream>

#include "consensus/engine.h"
#include "core/file.h"

namespace tally {
namespace {

Error config_error(std::string message) {
  return make_error("invalid_config", std::move(message));
}

constexpr size_t kMaxConfigBytes = 1024 * 1024;
const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};

// Reads the keys of one table, remembering which were seen so unknown ones can be reported.
class Section {
 public:
  Section(const toml::table* table, std::string name) : table_(table), name_(std::move(name)) {}

  std::string path(std::string_view key) const {
    return name_.empty() ? std::string(key) : name_ + "." + std::string(key);
  }

  Status integer(std::string_view key, uint64_t minimum, uint64_t maximum, uint64_t& out) {
    const toml::node* node = find(key);
    if (node == nullptr)
      return Status::success();
    std::optional<int64_t> value = node->value_exact<int64_t>();
    if (!value)
      return config_error(path(key) + " must be an integer");
    if (*value < 0 || static_cast<uint64_t>(*value) < minimum ||
        static_cast<uint64_t>(*value) > maximum) {
      return config_error(path(key) + " must be between " + std::to_string(minimum) + " and " +
                          std::to_string(maximum));
    }
    out = static_cast<uint64_t>(*value);
    return Status::success();
  }

  Status integer32(std::string_view key, uint64_t minimum, uint64_t maximum, uint32_t& out) {
    uint64_t wide = out;
    TALLY_TRY(integer(key, minimum, maximum, wide));
    out = static_cast<uint32_t>(wide);
    return Status::success();
  }

  Status string(std::string_view key, std::string& out) {
    const toml::node* node = find(key);
    if (node == nullptr)
      return Status::success();
    std::optional<std::string> value = node->value_exact<std::string>();
    if (!value)
      return config_error(path(key) + " must be a string");
    out = *value;
    return Status::success();
  }

  Status host_port(std::string_view key, HostPort& out) {
    std::string text;
    if (find(key) == nullptr)
      return Status::success();
    TALLY_TRY(string(key, text));
    Result<HostPort> parsed = HostPort::parse(text);
    if (!parsed.ok())
      return config_error(path(key) + ": " + parsed.error().message);
    out = *parsed;
    return Status::success();
  }

  Status peers(std::string_view key, std::vector<PeerConfig>& out) {
    const toml::node* node = find(key);
    if (node == nullptr)
      return Status::success();
    const toml::array* array = node->as_array();
    if (array == nullptr)
      return config_error(path(key) + " must be an array of strings");
    if (array->size() > 1000)
      return config_error(path(key) + " has more than 1000 entries");
    out.clear();
    for (size_t index = 0; index < array->size(); ++index) {
      std::optional<std::string> text = (*array)[index].value_exact<std::string>();
      std::string where = path(key) + "[" + std::to_string(index) + "]";
      if (!text)
        return config_error(where + " must be a string");
      Result<PeerConfig> peer = PeerConfig::parse(*text);
      if (!peer.ok())
        return config_error(where + ": " + peer.error().message);
      out.push_back(*peer);
    }
    return Status::success();
  }

  Status check_no_unknown_keys() const {
    if (table_ == nullptr)
      return Status::success();
    for (const auto& [key, value] : *table_) {
      std::string name(key.str());
      if (seen_.count(name) == 0 && !value.is_table()) {
        return config_error("unknown key " + path(name));
      }
    }
    return Status::success();
  }

 private:
  const toml::node* find(std::string_view key) {
    seen_.insert(std::string(key));
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  const toml::table* table_;
  std::string name_;
  std::set<std::string> seen_;
};

}  // namespace

std::string HostPort::to_string() const {
  return host + ":" + std::to_string(port);
}

Result<HostPort> HostPort::parse(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return config_error("expected host:port, got '" + std::string(text) + "'");
  }
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return config_error("invalid port in '" + std::string(text) + "'");
  }
  return HostPort{std::string(text.substr(0, colon)), static_cast<uint16_t>(port)};
}

std::string PeerConfig::to_string() const {
  return node_id.hex() + "@" + address.to_string();
}

Result<PeerConfig> PeerConfig::parse(std::string_view text) {
  size_t at = text.find('@');
  if (at == std::string_view::npos) {
    return config_error("expected <node id>@host:port, got '" + std::string(text) + "'");
  }
  Result<PublicKey> node_id = PublicKey::from_hex(text.substr(0, at));
  if (!node_id.ok())
    return config_error("invalid node id: " + node_id.error().message);
  Result<HostPort> address = HostPort::parse(text.substr(at + 1));
  if (!address.ok())
    return address.error();
  return PeerConfig{*node_id, *address};
}

Status NodeConfig::validate() const {
  if (moniker.empty() || moniker.size() > 64)
    return config_error("moniker must be 1-64 characters");
  if (!kLogLevels.count(log_level)) {
    return config_error("log.level must be one of trace, debug, info, warn, error, off");
  }
  if (p2p_listen == rpc_listen)
    return config_error("p2p.listen and rpc.listen must differ");
  if (snapshot_interval != 0 && snapshot_interval < 10) {
    return config_error("storage.snapshot_interval must be 0 (off) or at least 10");
  }
  return Status::success();
}

Result<NodeConfig> NodeConfig::parse(std::string_view text) {
  // Debian's toml++ is built with exceptions: parse errors arrive as toml::parse_error.
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& error) {
    return config_error("line " + std::to_string(error.source().begin.line) + ": " +
                        std::string(error.description()));
  }
  NodeConfig config;
  constexpr uint64_t kHour = 3'600'000;
  constexpr uint64_t kGiB = 1024ull * 1024 * 1024;

  Section top(&root, "");
  TALLY_TRY(top.string("moniker", config.moniker));
  TALLY_TRY(top.check_no_unknown_keys());
  for (const auto& [key, value] : root) {
    static const std::set<std::string> kSections = {"p2p",     "rpc",     "consensus",
                                                    "mempool", "storage", "log"};
    if (value.is_table() && kSections.count(std::string(key.str())) == 0) {
      return config_error("unknown section [" + std::string(key.str()) + "]");
    }
  }

  Section p2p(root["p2p"].as_table(), "p2p");
  TALLY_TRY(p2p.host_port("listen", config.p2p_listen));
  TALLY_TRY(p2p.peers("persistent_peers", config.persistent_peers));
  TALLY_TRY(p2p.integer32("max_inbound_peers", 0, 1000, config.max_inbound_peers));
  TALLY_TRY(p2p.integer32("max_outbound_peers", 0, 1000, config.max_outbound_peers));
  TALLY_TRY(p2p.integer("max_frame_bytes", 64 * 1024, kGiB, config.max_frame_bytes));
  TALLY_TRY(
      p2p.integer("max_send_queue_bytes", 1024 * 1024, 16 * kGiB, config.max_send_queue_bytes));
  TALLY_TRY(p2p.check_no_unknown_keys());

  Section rpc(root["rpc"].as_table(), "rpc");
  TALLY_TRY(rpc.host_port("listen", config.rpc_listen));
  TALLY_TRY(rpc.integer("max_body_bytes", 1024, kGiB, config.rpc_max_body_bytes));
  TALLY_TRY(
      rpc.integer32("max_batch_transactions", 1, 1'000'000, config.rpc_max_batch_transactions));
  TALLY_TRY(rpc.integer32("max_connections", 1, 100'000, config.rpc_max_connections));
  TALLY_TRY(rpc.check_no_unknown_keys());

  Section consensus(root["consensus"].as_table(), "consensus");
  TALLY_TRY(consensus.integer("timeout_propose_ms", 1, kHour, config.timeout_propose_ms));
  TALLY_TRY(
      consensus.integer("timeout_propose_delta_ms", 0, kHour, config.timeout_propose_delta_ms));
  TALLY_TRY(consensus.integer("timeout_prevote_ms", 1, kHour, config.timeout_prevote_ms));
  TALLY_TRY(
      consensus.integer("timeout_prevote_delta_ms", 0, kHour, config.timeout_prevote_delta_ms));
  TALLY_TRY(consensus.integer("timeout_precommit_ms", 1, kHour, config.timeout_precommit_ms));
  TALLY_TRY(
      consensus.integer("timeout_precommit_delta_ms", 0, kHour, config.timeout_precommit_delta_ms));
  TALLY_TRY(consensus.integer("gossip_interval_ms", 10, kHour, config.gossip_interval_ms));
  TALLY_TRY(
      consensus.integer("empty_block_interval_ms", 1, 24 * kHour, config.empty_block_interval_ms));
  TALLY_TRY(consensus.integer("min_block_interval_ms", 0, kHour, config.min_block_interval_ms));
  TALLY_TRY(consensus.integer("max_clock_drift_ms", 0, kHour, config.max_clock_drift_ms));
  TALLY_TRY(consensus.check_no_unknown_keys());

  Section mempool(root["mempool"].as_table(), "mempool");
  TALLY_TRY(mempool.integer("max_transactions", 1, 10'000'000, config.mempool_max_transactions));
  TALLY_TRY(mempool.integer("max_bytes", 1024, 64 * kGiB, config.mempool_max_bytes));
  TALLY_TRY(mempool.check_no_unknown_keys());

  Section storage(root["storage"].as_table(), "storage");
  // At least the evidence window, so a restarted node knows which evidence was committed.
  TALLY_TRY(storage.integer("retain_blocks", kMaxEvidenceAge, 1'000'000'000, config.retain_blocks));
  TALLY_TRY(storage.integer("snapshot_interval", 0, 1'000'000'000, config.snapshot_interval));
  TALLY_TRY(storage.integer32("snapshot_keep", 1, 1000, config.snapshot_keep));
  TALLY_TRY(storage.check_no_unknown_keys());

  Section log(root["log"].as_table(), "log");
  TALLY_TRY(log.string("level", config.log_level));
  TALLY_TRY(log.check_no_unknown_keys());

  TALLY_TRY(config.validate());
  return config;
}

Result<NodeConfig> NodeConfig::load(const std::filesystem::path& path) {
  Result<std::string> text = read_file(path, kMaxConfigBytes);
  if (!text.ok())
    return text.error();
  Result<NodeConfig> config = parse(*text);
  if (!config.ok())
    return make_error(config.error().code, path.string() + ": " + config.error().message);
  return config;
}

std::string NodeConfig::to_toml() const {
  std::ostringstream out;
  auto quoted = [](const std::string& text) { return "\"" + text + "\""; };
  out << "# Tally node configuration. Unknown keys are errors; omitted keys take the defaults.\n";
  out << "moniker = " << quoted(moniker) << "\n\n";
  out << "[p2p]\n";
  out << "listen = " << quoted(p2p_listen.to_string()) << "\n";
  out << "# <node id>@host:port of peers to keep connected to\n";
  out << "persistent_peers = [";
  for (size_t index = 0; index < persistent_peers.size(); ++index) {
    out << (index ? ", " : "") << quoted(persistent_peers[index].to_string());
  }
  out << "]\n";
  out << "max_inbound_peers = " << max_inbound_peers << "\n";
  out << "max_outbound_peers = " << max_outbound_peers << "\n";
  out << "max_frame_bytes = " << max_frame_bytes << "\n";
  out << "max_send_queue_bytes = " << max_send_queue_bytes << "\n\n";
  out << "[rpc]\n";
  out << "listen = " << quoted(rpc_listen.to_string()) << "\n";
  out << "max_body_bytes = " << rpc_max_body_bytes << "\n";
  out << "max_batch_transactions = " << rpc_max_batch_transactions << "\n";
  out << "max_connections = " << rpc_max_connections << "\n\n";
  out << "[consensus]\n";
  out << "timeout_propose_ms = " << timeout_propose_ms << "\n";
  out << "timeout_propose_delta_ms = " << timeout_propose_delta_ms << "\n";
  out << "timeout_prevote_ms = " << timeout_prevote_ms << "\n";
  out << "timeout_prevote_delta_ms = " << timeout_prevote_delta_ms << "\n";
  out << "timeout_precommit_ms = " << timeout_precommit_ms << "\n";
  out << "timeout_precommit_delta_ms = " << timeout_precommit_delta_ms << "\n";
  out << "gossip_interval_ms = " << gossip_interval_ms << "\n";
  out << "# with an empty mempool, an empty block only this often (a heartbeat)\n";
  out << "empty_block_interval_ms = " << empty_block_interval_ms << "\n";
  out << "# the next height starts no sooner than this after a block: under load, blocks\n"
      << "# grow with the load instead of the number of blocks\n";
  out << "min_block_interval_ms = " << min_block_interval_ms << "\n";
  out << "max_clock_drift_ms = " << max_clock_drift_ms << "\n\n";
  out << "[mempool]\n";
  out << "max_transactions = " << mempool_max_transactions << "\n";
  out << "max_bytes = " << mempool_max_bytes << "\n\n";
  out << "[storage]\n";
  out << "# blocks older than this many heights are deleted (410 Gone in the API)\n";
  out << "retain_blocks = " << retain_blocks << "\n";
  out << "# a snapshot every this many heights (0: none); the newest snapshot_keep are kept\n";
  out << "snapshot_interval = " << snapshot_interval << "\n";
  out << "snapshot_keep = " << snapshot_keep << "\n\n";
  out << "[log]\n";
  out << "level = " << quoted(log_level) << "\n";
  return out.str();
}

}  // namespace tally
