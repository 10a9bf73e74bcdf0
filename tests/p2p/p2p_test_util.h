#pragma once
// Helpers for the transport tests: an event recorder, a transport on 127.0.0.1 port 0, raw TCP
// clients that speak (or abuse) the protocol by hand, and bounded event-loop runs. Every wait has
// a deadline, so a broken transport fails a test instead of hanging it.

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "p2p/protocol.h"
#include "p2p/transport.h"

namespace tally::p2p::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tcp = asio::ip::tcp;

inline constexpr milliseconds kDeadline{10000};
inline const std::string kChain = "test-chain";

// Runs `io` until `done()` or the deadline; false on timeout.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      milliseconds timeout = kDeadline) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline)
      return false;
    io.restart();
    io.run_for(milliseconds(2));
  }
  return true;
}

// Runs `io` for about `duration`.
inline void run_for(asio::io_context& io, milliseconds duration) {
  Clock::time_point deadline = Clock::now() + duration;
  while (Clock::now() < deadline) {
    io.restart();
    io.run_for(milliseconds(2));
  }
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Recorder {
  std::vector<std::pair<PeerId, PublicKey>> connected;
  std::vector<std::pair<PeerId, Bytes>> messages;
  std::vector<std::pair<PeerId, std::string>> disconnected;
  std::vector<std::string> handshake_failures;

  Callbacks callbacks() {
    Callbacks callbacks;
    callbacks.on_connected = [this](PeerId peer, const PublicKey& key) {
      connected.emplace_back(peer, key);
    };
    callbacks.on_message = [this](PeerId peer, Bytes message) {
      messages.emplace_back(peer, std::move(message));
    };
    callbacks.on_disconnected = [this](PeerId peer, std::string reason) {
      disconnected.emplace_back(peer, std::move(reason));
    };
    callbacks.on_handshake_failed = [this](const std::string&, std::string reason) {
      handshake_failures.push_back(std::move(reason));
    };
    return callbacks;
  }

  bool failed_with(const std::string& part) const {
    for (const std::string& reason : handshake_failures) {
      if (contains(reason, part))
        return true;
    }
    return false;
  }
  bool disconnected_with(const std::string& part) const {
    for (const auto& [peer, reason] : disconnected) {
      if (contains(reason, part))
        return true;
    }
    return false;
  }
};

inline TransportConfig test_config() {
  TransportConfig config;
  config.chain_id = kChain;
  config.listen_host = "127.0.0.1";
  config.listen_port = 0;
  config.handshake_timeout_ms = 3000;
  config.idle_timeout_ms = 10000;
  config.ping_interval_ms = 1000;
  config.reconnect_initial_ms = 20;
  config.reconnect_max_ms = 200;
  config.peer_exchange_interval_ms = 100;
  config.housekeeping_interval_ms = 50;
  return config;
}

struct TestNode {
  TestNode(asio::io_context& io, TransportConfig config, SecretKey node_key = SecretKey::generate())
      : key(node_key) {
    transport = std::make_unique<Transport>(io, std::move(config), key, recorder.callbacks());
    Status status = transport->start();
    EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
  }

  PeerAddress address() const {
    return PeerAddress{"127.0.0.1", transport->listen_port(), key.public_key()};
  }
  const PublicKey& id() const { return key.public_key(); }

  std::optional<PeerInfo> peer(const PublicKey& node_key) const {
    for (const PeerInfo& info : transport->peers()) {
      if (info.node_key == node_key)
        return info;
    }
    return std::nullopt;
  }
  bool connected_to(const TestNode& other) const { return peer(other.id()).has_value(); }

  SecretKey key;
  Recorder recorder;
  std::unique_ptr<Transport> transport;
};

inline Bytes u32_le(uint32_t value) {
  return Bytes{static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
               static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
}

inline Bytes with_length(const Bytes& body) {
  Bytes frame = u32_le(static_cast<uint32_t>(body.size()));
  frame.insert(frame.end(), body.begin(), body.end());
  return frame;
}

// A bare TCP client on the test's io_context: writes what it is told, records what arrives and
// whether the other side closed the connection.
class RawClient {
 public:
  explicit RawClient(asio::io_context& io) : state_(std::make_shared<State>(io)) {}
  ~RawClient() {
    asio::error_code ignored;
    state_->socket.close(ignored);
  }

  bool connect(uint16_t port) {
    asio::error_code error;
    state_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), error);
    if (error)
      return false;
    read();
    return true;
  }

  void write(Bytes bytes) {
    auto buffer = std::make_shared<Bytes>(std::move(bytes));
    asio::async_write(state_->socket, asio::buffer(*buffer),
                      [buffer, state = state_](const asio::error_code& error, size_t) {
                        if (error)
                          state->write_failed = true;
                      });
  }

  bool closed() const { return state_->closed; }
  const Bytes& received() const { return state_->received; }

 private:
  struct State {
    explicit State(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::array<uint8_t, 4096> buffer{};
    Bytes received;
    bool closed = false;
    bool write_failed = false;
  };

  void read() { read_more(state_); }
  static void read_more(const std::shared_ptr<State>& state) {
    state->socket.async_read_some(
        asio::buffer(state->buffer), [state](const asio::error_code& error, size_t count) {
          if (error) {
            state->closed = true;
            return;
          }
          state->received.insert(state->received.end(), state->buffer.begin(),
                                 state->buffer.begin() + count);
          read_more(state);
        });
  }

  std::shared_ptr<State> state_;
};

// The dialer's half of the handshake, done by hand over a RawClient, so tests can send frames
// the Transport itself would never send.
struct ManualSession {
  std::unique_ptr<FrameCipher> transmit;
  std::unique_ptr<FrameCipher> receive;
  PublicKey server_key;
  size_t server_hello_frame_bytes = 0;
};

inline std::optional<ManualSession> manual_handshake(asio::io_context& io, RawClient& client,
                                                     const SecretKey& key,
                                                     const std::string& chain_id = kChain) {
  EphemeralKey ephemeral;
  Bytes my_hello = encode_hello(Hello{chain_id, ephemeral.public_key(), key.public_key()});
  client.write(with_length(my_hello));
  bool got_hello = run_until(io, [&] {
    const Bytes& received = client.received();
    return client.closed() ||
           (received.size() >= 4 && received.size() >= 4 + load_u32_le(received.data()));
  });
  if (!got_hello || client.closed())
    return std::nullopt;
  const Bytes& received = client.received();
  uint32_t length = load_u32_le(received.data());
  Bytes server_hello(received.begin() + 4, received.begin() + 4 + length);
  Result<Hello> hello = decode_hello(server_hello);
  if (!hello.ok())
    return std::nullopt;
  Result<SessionKeys> keys = ephemeral.derive(hello->ephemeral_key, /*dialer=*/true);
  if (!keys.ok())
    return std::nullopt;
  ManualSession session;
  session.server_key = hello->node_key;
  session.server_hello_frame_bytes = 4 + length;
  session.transmit = std::make_unique<FrameCipher>(keys->transmit);
  session.receive = std::make_unique<FrameCipher>(keys->receive);
  Signature signature =
      key.sign(handshake_signing_message(transcript_hash(my_hello, server_hello)));
  client.write(session.transmit->seal({signature.span()}).value());
  return session;
}

// A man in the middle: forwards bytes between a client and `target_port`, flipping one bit of the
// client-to-server stream at byte offset `flip_at`. freeze() makes it a black hole that keeps
// both connections open but forwards nothing more, not even a close: a half-open connection.
class FlipProxy {
 public:
  FlipProxy(asio::io_context& io, uint16_t target_port, size_t flip_at)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        target_port_(target_port),
        flip_at_(flip_at) {
    acceptor_.async_accept([this](const asio::error_code& error, tcp::socket socket) {
      if (error)
        return;
      auto client = std::make_shared<tcp::socket>(std::move(socket));
      auto server = std::make_shared<tcp::socket>(io_);
      asio::error_code connect_error;
      server->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), target_port_),
                      connect_error);
      if (connect_error)
        return;
      sockets_.push_back(client);
      sockets_.push_back(server);
      pump(client, server, flip_at_, frozen_);
      pump(server, client, std::nullopt, frozen_);
    });
  }
  ~FlipProxy() {
    asio::error_code ignored;
    acceptor_.close(ignored);
    for (auto& socket : sockets_)
      socket->close(ignored);
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void freeze() { *frozen_ = true; }

 private:
  struct Direction {
    std::shared_ptr<tcp::socket> from;
    std::shared_ptr<tcp::socket> to;
    std::optional<size_t> flip_at;
    std::shared_ptr<bool> frozen;
    size_t offset = 0;
    std::array<uint8_t, 16384> buffer{};
  };

  static void pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to,
                   std::optional<size_t> flip_at, std::shared_ptr<bool> frozen) {
    auto direction = std::make_shared<Direction>();
    direction->from = std::move(from);
    direction->to = std::move(to);
    direction->flip_at = flip_at;
    direction->frozen = std::move(frozen);
    step(direction);
  }

  static void step(const std::shared_ptr<Direction>& direction) {
    direction->from->async_read_some(
        asio::buffer(direction->buffer), [direction](const asio::error_code& error, size_t count) {
          if (*direction->frozen)
            return;
          if (error) {
            asio::error_code ignored;
            direction->to->shutdown(tcp::socket::shutdown_send, ignored);
            return;
          }
          if (direction->flip_at && *direction->flip_at >= direction->offset &&
              *direction->flip_at < direction->offset + count) {
            direction->buffer[*direction->flip_at - direction->offset] ^= 0x01;
          }
          direction->offset += count;
          asio::async_write(*direction->to, asio::buffer(direction->buffer.data(), count),
                            [direction](const asio::error_code& write_error, size_t) {
                              if (!write_error)
                                step(direction);
                            });
        });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  uint16_t target_port_;
  size_t flip_at_;
  std::shared_ptr<bool> frozen_ = std::make_shared<bool>(false);
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

}  // namespace tally::p2p::testing
