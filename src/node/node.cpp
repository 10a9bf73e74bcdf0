#include "node/node.h"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <future>

#include "crypto/keystore.h"

namespace tally {
namespace {

constexpr size_t kMaxRecentTransactions = 200'000;

EngineConfig engine_config(const NodeConfig& config) {
  EngineConfig engine;
  engine.timeouts.propose_ms = config.timeout_propose_ms;
  engine.timeouts.propose_delta_ms = config.timeout_propose_delta_ms;
  engine.timeouts.prevote_ms = config.timeout_prevote_ms;
  engine.timeouts.prevote_delta_ms = config.timeout_prevote_delta_ms;
  engine.timeouts.precommit_ms = config.timeout_precommit_ms;
  engine.timeouts.precommit_delta_ms = config.timeout_precommit_delta_ms;
  engine.timeouts.gossip_ms = config.gossip_interval_ms;
  engine.empty_block_interval_ms = config.empty_block_interval_ms;
  engine.max_clock_drift_ms = config.max_clock_drift_ms;
  return engine;
}

}  // namespace

Node::Node(NodeHome home, NodeConfig config, Genesis genesis)
    : home_(std::move(home)),
      config_(std::move(config)),
      genesis_(std::move(genesis)),
      signals_(io_) {}

Node::~Node() {
  if (transport_)
    transport_->stop();
  transport_.reset();  // before the io_context, as the transport requires
}

Result<std::unique_ptr<Node>> Node::open(const std::filesystem::path& home_directory) {
  NodeHome home{home_directory};
  Result<NodeConfig> config = NodeConfig::load(home.config());
  if (!config.ok())
    return config.error();
  Result<Genesis> genesis = Genesis::load(home.genesis());
  if (!genesis.ok())
    return genesis.error();
  std::unique_ptr<Node> node(new Node(home, *config, *genesis));

  Result<SecretKey> node_key = read_key_file(home.node_key(), "");
  if (!node_key.ok())
    return make_error(node_key.error().code,
                      home.node_key().string() + ": " + node_key.error().message);
  node->node_id_ = node_key->public_key();
  std::error_code exists_error;
  if (std::filesystem::exists(home.validator_key(), exists_error)) {
    // Validator keys on a node are read without a passphrase prompt: the node runs unattended.
    // TALLY_PASSPHRASE unlocks an encrypted one.
    const char* passphrase = std::getenv("TALLY_PASSPHRASE");
    Result<SecretKey> validator_key =
        read_key_file(home.validator_key(), passphrase ? passphrase : "");
    if (!validator_key.ok()) {
      return make_error(validator_key.error().code,
                        home.validator_key().string() + ": " + validator_key.error().message);
    }
    node->validator_signer_ = std::make_unique<Ed25519Signer>(*validator_key);
  }

  StorageOptions storage_options;
  storage_options.retain_blocks = node->config_.retain_blocks;
  storage_options.snapshot_interval = node->config_.snapshot_interval;
  storage_options.snapshot_keep = node->config_.snapshot_keep;
  Result<std::unique_ptr<NodeStorage>> storage =
      NodeStorage::open(home.data(), node->genesis_, storage_options);
  if (!storage.ok())
    return storage.error();
  node->storage_ = std::move(storage).value();

  MempoolLimits limits;
  limits.max_transactions = node->config_.mempool_max_transactions;
  limits.max_bytes = node->config_.mempool_max_bytes;
  node->mempool_ = std::make_unique<Mempool>(node->genesis_.chain_id, limits);
  node->engine_ = std::make_unique<Engine>(node->genesis_, engine_config(node->config_),
                                           node->validator_signer_.get(), node->checker_,
                                           *node->mempool_, *node->storage_);

  p2p::TransportConfig transport;
  transport.chain_id = node->genesis_.chain_id;
  transport.listen_host = node->config_.p2p_listen.host;
  transport.listen_port = node->config_.p2p_listen.port;
  for (const PeerConfig& peer : node->config_.persistent_peers) {
    transport.persistent_peers.push_back({peer.address.host, peer.address.port, peer.node_id});
  }
  transport.max_frame_bytes = node->config_.max_frame_bytes;
  transport.max_send_queue_bytes = node->config_.max_send_queue_bytes;
  transport.max_inbound_peers = node->config_.max_inbound_peers;
  transport.max_outbound_peers = node->config_.max_outbound_peers;
  Node* self = node.get();
  p2p::Callbacks callbacks;
  callbacks.on_connected = [self](p2p::PeerId peer, const PublicKey& key) {
    spdlog::info("peer {} connected ({})", peer, key.hex().substr(0, 16));
  };
  callbacks.on_message = [self](p2p::PeerId peer, Bytes bytes) {
    self->on_peer_message(peer, std::move(bytes));
  };
  callbacks.on_disconnected = [](p2p::PeerId peer, std::string reason) {
    spdlog::info("peer {} disconnected: {}", peer, reason);
  };
  node->transport_ = std::make_unique<p2p::Transport>(node->io_, transport, *node_key, callbacks);
  return node;
}

std::optional<Address> Node::validator_address() const {
  if (!validator_signer_)
    return std::nullopt;
  return validator_signer_->address();
}

uint64_t Node::now_ms() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Status Node::start() {
  TALLY_TRY(transport_->start());
  TALLY_TRY(engine_->start(now_ms()));
  spdlog::info("node {} started: chain {}, height {}, {} validator, p2p {}, node id {}",
               config_.moniker, genesis_.chain_id, engine_->height(),
               is_validator() ? "a" : "not a", config_.p2p_listen.to_string(), node_id_.hex());
  drain_engine();
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.async_wait([this](const std::error_code& error, int signal) {
    if (!error) {
      spdlog::info("signal {}: shutting down", signal);
      stop();
    }
  });
  return Status::success();
}

void Node::run() {
  io_.run();
}

void Node::stop() {
  asio::post(io_, [this] {
    if (stopping_)
      return;
    stopping_ = true;
    transport_->stop();
    for (asio::steady_timer& timer : timers_)
      timer.cancel();
    signals_.cancel();
    io_.stop();
  });
}

bool Node::call(const std::function<void()>& work, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  asio::post(io_, [this, work, done] {
    if (!stopping_)
      work();
    done->set_value();
  });
  return finished.wait_for(timeout) == std::future_status::ready && !stopping_;
}

Status Node::submit(const Transaction& transaction) {
  Hash256 hash = transaction.hash();
  Status status = engine_->submit_transaction(transaction, now_ms());
  if (status.ok()) {
    remember(hash, TransactionStatus{TransactionStatus::Kind::pending, 0, {}});
  } else if (status.error().code != "duplicate") {
    remember(hash, TransactionStatus{TransactionStatus::Kind::rejected, 0, status.error()});
  }
  drain_engine();
  return status;
}

TransactionStatus Node::transaction_status(const Hash256& hash) const {
  auto found = recent_.find(hash);
  if (found != recent_.end()) {
    if (found->second.kind == TransactionStatus::Kind::pending && !mempool_->contains(hash)) {
      // Left the pool without being committed here (replaced, evicted or no longer valid).
      return TransactionStatus{TransactionStatus::Kind::rejected, 0,
                               make_error("dropped", "no longer in the mempool and not committed")};
    }
    return found->second;
  }
  if (mempool_->contains(hash))
    return TransactionStatus{TransactionStatus::Kind::pending, 0, {}};
  return TransactionStatus{};
}

bool Node::syncing() const {
  return highest_peer_height_ > engine_->height() + 2;
}

void Node::remember(const Hash256& hash, TransactionStatus status) {
  auto [entry, inserted] = recent_.insert_or_assign(hash, std::move(status));
  (void)entry;
  if (inserted)
    recent_order_.push_back(hash);
  while (recent_order_.size() > kMaxRecentTransactions) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void Node::on_peer_message(p2p::PeerId peer, Bytes bytes) {
  counters_.messages_received++;
  Result<Message> message = decode_message(bytes, genesis_.params.max_block_txs);
  if (!message.ok()) {
    counters_.messages_rejected++;
    spdlog::debug("undecodable message from peer {}: {}", peer, message.error().message);
    return;
  }
  if (const auto* status = std::get_if<StatusMessage>(&*message)) {
    highest_peer_height_ =
        std::max(highest_peer_height_, status->height > 0 ? status->height - 1 : 0);
  }
  engine_->on_message(peer, *message, now_ms());
  drain_engine();
}

void Node::drain_engine() {
  EngineOutput output = engine_->take_output();
  for (const DecidedBlock& decided : output.committed)
    on_committed(decided);
  for (const Envelope& envelope : output.messages) {
    Bytes bytes = encode_message(envelope.message);
    if (envelope.to) {
      transport_->send(*envelope.to, bytes);
    } else {
      transport_->broadcast(bytes);
    }
  }
  for (const EngineTimer& timer : output.timers)
    schedule(timer);
}

void Node::schedule(const EngineTimer& timer) {
  if (stopping_)
    return;
  uint64_t now = now_ms();
  auto delay = std::chrono::milliseconds(timer.at_ms > now ? timer.at_ms - now : 0);
  timers_.emplace_back(io_, delay);
  auto position = std::prev(timers_.end());
  TimeoutRequest request = timer.request;
  position->async_wait([this, position, request](const std::error_code& error) {
    timers_.erase(position);
    if (error || stopping_)
      return;
    engine_->on_timer(request, now_ms());
    drain_engine();
  });
}

void Node::on_committed(const DecidedBlock& decided) {
  const Block& block = decided.block;
  uint64_t height = block.header.height;
  counters_.blocks_committed++;
  counters_.transactions_committed += block.transactions.size();
  counters_.last_block_transactions = block.transactions.size();
  counters_.last_block_bytes = block.transactions.size() * kTransactionEncodedSize;
  uint64_t now = now_ms();
  counters_.last_commit_latency_ms = now > block.header.time_ms ? now - block.header.time_ms : 0;
  for (const Transaction& transaction : block.transactions) {
    remember(transaction.hash(), TransactionStatus{TransactionStatus::Kind::committed, height, {}});
  }
  if (!block.transactions.empty() || height % 100 == 0) {
    spdlog::info("committed height {} ({} transactions, round {}, root {})", height,
                 block.transactions.size(), decided.commit.round,
                 block.header.state_root.hex().substr(0, 16));
  }
  Status snapshot = storage_->maybe_write_snapshot(height, home_.snapshots());
  if (!snapshot.ok())
    spdlog::warn("snapshot at height {} failed: {}", height, snapshot.error().message);
}

}  // namespace tally
