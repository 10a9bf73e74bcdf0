#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/cli.h"
#include "node/home.h"
#include "node/node.h"
#include "rpc/api_server.h"

namespace tally::cli {
namespace {

volatile sig_atomic_t stop_requested = 0;

void request_stop(int) {
  stop_requested = 1;
}

void run_node(const std::string& home) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("tally"));
  std::unique_ptr<Node> node = unwrap(Node::open(home));
  spdlog::set_level(spdlog::level::from_str(node->config().log_level));
  unwrap(node->start());
  ApiServer api(*node);
  unwrap(api.start());
  node->run();
  api.stop();
  spdlog::info("stopped");
}

std::string own_executable() {
  char path[4096];
  ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0)
    fail("cannot find the tally executable (/proc/self/exe)");
  return std::string(path, static_cast<size_t>(length));
}

// Runs every node of the localnet as a child process until Ctrl-C; a node that exits is
// reported, never restarted silently.
void run_localnet(const std::string& directory) {
  std::vector<NodeHome> homes = unwrap(find_localnet_nodes(directory));
  std::string executable = own_executable();
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::vector<pid_t> children;
  for (const NodeHome& home : homes) {
    std::string log = (home.directory / "node.log").string();
    pid_t child = ::fork();
    if (child < 0)
      fail("fork failed");
    if (child == 0) {
      int log_descriptor = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_descriptor >= 0) {
        ::dup2(log_descriptor, STDERR_FILENO);
        ::dup2(log_descriptor, STDOUT_FILENO);
      }
      std::string home_path = home.directory.string();
      ::execl(executable.c_str(), executable.c_str(), "node", "--home", home_path.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    children.push_back(child);
    std::cout << "started " << home.directory.filename().string() << " (pid " << child << "), log "
              << log << "\n";
  }
  std::cout << "localnet running; Ctrl-C stops every node" << std::endl;

  size_t running = children.size();
  while (!stop_requested && running > 0) {
    int status = 0;
    pid_t ended = ::waitpid(-1, &status, WNOHANG);
    if (ended > 0) {
      for (size_t index = 0; index < children.size(); ++index) {
        if (children[index] != ended)
          continue;
        std::cerr << "tally: node" << index << " exited ("
                  << (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status)))
                  << "); see " << (homes[index].directory / "node.log").string() << "\n";
        children[index] = -1;
        --running;
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (pid_t child : children) {
    if (child > 0)
      ::kill(child, SIGTERM);
  }
  for (pid_t child : children) {
    if (child > 0)
      ::waitpid(child, nullptr, 0);
  }
  std::cout << "localnet stopped\n";
  if (!stop_requested)
    fail("every node exited");
}

}  // namespace

void add_node_commands(CLI::App& app) {
  auto home = std::make_shared<std::string>(default_home().string());
  CLI::App* node = app.add_subcommand("node", "Run one node in the foreground (logs to stderr)");
  node->add_option("--home", *home, "Node home directory")->capture_default_str();
  node->callback([home] { run_node(*home); });
}

void add_localnet_start_command(CLI::App& localnet) {
  auto directory = std::make_shared<std::string>();
  CLI::App* start = localnet.add_subcommand("start", "Run every node of a localnet until Ctrl-C");
  start->add_option("--dir", *directory, "The directory given to localnet init")->required();
  start->callback([directory] { run_localnet(*directory); });
}

}  // namespace tally::cli
