#pragma once
// The HTTP/JSON API of a node (DESIGN.md §6, docs/api.md). It runs on its own threads and reads
// node state only through Node::call, on the node's event loop. Every bad input gets a 4xx with
// {"error": {"code", "message"}}; bodies, batches and connections are bounded.

#include <memory>
#include <thread>

#include "core/status.h"
#include "node/node.h"

namespace httplib {
class Server;
}

namespace tally {

class ApiServer {
 public:
  explicit ApiServer(Node& node);
  ~ApiServer();

  // Binds the node's rpc.listen address and serves on a background thread.
  Status start();
  void stop();

 private:
  void install_routes();

  Node& node_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace tally
