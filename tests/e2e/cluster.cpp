#include "cluster.h"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/file.h"
#include "crypto/keystore.h"
#include "ledger/genesis.h"
#include "node/home.h"

namespace tally::e2e {

CommandRun tally(const std::string& arguments, const std::string& environment) {
  std::string err_path =
      std::filesystem::temp_directory_path() / ("tally-cli-err-" + std::to_string(::getpid()));
  std::string command =
      environment + " " + TALLY_BINARY + " " + arguments + " 2>" + err_path + " </dev/null";
  CommandRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (size_t count = std::fread(buffer.data(), 1, buffer.size(), pipe))
    run.out.append(buffer.data(), count);
  int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  run.err = text.str();
  std::filesystem::remove(err_path);
  return run;
}

namespace {

void check(const Status& status, const std::string& what) {
  if (!status.ok())
    throw std::runtime_error(what + ": " + status.error().message);
}

template <typename T>
T check(Result<T> result, const std::string& what) {
  if (!result.ok())
    throw std::runtime_error(what + ": " + result.error().message);
  return std::move(result).value();
}

}  // namespace

Cluster::Cluster(ClusterOptions options) {
  // Ports from the process id, so concurrently running test processes never share one. They stay
  // in 10000..26999: below Linux's ephemeral range (32768 and up), where a connection dialled by
  // one of our own nodes could take the port before the node meant to listen on it binds, and
  // clear of the fixed ports of `tally demo` (27001..) and `tally bench` (27201.., 28201..).
  uint16_t slot = static_cast<uint16_t>(::getpid() % 850);
  p2p_base_port_ = static_cast<uint16_t>(10000 + slot * 20);
  rpc_base_port_ = static_cast<uint16_t>(p2p_base_port_ + 10);
  directory_ = std::filesystem::temp_directory_path() / ("tally-e2e-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory_);

  LocalnetOptions localnet;
  localnet.validators = options.validators;
  localnet.accounts = options.accounts;
  localnet.directory = directory_;
  localnet.chain_id = "tally-e2e";
  localnet.p2p_base_port = p2p_base_port_;
  localnet.rpc_base_port = rpc_base_port_;
  localnet.timeout_propose_ms = 600;
  localnet.timeout_vote_ms = 300;
  localnet.empty_block_interval_ms = options.empty_block_interval_ms;
  Localnet created = check(init_localnet(localnet), "localnet init");
  chain_id_ = created.genesis.chain_id;
  for (size_t index = 0; index < created.nodes.size(); ++index) {
    NodeHome home = created.nodes[index];
    NodeConfig config = check(NodeConfig::load(home.config()), "config");
    config.retain_blocks = options.retain_blocks;
    config.snapshot_interval = options.snapshot_interval;
    config.snapshot_keep = options.snapshot_keep;
    check(write_file_atomically(home.config(), config.to_toml()), "config write");
    homes_.push_back(home.directory);
    rpc_ports_.push_back(config.rpc_listen.port);
    pids_.push_back(0);
  }
  for (const std::filesystem::path& path : created.account_keys) {
    account_keys_.push_back(check(read_key_file(path, ""), "account key"));
    nonces_.push_back(0);
  }
}

Cluster::~Cluster() {
  for (size_t node = 0; node < pids_.size(); ++node) {
    if (pids_[node] > 0)
      kill(node);
  }
  if (std::getenv("TALLY_E2E_KEEP") == nullptr)
    std::filesystem::remove_all(directory_);
}

void Cluster::start(size_t node) {
  if (pids_[node] > 0)
    return;
  std::string home = homes_[node].string();
  std::string log = (homes_[node] / "node.log").string();
  pid_t child = ::fork();
  if (child == 0) {
    int descriptor = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (descriptor >= 0) {
      ::dup2(descriptor, STDERR_FILENO);
      ::dup2(descriptor, STDOUT_FILENO);
    }
    ::execl(TALLY_BINARY, TALLY_BINARY, "node", "--home", home.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pids_[node] = child;
}

void Cluster::stop(size_t node) {
  if (pids_[node] <= 0)
    return;
  ::kill(pids_[node], SIGTERM);
  ::waitpid(pids_[node], nullptr, 0);
  pids_[node] = 0;
}

void Cluster::kill(size_t node) {
  if (pids_[node] <= 0)
    return;
  ::kill(pids_[node], SIGKILL);
  ::waitpid(pids_[node], nullptr, 0);
  pids_[node] = 0;
}

size_t Cluster::add_follower() {
  size_t index = homes_.size();
  NodeHome home{directory_ / ("node" + std::to_string(index))};
  std::filesystem::create_directories(home.data());
  std::filesystem::copy_file(homes_[0] / "genesis.json", home.genesis());
  NodeConfig config;
  config.moniker = "follower" + std::to_string(index);
  config.p2p_listen = {"127.0.0.1", static_cast<uint16_t>(p2p_base_port_ + index)};
  config.rpc_listen = {"127.0.0.1", static_cast<uint16_t>(rpc_base_port_ + index)};
  for (size_t peer = 0; peer < index; ++peer) {
    NodeConfig peer_config = check(NodeConfig::load(homes_[peer] / "config.toml"), "peer config");
    KeyFileInfo peer_key = check(read_key_file_info(homes_[peer] / "node_key"), "peer key");
    config.persistent_peers.push_back({peer_key.address.key, peer_config.p2p_listen});
  }
  NodeConfig reference = check(NodeConfig::load(homes_[0] / "config.toml"), "config");
  config.timeout_propose_ms = reference.timeout_propose_ms;
  config.timeout_prevote_ms = reference.timeout_prevote_ms;
  config.timeout_precommit_ms = reference.timeout_precommit_ms;
  config.gossip_interval_ms = reference.gossip_interval_ms;
  config.empty_block_interval_ms = reference.empty_block_interval_ms;
  config.retain_blocks = reference.retain_blocks;
  config.snapshot_interval = reference.snapshot_interval;
  config.snapshot_keep = reference.snapshot_keep;
  check(write_file_atomically(home.config(), config.to_toml()), "config");
  check(write_key_file(home.node_key(), "node_key", SecretKey::generate(), false, "",
                       KdfStrength::interactive),
        "node key");
  homes_.push_back(home.directory);
  rpc_ports_.push_back(config.rpc_listen.port);
  pids_.push_back(0);
  return index;
}

std::optional<std::pair<int, nlohmann::json>> Cluster::get(size_t node,
                                                           const std::string& path) const {
  httplib::Client client("127.0.0.1", rpc_ports_[node]);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  httplib::Result result = client.Get(path);
  if (!result)
    return std::nullopt;
  return std::make_pair(result->status, nlohmann::json::parse(result->body, nullptr, false));
}

std::optional<std::pair<int, nlohmann::json>> Cluster::post(size_t node, const std::string& path,
                                                            const nlohmann::json& body) const {
  httplib::Client client("127.0.0.1", rpc_ports_[node]);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  httplib::Result result = client.Post(path, body.dump(), "application/json");
  if (!result)
    return std::nullopt;
  return std::make_pair(result->status, nlohmann::json::parse(result->body, nullptr, false));
}

uint64_t Cluster::height(size_t node) const {
  auto status = get(node, "/v1/status");
  if (!status || status->first != 200)
    return 0;
  return status->second.value("height", uint64_t{0});
}

bool Cluster::wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

bool Cluster::wait_for_height(size_t node, uint64_t target,
                              std::chrono::milliseconds timeout) const {
  return wait_for([&] { return height(node) >= target; }, timeout);
}

Address Cluster::account_address(size_t account) const {
  return Address{account_keys_[account].public_key()};
}

Transaction Cluster::transfer(size_t from, const Address& to, uint64_t amount_units, bool create) {
  Transfer transfer;
  transfer.from = account_address(from);
  transfer.to = to;
  transfer.amount = Amount{amount_units};
  transfer.fee = Amount{1000};
  transfer.nonce = nonces_[from]++;
  transfer.create = create;
  return sign_transfer(transfer, account_keys_[from], chain_id_);
}

Transaction Cluster::sign_as(size_t from, const Transfer& transfer,
                             const std::string& chain_id) const {
  return sign_transfer(transfer, account_keys_[from], chain_id.empty() ? chain_id_ : chain_id);
}

void Cluster::resync_nonce(size_t account) {
  auto response = get(0, "/v1/accounts/" + account_address(account).to_string());
  if (response && response->first == 200)
    nonces_[account] = response->second["nonce"].get<uint64_t>();
}

int Cluster::submit(size_t node, const Transaction& transaction) const {
  auto response = post(node, "/v1/transactions", {{"tx", to_hex(transaction.encode())}});
  if (response && response->first != 202) {
    std::fprintf(stderr, "submit to node%zu refused: %s\n", node, response->second.dump().c_str());
  }
  return response ? response->first : 0;
}

bool Cluster::wait_committed(size_t node, const Hash256& hash,
                             std::chrono::milliseconds timeout) const {
  return wait_for(
      [&] {
        auto response = get(node, "/v1/transactions/" + hash.hex());
        return response && response->first == 200 &&
               response->second.value("status", "") == "committed";
      },
      timeout);
}

std::string Cluster::log_tail(size_t node, size_t lines) const {
  std::ifstream file(homes_[node] / "node.log");
  std::vector<std::string> all;
  for (std::string line; std::getline(file, line);)
    all.push_back(line);
  std::ostringstream out;
  for (size_t index = all.size() > lines ? all.size() - lines : 0; index < all.size(); ++index) {
    out << "  node" << node << ": " << all[index] << "\n";
  }
  return out.str();
}

}  // namespace tally::e2e
