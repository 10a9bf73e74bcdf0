#pragma once
// Shared pieces of the `tally` command: errors, passphrases, the home directory.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "core/status.h"

namespace tally::cli {

// Thrown by commands for an expected failure; main() prints it as one line and exits 1.
struct CommandError {
  std::string message;
};

[[noreturn]] inline void fail(const Error& error) {
  throw CommandError{error.message};
}
[[noreturn]] inline void fail(const std::string& message) {
  throw CommandError{message};
}

template <typename T>
T unwrap(Result<T> result) {
  if (!result.ok())
    fail(result.error());
  return std::move(result).value();
}
inline void unwrap(const Status& status) {
  if (!status.ok())
    fail(status.error());
}

// TALLY_PASSPHRASE if set, otherwise a prompt on the terminal without echo (twice when
// `confirm`). Fails when there is neither.
std::string read_passphrase(const std::string& prompt, bool confirm);

std::filesystem::path default_home();

void add_keys_commands(CLI::App& app);
void add_localnet_commands(CLI::App& app);
void add_localnet_start_command(CLI::App& localnet);
void add_node_commands(CLI::App& app);
void add_client_commands(CLI::App& app);
void add_snapshot_commands(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace tally::cli
