#pragma once
// Key files and the encrypted keystore.
//
// A key file is JSON. Encrypted ones derive a key from the passphrase with Argon2id and seal the
// 32-byte Ed25519 seed with XChaCha20-Poly1305 (the address is bound as associated data); plain
// ones ("encryption": "none") are for test networks only. Files are written atomically with
// permissions 0600; the keystore directory is 0700. The format is in docs/protocol.md.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/address.h"
#include "crypto/ed25519.h"

namespace tally {

// Argon2id cost. `interactive` suits tests and test networks; `moderate` is the default for
// keys people keep. Costs read from a file are bounded, so a hostile file cannot exhaust memory.
enum class KdfStrength { interactive, moderate };

struct KeyFileInfo {
  std::string name;
  Address address;
  bool encrypted = false;
};

// Writes `key` to `path`. An empty `passphrase` with `encrypted` = false writes a plain file.
Status write_key_file(const std::filesystem::path& path, const std::string& name,
                      const SecretKey& key, bool encrypted, const std::string& passphrase,
                      KdfStrength strength);

// Reads name and address without decrypting.
Result<KeyFileInfo> read_key_file_info(const std::filesystem::path& path);

// Decrypts with `passphrase` (ignored for plain files). A wrong passphrase gives error code
// "wrong_passphrase"; a malformed file "invalid_key_file".
Result<SecretKey> read_key_file(const std::filesystem::path& path, const std::string& passphrase);

// Named keys under `home`/keys/NAME.json.
class Keystore {
 public:
  explicit Keystore(std::filesystem::path home);

  // Names are 1-64 characters of [A-Za-z0-9_-]. Refuses to overwrite ("key_exists").
  Result<KeyFileInfo> create(const std::string& name, const SecretKey& key, bool encrypted,
                             const std::string& passphrase, KdfStrength strength);
  // Sorted by name.
  Result<std::vector<KeyFileInfo>> list() const;
  Result<KeyFileInfo> show(const std::string& name) const;
  Result<SecretKey> unlock(const std::string& name, const std::string& passphrase) const;

  std::filesystem::path path_of(const std::string& name) const;

 private:
  std::filesystem::path directory_;
};

}  // namespace tally
