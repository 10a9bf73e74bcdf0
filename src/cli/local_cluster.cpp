#include "cli/local_cluster.h"

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "cli/cli.h"

namespace tally::cli {

void LocalProcesses::start(const std::vector<NodeHome>& nodes) {
  char self[4096];
  ssize_t length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0)
    fail("cannot find the tally executable");
  std::string executable(self, static_cast<size_t>(length));
  for (const NodeHome& home : nodes) {
    std::string log = (home.directory / "node.log").string();
    std::string home_path = home.directory.string();
    pid_t child = ::fork();
    if (child < 0)
      fail("cannot start a node process");
    if (child == 0) {
      FILE* out = std::freopen(log.c_str(), "a", stderr);
      (void)out;
      ::execl(executable.c_str(), executable.c_str(), "node", "--home", home_path.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids_.push_back(child);
  }
}

void LocalProcesses::stop() {
  for (pid_t child : pids_)
    ::kill(child, SIGTERM);
  for (pid_t child : pids_)
    ::waitpid(child, nullptr, 0);
  pids_.clear();
}

NodeApi::NodeApi(uint16_t port)
    : port_(port), client_(std::make_unique<httplib::Client>("127.0.0.1", port)) {
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);  // small requests must not wait for delayed ACKs
  client_->set_connection_timeout(2, 0);
  client_->set_read_timeout(30, 0);
  client_->set_write_timeout(30, 0);
}

NodeApi::~NodeApi() = default;
NodeApi::NodeApi(NodeApi&&) noexcept = default;

std::optional<nlohmann::json> NodeApi::get(const std::string& path) {
  auto result = client_->Get(path);
  if (!result || result->status != 200)
    return std::nullopt;
  nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
  if (body.is_discarded())
    return std::nullopt;
  return body;
}

std::optional<std::string> NodeApi::get_text(const std::string& path) {
  auto result = client_->Get(path);
  if (!result || result->status != 200)
    return std::nullopt;
  return result->body;
}

std::pair<int, nlohmann::json> NodeApi::post(const std::string& path, const std::string& body) {
  auto [status, text] = post_text(path, body);
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  return {status, parsed.is_discarded() ? nlohmann::json(nullptr) : parsed};
}

std::pair<int, std::string> NodeApi::post_text(const std::string& path, const std::string& body) {
  auto result = client_->Post(path, body, "application/json");
  if (!result)
    return {0, ""};
  return {result->status, std::move(result->body)};
}

uint64_t NodeApi::height() {
  auto status = get("/v1/status");
  return status ? status->value("height", uint64_t{0}) : 0;
}

void wait_for_first_block(const std::vector<NodeHome>& nodes, uint16_t rpc_base_port,
                          std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (size_t node = 0; node < nodes.size(); ++node) {
    NodeApi api(static_cast<uint16_t>(rpc_base_port + node));
    while (api.height() < 1) {
      if (std::chrono::steady_clock::now() > deadline) {
        fail("node" + std::to_string(node) + " did not start; see " +
             (nodes[node].directory / "node.log").string());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace tally::cli
