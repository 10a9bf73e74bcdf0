#include "node/config.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

std::string error_of(const std::string& text) {
  Result<NodeConfig> config = NodeConfig::parse(text);
  EXPECT_FALSE(config.ok()) << text;
  return config.ok() ? "" : config.error().message;
}

TEST(NodeConfig, DefaultsRoundTripThroughToml) {
  NodeConfig config;
  config.moniker = "node3";
  config.persistent_peers.push_back(
      PeerConfig::parse(std::string(64, 'a') + "@127.0.0.1:7102").value());
  Result<NodeConfig> parsed = NodeConfig::parse(config.to_toml());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, config);
}

TEST(NodeConfig, EmptyFileMeansDefaults) {
  Result<NodeConfig> parsed = NodeConfig::parse("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, NodeConfig());
}

TEST(NodeConfig, ReadsValues) {
  Result<NodeConfig> parsed = NodeConfig::parse(
      "moniker = \"v1\"\n[storage]\nretain_blocks = 500\n[consensus]\ntimeout_propose_ms = 200\n"
      "[rpc]\nlisten = \"0.0.0.0:9000\"\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->moniker, "v1");
  EXPECT_EQ(parsed->retain_blocks, 500u);
  EXPECT_EQ(parsed->timeout_propose_ms, 200u);
  EXPECT_EQ(parsed->rpc_listen, (HostPort{"0.0.0.0", 9000}));
}

TEST(NodeConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of("[storage]\nretain_blokcs = 5\n").find("unknown key storage.retain_blokcs"),
            std::string::npos);
  EXPECT_NE(error_of("[storage]\nretain_blocks = \"5\"\n")
                .find("storage.retain_blocks must be an integer"),
            std::string::npos);
  EXPECT_NE(
      error_of("[storage]\nretain_blocks = 0\n").find("storage.retain_blocks must be between"),
      std::string::npos);
  EXPECT_NE(error_of("[rpc]\nlisten = \"localhost\"\n").find("rpc.listen"), std::string::npos);
  EXPECT_NE(error_of("[rpc]\nlisten = \"localhost:70000\"\n").find("invalid port"),
            std::string::npos);
  EXPECT_NE(
      error_of("[p2p]\npersistent_peers = [\"abc@1.2.3.4:5\"]\n").find("p2p.persistent_peers[0]"),
      std::string::npos);
  EXPECT_NE(error_of("[nonsense]\nx = 1\n").find("unknown section [nonsense]"), std::string::npos);
  EXPECT_NE(error_of("[log]\nlevel = \"loud\"\n").find("log.level"), std::string::npos);
  EXPECT_NE(error_of("moniker = \n").find("line 1"), std::string::npos);
  EXPECT_NE(error_of("[p2p]\nlisten = \"127.0.0.1:7001\"\n").find("must differ"),
            std::string::npos);
}

TEST(NodeConfig, MissingFileIsReported) {
  Result<NodeConfig> config = NodeConfig::load("/nonexistent/config.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, "not_found");
}

}  // namespace
}  // namespace tally
