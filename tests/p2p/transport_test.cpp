// The transport over real sockets on 127.0.0.1: connections, messages, limits, hostile input,
// reconnection and peer exchange. Every wait is bounded (p2p_test_util.h).

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "p2p_test_util.h"

namespace tally::p2p {
namespace {

using namespace testing;  // NOLINT

Bytes text_bytes(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

Bytes numbered(uint32_t index) {
  Bytes message = u32_le(index);
  message.resize(4 + index % 97, static_cast<uint8_t>(index));
  return message;
}

// B dials A (a persistent peer with A's key); both see the handshake complete.
struct Pair {
  explicit Pair(asio::io_context& io, TransportConfig a_config = test_config(),
                TransportConfig b_config = test_config())
      : a(io, std::move(a_config)), b(io, with_peer(std::move(b_config), a.address())) {}

  static TransportConfig with_peer(TransportConfig config, PeerAddress peer) {
    config.persistent_peers.push_back(std::move(peer));
    return config;
  }

  PeerId a_to_b() const { return a.recorder.connected.at(0).first; }
  PeerId b_to_a() const { return b.recorder.connected.at(0).first; }

  TestNode a;
  TestNode b;
};

bool both_connected(const Pair& pair) {
  return !pair.a.recorder.connected.empty() && !pair.b.recorder.connected.empty();
}

TEST(TransportTest, ConnectsAndExchangesMessagesBothWays) {
  asio::io_context io;
  Pair pair(io);
  ASSERT_TRUE(run_until(io, [&] { return both_connected(pair); }));
  EXPECT_EQ(pair.a.recorder.connected[0].second, pair.b.id());
  EXPECT_EQ(pair.b.recorder.connected[0].second, pair.a.id());
  ASSERT_TRUE(pair.a.peer(pair.b.id()));
  EXPECT_FALSE(pair.a.peer(pair.b.id())->outbound);
  EXPECT_TRUE(pair.b.peer(pair.a.id())->outbound);
  EXPECT_TRUE(pair.b.peer(pair.a.id())->persistent);

  EXPECT_TRUE(pair.b.transport->send(pair.b_to_a(), text_bytes("hello")));
  EXPECT_TRUE(pair.a.transport->send(pair.a_to_b(), text_bytes("world")));
  ASSERT_TRUE(run_until(
      io, [&] { return !pair.a.recorder.messages.empty() && !pair.b.recorder.messages.empty(); }));
  EXPECT_EQ(pair.a.recorder.messages[0].second, text_bytes("hello"));
  EXPECT_EQ(pair.a.recorder.messages[0].first, pair.a_to_b());
  EXPECT_EQ(pair.b.recorder.messages[0].second, text_bytes("world"));

  // Empty messages are messages too.
  EXPECT_TRUE(pair.b.transport->send(pair.b_to_a(), Bytes{}));
  ASSERT_TRUE(run_until(io, [&] { return pair.a.recorder.messages.size() == 2; }));
  EXPECT_TRUE(pair.a.recorder.messages[1].second.empty());
  // Unknown peers are refused.
  EXPECT_FALSE(pair.a.transport->send(999999, text_bytes("nobody")));
}

TEST(TransportTest, ManyMessagesArriveInOrder) {
  asio::io_context io;
  Pair pair(io);
  ASSERT_TRUE(run_until(io, [&] { return both_connected(pair); }));
  constexpr uint32_t kCount = 5000;
  for (uint32_t index = 0; index < kCount; ++index) {
    ASSERT_TRUE(pair.b.transport->send(pair.b_to_a(), numbered(index)));
    ASSERT_TRUE(pair.a.transport->send(pair.a_to_b(), numbered(index)));
  }
  ASSERT_TRUE(run_until(io, [&] {
    return pair.a.recorder.messages.size() == kCount && pair.b.recorder.messages.size() == kCount;
  }));
  for (uint32_t index = 0; index < kCount; ++index) {
    ASSERT_EQ(pair.a.recorder.messages[index].second, numbered(index)) << index;
    ASSERT_EQ(pair.b.recorder.messages[index].second, numbered(index)) << index;
  }
  EXPECT_EQ(pair.a.transport->stats().messages_received, kCount);
  EXPECT_EQ(pair.b.transport->stats().messages_sent, kCount);
}

TEST(TransportTest, CarriesAOneMebibyteMessage) {
  asio::io_context io;
  Pair pair(io);
  ASSERT_TRUE(run_until(io, [&] { return both_connected(pair); }));
  Bytes big(1024 * 1024);
  std::mt19937 random(7);
  for (uint8_t& byte : big)
    byte = static_cast<uint8_t>(random());
  ASSERT_TRUE(pair.b.transport->send(pair.b_to_a(), big));
  ASSERT_TRUE(run_until(io, [&] { return !pair.a.recorder.messages.empty(); }));
  EXPECT_EQ(pair.a.recorder.messages[0].second, big);
}

TEST(TransportTest, RefusesMessagesAboveTheFrameLimit) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.max_frame_bytes = 64 * 1024;
  config.max_send_queue_bytes = 1024 * 1024;
  Pair pair(io, config, config);
  ASSERT_TRUE(run_until(io, [&] { return both_connected(pair); }));
  EXPECT_FALSE(pair.b.transport->send(pair.b_to_a(), Bytes(64 * 1024 + 1)));
  EXPECT_TRUE(pair.b.transport->send(pair.b_to_a(), Bytes(64 * 1024)));
  ASSERT_TRUE(run_until(io, [&] { return !pair.a.recorder.messages.empty(); }));
  EXPECT_EQ(pair.a.recorder.messages[0].second.size(), 64u * 1024);
  EXPECT_TRUE(pair.a.recorder.disconnected.empty());
}

TEST(TransportTest, BroadcastReachesEveryPeerButTheExcludedOne) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.peer_exchange = false;
  TestNode hub(io, config);
  std::vector<std::unique_ptr<TestNode>> spokes;
  for (int index = 0; index < 3; ++index) {
    TransportConfig spoke_config = config;
    spoke_config.persistent_peers.push_back(hub.address());
    spokes.push_back(std::make_unique<TestNode>(io, spoke_config));
  }
  ASSERT_TRUE(run_until(io, [&] { return hub.recorder.connected.size() == 3; }));
  EXPECT_EQ(hub.transport->broadcast(text_bytes("to all")), 3u);
  ASSERT_TRUE(run_until(io, [&] {
    for (auto& spoke : spokes) {
      if (spoke->recorder.messages.empty())
        return false;
    }
    return true;
  }));
  for (auto& spoke : spokes)
    EXPECT_EQ(spoke->recorder.messages[0].second, text_bytes("to all"));

  std::optional<PeerInfo> excluded = hub.peer(spokes[0]->id());
  ASSERT_TRUE(excluded);
  EXPECT_EQ(hub.transport->broadcast(text_bytes("not you"), excluded->id), 2u);
  ASSERT_TRUE(run_until(io, [&] {
    return spokes[1]->recorder.messages.size() == 2 && spokes[2]->recorder.messages.size() == 2;
  }));
  run_for(io, milliseconds(50));
  EXPECT_EQ(spokes[0]->recorder.messages.size(), 1u);
}

TEST(TransportTest, WrongExpectedNodeKeyIsDroppedOnBothSides) {
  asio::io_context io;
  TestNode a(io, test_config());
  TransportConfig b_config = test_config();
  PeerAddress wrong = a.address();
  wrong.node_id = SecretKey::generate().public_key();
  b_config.persistent_peers.push_back(wrong);
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] {
    return b.recorder.failed_with("unexpected node key") && !a.recorder.handshake_failures.empty();
  }));
  EXPECT_TRUE(a.recorder.connected.empty());
  EXPECT_TRUE(b.recorder.connected.empty());
  EXPECT_TRUE(a.transport->peers().empty());
  EXPECT_TRUE(b.transport->peers().empty());
}

TEST(TransportTest, WrongChainIdIsDropped) {
  asio::io_context io;
  TestNode a(io, test_config());
  TransportConfig b_config = test_config();
  b_config.chain_id = "another-chain";
  b_config.persistent_peers.push_back(a.address());
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] {
    return a.recorder.failed_with("wrong chain id") && b.recorder.failed_with("wrong chain id");
  }));
  EXPECT_TRUE(a.recorder.connected.empty());
  EXPECT_TRUE(b.recorder.connected.empty());
}

TEST(TransportTest, ConnectionToSelfIsDroppedAndNotRetried) {
  asio::io_context io;
  SecretKey key = SecretKey::generate();
  TransportConfig config = test_config();
  config.listen_port = 0;
  TestNode a(io, config, key);
  // A second transport with the same key dialing the first looks exactly like a self-connection.
  TransportConfig self_config = test_config();
  self_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", a.transport->listen_port(), {}});
  TestNode twin(io, self_config, key);
  ASSERT_TRUE(run_until(io, [&] {
    return twin.recorder.failed_with("connection to self") &&
           a.recorder.failed_with("connection to self");
  }));
  run_for(io, milliseconds(300));  // reconnect_initial is 20 ms: a retrying slot would show
  EXPECT_EQ(twin.recorder.handshake_failures.size(), 1u);
  EXPECT_TRUE(twin.recorder.connected.empty());
}

TEST(TransportTest, GarbageIsDroppedAndGoodPeersStillConnect) {
  asio::io_context io;
  TestNode a(io, test_config());
  RawClient garbage(io);
  ASSERT_TRUE(garbage.connect(a.transport->listen_port()));
  garbage.write(text_bytes("GET / HTTP/1.1\r\nHost: example\r\n\r\n"));
  ASSERT_TRUE(run_until(io, [&] { return garbage.closed(); }));
  ASSERT_TRUE(run_until(io, [&] { return a.recorder.failed_with("hello frame too large"); }));

  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(a.address());
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] { return a.connected_to(b) && b.connected_to(a); }));
}

TEST(TransportTest, OversizedLengthBeforeHandshakeIsDroppedWithoutWaitingForIt) {
  asio::io_context io;
  TestNode a(io, test_config());
  RawClient client(io);
  ASSERT_TRUE(client.connect(a.transport->listen_port()));
  client.write(u32_le(0xffffffff));  // and nothing else: a reader waiting for the body would hang
  ASSERT_TRUE(run_until(io, [&] { return client.closed(); }));
  ASSERT_TRUE(run_until(io, [&] {
    return a.recorder.failed_with("hello frame too large (4294967295 bytes, max 256)");
  }));
}

TEST(TransportTest, OversizedLengthAfterHandshakeIsDroppedWithoutWaitingForIt) {
  asio::io_context io;
  TestNode a(io, test_config());
  RawClient client(io);
  ASSERT_TRUE(client.connect(a.transport->listen_port()));
  SecretKey client_key = SecretKey::generate();
  std::optional<ManualSession> session = manual_handshake(io, client, client_key);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->server_key, a.id());
  ASSERT_TRUE(run_until(io, [&] { return !a.recorder.connected.empty(); }));
  EXPECT_EQ(a.recorder.connected[0].second, client_key.public_key());

  // A well-formed application frame from the hand-made session is delivered ...
  uint8_t type = static_cast<uint8_t>(MessageType::kApplication);
  Bytes payload = text_bytes("by hand");
  client.write(session->transmit->seal({ByteSpan(&type, 1), payload}).value());
  ASSERT_TRUE(run_until(io, [&] { return !a.recorder.messages.empty(); }));
  EXPECT_EQ(a.recorder.messages[0].second, payload);

  // ... and a length header beyond the limit ends the connection at once.
  client.write(u32_le(0xfffffff0));
  ASSERT_TRUE(run_until(io, [&] { return client.closed() && !a.recorder.disconnected.empty(); }));
  EXPECT_TRUE(a.recorder.disconnected_with("frame too large (4294967280 bytes"))
      << a.recorder.disconnected[0].second;
}

TEST(TransportTest, SilentClientIsDroppedAfterTheHandshakeTimeout) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.handshake_timeout_ms = 200;
  TestNode a(io, config);
  RawClient silent(io);
  ASSERT_TRUE(silent.connect(a.transport->listen_port()));
  ASSERT_TRUE(run_until(io, [&] { return silent.closed(); }));
  ASSERT_TRUE(run_until(io, [&] { return a.recorder.failed_with("handshake timeout"); }));
  // It was sent our hello before being dropped, and nothing else.
  ASSERT_GE(silent.received().size(), 4u);
  EXPECT_EQ(silent.received().size(), 4u + load_u32_le(silent.received().data()));
}

TEST(TransportTest, PeerThatStopsReadingIsDisconnectedAsSlowPeer) {
  // B runs on its own io_context, which stops being run once connected: B never reads again.
  asio::io_context io_a;
  asio::io_context io_b;
  TransportConfig config = test_config();
  config.max_frame_bytes = 256 * 1024;
  config.max_send_queue_bytes = 1024 * 1024;
  TestNode a(io_a, config);
  TransportConfig b_config = config;
  b_config.persistent_peers.push_back(a.address());
  TestNode b(io_b, b_config);
  Clock::time_point deadline = Clock::now() + kDeadline;
  while (!(a.connected_to(b) && b.connected_to(a)) && Clock::now() < deadline) {
    io_a.restart();
    io_a.run_for(milliseconds(1));
    io_b.restart();
    io_b.run_for(milliseconds(1));
  }
  ASSERT_TRUE(a.connected_to(b) && b.connected_to(a));
  PeerId to_b = a.peer(b.id())->id;

  Bytes chunk(256 * 1024, 0x5a);
  size_t sent = 0;
  ASSERT_TRUE(run_until(io_a, [&] {
    // Keep offering data until the transport refuses it (kernel buffers fill up first).
    if (a.transport->send(to_b, chunk))
      ++sent;
    return !a.recorder.disconnected.empty();
  }));
  EXPECT_TRUE(a.recorder.disconnected_with("slow peer")) << a.recorder.disconnected[0].second;
  EXPECT_EQ(a.transport->stats().slow_peer_disconnects, 1u);
  EXPECT_TRUE(a.transport->peers().empty());
  // More than the 1 MiB queue alone could hold: the kernel buffers took data until B's were full.
  EXPECT_GT(sent, 4u);
}

TEST(TransportTest, TamperedCiphertextAfterHandshakeIsDropped) {
  asio::io_context io;
  TestNode a(io, test_config());
  // B's stream: hello frame, 84-byte signature frame, then its first message (peer addresses).
  size_t b_hello_frame = 4 + kMinHelloBytes + kChain.size();
  FlipProxy proxy(io, a.transport->listen_port(), b_hello_frame + 4 + kSignatureFrameBytes + 8);
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", proxy.port(), a.id()});
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] { return !a.recorder.disconnected.empty(); }));
  EXPECT_EQ(a.recorder.connected.size(), 1u);
  EXPECT_TRUE(a.recorder.disconnected_with("authentication failed"))
      << a.recorder.disconnected[0].second;
  EXPECT_TRUE(a.recorder.messages.empty());
}

TEST(TransportTest, TamperedHandshakeSignatureIsDropped) {
  asio::io_context io;
  TestNode a(io, test_config());
  size_t b_hello_frame = 4 + kMinHelloBytes + kChain.size();
  FlipProxy proxy(io, a.transport->listen_port(), b_hello_frame + 4 + 10);
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", proxy.port(), a.id()});
  TestNode b(io, b_config);
  ASSERT_TRUE(
      run_until(io, [&] { return a.recorder.failed_with("handshake authentication failed"); }));
  EXPECT_TRUE(a.recorder.connected.empty());
}

TEST(TransportTest, TamperedHelloBreaksTheHandshake) {
  // Flipping a bit of the dialer's ephemeral key changes the session keys and the transcript.
  asio::io_context io;
  TestNode a(io, test_config());
  size_t ephemeral_offset = 4 + 8 + 1 + 4 + kChain.size();
  FlipProxy proxy(io, a.transport->listen_port(), ephemeral_offset + 3);
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", proxy.port(), a.id()});
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] {
    return !a.recorder.handshake_failures.empty() && !b.recorder.handshake_failures.empty();
  }));
  run_for(io, milliseconds(100));
  EXPECT_TRUE(a.recorder.connected.empty());
  EXPECT_TRUE(b.recorder.connected.empty());
}

TEST(TransportTest, IdlePeerIsDropped) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.ping_interval_ms = 50;
  config.idle_timeout_ms = 300;
  TestNode a(io, config);
  RawClient client(io);
  ASSERT_TRUE(client.connect(a.transport->listen_port()));
  SecretKey client_key = SecretKey::generate();
  ASSERT_TRUE(manual_handshake(io, client, client_key));  // then silence: no pings, no pongs
  ASSERT_TRUE(run_until(io, [&] { return !a.recorder.disconnected.empty(); }));
  EXPECT_EQ(a.recorder.connected.size(), 1u);
  EXPECT_TRUE(a.recorder.disconnected_with("idle timeout")) << a.recorder.disconnected[0].second;
}

TEST(TransportTest, PingsKeepAQuietConnectionAlive) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.ping_interval_ms = 50;
  config.idle_timeout_ms = 500;
  Pair pair(io, config, config);
  ASSERT_TRUE(run_until(io, [&] { return both_connected(pair); }));
  run_for(io, milliseconds(1500));  // three idle timeouts, thirty ping intervals
  EXPECT_TRUE(pair.a.recorder.disconnected.empty());
  EXPECT_TRUE(pair.b.recorder.disconnected.empty());
  EXPECT_EQ(pair.a.transport->peer_count(), 1u);
}

TEST(TransportTest, PersistentPeerReconnectsAfterRestart) {
  asio::io_context io;
  SecretKey a_key = SecretKey::generate();
  auto a = std::make_unique<TestNode>(io, test_config(), a_key);
  uint16_t a_port = a->transport->listen_port();
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(a->address());
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] { return a->connected_to(b) && b.connected_to(*a); }));

  a.reset();  // stop and destroy A
  ASSERT_TRUE(run_until(io, [&] { return !b.recorder.disconnected.empty(); }));
  EXPECT_TRUE(b.transport->peers().empty());
  run_for(io, milliseconds(100));  // B retries against a closed port meanwhile

  TransportConfig restarted = test_config();
  restarted.listen_port = a_port;
  a = std::make_unique<TestNode>(io, restarted, a_key);
  ASSERT_TRUE(run_until(io, [&] { return a->connected_to(b) && b.connected_to(*a); }));
  EXPECT_EQ(b.recorder.connected.size(), 2u);
  EXPECT_TRUE(b.transport->send(b.peer(a_key.public_key())->id, text_bytes("again")));
  ASSERT_TRUE(run_until(io, [&] { return !a->recorder.messages.empty(); }));
}

TEST(TransportTest, MutualPersistentPeersKeepOneConnection) {
  asio::io_context io;
  SecretKey a_key = SecretKey::generate();
  SecretKey b_key = SecretKey::generate();
  // Reserve ports by starting listeners first, then restart them with each other as peers.
  uint16_t a_port = 0;
  uint16_t b_port = 0;
  {
    TestNode probe_a(io, test_config(), a_key);
    TestNode probe_b(io, test_config(), b_key);
    a_port = probe_a.transport->listen_port();
    b_port = probe_b.transport->listen_port();
  }
  TransportConfig a_config = test_config();
  a_config.listen_port = a_port;
  a_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", b_port, b_key.public_key()});
  TransportConfig b_config = test_config();
  b_config.listen_port = b_port;
  b_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", a_port, a_key.public_key()});
  TestNode a(io, a_config, a_key);
  TestNode b(io, b_config, b_key);
  ASSERT_TRUE(run_until(io, [&] { return a.connected_to(b) && b.connected_to(a); }));
  run_for(io, milliseconds(500));
  ASSERT_EQ(a.transport->peer_count(), 1u);
  ASSERT_EQ(b.transport->peer_count(), 1u);
  // Both ends kept the same TCP connection: one side dialed it, the other accepted it.
  EXPECT_NE(a.peer(b.id())->outbound, b.peer(a.id())->outbound);
  EXPECT_EQ(a.recorder.connected.size() - a.recorder.disconnected.size(), 1u);
  EXPECT_EQ(b.recorder.connected.size() - b.recorder.disconnected.size(), 1u);
}

TEST(TransportTest, RestartedPeerReplacesAStaleHalfOpenConnection) {
  // A reaches B through a proxy that then goes silent without closing anything, like a peer that
  // lost power. B comes back and dials A. Even where the simultaneous-dial rule would prefer the
  // old connection (A's key is the smaller and A dialed it), A must take the new one rather than
  // shut B out until the idle timeout.
  asio::io_context io;
  SecretKey a_key = SecretKey::generate();
  SecretKey b_key = SecretKey::generate();
  if (b_key.public_key() < a_key.public_key())
    std::swap(a_key, b_key);
  TransportConfig config = test_config();
  config.handshake_timeout_ms = 100;
  auto b = std::make_unique<TestNode>(io, config, b_key);
  FlipProxy proxy(io, b->transport->listen_port(), std::numeric_limits<size_t>::max());
  TransportConfig a_config = config;
  a_config.persistent_peers.push_back(PeerAddress{"127.0.0.1", proxy.port(), b_key.public_key()});
  TestNode a(io, a_config, a_key);
  ASSERT_TRUE(run_until(io, [&] { return a.connected_to(*b) && b->connected_to(a); }));

  proxy.freeze();
  b.reset();
  run_for(io, milliseconds(300));           // longer than twice the handshake timeout
  ASSERT_TRUE(a.peer(b_key.public_key()));  // A cannot tell yet
  EXPECT_TRUE(a.recorder.disconnected.empty());

  TransportConfig b_config = config;
  b_config.persistent_peers.push_back(a.address());
  b = std::make_unique<TestNode>(io, b_config, b_key);
  ASSERT_TRUE(run_until(io, [&] { return b->connected_to(a); }));
  run_for(io, milliseconds(300));
  EXPECT_TRUE(b->connected_to(a));
  EXPECT_TRUE(b->recorder.disconnected.empty());
  ASSERT_EQ(a.transport->peer_count(), 1u);
  EXPECT_FALSE(a.transport->peers()[0].outbound);  // the new connection, dialed by B
  EXPECT_TRUE(a.recorder.disconnected_with("duplicate connection"));
}

TEST(TransportTest, PeerExchangeFindsPeersOfPeers) {
  asio::io_context io;
  TestNode c(io, test_config());
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(c.address());
  TestNode b(io, b_config);
  TransportConfig a_config = test_config();
  a_config.persistent_peers.push_back(b.address());
  TestNode a(io, a_config);
  ASSERT_TRUE(run_until(io, [&] { return a.connected_to(c) && c.connected_to(a); }));
  std::optional<PeerInfo> a_to_c = a.peer(c.id());
  EXPECT_TRUE(a_to_c->outbound);
  EXPECT_FALSE(a_to_c->persistent);
  EXPECT_GE(a.transport->stats().known_addresses, 2u);
}

TEST(TransportTest, InboundLimitIsEnforced) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.max_inbound_peers = 2;
  TestNode a(io, config);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int index = 0; index < 3; ++index) {
    clients.push_back(std::make_unique<RawClient>(io));
    ASSERT_TRUE(clients.back()->connect(a.transport->listen_port()));
  }
  ASSERT_TRUE(run_until(io, [&] { return a.recorder.failed_with("too many inbound peers"); }));
  EXPECT_EQ(a.recorder.handshake_failures.size(), 1u);
}

TEST(TransportTest, StartReportsABusyPort) {
  asio::io_context io;
  TestNode a(io, test_config());
  TransportConfig config = test_config();
  config.listen_port = a.transport->listen_port();
  Transport second(io, config, SecretKey::generate(), Callbacks{});
  Status status = second.start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "io_error");
}

TEST(TransportTest, StartValidatesTheConfig) {
  asio::io_context io;
  auto start_with = [&](TransportConfig config) {
    Transport transport(io, std::move(config), SecretKey::generate(), Callbacks{});
    Status status = transport.start();
    return status.ok() ? std::string("ok") : status.error().code;
  };
  EXPECT_EQ(start_with(test_config()), "ok");
  TransportConfig config = test_config();
  config.chain_id = "";
  EXPECT_EQ(start_with(config), "invalid_config");
  config = test_config();
  config.chain_id = std::string(kMaxChainIdBytes + 1, 'x');
  EXPECT_EQ(start_with(config), "invalid_config");
  config = test_config();
  config.max_send_queue_bytes = config.max_frame_bytes;
  EXPECT_EQ(start_with(config), "invalid_config");
  config = test_config();
  config.idle_timeout_ms = config.ping_interval_ms;
  EXPECT_EQ(start_with(config), "invalid_config");
  config = test_config();
  config.listen_host = "localhost";
  EXPECT_EQ(start_with(config), "invalid_config");
  config = test_config();
  config.persistent_peers.push_back(PeerAddress{"127.0.0.1", 0, {}});
  EXPECT_EQ(start_with(config), "invalid_config");
}

TEST(TransportTest, StopFromACallbackIsSafeAndSilencesCallbacks) {
  asio::io_context io;
  SecretKey a_key = SecretKey::generate();
  int messages = 0;
  int disconnects = 0;
  std::unique_ptr<Transport> a;
  Callbacks callbacks;
  callbacks.on_message = [&](PeerId, Bytes) {
    ++messages;
    a->stop();
  };
  callbacks.on_disconnected = [&](PeerId, std::string) { ++disconnects; };
  a = std::make_unique<Transport>(io, test_config(), a_key, callbacks);
  ASSERT_TRUE(a->start().ok());
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(
      PeerAddress{"127.0.0.1", a->listen_port(), a_key.public_key()});
  TestNode b(io, b_config);
  ASSERT_TRUE(
      run_until(io, [&] { return a->peer_count() == 1 && b.transport->peer_count() == 1; }));
  PeerId a_to_b = a->peers().at(0).id;
  PeerId b_to_a = b.transport->peers().at(0).id;
  EXPECT_TRUE(b.transport->send(b_to_a, text_bytes("one")));
  EXPECT_TRUE(b.transport->send(b_to_a, text_bytes("two")));
  ASSERT_TRUE(run_until(io, [&] { return messages > 0; }));
  ASSERT_TRUE(run_until(io, [&] { return !b.recorder.disconnected.empty(); }));
  run_for(io, milliseconds(100));
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(disconnects, 0);
  EXPECT_EQ(a->peer_count(), 0u);
  EXPECT_FALSE(a->send(a_to_b, text_bytes("after stop")));
}

// Random bytes as the first frames of many concurrent raw clients: the transport never crashes,
// never announces a peer, and ends every one of those connections.
TEST(TransportTest, RandomFirstFramesAlwaysEndInDisconnect) {
  asio::io_context io;
  TransportConfig config = test_config();
  config.handshake_timeout_ms = 300;
  config.max_inbound_peers = 400;
  TestNode a(io, config);
  std::mt19937 random(20261121);
  auto random_bytes = [&](size_t size) {
    Bytes bytes(size);
    for (uint8_t& byte : bytes)
      byte = static_cast<uint8_t>(random());
    return bytes;
  };
  auto valid_hello = [&] {
    EphemeralKey ephemeral;
    return with_length(
        encode_hello(Hello{kChain, ephemeral.public_key(), SecretKey::generate().public_key()}));
  };

  constexpr int kClients = 200;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int index = 0; index < kClients; ++index) {
    Bytes input;
    switch (index % 5) {
      case 0:  // pure noise
        input = random_bytes(random() % 600);
        break;
      case 1: {  // a plausible hello length, then noise
        uint32_t length = kMinHelloBytes + random() % (kMaxHelloBytes - kMinHelloBytes + 1);
        input = u32_le(length);
        Bytes body = random_bytes(random() % (length + 40));
        input.insert(input.end(), body.begin(), body.end());
        break;
      }
      case 2: {  // a valid hello with a few bits flipped
        input = valid_hello();
        for (int flips = 1 + random() % 3; flips > 0; --flips) {
          input[4 + random() % (input.size() - 4)] ^= static_cast<uint8_t>(1 << (random() % 8));
        }
        break;
      }
      case 3: {  // a valid hello, then noise where the signature frame belongs
        input = valid_hello();
        Bytes tail = random_bytes(random() % 300);
        input.insert(input.end(), tail.begin(), tail.end());
        break;
      }
      default: {  // a valid hello, then a well-formed frame of random ciphertext
        input = valid_hello();
        Bytes frame = with_length(random_bytes(kSignatureFrameBytes));
        input.insert(input.end(), frame.begin(), frame.end());
        break;
      }
    }
    clients.push_back(std::make_unique<RawClient>(io));
    ASSERT_TRUE(clients.back()->connect(a.transport->listen_port()));
    clients.back()->write(std::move(input));
  }
  ASSERT_TRUE(run_until(io, [&] {
    for (const auto& client : clients) {
      if (!client->closed())
        return false;
    }
    return a.recorder.handshake_failures.size() == static_cast<size_t>(kClients);
  }));
  EXPECT_TRUE(a.recorder.connected.empty());
  EXPECT_EQ(a.transport->stats().handshakes_failed, static_cast<uint64_t>(kClients));

  // Still healthy.
  TransportConfig b_config = test_config();
  b_config.persistent_peers.push_back(a.address());
  TestNode b(io, b_config);
  ASSERT_TRUE(run_until(io, [&] { return a.connected_to(b) && b.connected_to(a); }));
}

}  // namespace
}  // namespace tally::p2p
