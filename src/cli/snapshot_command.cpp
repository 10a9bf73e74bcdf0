#include <iostream>

#include "cli/cli.h"
#include "node/snapshot_file.h"

namespace tally::cli {

void add_snapshot_commands(CLI::App& app) {
  auto home = std::make_shared<std::string>(default_home().string());
  auto file = std::make_shared<std::string>();
  auto height = std::make_shared<uint64_t>(0);
  CLI::App* snapshot = app.add_subcommand("snapshot", "Export and import state snapshots");
  snapshot->require_subcommand(1);

  CLI::App* out = snapshot->add_subcommand("export", "Write a node's newest snapshot to one file");
  out->add_option("--home", *home, "Node home directory")->capture_default_str();
  out->add_option("--out", *file, "File to write")->required();
  out->add_option("--height", *height, "Snapshot height (default: the newest)");
  out->callback([home, file, height] {
    std::optional<uint64_t> chosen;
    if (*height != 0)
      chosen = *height;
    SnapshotFileSummary summary = unwrap(export_snapshot_file(NodeHome{*home}, *file, chosen));
    std::cout << "exported height " << summary.height << ": " << summary.accounts << " accounts in "
              << summary.chunks << " chunks, state root " << summary.state_root.hex() << "\n";
  });

  CLI::App* in = snapshot->add_subcommand(
      "import", "Verify a snapshot file against the home's genesis and bootstrap its storage");
  in->add_option("--home", *home, "Node home (config.toml and genesis.json, no blocks yet)")
      ->capture_default_str();
  in->add_option("--in", *file, "Snapshot file")->required();
  in->callback([home, file] {
    SnapshotFileSummary summary = unwrap(import_snapshot_file(NodeHome{*home}, *file));
    std::cout << "verified and imported height " << summary.height << ": " << summary.accounts
              << " accounts, state root " << summary.state_root.hex() << "\n";
  });
}

}  // namespace tally::cli
