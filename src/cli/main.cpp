// tally: the command-line interface to Tally. Every command exits 0 on success, and otherwise
// prints one line "tally: error: ..." on stderr and exits non-zero.

#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"Tally: a ledger of fractional balances replicated by BFT consensus", "tally"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every command");
  tally::cli::add_keys_commands(app);
  tally::cli::add_localnet_commands(app);
  tally::cli::add_node_commands(app);
  tally::cli::add_client_commands(app);
  tally::cli::add_snapshot_commands(app);
  tally::cli::add_demo_command(app);
  tally::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << "tally: error: " << error.what() << " (see tally --help)\n";
    return 2;
  } catch (const tally::cli::CommandError& error) {
    std::cerr << "tally: error: " << error.message << "\n";
    return 1;
  }
  return 0;
}
