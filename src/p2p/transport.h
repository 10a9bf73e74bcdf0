#pragma once
// The authenticated, encrypted peer-to-peer transport. Messages are opaque byte strings here;
// the node encodes and decodes them. Every connection starts with a handshake that proves each
// side holds its node key and agrees on the chain id (see protocol.h and src/p2p/README.md),
// then carries ChaCha20-Poly1305 frames, one key per direction.
//
// Threading: a Transport runs on an asio::io_context owned by the caller and is not
// thread-safe. Call every member function from the thread that runs the io_context (or before
// it runs); every callback is invoked on that thread. Callbacks may call send(), broadcast(),
// peers() and stop(), but must not destroy the Transport.
//
// Lifetime: destroy the Transport before the io_context. The destructor stops the transport;
// handlers still queued on the io_context keep the internals alive until they run (or the
// io_context is destroyed) and then do nothing.
//
// Bounds: frame size, hello size, send queue (per peer, in bytes), inbound and outbound peer
// counts, known addresses and address messages are all limited; a peer that breaks a limit is
// disconnected, never buffered without bound.

#include <asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/ed25519.h"

namespace tally::p2p {

using PeerId = uint64_t;  // assigned per connection, never reused within a Transport

// A node's network identity: its node key. The node id is the public key.
struct NodeIdentity {
  SecretKey node_key;

  const PublicKey& node_id() const { return node_key.public_key(); }
};

struct PeerAddress {
  std::string host;  // IP literal or host name
  uint16_t port = 0;
  // For persistent peers from the config: the node key the peer must prove it holds.
  std::optional<PublicKey> node_id;
};

struct TransportConfig {
  std::string chain_id;
  std::string listen_host = "127.0.0.1";  // an IP literal; "0.0.0.0" or "::" for all
  uint16_t listen_port = 0;               // 0 = any free port (see Transport::listen_port())
  // Dialed at start and redialed forever, with exponential backoff, whenever not connected.
  std::vector<PeerAddress> persistent_peers;

  size_t max_frame_bytes = 16 * 1024 * 1024;       // largest application message
  size_t max_send_queue_bytes = 64 * 1024 * 1024;  // per peer; above it: "slow peer"
  uint32_t handshake_timeout_ms = 5000;            // from dial start or accept
  uint32_t idle_timeout_ms = 60000;                // no frame received for this long: drop
  uint32_t ping_interval_ms = 15000;
  uint32_t reconnect_initial_ms = 250;
  uint32_t reconnect_max_ms = 10000;
  size_t max_inbound_peers = 40;   // inbound connections, including those in handshake
  size_t max_outbound_peers = 20;  // bounds dials of learned addresses (persistent always dial)

  bool peer_exchange = true;
  size_t max_known_addresses = 1000;
  uint32_t peer_exchange_interval_ms = 30000;  // address sample resent to each peer
  uint32_t housekeeping_interval_ms = 1000;    // retries of learned addresses

  // Error code "invalid_config" naming the field.
  Status validate() const;
};

struct PeerInfo {
  PeerId id = 0;
  PublicKey node_key;
  std::string address;  // remote endpoint, "ip:port" ("[ip]:port" for IPv6)
  bool outbound = false;
  bool persistent = false;  // dialed for a configured persistent peer
  size_t bytes_queued = 0;  // encrypted bytes waiting to be written
};

struct TransportStats {
  uint64_t handshakes_completed = 0;
  uint64_t handshakes_failed = 0;
  uint64_t messages_sent = 0;  // application messages queued
  uint64_t messages_received = 0;
  uint64_t bytes_sent = 0;  // bytes written to sockets, all frames
  uint64_t bytes_received = 0;
  uint64_t slow_peer_disconnects = 0;
  size_t known_addresses = 0;
};

struct Callbacks {
  // A peer completed the handshake. `node_key` is proven (it signed the transcript).
  std::function<void(PeerId, const PublicKey& node_key)> on_connected;
  std::function<void(PeerId, Bytes message)> on_message;
  // Only for peers that were announced by on_connected; never after stop().
  std::function<void(PeerId, std::string reason)> on_disconnected;
  // Optional: a connection that ended before its handshake completed (for logs and tests).
  // `remote` is the endpoint or the dialed "host:port".
  std::function<void(const std::string& remote, std::string reason)> on_handshake_failed;
};

class Transport {
 public:
  Transport(asio::io_context& io, TransportConfig config, SecretKey node_key, Callbacks callbacks);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Validates the config, binds and listens, then dials the persistent peers. Errors:
  // "invalid_config", "io_error" (e.g. the port is taken). Call once.
  Status start();
  // Closes the listener and every connection and cancels every timer. No callback is invoked
  // during or after stop(). Idempotent. A stopped Transport cannot be restarted.
  void stop();

  // Queues an application message for one peer. Returns false (and sends nothing) if the peer
  // is unknown, not yet (or no longer) connected, or the message exceeds max_frame_bytes. A
  // peer whose send queue would exceed max_send_queue_bytes is disconnected ("slow peer");
  // its on_disconnected arrives later on the io_context, never inside this call.
  bool send(PeerId peer, ByteSpan message);
  // send() to every connected peer except `except`; returns how many accepted the message.
  size_t broadcast(ByteSpan message, std::optional<PeerId> except = std::nullopt);

  // Connected peers (handshake complete), by PeerId.
  std::vector<PeerInfo> peers() const;
  size_t peer_count() const;
  // The bound port (useful with listen_port 0); 0 before start().
  uint16_t listen_port() const;
  const PublicKey& node_id() const;
  TransportStats stats() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tally::p2p
