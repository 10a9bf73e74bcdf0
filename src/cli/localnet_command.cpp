#include <iostream>

#include "cli/cli.h"
#include "node/home.h"

namespace tally::cli {

void add_localnet_commands(CLI::App& app) {
  auto options = std::make_shared<LocalnetOptions>();
  auto directory = std::make_shared<std::string>();
  CLI::App* localnet = app.add_subcommand("localnet", "A local test network on this machine");
  localnet->require_subcommand(1);
  add_localnet_start_command(*localnet);

  CLI::App* init =
      localnet->add_subcommand("init", "Write node homes, one genesis and funded accounts");
  init->add_option("--validators", options->validators, "Number of validator nodes")
      ->capture_default_str();
  init->add_option("--accounts", options->accounts, "Number of funded accounts")
      ->capture_default_str();
  init->add_option("--dir", *directory, "Directory for node0..nodeN-1 and keys/")->required();
  init->add_option("--chain-id", options->chain_id, "Chain id")->capture_default_str();
  init->add_option("--p2p-port", options->p2p_base_port, "P2P port of node0 (+1 per node)")
      ->capture_default_str();
  init->add_option("--rpc-port", options->rpc_base_port, "API port of node0 (+1 per node)")
      ->capture_default_str();
  init->callback([options, directory] {
    options->directory = *directory;
    Localnet localnet = unwrap(init_localnet(*options));
    std::cout << "localnet " << localnet.genesis.chain_id << " in " << *directory << "\n";
    for (size_t index = 0; index < localnet.nodes.size(); ++index) {
      std::cout << "  node" << index << ": " << localnet.nodes[index].directory.string()
                << "  api http://"
                << "127.0.0.1:" << options->rpc_base_port + index << "\n";
    }
    std::cout << "  " << localnet.account_keys.size() << " funded accounts: " << *directory
              << "/keys/account0.key ...\n";
  });
}

}  // namespace tally::cli
