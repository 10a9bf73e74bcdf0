#include <iostream>

#include "cli/cli.h"
#include "crypto/keystore.h"

namespace tally::cli {
namespace {

struct KeysOptions {
  std::string home = default_home().string();
  std::string name;
  bool insecure_no_passphrase = false;
};

// NAME from the keystore, or a key file path (anything with a '/' or ending in .key/.json).
bool looks_like_path(const std::string& name) {
  return name.find('/') != std::string::npos || name.ends_with(".key") || name.ends_with(".json");
}

}  // namespace

void add_keys_commands(CLI::App& app) {
  auto options = std::make_shared<KeysOptions>();
  CLI::App* keys = app.add_subcommand("keys", "Create and inspect account keys");
  keys->require_subcommand(1);
  keys->add_option("--home", options->home, "Keystore home (keys are in HOME/keys)")
      ->capture_default_str();

  CLI::App* create = keys->add_subcommand("new", "Create a key; prints its address");
  create->fallthrough();  // --home may come after the subcommand too
  create->add_option("NAME", options->name, "Name of the key")->required();
  create->add_flag("--insecure-no-passphrase", options->insecure_no_passphrase,
                   "Store the key unencrypted (test networks only)");
  create->callback([options] {
    Keystore keystore(options->home);
    std::string passphrase;
    if (!options->insecure_no_passphrase) {
      passphrase = read_passphrase("Passphrase for " + options->name + ": ", /*confirm=*/true);
    }
    KeyFileInfo info = unwrap(keystore.create(options->name, SecretKey::generate(),
                                              !options->insecure_no_passphrase, passphrase,
                                              KdfStrength::moderate));
    std::cout << info.address.to_string() << "\n";
    std::cerr << "key " << info.name << " saved to " << keystore.path_of(info.name).string()
              << (info.encrypted ? "" : " (unencrypted)") << "\n";
  });

  CLI::App* list = keys->add_subcommand("list", "List the keys in the keystore");
  list->fallthrough();
  list->callback([options] {
    Keystore keystore(options->home);
    for (const KeyFileInfo& info : unwrap(keystore.list())) {
      std::cout << info.name << "  " << info.address.to_string() << "  "
                << (info.encrypted ? "encrypted" : "unencrypted") << "\n";
    }
  });

  CLI::App* show = keys->add_subcommand("show", "Print a key's address (first line)");
  show->fallthrough();
  show->add_option("NAME", options->name, "Key name in the keystore, or a key file path")
      ->required();
  show->callback([options] {
    KeyFileInfo info = looks_like_path(options->name)
                           ? unwrap(read_key_file_info(options->name))
                           : unwrap(Keystore(options->home).show(options->name));
    std::cout << info.address.to_string() << "\n";
    std::cout << "name: " << info.name << "\n";
    std::cout << "public key: " << info.address.key.hex() << "\n";
    std::cout << "encrypted: " << (info.encrypted ? "yes" : "no") << "\n";
  });
}

}  // namespace tally::cli
