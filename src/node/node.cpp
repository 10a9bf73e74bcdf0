#include "node/node.h"

#include <spdlog/spdlog.h>

#include <malloc.h>
#include <time.h>

#include <asio/post.hpp>
#include <future>

#include "crypto/keystore.h"

namespace tally {
namespace {

constexpr size_t kMaxRecentTransactions = 200'000;
// Gossiped transactions waiting for signature verification at most; more are dropped.
constexpr size_t kMaxTransactionsVerifying = 200'000;

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
  engine.min_block_interval_ms = config.min_block_interval_ms;
  engine.max_clock_drift_ms = config.max_clock_drift_ms;
  return engine;
}

}  // namespace

Node::Node(NodeHome home, NodeConfig config, Genesis genesis)
    : home_(std::move(home)),
      config_(std::move(config)),
      genesis_(std::move(genesis)),
      signals_(io_),
      recent_(kMaxRecentTransactions) {}

Node::~Node() {
  // No task may post back into, or read from, a node being destroyed.
  verify_pool_.join();
  snapshot_pool_.join();
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
  storage_options.keep_blocks_since_snapshot = true;
  Result<std::unique_ptr<NodeStorage>> storage =
      NodeStorage::open(home.data(), node->genesis_, storage_options);
  if (!storage.ok())
    return storage.error();
  node->storage_ = std::move(storage).value();

  MempoolLimits limits;
  limits.max_transactions = node->config_.mempool_max_transactions;
  limits.max_bytes = node->config_.mempool_max_bytes;
  node->mempool_ = std::make_unique<Mempool>(node->genesis_.chain_id, limits);
  node->mempool_->set_signature_check(
      [raw = node.get()](const Transaction& transaction, const Hash256& hash) {
        return raw->check_signature_on_loop(transaction, hash);
      });
  node->engine_ = std::make_unique<Engine>(node->genesis_, engine_config(node->config_),
                                           node->validator_signer_.get(), node->checker_,
                                           *node->mempool_, *node->storage_);
  // Reading a large genesis or stored state leaves the heap full of freed parse buffers (over
  // 400 MB for a million accounts) that malloc keeps resident; give them back once.
  malloc_trim(0);

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
    if (self->sync_progress_.phase == StateSyncProgress::Phase::probing) {
      self->send_to(peer, SnapshotListRequest{});
    }
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

namespace {

constexpr auto kSnapshotProbe = std::chrono::milliseconds(3000);
constexpr auto kSyncRequestTimeout = std::chrono::milliseconds(10'000);

}  // namespace

Status Node::start() {
  TALLY_TRY(transport_->start());
  if (storage_->last_decided_height() == 0 && !config_.persistent_peers.empty()) {
    // A new node: ask peers for snapshots first; without any, start from genesis.
    sync_progress_.phase = StateSyncProgress::Phase::probing;
    spdlog::info("new node: asking peers for snapshots");
    arm_sync_timer(kSnapshotProbe, [this] { finish_probe(); });
  } else {
    start_consensus();
  }
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

void Node::start_consensus() {
  Status started = engine_->start(now_ms());
  if (!started.ok()) {
    spdlog::critical("cannot start consensus: {}", started.error().message);
    stop();
    return;
  }
  consensus_started_ = true;
  sync_progress_.phase = StateSyncProgress::Phase::done;
  spdlog::info("node {} started: chain {}, height {}, {} validator, p2p {}, node id {}",
               config_.moniker, genesis_.chain_id, engine_->height(),
               is_validator() ? "a" : "not a", config_.p2p_listen.to_string(), node_id_.hex());
  drain_engine();
}

void Node::send_to(p2p::PeerId peer, const Message& message) {
  transport_->send(peer, encode_message(message));
}

void Node::arm_sync_timer(std::chrono::milliseconds delay, std::function<void()> action) {
  sync_timer_.emplace(io_, delay);
  uint64_t serial = ++sync_request_serial_;
  sync_timer_->async_wait([this, serial, action](const std::error_code& error) {
    if (error || stopping_ || serial != sync_request_serial_)
      return;
    action();
  });
}

bool Node::serve_snapshot_request(p2p::PeerId peer, const Message& message) {
  // Every peer message passes here: decide by kind before building any path.
  if (!std::holds_alternative<SnapshotListRequest>(message) &&
      !std::holds_alternative<SnapshotManifestRequest>(message) &&
      !std::holds_alternative<SnapshotChunkRequest>(message)) {
    return false;
  }
  std::filesystem::path directory = home_.snapshots();
  if (std::holds_alternative<SnapshotListRequest>(message)) {
    std::vector<uint64_t> heights = list_snapshots(directory);
    if (heights.size() > kMaxSnapshotsListed) {
      heights.erase(heights.begin(), heights.end() - static_cast<long>(kMaxSnapshotsListed));
    }
    send_to(peer, SnapshotList{heights});
  } else if (const auto* request = std::get_if<SnapshotManifestRequest>(&message)) {
    // An empty reply says "not here (any more)": the requester moves on at once.
    Result<SnapshotManifest> manifest = read_snapshot_manifest(directory, request->height);
    send_to(peer,
            SnapshotManifestData{request->height, manifest.ok() ? manifest->encode() : Bytes{}});
  } else if (const auto* request = std::get_if<SnapshotChunkRequest>(&message)) {
    Result<Bytes> chunk = read_snapshot_chunk(directory, request->height, request->index);
    send_to(peer, SnapshotChunkData{request->height, request->index,
                                    chunk.ok() ? std::move(*chunk) : Bytes{}});
  } else {
    return false;
  }
  return true;
}

void Node::finish_probe() {
  ++sync_request_serial_;  // the probe timer, if still pending, is now stale
  uint64_t best = 0;
  for (const auto& [peer, heights] : snapshot_offers_) {
    for (uint64_t height : heights)
      best = std::max(best, height);
  }
  if (best == 0) {
    spdlog::info("no peer offers a snapshot: starting from genesis");
    start_consensus();
    return;
  }
  sync_candidates_.clear();
  for (const auto& [peer, heights] : snapshot_offers_) {
    if (std::find(heights.begin(), heights.end(), best) != heights.end()) {
      sync_candidates_.push_back(peer);
    }
  }
  sync_progress_ = StateSyncProgress{StateSyncProgress::Phase::downloading, best, 0, 0, 0};
  sync_manifest_.reset();
  sync_chunks_.clear();
  spdlog::info("state sync: snapshot at height {} offered by {} peers", best,
               sync_candidates_.size());
  request_next_sync_item();
}

void Node::request_next_sync_item() {
  if (sync_candidates_.empty()) {
    spdlog::warn("state sync: no peer left for the snapshot at height {}; asking again",
                 sync_progress_.height);
    sync_progress_.phase = StateSyncProgress::Phase::probing;
    snapshot_offers_.clear();
    transport_->broadcast(encode_message(SnapshotListRequest{}));
    arm_sync_timer(kSnapshotProbe, [this] { finish_probe(); });
    return;
  }
  p2p::PeerId peer = sync_candidates_.front();
  if (!sync_manifest_) {
    send_to(peer, SnapshotManifestRequest{sync_progress_.height});
  } else {
    send_to(peer, SnapshotChunkRequest{sync_progress_.height,
                                       static_cast<uint32_t>(sync_chunks_.size())});
  }
  arm_sync_timer(kSyncRequestTimeout, [this] { drop_sync_peer("no answer in time"); });
}

void Node::drop_sync_peer(const std::string& reason) {
  if (sync_candidates_.empty())
    return;
  spdlog::warn("state sync: dropping peer {}: {}", sync_candidates_.front(), reason);
  sync_candidates_.erase(sync_candidates_.begin());
  sync_progress_.peers_dropped++;
  request_next_sync_item();
}

void Node::on_sync_message(p2p::PeerId peer, const Message& message) {
  using Phase = StateSyncProgress::Phase;
  if (const auto* list = std::get_if<SnapshotList>(&message)) {
    if (sync_progress_.phase != Phase::probing)
      return;
    snapshot_offers_[peer] = list->heights;
    // Snapshots age quickly on a busy chain: decide once every connected peer has answered.
    if (snapshot_offers_.size() >= transport_->peer_count())
      finish_probe();
    return;
  }
  if (sync_progress_.phase != Phase::downloading || sync_candidates_.empty() ||
      sync_candidates_.front() != peer) {
    return;  // not what we are waiting for, or from another peer
  }
  if (const auto* data = std::get_if<SnapshotManifestData>(&message)) {
    if (sync_manifest_ || data->height != sync_progress_.height)
      return;
    if (data->manifest.empty())
      return drop_sync_peer("the snapshot is no longer available");
    Result<SnapshotManifest> manifest = SnapshotManifest::decode(data->manifest);
    if (!manifest.ok())
      return drop_sync_peer("bad manifest: " + manifest.error().message);
    if (manifest->height != sync_progress_.height || manifest->chain_id != genesis_.chain_id) {
      return drop_sync_peer("manifest for another height or chain");
    }
    Status verified = verify_snapshot_commit(genesis_, *manifest, checker_);
    if (!verified.ok())
      return drop_sync_peer("manifest commit: " + verified.error().message);
    sync_manifest_ = std::move(*manifest);
    sync_progress_.chunks_total = sync_manifest_->chunk_hashes.size();
    spdlog::info("state sync: manifest verified (height {}, {} accounts, {} chunks)",
                 sync_progress_.height, sync_manifest_->account_count, sync_progress_.chunks_total);
  } else if (const auto* data = std::get_if<SnapshotChunkData>(&message)) {
    if (!sync_manifest_ || data->height != sync_progress_.height ||
        data->index != sync_chunks_.size()) {
      return;
    }
    if (data->chunk.empty()) {
      sync_manifest_.reset();  // pruned mid-download: start over with a newer snapshot
      sync_chunks_.clear();
      sync_candidates_.clear();
      return request_next_sync_item();
    }
    Status verified = verify_snapshot_chunk(*sync_manifest_, data->index, data->chunk);
    if (!verified.ok()) {
      return drop_sync_peer("bad chunk " + std::to_string(data->index) + ": " +
                            verified.error().message);
    }
    sync_chunks_.push_back(data->chunk);
    sync_progress_.chunks_done = sync_chunks_.size();
    spdlog::info("state sync: chunk {}/{} from peer {}", sync_progress_.chunks_done,
                 sync_progress_.chunks_total, peer);
  } else {
    return;
  }
  if (sync_manifest_ && sync_chunks_.size() == sync_manifest_->chunk_hashes.size()) {
    ++sync_request_serial_;  // cancels the pending timeout
    Result<State> state = restore_state_from_snapshot(genesis_, *sync_manifest_, sync_chunks_);
    if (!state.ok()) {
      sync_manifest_.reset();
      sync_chunks_.clear();
      return drop_sync_peer("snapshot does not restore: " + state.error().message);
    }
    Status imported = storage_->import_snapshot(*sync_manifest_, *state);
    if (!imported.ok()) {
      spdlog::critical("state sync: cannot import the snapshot: {}", imported.error().message);
      stop();
      return;
    }
    spdlog::info("state sync: restored height {} (root {}), joining consensus",
                 sync_progress_.height, state->state_root().hex().substr(0, 16));
    sync_manifest_.reset();
    sync_chunks_.clear();
    start_consensus();
    return;
  }
  request_next_sync_item();
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
  Status status = submit_without_drain(transaction, transaction.hash());
  drain_engine();
  return status;
}

std::vector<Status> Node::submit_batch(std::span<const Transaction> transactions,
                                       std::span<const Hash256> hashes) {
  TALLY_ASSERT(transactions.size() == hashes.size());
  std::vector<Status> outcomes;
  outcomes.reserve(transactions.size());
  for (size_t index = 0; index < transactions.size(); ++index) {
    engine_->prefetch_ahead_of_admission(transactions, index);
    outcomes.push_back(submit_without_drain(transactions[index], hashes[index]));
  }
  drain_engine();
  return outcomes;
}

Status Node::submit_without_drain(const Transaction& transaction, const Hash256& hash) {
  if (!consensus_started_)
    return make_error("syncing", "the node is still syncing; try another node");
  Status status = engine_->submit_transaction(transaction, hash, now_ms());
  if (status.ok()) {
    recent_.remember_pending(hash);
  } else if (status.error().code != "duplicate") {
    recent_.remember_refused(hash, status.error());
  }
  return status;
}

TransactionStatus Node::transaction_status(const Hash256& hash) const {
  TransactionStatus status = recent_.find(hash);
  if (status.kind != TransactionStatus::Kind::unknown) {
    if (status.kind == TransactionStatus::Kind::pending && !mempool_->contains(hash)) {
      // Left the pool without being committed here (replaced, evicted or no longer valid).
      return TransactionStatus{TransactionStatus::Kind::rejected, 0,
                               make_error("dropped", "no longer in the mempool and not committed")};
    }
    return status;
  }
  if (mempool_->contains(hash))
    return TransactionStatus{TransactionStatus::Kind::pending, 0, {}};
  return TransactionStatus{};
}

bool Node::syncing() const {
  return !consensus_started_ || highest_peer_height_ > engine_->height() + 2;
}

void Node::on_peer_message(p2p::PeerId peer, Bytes bytes) {
  counters_.messages_received++;
  Result<Message> message = decode_message(bytes, genesis_.params.max_block_txs);
  if (!message.ok()) {
    counters_.messages_rejected++;
    spdlog::debug("undecodable message from peer {}: {}", peer, message.error().message);
    return;
  }
  if (const auto* batch = std::get_if<TransactionsMessage>(&*message)) {
    counters_.transaction_messages_received++;
    counters_.gossiped_transactions_received += batch->transactions.size();
  } else if (std::holds_alternative<TransactionHashesMessage>(*message)) {
    counters_.transaction_announcements_received++;
  }
  if (serve_snapshot_request(peer, *message))
    return;
  if (auto* batch = std::get_if<TransactionsMessage>(&*message); batch && consensus_started_) {
    on_gossiped_transactions(peer, std::move(*batch));
    return;
  }
  if (!consensus_started_) {
    on_sync_message(peer, *message);
    return;
  }
  if (auto* announced = std::get_if<TransactionHashesMessage>(&*message)) {
    // Not asked for while being verified here or once committed (the engine knows the pending).
    std::erase_if(announced->hashes, [this](const Hash256& hash) {
      return verifying_.contains(hash) || recent_.is_committed(hash);
    });
    if (announced->hashes.empty())
      return;
  }
  if (const auto* status = std::get_if<StatusMessage>(&*message)) {
    highest_peer_height_ =
        std::max(highest_peer_height_, status->height > 0 ? status->height - 1 : 0);
  }
  engine_->on_message(peer, *message, now_ms());
  drain_engine();
}

void Node::on_gossiped_transactions(p2p::PeerId peer, TransactionsMessage batch) {
  // Every transaction arrives from several peers: its signature is checked once, for the first
  // copy; later copies are dropped while it is pending, being verified, or recently committed.
  TransactionsMessage unverified;
  std::vector<Hash256> hashes;
  std::vector<Transaction> known_valid;
  std::vector<Hash256> known_valid_hashes;
  for (Transaction& transaction : batch.transactions) {
    Hash256 hash = transaction.hash();
    bool committed = recent_.is_committed(hash);
    // (One refused here before, say for a nonce too far ahead, may be valid by now.)
    if (committed || mempool_->contains(hash) || verifying_.contains(hash))
      continue;
    if (mempool_->signature_known(hash)) {
      known_valid.push_back(std::move(transaction));
      known_valid_hashes.push_back(hash);
      continue;
    }
    if (verifying_.size() >= kMaxTransactionsVerifying)
      continue;  // overloaded: the transaction still arrives in a block
    verifying_.insert(hash);
    hashes.push_back(hash);
    unverified.transactions.push_back(std::move(transaction));
  }
  if (!known_valid.empty()) {
    engine_->on_gossiped_transactions(peer, known_valid, known_valid_hashes, now_ms());
    drain_engine();
  }
  if (unverified.transactions.empty())
    return;
  // Ed25519 is the expensive part of admission: verify on the worker pool, admit on the loop.
  verify_queue_.fetch_add(1);
  asio::post(verify_pool_, [this, peer, hashes = std::move(hashes),
                            batch = std::move(unverified)]() mutable {
    std::vector<bool> signature_ok = verify_gossiped(batch.transactions, hashes);
    TransactionsMessage valid;
    std::vector<Hash256> valid_hashes;
    for (size_t index = 0; index < batch.transactions.size(); ++index) {
      if (signature_ok[index]) {
        valid.transactions.push_back(std::move(batch.transactions[index]));
        valid_hashes.push_back(hashes[index]);
      }
    }
    verify_queue_.fetch_sub(1);
    asio::post(io_, [this, peer, hashes = std::move(hashes), valid_hashes = std::move(valid_hashes),
                     valid = std::move(valid)] {
      for (const Hash256& hash : hashes)
        verifying_.erase(hash);
      {
        std::lock_guard<std::mutex> lock(signature_outcomes_mutex_);
        for (const Hash256& hash : hashes)
          signature_outcomes_.erase(hash);
      }
      if (stopping_ || valid.transactions.empty())
        return;
      for (const Hash256& hash : valid_hashes)
        mempool_->note_signature_verified(hash);
      engine_->on_gossiped_transactions(peer, valid.transactions, valid_hashes, now_ms());
      drain_engine();
    });
  });
}

namespace {
uint64_t thread_cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(now.tv_nsec);
}
}  // namespace

bool Node::check_signature_on_loop(const Transaction& transaction, const Hash256& hash) {
  const bool queued = verifying_.contains(hash);
  if (queued) {
    // The worker may have checked it already, its answer still on the way to the loop.
    std::lock_guard<std::mutex> lock(signature_outcomes_mutex_);
    auto found = signature_outcomes_.find(hash);
    if (found != signature_outcomes_.end())
      return found->second;
  }
  uint64_t started_ns = thread_cpu_ns();
  bool valid = verify_transaction_signature(transaction, genesis_.chain_id);
  signature_cpu_ns_.fetch_add(thread_cpu_ns() - started_ns, std::memory_order_relaxed);
  signature_checks_.fetch_add(1, std::memory_order_relaxed);
  if (queued) {
    std::lock_guard<std::mutex> lock(signature_outcomes_mutex_);
    signature_outcomes_.insert_or_assign(hash, valid);
  }
  return valid;
}

std::vector<bool> Node::verify_gossiped(const std::vector<Transaction>& transactions,
                                        const std::vector<Hash256>& hashes) {
  TALLY_ASSERT(transactions.size() == hashes.size());
  uint64_t started_ns = thread_cpu_ns();
  std::vector<bool> valid;
  valid.reserve(transactions.size());
  for (size_t index = 0; index < transactions.size(); ++index) {
    std::optional<bool> known;
    {
      std::lock_guard<std::mutex> lock(signature_outcomes_mutex_);
      auto found = signature_outcomes_.find(hashes[index]);
      if (found != signature_outcomes_.end())
        known = found->second;
    }
    if (known) {
      valid.push_back(*known);
      continue;
    }
    bool outcome = verify_transaction_signature(transactions[index], genesis_.chain_id);
    signature_checks_.fetch_add(1, std::memory_order_relaxed);
    valid.push_back(outcome);
    std::lock_guard<std::mutex> lock(signature_outcomes_mutex_);
    signature_outcomes_.insert_or_assign(hashes[index], outcome);
  }
  signature_cpu_ns_.fetch_add(thread_cpu_ns() - started_ns, std::memory_order_relaxed);
  return valid;
}

std::vector<bool> Node::verify_signatures(const std::vector<Transaction>& transactions) {
  uint64_t started_ns = thread_cpu_ns();
  std::vector<bool> valid;
  valid.reserve(transactions.size());
  for (const Transaction& transaction : transactions)
    valid.push_back(verify_transaction_signature(transaction, genesis_.chain_id));
  signature_cpu_ns_.fetch_add(thread_cpu_ns() - started_ns, std::memory_order_relaxed);
  signature_checks_.fetch_add(transactions.size(), std::memory_order_relaxed);
  return valid;
}

void Node::drain_engine() {
  EngineOutput output = engine_->take_output();
  for (const CommittedBlock& committed : output.committed)
    on_committed(committed);
  for (const Envelope& envelope : output.messages) {
    Bytes bytes = encode_message(envelope.message);
    if (envelope.to) {
      transport_->send(*envelope.to, bytes);
    } else {
      transport_->broadcast(bytes, envelope.except);
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

void Node::on_committed(const CommittedBlock& committed) {
  const DecidedBlock& decided = committed.decided;
  const Block& block = decided.block;
  uint64_t height = block.header.height;
  counters_.blocks_committed++;
  counters_.transactions_committed += block.transactions.size();
  counters_.last_block_transactions = block.transactions.size();
  counters_.last_block_bytes = block.transactions.size() * kTransactionEncodedSize;
  uint64_t now = now_ms();
  counters_.last_commit_latency_ms = now > block.header.time_ms ? now - block.header.time_ms : 0;
  for (size_t bucket = 0; bucket < NodeCounters::kLatencyBucketsMs.size(); ++bucket) {
    if (counters_.last_commit_latency_ms <= NodeCounters::kLatencyBucketsMs[bucket]) {
      counters_.latency_buckets[bucket]++;
    }
  }
  counters_.latency_sum_ms += counters_.last_commit_latency_ms;
  counters_.latency_count++;
  for (const Hash256& hash : committed.transaction_hashes)
    recent_.remember_committed(hash, height);
  if (!block.transactions.empty() || height % 100 == 0) {
    spdlog::info("committed height {} ({} transactions, round {}, root {})", height,
                 block.transactions.size(), decided.commit.round,
                 block.header.state_root.hex().substr(0, 16));
  }
  if (config_.snapshot_interval > 0 && height % config_.snapshot_interval == 0) {
    if (snapshot_in_progress_) {
      spdlog::warn("snapshot at height {} skipped: the previous one is still being written",
                   height);
      return;
    }
    // Pinning the store's view is cheap and happens here, right after the commit; writing the
    // files (every account) happens on the snapshot thread, so consensus never waits for it.
    Result<std::unique_ptr<SnapshotWriter>> writer = storage_->begin_snapshot(height);
    if (!writer.ok()) {
      spdlog::warn("snapshot at height {} failed: {}", height, writer.error().message);
      return;
    }
    snapshot_in_progress_ = true;
    std::shared_ptr<SnapshotWriter> shared(std::move(writer).value());
    asio::post(snapshot_pool_, [this, shared, height] {
      Status written = shared->write(home_.snapshots());
      asio::post(io_, [this, written, height] {
        snapshot_in_progress_ = false;
        if (!written.ok()) {
          spdlog::warn("snapshot at height {} failed: {}", height, written.error().message);
        }
      });
    });
  }
}

}  // namespace tally
