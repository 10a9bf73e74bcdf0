#include "p2p/transport.h"

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "p2p/protocol.h"

namespace tally::p2p {
namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kReadChunkBytes = 64 * 1024;  // receive buffers grow only as bytes arrive
constexpr size_t kMaxWriteBatchFrames = 64;
constexpr size_t kMaxWriteBatchBytes = 1024 * 1024;
constexpr size_t kEnvelopeOverhead = 1 + kTagBytes;  // type byte + tag
constexpr uint32_t kMaxLearnedFailures = 3;          // then a learned address is forgotten
constexpr size_t kMaxLearnedDialsPerRound = 4;
constexpr size_t kMinFrameBytes = 16 * 1024;
constexpr size_t kMaxFrameBytes = 1024 * 1024 * 1024;
constexpr milliseconds kAcceptRetryDelay{100};

// How much an address is trusted, by where it came from. A less trusted source never replaces
// an entry from a more trusted one.
enum class Trust : uint8_t {
  kGossip = 0,      // listed by some peer
  kAdvertised = 1,  // the node's own listening port, seen at the connection's source IP
  kVerified = 2,    // we dialed it and the node proved its key
};

std::string host_port_text(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string short_key(const PublicKey& key) {
  return key.hex().substr(0, 16);
}

// Text a hostile peer chose, made safe for logs.
std::string printable(std::string_view text) {
  std::string out;
  for (char character : text) {
    out.push_back(character >= 0x20 && character < 0x7f ? character : '?');
  }
  return out;
}

std::string error_text(const asio::error_code& error) {
  if (error == asio::error::eof)
    return "connection closed by peer";
  if (error == asio::error::connection_reset)
    return "connection reset by peer";
  return error.message();
}

}  // namespace

class Connection;

struct KnownAddress {
  std::string host;
  uint16_t port = 0;
  Trust trust = Trust::kGossip;
  uint32_t failures = 0;
  Clock::time_point next_attempt{};
};

struct PersistentSlot {
  PeerAddress address;
  std::optional<PublicKey> known_id;  // configured, or learned at the first handshake
  std::optional<PeerId> connection;   // our own dial in progress or established
  uint32_t backoff_ms = 0;
  std::unique_ptr<asio::steady_timer> timer;
  bool timer_pending = false;
  bool dialed_once = false;
  bool disabled = false;  // the address turned out to be ourselves
};

class Transport::Impl : public std::enable_shared_from_this<Transport::Impl> {
 public:
  Impl(asio::io_context& io_context, TransportConfig transport_config, SecretKey node_key,
       Callbacks transport_callbacks)
      : io(io_context),
        config(std::move(transport_config)),
        key(std::move(node_key)),
        callbacks(std::move(transport_callbacks)),
        acceptor(io_context),
        housekeeping_timer(io_context),
        accept_retry_timer(io_context) {
    uint64_t seed = 0;
    for (size_t index = 0; index < 8; ++index)
      seed = (seed << 8) | key.public_key().data[index];
    rng.seed(seed);
  }

  Status start();
  void stop();

  bool send(PeerId peer, ByteSpan message);
  size_t broadcast(ByteSpan message, std::optional<PeerId> except);
  std::vector<PeerInfo> peers() const;
  size_t peer_count() const;
  uint16_t listen_port() const;
  size_t known_count() const { return known.size(); }

  // Connection events.
  void on_established(const std::shared_ptr<Connection>& connection);
  void on_closed(Connection& connection, const std::string& reason, bool announced);
  void on_addresses(Connection& connection, const AddressesMessage& message);
  void deliver(Connection& connection, Bytes message);
  AddressesMessage address_sample(const PublicKey& recipient);

  asio::io_context& io;
  TransportConfig config;
  SecretKey key;
  Callbacks callbacks;
  TransportStats stats;
  bool stopped = false;

 private:
  void accept_next();
  void on_accept(const asio::error_code& error, tcp::socket socket);
  void dial(const std::string& host, uint16_t port, std::optional<PublicKey> expected,
            std::optional<size_t> slot, bool learned);
  void maintain_persistent();
  void schedule_slot(size_t index);
  void on_slot_timer(size_t index);
  void maybe_dial_learned();
  void schedule_housekeeping();
  bool has_established(const PublicKey& node_key) const;
  void remember(const PublicKey& node_key, const std::string& host, uint16_t port, Trust trust);
  void learned_failure(const PublicKey& node_key, bool forget);
  uint64_t jitter(uint64_t ms);

  tcp::acceptor acceptor;
  asio::steady_timer housekeeping_timer;
  asio::steady_timer accept_retry_timer;
  bool started = false;
  PeerId next_id = 1;
  std::map<PeerId, std::shared_ptr<Connection>> connections;
  std::vector<PersistentSlot> slots;
  std::map<PublicKey, KnownAddress> known;
  std::mt19937_64 rng;
};

using Impl = Transport::Impl;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { kConnecting, kHello, kSignature, kEstablished, kClosed };

  Connection(std::shared_ptr<Impl> owner, PeerId id, bool outbound, tcp::socket socket)
      : id_(id),
        outbound_(outbound),
        owner_(std::move(owner)),
        socket_(std::move(socket)),
        resolver_(owner_->io),
        timer_(owner_->io) {}

  void start_dial();
  void start_accepted();
  bool send_envelope(MessageType type, ByteSpan payload);
  void send_addresses();
  void close(const std::string& reason);
  void close_soon(const std::string& reason);
  void close_silently();
  void start_established_timer();

  bool closed() const { return state_ == State::kClosed; }
  bool usable() const { return state_ == State::kEstablished && !closing_; }

  // Set by the Transport.
  PeerId id_;
  bool outbound_;
  std::optional<size_t> slot_;
  bool learned_ = false;
  std::string dial_host_;
  uint16_t dial_port_ = 0;
  std::optional<PublicKey> expected_key_;

  // Learned during the handshake.
  std::string remote_text_;
  asio::ip::address remote_ip_;
  uint16_t remote_port_ = 0;
  PublicKey peer_key_;
  bool established_ = false;  // the handshake completed (even if it then lost a duplicate race)
  bool announced_ = false;    // on_connected was called
  bool key_mismatch_ = false;
  bool self_connection_ = false;
  Clock::time_point established_at_{};
  size_t queued_bytes_ = 0;

 private:
  void begin_handshake();
  void arm_timer(Clock::duration delay);
  void on_timer();
  void read_header();
  void on_header(const asio::error_code& error);
  void read_body();
  void on_body(const asio::error_code& error, size_t transferred);
  std::optional<std::string> check_length(uint32_t length) const;
  void handle_frame();
  void handle_hello();
  void handle_signature();
  void handle_message();
  bool enqueue(Bytes frame);
  void write_next();
  void on_written(const asio::error_code& error, size_t transferred);
  void finish_close();

  std::shared_ptr<Impl> owner_;  // released on close, which breaks the ownership cycle
  tcp::socket socket_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  Clock::duration tick_{};
  State state_ = State::kConnecting;
  bool closing_ = false;

  std::optional<EphemeralKey> ephemeral_;
  Bytes my_hello_;
  Hash256 transcript_;
  std::optional<FrameCipher> transmit_;
  std::optional<FrameCipher> receive_;

  std::array<uint8_t, kLengthPrefixBytes> header_{};
  Bytes body_;
  size_t body_expected_ = 0;
  size_t body_received_ = 0;

  std::deque<Bytes> queue_;
  std::vector<asio::const_buffer> write_buffers_;
  size_t writing_count_ = 0;
  bool writing_ = false;
  Clock::time_point write_started_{};

  Clock::time_point last_received_{};
  Clock::time_point last_ping_{};
  Clock::time_point last_exchange_{};
  std::optional<Clock::time_point> last_addresses_received_;
};

// ---------------------------------------------------------------------------------------------
// Connection

void Connection::start_dial() {
  remote_text_ = host_port_text(dial_host_, dial_port_);
  arm_timer(milliseconds(owner_->config.handshake_timeout_ms));
  auto self = shared_from_this();
  auto on_connect = [self](const asio::error_code& error) {
    if (self->closed())
      return;
    if (error) {
      self->close("connect failed: " + error.message());
      return;
    }
    self->begin_handshake();
  };
  asio::error_code error;
  asio::ip::address address = asio::ip::make_address(dial_host_, error);
  if (!error) {
    socket_.async_connect(tcp::endpoint(address, dial_port_), on_connect);
    return;
  }
  resolver_.async_resolve(
      dial_host_, std::to_string(dial_port_),
      [self, on_connect](const asio::error_code& resolve_error,
                         tcp::resolver::results_type results) {
        if (self->closed())
          return;
        if (resolve_error) {
          self->close("cannot resolve " + self->dial_host_ + ": " + resolve_error.message());
          return;
        }
        asio::async_connect(self->socket_, results,
                            [on_connect](const asio::error_code& connect_error,
                                         const tcp::endpoint&) { on_connect(connect_error); });
      });
}

void Connection::start_accepted() {
  arm_timer(milliseconds(owner_->config.handshake_timeout_ms));
  begin_handshake();
}

void Connection::begin_handshake() {
  asio::error_code error;
  socket_.set_option(tcp::no_delay(true), error);
  tcp::endpoint remote = socket_.remote_endpoint(error);
  if (error) {
    close("connection lost: " + error_text(error));
    return;
  }
  remote_ip_ = remote.address();
  if (remote_ip_.is_v6() && remote_ip_.to_v6().is_v4_mapped())
    remote_ip_ = asio::ip::make_address_v4(asio::ip::v4_mapped, remote_ip_.to_v6());
  remote_port_ = remote.port();
  remote_text_ = host_port_text(remote_ip_.to_string(), remote_port_);

  ephemeral_.emplace();
  my_hello_ = encode_hello(
      Hello{owner_->config.chain_id, ephemeral_->public_key(), owner_->key.public_key()});
  Bytes frame;
  frame.reserve(kLengthPrefixBytes + my_hello_.size());
  for (size_t index = 0; index < kLengthPrefixBytes; ++index) {
    frame.push_back(static_cast<uint8_t>(my_hello_.size() >> (8 * index)));
  }
  frame.insert(frame.end(), my_hello_.begin(), my_hello_.end());
  state_ = State::kHello;
  enqueue(std::move(frame));
  read_header();
}

void Connection::arm_timer(Clock::duration delay) {
  uint64_t generation = ++timer_generation_;
  timer_.expires_after(delay);
  timer_.async_wait([self = shared_from_this(), generation](const asio::error_code& error) {
    if (error || generation != self->timer_generation_)
      return;
    self->on_timer();
  });
}

void Connection::start_established_timer() {
  const TransportConfig& config = owner_->config;
  Clock::time_point now = Clock::now();
  last_received_ = now;
  last_ping_ = now;
  last_exchange_ = now;
  uint32_t tick_ms = std::min({config.ping_interval_ms, std::max(config.idle_timeout_ms / 4, 1u),
                               static_cast<uint32_t>(1000)});
  if (config.peer_exchange)
    tick_ms = std::min(tick_ms, config.peer_exchange_interval_ms);
  tick_ = milliseconds(std::max(tick_ms, 5u));
  arm_timer(tick_);
}

void Connection::on_timer() {
  if (closed() || closing_)
    return;
  const TransportConfig& config = owner_->config;
  if (state_ != State::kEstablished) {
    close("handshake timeout (" + std::to_string(config.handshake_timeout_ms) + " ms)");
    return;
  }
  Clock::time_point now = Clock::now();
  if (now - last_received_ >= milliseconds(config.idle_timeout_ms)) {
    close("idle timeout: no frame received for " + std::to_string(config.idle_timeout_ms) + " ms");
    return;
  }
  if (writing_ && now - write_started_ >= milliseconds(config.idle_timeout_ms)) {
    close("write stalled for " + std::to_string(config.idle_timeout_ms) + " ms");
    return;
  }
  if (now - last_ping_ >= milliseconds(config.ping_interval_ms)) {
    last_ping_ = now;
    if (!send_envelope(MessageType::kPing, {}))
      return;
  }
  if (config.peer_exchange &&
      now - last_exchange_ >= milliseconds(config.peer_exchange_interval_ms)) {
    send_addresses();
    if (!usable())
      return;
  }
  arm_timer(tick_);
}

void Connection::read_header() {
  asio::async_read(socket_, asio::buffer(header_),
                   [self = shared_from_this()](const asio::error_code& error, size_t) {
                     self->on_header(error);
                   });
}

void Connection::on_header(const asio::error_code& error) {
  if (closed() || closing_)
    return;
  if (error) {
    close(state_ == State::kEstablished ? error_text(error) : "handshake: " + error_text(error));
    return;
  }
  owner_->stats.bytes_received += kLengthPrefixBytes;
  uint32_t length = load_u32_le(header_.data());
  if (std::optional<std::string> problem = check_length(length)) {
    close(*problem);
    return;
  }
  body_expected_ = length;
  body_received_ = 0;
  body_.clear();
  read_body();
}

std::optional<std::string> Connection::check_length(uint32_t length) const {
  std::string size = std::to_string(length) + " bytes";
  switch (state_) {
    case State::kHello:
      if (length > kMaxHelloBytes)
        return "hello frame too large (" + size + ", max " + std::to_string(kMaxHelloBytes) + ")";
      if (length < kMinHelloBytes)
        return "hello frame too small (" + size + ")";
      return std::nullopt;
    case State::kSignature:
      if (length != kSignatureFrameBytes) {
        return "handshake frame has " + size + ", expected " + std::to_string(kSignatureFrameBytes);
      }
      return std::nullopt;
    case State::kEstablished: {
      size_t limit = owner_->config.max_frame_bytes + kEnvelopeOverhead;
      if (length > limit)
        return "frame too large (" + size + ", max " + std::to_string(limit) + ")";
      if (length < kEnvelopeOverhead)
        return "frame too small (" + size + ")";
      return std::nullopt;
    }
    default:
      return "unexpected frame";
  }
}

void Connection::read_body() {
  size_t chunk = std::min(kReadChunkBytes, body_expected_ - body_received_);
  body_.resize(body_received_ + chunk);
  socket_.async_read_some(
      asio::buffer(body_.data() + body_received_, chunk),
      [self = shared_from_this()](const asio::error_code& error, size_t transferred) {
        self->on_body(error, transferred);
      });
}

void Connection::on_body(const asio::error_code& error, size_t transferred) {
  if (closed() || closing_)
    return;
  if (error) {
    close(state_ == State::kEstablished ? error_text(error) : "handshake: " + error_text(error));
    return;
  }
  owner_->stats.bytes_received += transferred;
  body_received_ += transferred;
  if (body_received_ < body_expected_) {
    read_body();
    return;
  }
  // Keeps the Transport alive even if a callback below closes this connection.
  std::shared_ptr<Impl> owner = owner_;
  handle_frame();
  if (closed() || closing_)
    return;
  if (body_.capacity() > 4 * kReadChunkBytes)
    body_ = Bytes();  // do not keep a large buffer per idle connection
  read_header();
}

void Connection::handle_frame() {
  switch (state_) {
    case State::kHello:
      handle_hello();
      return;
    case State::kSignature:
      handle_signature();
      return;
    case State::kEstablished:
      handle_message();
      return;
    default:
      return;
  }
}

void Connection::handle_hello() {
  const TransportConfig& config = owner_->config;
  Result<Hello> hello = decode_hello(body_);
  if (!hello.ok()) {
    close("bad hello (" + hello.error().code + "): " + hello.error().message);
    return;
  }
  if (hello->chain_id != config.chain_id) {
    close("wrong chain id \"" + printable(hello->chain_id) + "\" (expected \"" + config.chain_id +
          "\")");
    return;
  }
  if (hello->node_key == owner_->key.public_key()) {
    self_connection_ = true;
    key_mismatch_ = true;
    close("connection to self");
    return;
  }
  if (expected_key_ && hello->node_key != *expected_key_) {
    key_mismatch_ = true;
    close("unexpected node key " + short_key(hello->node_key) + "… (expected " +
          short_key(*expected_key_) + "…)");
    return;
  }
  Result<SessionKeys> keys = ephemeral_->derive(hello->ephemeral_key, outbound_);
  ephemeral_.reset();
  if (!keys.ok()) {
    close("handshake failed: " + keys.error().message);
    return;
  }
  peer_key_ = hello->node_key;
  transmit_.emplace(keys->transmit);
  receive_.emplace(keys->receive);
  transcript_ = outbound_ ? transcript_hash(my_hello_, body_) : transcript_hash(body_, my_hello_);
  my_hello_ = Bytes();

  Signature signature = owner_->key.sign(handshake_signing_message(transcript_));
  Result<Bytes> frame = transmit_->seal({signature.span()});
  TALLY_ASSERT(frame.ok());  // the first frame of a fresh key
  state_ = State::kSignature;
  enqueue(std::move(frame.value()));
}

void Connection::handle_signature() {
  if (!receive_->open(body_).ok()) {
    close("handshake authentication failed (tampered or wrong key)");
    return;
  }
  Signature signature = Signature::from_span(ByteSpan(body_.data(), Signature::kSize));
  if (!verify_signature(peer_key_, handshake_signing_message(transcript_), signature)) {
    close("bad handshake signature");
    return;
  }
  state_ = State::kEstablished;
  established_ = true;
  established_at_ = Clock::now();
  owner_->on_established(shared_from_this());
}

void Connection::handle_message() {
  if (!receive_->open(body_).ok()) {
    close("authentication failed: tampered, corrupt or out-of-order frame");
    return;
  }
  last_received_ = Clock::now();
  size_t plaintext_size = body_expected_ - kTagBytes;
  uint8_t type = body_[0];
  switch (static_cast<MessageType>(type)) {
    case MessageType::kApplication: {
      Bytes message = std::move(body_);
      body_ = Bytes();
      message.resize(plaintext_size);
      message.erase(message.begin());
      owner_->deliver(*this, std::move(message));
      return;
    }
    case MessageType::kPing:
      if (plaintext_size != 1) {
        close("malformed ping");
        return;
      }
      send_envelope(MessageType::kPong, {});
      return;
    case MessageType::kPong:
      if (plaintext_size != 1)
        close("malformed pong");
      return;
    case MessageType::kAddresses: {
      Result<AddressesMessage> message =
          decode_addresses(ByteSpan(body_.data() + 1, plaintext_size - 1));
      if (!message.ok()) {
        close("malformed peer addresses (" + message.error().code +
              "): " + message.error().message);
        return;
      }
      // Honest peers send one sample per peer_exchange_interval; extra ones are ignored, so a
      // peer cannot make us churn the address book or dial at its pace.
      const TransportConfig& config = owner_->config;
      Clock::time_point now = Clock::now();
      if (!config.peer_exchange ||
          (last_addresses_received_ &&
           now - *last_addresses_received_ < milliseconds(config.peer_exchange_interval_ms / 2))) {
        return;
      }
      last_addresses_received_ = now;
      owner_->on_addresses(*this, *message);
      return;
    }
  }
  close("unknown message type " + std::to_string(type));
}

bool Connection::send_envelope(MessageType type, ByteSpan payload) {
  if (!usable())
    return false;
  uint8_t type_byte = static_cast<uint8_t>(type);
  Result<Bytes> frame = transmit_->seal({ByteSpan(&type_byte, 1), payload});
  if (!frame.ok()) {
    close_soon("frame counter exhausted");
    return false;
  }
  return enqueue(std::move(frame.value()));
}

void Connection::send_addresses() {
  last_exchange_ = Clock::now();
  send_envelope(MessageType::kAddresses, encode_addresses(owner_->address_sample(peer_key_)));
}

bool Connection::enqueue(Bytes frame) {
  if (closed() || closing_)
    return false;
  size_t limit = owner_->config.max_send_queue_bytes;
  if (queued_bytes_ + frame.size() > limit) {
    ++owner_->stats.slow_peer_disconnects;
    close_soon("slow peer: send queue would exceed " + std::to_string(limit) + " bytes");
    return false;
  }
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  write_next();
  return true;
}

void Connection::write_next() {
  if (writing_ || queue_.empty() || closed())
    return;
  write_buffers_.clear();
  size_t bytes = 0;
  for (const Bytes& frame : queue_) {
    if (write_buffers_.size() == kMaxWriteBatchFrames ||
        (!write_buffers_.empty() && bytes + frame.size() > kMaxWriteBatchBytes)) {
      break;
    }
    write_buffers_.push_back(asio::buffer(frame));
    bytes += frame.size();
  }
  writing_count_ = write_buffers_.size();
  writing_ = true;
  write_started_ = Clock::now();
  asio::async_write(socket_, write_buffers_,
                    [self = shared_from_this()](const asio::error_code& error, size_t written) {
                      self->on_written(error, written);
                    });
}

void Connection::on_written(const asio::error_code& error, size_t transferred) {
  writing_ = false;
  if (closed())
    return;
  if (error) {
    close("write failed: " + error_text(error));
    return;
  }
  owner_->stats.bytes_sent += transferred;
  for (size_t index = 0; index < writing_count_; ++index) {
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  writing_count_ = 0;
  write_next();
}

void Connection::close_soon(const std::string& reason) {
  if (closed() || closing_)
    return;
  closing_ = true;
  asio::post(owner_->io, [self = shared_from_this(), reason] {
    self->closing_ = false;
    self->close(reason);
  });
}

void Connection::finish_close() {
  state_ = State::kClosed;
  ++timer_generation_;
  timer_.cancel();
  resolver_.cancel();
  asio::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  ephemeral_.reset();
  if (transmit_)
    transmit_->wipe();
  if (receive_)
    receive_->wipe();
  // Frames handed to an in-flight write stay alive until its handler has run.
  size_t in_flight = writing_ ? writing_count_ : 0;
  while (queue_.size() > in_flight)
    queue_.pop_back();
  queued_bytes_ = 0;
}

void Connection::close(const std::string& reason) {
  if (closed())
    return;
  std::shared_ptr<Connection> self = shared_from_this();
  bool announced = announced_;
  finish_close();
  std::shared_ptr<Impl> owner = std::move(owner_);
  if (owner)
    owner->on_closed(*this, reason, announced);
}

void Connection::close_silently() {
  if (closed())
    return;
  finish_close();
  owner_.reset();
}

// ---------------------------------------------------------------------------------------------
// Transport::Impl

Status Impl::start() {
  if (started || stopped)
    return make_error("invalid_state", "a Transport can be started only once");
  TALLY_TRY(config.validate());
  asio::error_code error;
  asio::ip::address address = asio::ip::make_address(config.listen_host, error);
  if (error) {
    return make_error("invalid_config",
                      "listen_host \"" + config.listen_host + "\" is not an IP address");
  }
  tcp::endpoint endpoint(address, config.listen_port);
  std::string where = host_port_text(config.listen_host, config.listen_port);
  acceptor.open(endpoint.protocol(), error);
  if (!error)
    acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error)
    acceptor.bind(endpoint, error);
  if (!error)
    acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    asio::error_code ignored;
    acceptor.close(ignored);
    return make_error("io_error", "cannot listen on " + where + ": " + error.message());
  }
  started = true;
  for (const PeerAddress& peer : config.persistent_peers) {
    PersistentSlot slot;
    slot.address = peer;
    slot.known_id = peer.node_id;
    slot.backoff_ms = config.reconnect_initial_ms;
    slot.timer = std::make_unique<asio::steady_timer>(io);
    slots.push_back(std::move(slot));
  }
  accept_next();
  maintain_persistent();
  schedule_housekeeping();
  return Status::success();
}

void Impl::stop() {
  if (stopped)
    return;
  stopped = true;
  asio::error_code ignored;
  acceptor.close(ignored);
  housekeeping_timer.cancel();
  accept_retry_timer.cancel();
  for (PersistentSlot& slot : slots)
    slot.timer->cancel();
  std::map<PeerId, std::shared_ptr<Connection>> open = std::move(connections);
  connections.clear();
  for (auto& [id, connection] : open)
    connection->close_silently();
}

void Impl::accept_next() {
  acceptor.async_accept(
      [self = shared_from_this()](const asio::error_code& error, tcp::socket socket) {
        self->on_accept(error, std::move(socket));
      });
}

void Impl::on_accept(const asio::error_code& error, tcp::socket socket) {
  if (stopped)
    return;
  if (error) {
    if (error == asio::error::operation_aborted)
      return;
    // Out of descriptors or similar: try again shortly rather than spinning.
    accept_retry_timer.expires_after(kAcceptRetryDelay);
    accept_retry_timer.async_wait([self = shared_from_this()](const asio::error_code& wait_error) {
      if (!wait_error && !self->stopped)
        self->accept_next();
    });
    return;
  }
  size_t inbound = 0;
  for (const auto& [id, connection] : connections) {
    if (!connection->outbound_)
      ++inbound;
  }
  if (inbound >= config.max_inbound_peers) {
    asio::error_code ignored;
    tcp::endpoint remote = socket.remote_endpoint(ignored);
    socket.close(ignored);
    ++stats.handshakes_failed;
    if (callbacks.on_handshake_failed) {
      callbacks.on_handshake_failed(host_port_text(remote.address().to_string(), remote.port()),
                                    "too many inbound peers");
    }
    if (!stopped)
      accept_next();
    return;
  }
  auto connection =
      std::make_shared<Connection>(shared_from_this(), next_id++, false, std::move(socket));
  connections.emplace(connection->id_, connection);
  connection->start_accepted();
  if (!stopped)
    accept_next();
}

void Impl::dial(const std::string& host, uint16_t port, std::optional<PublicKey> expected,
                std::optional<size_t> slot, bool learned) {
  auto connection =
      std::make_shared<Connection>(shared_from_this(), next_id++, true, tcp::socket(io));
  connection->dial_host_ = host;
  connection->dial_port_ = port;
  connection->expected_key_ = expected;
  connection->slot_ = slot;
  connection->learned_ = learned;
  connections.emplace(connection->id_, connection);
  if (slot)
    slots[*slot].connection = connection->id_;
  connection->start_dial();
}

bool Impl::has_established(const PublicKey& node_key) const {
  for (const auto& [id, connection] : connections) {
    if (connection->established_ && connection->peer_key_ == node_key)
      return true;
  }
  return false;
}

uint64_t Impl::jitter(uint64_t ms) {
  if (ms == 0)
    return 0;
  uint64_t half = ms / 2;
  return half + rng() % (ms - half + 1);
}

void Impl::maintain_persistent() {
  for (size_t index = 0; index < slots.size(); ++index) {
    PersistentSlot& slot = slots[index];
    if (slot.disabled || slot.connection || slot.timer_pending)
      continue;
    if (slot.known_id && has_established(*slot.known_id))
      continue;  // already connected to that node, whoever dialed
    schedule_slot(index);
  }
}

void Impl::schedule_slot(size_t index) {
  PersistentSlot& slot = slots[index];
  uint64_t delay = 0;
  if (slot.dialed_once) {
    delay = jitter(slot.backoff_ms);
    slot.backoff_ms = std::min(slot.backoff_ms * 2, config.reconnect_max_ms);
  }
  slot.dialed_once = true;
  slot.timer_pending = true;
  slot.timer->expires_after(milliseconds(delay));
  slot.timer->async_wait([self = shared_from_this(), index](const asio::error_code& error) {
    if (error || self->stopped)
      return;
    self->on_slot_timer(index);
  });
}

void Impl::on_slot_timer(size_t index) {
  PersistentSlot& slot = slots[index];
  slot.timer_pending = false;
  if (slot.disabled || slot.connection)
    return;
  if (slot.known_id && has_established(*slot.known_id))
    return;
  dial(slot.address.host, slot.address.port, slot.address.node_id, index, false);
}

void Impl::schedule_housekeeping() {
  housekeeping_timer.expires_after(milliseconds(config.housekeeping_interval_ms));
  housekeeping_timer.async_wait([self = shared_from_this()](const asio::error_code& error) {
    if (error || self->stopped)
      return;
    self->maintain_persistent();
    self->maybe_dial_learned();
    self->schedule_housekeeping();
  });
}

void Impl::remember(const PublicKey& node_key, const std::string& host, uint16_t port,
                    Trust trust) {
  if (node_key == key.public_key() || port == 0)
    return;
  auto found = known.find(node_key);
  if (found != known.end()) {
    KnownAddress& entry = found->second;
    if (trust != Trust::kGossip && trust >= entry.trust &&
        (entry.host != host || entry.port != port || entry.trust != trust)) {
      entry.host = host;
      entry.port = port;
      entry.trust = trust;
    }
    return;
  }
  if (config.max_known_addresses == 0)
    return;
  if (known.size() >= config.max_known_addresses) {
    // Evict a random entry no more trusted than the newcomer and not in use; else drop it.
    std::set<PublicKey> busy;
    for (const auto& [id, connection] : connections) {
      busy.insert(connection->peer_key_);
      if (connection->expected_key_)
        busy.insert(*connection->expected_key_);
    }
    std::vector<PublicKey> candidates;
    for (const auto& [candidate, entry] : known) {
      if (entry.trust <= trust && !busy.contains(candidate))
        candidates.push_back(candidate);
    }
    if (candidates.empty())
      return;
    known.erase(candidates[rng() % candidates.size()]);
  }
  known.emplace(node_key, KnownAddress{host, port, trust, 0, {}});
}

void Impl::learned_failure(const PublicKey& node_key, bool forget) {
  auto found = known.find(node_key);
  if (found == known.end())
    return;
  KnownAddress& entry = found->second;
  if (forget || ++entry.failures >= kMaxLearnedFailures) {
    known.erase(found);
    return;
  }
  uint64_t backoff = std::min<uint64_t>(uint64_t{config.reconnect_initial_ms} << entry.failures,
                                        config.reconnect_max_ms);
  entry.next_attempt = Clock::now() + milliseconds(jitter(backoff));
}

void Impl::maybe_dial_learned() {
  if (stopped || !config.peer_exchange)
    return;
  size_t outbound = 0;
  std::set<PublicKey> busy;
  for (const auto& [id, connection] : connections) {
    if (connection->outbound_)
      ++outbound;
    if (connection->established_)
      busy.insert(connection->peer_key_);
    if (connection->expected_key_)
      busy.insert(*connection->expected_key_);
  }
  for (const PersistentSlot& slot : slots) {
    if (slot.known_id)
      busy.insert(*slot.known_id);
  }
  if (outbound >= config.max_outbound_peers)
    return;
  size_t budget = std::min(config.max_outbound_peers - outbound, kMaxLearnedDialsPerRound);
  Clock::time_point now = Clock::now();
  std::vector<std::pair<PublicKey, KnownAddress>> candidates;
  for (const auto& [node_key, entry] : known) {
    if (!busy.contains(node_key) && entry.next_attempt <= now)
      candidates.emplace_back(node_key, entry);
  }
  std::shuffle(candidates.begin(), candidates.end(), rng);
  if (candidates.size() > budget)
    candidates.resize(budget);
  for (const auto& [node_key, entry] : candidates) {
    if (stopped)
      return;
    dial(entry.host, entry.port, node_key, std::nullopt, true);
  }
}

AddressesMessage Impl::address_sample(const PublicKey& recipient) {
  AddressesMessage message;
  message.listen_port = listen_port();
  std::vector<AddressEntry> candidates;
  for (const auto& [node_key, entry] : known) {
    if (entry.trust == Trust::kVerified && node_key != recipient)
      candidates.push_back(AddressEntry{entry.host, entry.port, node_key});
  }
  std::shuffle(candidates.begin(), candidates.end(), rng);
  if (candidates.size() > kMaxAddressesPerMessage)
    candidates.resize(kMaxAddressesPerMessage);
  message.entries = std::move(candidates);
  return message;
}

void Impl::on_established(const std::shared_ptr<Connection>& connection) {
  ++stats.handshakes_completed;
  const PublicKey& me = key.public_key();
  const PublicKey peer = connection->peer_key_;
  if (connection->slot_) {
    PersistentSlot& slot = slots[*connection->slot_];
    slot.backoff_ms = config.reconnect_initial_ms;
    if (!slot.known_id)
      slot.known_id = peer;
  }
  if (connection->outbound_) {
    remember(peer, connection->remote_ip_.to_string(), connection->remote_port_, Trust::kVerified);
  }

  // One connection per node. Two handshakes that finish close together (simultaneous dials) keep
  // the connection dialed by the smaller node key, which both ends agree on; if the same side
  // dialed both, the older. A connection much older than the new one is presumed stale (the peer
  // restarted without us noticing yet) and replaced, so a restarted peer is not shut out until
  // the idle timeout.
  std::shared_ptr<Connection> existing;
  for (const auto& [id, other] : connections) {
    if (other != connection && other->established_ && other->peer_key_ == peer) {
      existing = other;
      break;
    }
  }
  if (existing) {
    const PublicKey& preferred = std::min(me, peer);
    bool new_preferred = (connection->outbound_ ? me : peer) == preferred;
    bool old_preferred = (existing->outbound_ ? me : peer) == preferred;
    bool old_is_stale = connection->established_at_ - existing->established_at_ >
                        milliseconds(2 * uint64_t{config.handshake_timeout_ms});
    const std::string reason = "duplicate connection to node " + short_key(peer) + "…";
    if (old_is_stale || (new_preferred && !old_preferred)) {
      existing->close(reason);
      if (connection->closed())
        return;
    } else {
      connection->close(reason);
      return;
    }
  }

  connection->announced_ = true;
  connection->start_established_timer();
  if (callbacks.on_connected) {
    try {
      callbacks.on_connected(connection->id_, peer);
    } catch (const std::exception& exception) {
      connection->close(std::string("on_connected threw: ") + exception.what());
      return;
    }
  }
  if (connection->usable() && config.peer_exchange)
    connection->send_addresses();
}

void Impl::deliver(Connection& connection, Bytes message) {
  ++stats.messages_received;
  if (!callbacks.on_message)
    return;
  try {
    callbacks.on_message(connection.id_, std::move(message));
  } catch (const std::exception& exception) {
    connection.close(std::string("on_message threw: ") + exception.what());
  }
}

void Impl::on_addresses(Connection& connection, const AddressesMessage& message) {
  if (message.listen_port != 0 && !connection.outbound_) {
    remember(connection.peer_key_, connection.remote_ip_.to_string(), message.listen_port,
             Trust::kAdvertised);
  }
  for (const AddressEntry& entry : message.entries) {
    remember(entry.node_id, entry.host, entry.port, Trust::kGossip);
  }
  maybe_dial_learned();
}

void Impl::on_closed(Connection& connection, const std::string& reason, bool announced) {
  connections.erase(connection.id_);
  if (!connection.established_)
    ++stats.handshakes_failed;
  if (connection.slot_) {
    PersistentSlot& slot = slots[*connection.slot_];
    if (slot.connection == connection.id_)
      slot.connection.reset();
    if (connection.self_connection_)
      slot.disabled = true;
  }
  if (connection.learned_ && connection.expected_key_)
    learned_failure(*connection.expected_key_, connection.key_mismatch_);
  if (stopped)
    return;
  try {
    if (announced) {
      if (callbacks.on_disconnected)
        callbacks.on_disconnected(connection.id_, reason);
    } else if (callbacks.on_handshake_failed) {
      callbacks.on_handshake_failed(connection.remote_text_, reason);
    }
  } catch (const std::exception&) {
    // A failing log callback must not take the event loop down.
  }
  if (!stopped)
    maintain_persistent();
}

bool Impl::send(PeerId peer, ByteSpan message) {
  if (stopped)
    return false;
  auto found = connections.find(peer);
  if (found == connections.end())
    return false;
  Connection& connection = *found->second;
  if (!connection.announced_ || !connection.usable() || message.size() > config.max_frame_bytes)
    return false;
  if (!connection.send_envelope(MessageType::kApplication, message))
    return false;
  ++stats.messages_sent;
  return true;
}

size_t Impl::broadcast(ByteSpan message, std::optional<PeerId> except) {
  std::vector<PeerId> targets;
  for (const auto& [id, connection] : connections) {
    if (connection->announced_ && id != except)
      targets.push_back(id);
  }
  size_t sent = 0;
  for (PeerId id : targets) {
    if (send(id, message))
      ++sent;
  }
  return sent;
}

std::vector<PeerInfo> Impl::peers() const {
  std::vector<PeerInfo> out;
  for (const auto& [id, connection] : connections) {
    if (!connection->announced_)
      continue;
    PeerInfo info;
    info.id = id;
    info.node_key = connection->peer_key_;
    info.address = connection->remote_text_;
    info.outbound = connection->outbound_;
    info.persistent = connection->slot_.has_value();
    info.bytes_queued = connection->queued_bytes_;
    out.push_back(std::move(info));
  }
  return out;
}

size_t Impl::peer_count() const {
  size_t count = 0;
  for (const auto& [id, connection] : connections) {
    if (connection->announced_)
      ++count;
  }
  return count;
}

uint16_t Impl::listen_port() const {
  asio::error_code error;
  tcp::endpoint endpoint = acceptor.local_endpoint(error);
  return error ? 0 : endpoint.port();
}

// ---------------------------------------------------------------------------------------------
// TransportConfig and Transport

Status TransportConfig::validate() const {
  auto invalid = [](const std::string& message) { return make_error("invalid_config", message); };
  if (chain_id.empty() || chain_id.size() > kMaxChainIdBytes)
    return invalid("chain_id must be 1 to " + std::to_string(kMaxChainIdBytes) + " bytes");
  if (max_frame_bytes < kMinFrameBytes || max_frame_bytes > kMaxFrameBytes) {
    return invalid("max_frame_bytes must be between " + std::to_string(kMinFrameBytes) + " and " +
                   std::to_string(kMaxFrameBytes));
  }
  if (max_send_queue_bytes < max_frame_bytes + kLengthPrefixBytes + kEnvelopeOverhead)
    return invalid("max_send_queue_bytes must hold at least one frame of max_frame_bytes");
  if (handshake_timeout_ms == 0)
    return invalid("handshake_timeout_ms must be positive");
  if (ping_interval_ms == 0 || idle_timeout_ms <= ping_interval_ms)
    return invalid("ping_interval_ms must be positive and below idle_timeout_ms");
  if (reconnect_initial_ms == 0 || reconnect_initial_ms > reconnect_max_ms)
    return invalid("reconnect_initial_ms must be positive and at most reconnect_max_ms");
  if (peer_exchange_interval_ms == 0 || housekeeping_interval_ms == 0)
    return invalid("peer_exchange_interval_ms and housekeeping_interval_ms must be positive");
  for (const PeerAddress& peer : persistent_peers) {
    if (peer.host.empty() || peer.port == 0)
      return invalid("persistent peer \"" + peer.host + ":" + std::to_string(peer.port) +
                     "\" needs a host and a non-zero port");
  }
  return Status::success();
}

Transport::Transport(asio::io_context& io, TransportConfig config, SecretKey node_key,
                     Callbacks callbacks)
    : impl_(std::make_shared<Impl>(io, std::move(config), std::move(node_key),
                                   std::move(callbacks))) {}

Transport::~Transport() {
  impl_->stop();
}

Status Transport::start() {
  return impl_->start();
}
void Transport::stop() {
  impl_->stop();
}
bool Transport::send(PeerId peer, ByteSpan message) {
  return impl_->send(peer, message);
}
size_t Transport::broadcast(ByteSpan message, std::optional<PeerId> except) {
  return impl_->broadcast(message, except);
}
std::vector<PeerInfo> Transport::peers() const {
  return impl_->peers();
}
size_t Transport::peer_count() const {
  return impl_->peer_count();
}
uint16_t Transport::listen_port() const {
  return impl_->listen_port();
}
const PublicKey& Transport::node_id() const {
  return impl_->key.public_key();
}
TransportStats Transport::stats() const {
  TransportStats out = impl_->stats;
  out.known_addresses = impl_->known_count();
  return out;
}

}  // namespace tally::p2p
