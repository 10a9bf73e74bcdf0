#pragma once
// What `tally demo` and `tally bench` share: a localnet's nodes run as child processes of this
// one, and small JSON clients for their HTTP APIs.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "node/home.h"

namespace httplib {
class Client;
}

namespace tally::cli {

// Runs every node of a localnet as a child process (`tally node --home DIR`, stderr to
// DIR/node.log) and stops them with SIGTERM when destroyed.
class LocalProcesses {
 public:
  LocalProcesses() = default;
  ~LocalProcesses() { stop(); }
  LocalProcesses(const LocalProcesses&) = delete;
  LocalProcesses& operator=(const LocalProcesses&) = delete;

  void start(const std::vector<NodeHome>& nodes);
  void stop();
  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  std::vector<pid_t> pids_;
};

// One keep-alive connection to a node's API. Not thread-safe: one per thread.
class NodeApi {
 public:
  explicit NodeApi(uint16_t port);
  ~NodeApi();
  NodeApi(NodeApi&&) noexcept;

  // The parsed body of a 200 answer, or nothing (unreachable, another status, not JSON).
  std::optional<nlohmann::json> get(const std::string& path);
  // The body of a 200 answer as text (for /metrics).
  std::optional<std::string> get_text(const std::string& path);
  // The status and parsed body of a POST (status 0 when the node could not be reached).
  std::pair<int, nlohmann::json> post(const std::string& path, const std::string& body);
  // The same with the body as text.
  std::pair<int, std::string> post_text(const std::string& path, const std::string& body);
  // The committed height, 0 when unknown.
  uint64_t height();
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::unique_ptr<httplib::Client> client_;
};

// Waits until every node has committed a block; fails with a pointer to the node's log.
void wait_for_first_block(const std::vector<NodeHome>& nodes, uint16_t rpc_base_port,
                          std::chrono::seconds timeout);

}  // namespace tally::cli
