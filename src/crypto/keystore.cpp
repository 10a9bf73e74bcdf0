#include "crypto/keystore.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>
#include <tuple>

#include "core/assert.h"

namespace tally {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kVersion = 1;
constexpr std::string_view kEncryptionNone = "none";
constexpr std::string_view kEncryptionArgon2id = "argon2id-xchacha20poly1305";
constexpr size_t kMaxFileSize = 64 * 1024;
constexpr size_t kMaxNameLength = 64;

constexpr size_t kSaltSize = crypto_pwhash_argon2id_SALTBYTES;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kKeySize = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr size_t kCiphertextSize = Seed::kSize + crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kSaltSize == 16 && kNonceSize == 24 && kKeySize == 32 && kCiphertextSize == 48);

// Bounds on the Argon2id costs read from a file: a hostile file must not make us allocate more
// than the "sensitive" preset (1 GiB), nor accept costs libsodium would refuse.
constexpr uint64_t kMinOpslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
constexpr uint64_t kMaxOpslimit = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
constexpr uint64_t kMinMemlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
constexpr uint64_t kMaxMemlimit = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;

// Fixed-size secret bytes, wiped when they go out of scope.
template <size_t N>
struct SecretBuffer {
  std::array<uint8_t, N> bytes{};

  SecretBuffer() = default;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer() { sodium_memzero(bytes.data(), bytes.size()); }

  uint8_t* data() { return bytes.data(); }
  const uint8_t* data() const { return bytes.data(); }
};

// Closes a file descriptor and, until `keep` is called, removes the file it was created as.
class TempFile {
 public:
  TempFile(int descriptor, fs::path path) : descriptor_(descriptor), path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    close_descriptor();
    if (!kept_) {
      ::unlink(path_.c_str());
    }
  }

  int descriptor() const { return descriptor_; }
  // Returns errno of a failed close, or 0.
  int close_descriptor() {
    if (descriptor_ < 0) {
      return 0;
    }
    int result = ::close(descriptor_);
    descriptor_ = -1;
    return result == 0 ? 0 : errno;
  }
  void keep() { kept_ = true; }

 private:
  int descriptor_;
  fs::path path_;
  bool kept_ = false;
};

class Descriptor {
 public:
  explicit Descriptor(int descriptor) : descriptor_(descriptor) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (descriptor_ >= 0) {
      ::close(descriptor_);
    }
  }
  int get() const { return descriptor_; }

 private:
  int descriptor_;
};

std::string describe_errno(int error) {
  return std::generic_category().message(error);
}

Error io_error(const std::string& what, const fs::path& path, int error) {
  return make_error("io_error", what + " " + path.string() + ": " + describe_errno(error));
}

Error invalid_file(const fs::path& path, const std::string& problem) {
  return make_error("invalid_key_file", "invalid key file " + path.string() + ": " + problem);
}

struct KdfParameters {
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;
};

KdfParameters kdf_parameters(KdfStrength strength) {
  switch (strength) {
    case KdfStrength::interactive:
      return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
              crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
    case KdfStrength::moderate:
      return {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
  }
  TALLY_ASSERT_MSG(false, "unknown KdfStrength");
  return {};
}

Status derive_key(SecretBuffer<kKeySize>& key, const std::string& passphrase,
                  const std::array<uint8_t, kSaltSize>& salt, const KdfParameters& parameters) {
  if (crypto_pwhash(key.data(), kKeySize, passphrase.data(), passphrase.size(), salt.data(),
                    static_cast<unsigned long long>(parameters.opslimit),
                    static_cast<size_t>(parameters.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error("kdf_failed", "Argon2id key derivation failed (out of memory?)");
  }
  return Status::success();
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char character) {
    return (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') ||
           (character >= '0' && character <= '9') || character == '_' || character == '-';
  });
}

Status validate_name(const std::string& name) {
  if (is_valid_name(name)) {
    return Status::success();
  }
  std::string message = "key names are 1-64 characters of A-Z, a-z, 0-9, '_' and '-'";
  bool printable = name.size() <= kMaxNameLength &&
                   std::all_of(name.begin(), name.end(),
                               [](char character) { return character >= 32 && character <= 126; });
  if (printable) {
    message += "; got '" + name + "'";
  }
  return make_error("invalid_key_name", message);
}

// Creates `directory` and any missing parents with mode 0700.
Status create_private_directories(const fs::path& directory) {
  std::error_code error;
  if (fs::is_directory(directory, error)) {
    return Status::success();
  }
  fs::path parent = directory.parent_path();
  if (!parent.empty() && parent != directory) {
    TALLY_TRY(create_private_directories(parent));
  }
  if (::mkdir(directory.c_str(), 0700) != 0) {
    int mkdir_error = errno;
    if (mkdir_error != EEXIST) {
      return io_error("cannot create directory", directory, mkdir_error);
    }
    if (!fs::is_directory(directory, error)) {
      return io_error("cannot create directory", directory, ENOTDIR);
    }
  }
  return Status::success();
}

Status write_all(int descriptor, std::string_view text, const fs::path& path) {
  while (!text.empty()) {
    ssize_t written = ::write(descriptor, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error("cannot write", path, errno);
    }
    text.remove_prefix(static_cast<size_t>(written));
  }
  return Status::success();
}

// Writes `text` to `path` atomically: a 0600 temporary file in the same directory, fsync, rename,
// fsync of the directory. With `replace` = false an existing file is never overwritten.
Status write_private_file(const fs::path& path, std::string_view text, bool replace) {
  fs::path file_name = path.filename();
  if (file_name.empty() || file_name == "." || file_name == "..") {
    return make_error("io_error", "not a file path: " + path.string());
  }
  fs::path directory = path.parent_path();
  if (directory.empty()) {
    directory = ".";
  }
  TALLY_TRY(create_private_directories(directory));

  std::array<uint8_t, 8> suffix;
  randombytes_buf(suffix.data(), suffix.size());
  fs::path temp_path = directory / ("." + file_name.string() + ".tmp-" + to_hex(suffix));
  int descriptor =
      ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (descriptor < 0) {
    return io_error("cannot create", temp_path, errno);
  }
  TempFile temp(descriptor, temp_path);
  if (::fchmod(descriptor, 0600) != 0) {  // in case the umask removed bits we asked for
    return io_error("cannot set permissions of", temp_path, errno);
  }
  TALLY_TRY(write_all(descriptor, text, temp_path));
  if (::fsync(descriptor) != 0) {
    return io_error("cannot sync", temp_path, errno);
  }
  if (int close_error = temp.close_descriptor(); close_error != 0) {
    return io_error("cannot close", temp_path, close_error);
  }

  if (replace) {
    if (::rename(temp_path.c_str(), path.c_str()) != 0) {
      return io_error("cannot rename over", path, errno);
    }
  } else if (::renameat2(AT_FDCWD, temp_path.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) !=
             0) {
    int rename_error = errno;
    if (rename_error == EEXIST) {
      return make_error("key_exists", path.string() + " already exists");
    }
    if (rename_error != EINVAL && rename_error != ENOSYS) {
      return io_error("cannot rename to", path, rename_error);
    }
    // The file system cannot rename without replacing: check, then rename (a small race).
    std::error_code error;
    if (fs::symlink_status(path, error).type() != fs::file_type::not_found) {
      return make_error("key_exists", path.string() + " already exists");
    }
    if (::rename(temp_path.c_str(), path.c_str()) != 0) {
      return io_error("cannot rename to", path, errno);
    }
  }
  temp.keep();

  Descriptor directory_descriptor(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory_descriptor.get() < 0) {
    return io_error("cannot open directory", directory, errno);
  }
  if (::fsync(directory_descriptor.get()) != 0 && errno != EINVAL) {
    return io_error("cannot sync directory", directory, errno);
  }
  return Status::success();
}

// Reads a whole key file, refusing anything but a regular file of at most kMaxFileSize bytes.
Result<std::string> read_key_file_text(const fs::path& path) {
  // O_NONBLOCK: opening a FIFO must not hang; it has no effect on regular files.
  Descriptor descriptor(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (descriptor.get() < 0) {
    int open_error = errno;
    if (open_error == ENOENT || open_error == ENOTDIR) {
      return make_error("key_not_found", "no key file at " + path.string());
    }
    return io_error("cannot open", path, open_error);
  }
  struct stat status {};
  if (::fstat(descriptor.get(), &status) != 0) {
    return io_error("cannot stat", path, errno);
  }
  if (!S_ISREG(status.st_mode)) {
    return invalid_file(path, "not a regular file");
  }
  if (status.st_size < 0 || static_cast<uint64_t>(status.st_size) > kMaxFileSize) {
    return invalid_file(path, "larger than " + std::to_string(kMaxFileSize) + " bytes");
  }
  std::string text;
  std::array<char, 4096> buffer;
  while (true) {
    ssize_t count = ::read(descriptor.get(), buffer.data(), buffer.size());
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error("cannot read", path, errno);
    }
    if (count == 0) {
      break;
    }
    text.append(buffer.data(), static_cast<size_t>(count));
    if (text.size() > kMaxFileSize) {  // the file grew after fstat
      return invalid_file(path, "larger than " + std::to_string(kMaxFileSize) + " bytes");
    }
  }
  return text;
}

// A key file's contents, checked for shape but not decrypted.
struct ParsedKeyFile {
  KeyFileInfo info;
  std::string address_text;  // exactly as stored: the associated data of the encryption
  // Plain files.
  Seed seed;
  // Encrypted files.
  KdfParameters kdf;
  std::array<uint8_t, kSaltSize> salt{};
  std::array<uint8_t, kNonceSize> nonce{};
  std::array<uint8_t, kCiphertextSize> ciphertext{};

  ParsedKeyFile() = default;
  ParsedKeyFile(const ParsedKeyFile&) = default;
  ParsedKeyFile& operator=(const ParsedKeyFile&) = default;
  ~ParsedKeyFile() { sodium_memzero(seed.data.data(), seed.data.size()); }
};

class FieldReader {
 public:
  explicit FieldReader(const fs::path& path) : path_(path) {}

  Result<const json*> member(const json& object, const std::string& field,
                             const std::string& label) const {
    auto found = object.find(field);
    if (found == object.end()) {
      return invalid_file(path_, "missing field '" + label + "'");
    }
    return &*found;
  }

  Result<std::string> string(const json& object, const std::string& field,
                             const std::string& label) const {
    Result<const json*> value = member(object, field, label);
    TALLY_TRY(value);
    if (!(*value)->is_string()) {
      return invalid_file(path_, "field '" + label + "' must be a string");
    }
    return (*value)->get<std::string>();
  }

  Result<uint64_t> unsigned_integer(const json& object, const std::string& field,
                                    const std::string& label) const {
    Result<const json*> value = member(object, field, label);
    TALLY_TRY(value);
    if (!(*value)->is_number_unsigned()) {
      return invalid_file(path_, "field '" + label + "' must be a non-negative integer");
    }
    return (*value)->get<uint64_t>();
  }

  Status hex(const json& object, const std::string& field, const std::string& label,
             std::span<uint8_t> out) const {
    Result<std::string> text = string(object, field, label);
    TALLY_TRY(text);
    Status status = from_hex_into(*text, out);
    if (!status.ok()) {
      return invalid_file(path_, "field '" + label + "' must be " + std::to_string(out.size()) +
                                     " bytes of hex (" + status.error().message + ")");
    }
    return Status::success();
  }

  Result<uint64_t> bounded(const json& object, const std::string& field, const std::string& label,
                           uint64_t minimum, uint64_t maximum) const {
    Result<uint64_t> value = unsigned_integer(object, field, label);
    TALLY_TRY(value);
    if (*value < minimum || *value > maximum) {
      return invalid_file(path_, "field '" + label + "' is " + std::to_string(*value) +
                                     ", outside the accepted range [" + std::to_string(minimum) +
                                     ", " + std::to_string(maximum) + "]");
    }
    return *value;
  }

 private:
  const fs::path& path_;
};

Result<ParsedKeyFile> parse_key_file(const fs::path& path, const std::string& text) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return invalid_file(path, "not valid JSON");
  }
  if (!document.is_object()) {
    return invalid_file(path, "not a JSON object");
  }
  FieldReader reader(path);
  ParsedKeyFile parsed;

  Result<uint64_t> version = reader.unsigned_integer(document, "version", "version");
  TALLY_TRY(version);
  if (*version != kVersion) {
    return invalid_file(path, "unsupported version " + std::to_string(*version) +
                                  " (this build reads version " + std::to_string(kVersion) + ")");
  }

  Result<std::string> name = reader.string(document, "name", "name");
  TALLY_TRY(name);
  parsed.info.name = std::move(*name);

  Result<std::string> address_text = reader.string(document, "address", "address");
  TALLY_TRY(address_text);
  Result<Address> address = Address::parse(*address_text);
  if (!address.ok()) {
    return invalid_file(path, "field 'address': " + address.error().message);
  }
  parsed.info.address = *address;
  parsed.address_text = std::move(*address_text);

  Result<std::string> encryption = reader.string(document, "encryption", "encryption");
  TALLY_TRY(encryption);
  if (*encryption == kEncryptionNone) {
    parsed.info.encrypted = false;
    TALLY_TRY(reader.hex(document, "seed", "seed", parsed.seed.mutable_span()));
    return parsed;
  }
  if (*encryption != kEncryptionArgon2id) {
    return invalid_file(path, "field 'encryption' must be \"" + std::string(kEncryptionNone) +
                                  "\" or \"" + std::string(kEncryptionArgon2id) + "\"");
  }
  parsed.info.encrypted = true;

  Result<const json*> kdf = reader.member(document, "kdf", "kdf");
  TALLY_TRY(kdf);
  if (!(*kdf)->is_object()) {
    return invalid_file(path, "field 'kdf' must be an object");
  }
  Result<uint64_t> opslimit =
      reader.bounded(**kdf, "opslimit", "kdf.opslimit", kMinOpslimit, kMaxOpslimit);
  TALLY_TRY(opslimit);
  Result<uint64_t> memlimit =
      reader.bounded(**kdf, "memlimit", "kdf.memlimit", kMinMemlimit, kMaxMemlimit);
  TALLY_TRY(memlimit);
  parsed.kdf = {*opslimit, *memlimit};
  TALLY_TRY(reader.hex(**kdf, "salt", "kdf.salt", parsed.salt));
  TALLY_TRY(reader.hex(document, "nonce", "nonce", parsed.nonce));
  TALLY_TRY(reader.hex(document, "ciphertext", "ciphertext", parsed.ciphertext));
  return parsed;
}

Result<ParsedKeyFile> load_key_file(const fs::path& path) {
  Result<std::string> text = read_key_file_text(path);
  TALLY_TRY(text);
  Result<ParsedKeyFile> parsed = parse_key_file(path, *text);
  sodium_memzero(text->data(), text->size());  // a plain file's text holds the seed
  return parsed;
}

Result<SecretKey> unlock_key_file(const fs::path& path, const std::string& passphrase) {
  Result<ParsedKeyFile> parsed = load_key_file(path);
  TALLY_TRY(parsed);
  SecretBuffer<Seed::kSize> seed;
  if (parsed->info.encrypted) {
    SecretBuffer<kKeySize> key;
    TALLY_TRY(derive_key(key, passphrase, parsed->salt, parsed->kdf));
    unsigned long long seed_length = 0;
    const std::string& associated = parsed->address_text;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            seed.data(), &seed_length, nullptr, parsed->ciphertext.data(),
            parsed->ciphertext.size(), reinterpret_cast<const uint8_t*>(associated.data()),
            associated.size(), parsed->nonce.data(), key.data()) != 0) {
      return make_error("wrong_passphrase", "wrong passphrase (or the key file was altered)");
    }
    TALLY_ASSERT(seed_length == Seed::kSize);
  } else {
    std::copy(parsed->seed.data.begin(), parsed->seed.data.end(), seed.bytes.begin());
  }

  Seed seed_value;
  std::copy(seed.bytes.begin(), seed.bytes.end(), seed_value.data.begin());
  SecretKey secret_key = SecretKey::from_seed(seed_value);
  sodium_memzero(seed_value.data.data(), seed_value.data.size());
  if (Address{secret_key.public_key()} != parsed->info.address) {
    return invalid_file(path, "address does not match key");
  }
  return secret_key;
}

Status write_key_file_to(const fs::path& path, const std::string& name, const SecretKey& key,
                         bool encrypted, const std::string& passphrase, KdfStrength strength,
                         bool replace) {
  ensure_crypto_initialized();
  const std::string address = Address{key.public_key()}.to_string();
  json document = json::object();
  document["version"] = kVersion;
  document["name"] = name;
  document["address"] = address;

  SecretBuffer<Seed::kSize> seed;
  {
    Seed seed_value = key.seed();
    std::copy(seed_value.data.begin(), seed_value.data.end(), seed.bytes.begin());
    sodium_memzero(seed_value.data.data(), seed_value.data.size());
  }

  if (encrypted) {
    KdfParameters parameters = kdf_parameters(strength);
    std::array<uint8_t, kSaltSize> salt;
    std::array<uint8_t, kNonceSize> nonce;
    randombytes_buf(salt.data(), salt.size());
    randombytes_buf(nonce.data(), nonce.size());
    SecretBuffer<kKeySize> encryption_key;
    TALLY_TRY(derive_key(encryption_key, passphrase, salt, parameters));
    std::array<uint8_t, kCiphertextSize> ciphertext;
    unsigned long long ciphertext_length = 0;
    TALLY_ASSERT(crypto_aead_xchacha20poly1305_ietf_encrypt(
                     ciphertext.data(), &ciphertext_length, seed.data(), Seed::kSize,
                     reinterpret_cast<const uint8_t*>(address.data()), address.size(), nullptr,
                     nonce.data(), encryption_key.data()) == 0);
    TALLY_ASSERT(ciphertext_length == kCiphertextSize);
    document["encryption"] = kEncryptionArgon2id;
    document["kdf"] = {{"opslimit", parameters.opslimit},
                       {"memlimit", parameters.memlimit},
                       {"salt", to_hex(salt)}};
    document["nonce"] = to_hex(nonce);
    document["ciphertext"] = to_hex(ciphertext);
  } else {
    document["encryption"] = kEncryptionNone;
    document["seed"] = to_hex(seed.bytes);
  }

  std::string text;
  try {
    text = document.dump(2) + "\n";
  } catch (const json::exception&) {
    return make_error("invalid_key_name", "the key name is not valid UTF-8");
  }
  if (!encrypted) {
    std::string& seed_hex = document["seed"].get_ref<std::string&>();
    sodium_memzero(seed_hex.data(), seed_hex.size());
  }
  Status status = write_private_file(path, text, replace);
  sodium_memzero(text.data(), text.size());
  return status;
}

// The functions below must not throw: anything unexpected becomes an error.
template <typename Function>
auto without_exceptions(Function&& function) -> decltype(function()) {
  try {
    return function();
  } catch (const fs::filesystem_error& exception) {
    return make_error("io_error", exception.what());
  } catch (const json::exception& exception) {
    return make_error("invalid_key_file", exception.what());
  } catch (const std::exception& exception) {
    return make_error("internal_error", exception.what());
  }
}

// "No key file at PATH" becomes "no key named NAME", the words the user typed.
Error name_error(const Error& error, const std::string& name, const fs::path& directory) {
  if (error.code == "key_not_found") {
    return make_error("key_not_found", "no key named '" + name + "' in " + directory.string());
  }
  return error;
}

}  // namespace

Status write_key_file(const fs::path& path, const std::string& name, const SecretKey& key,
                      bool encrypted, const std::string& passphrase, KdfStrength strength) {
  return without_exceptions([&]() -> Status {
    return write_key_file_to(path, name, key, encrypted, passphrase, strength, /*replace=*/true);
  });
}

Result<KeyFileInfo> read_key_file_info(const fs::path& path) {
  return without_exceptions([&]() -> Result<KeyFileInfo> {
    Result<ParsedKeyFile> parsed = load_key_file(path);
    TALLY_TRY(parsed);
    return parsed->info;
  });
}

Result<SecretKey> read_key_file(const fs::path& path, const std::string& passphrase) {
  return without_exceptions(
      [&]() -> Result<SecretKey> { return unlock_key_file(path, passphrase); });
}

Keystore::Keystore(fs::path home) : directory_(std::move(home) / "keys") {}

fs::path Keystore::path_of(const std::string& name) const {
  return directory_ / (name + ".json");
}

Result<KeyFileInfo> Keystore::create(const std::string& name, const SecretKey& key, bool encrypted,
                                     const std::string& passphrase, KdfStrength strength) {
  return without_exceptions([&]() -> Result<KeyFileInfo> {
    TALLY_TRY(validate_name(name));
    fs::path path = path_of(name);
    std::error_code error;
    if (fs::symlink_status(path, error).type() != fs::file_type::not_found) {
      return make_error("key_exists",
                        "a key named '" + name + "' already exists (" + path.string() + ")");
    }
    TALLY_TRY(create_private_directories(directory_));
    TALLY_TRY(write_key_file_to(path, name, key, encrypted, passphrase, strength,
                                /*replace=*/false));
    return KeyFileInfo{name, Address{key.public_key()}, encrypted};
  });
}

Result<std::vector<KeyFileInfo>> Keystore::list() const {
  return without_exceptions([&]() -> Result<std::vector<KeyFileInfo>> {
    std::vector<KeyFileInfo> keys;
    std::error_code error;
    fs::file_status status = fs::status(directory_, error);
    if (status.type() == fs::file_type::not_found) {
      return keys;  // no keystore yet: no keys
    }
    if (error) {
      return io_error("cannot read", directory_, error.value());
    }
    fs::directory_iterator entries(directory_, error);
    if (error) {
      return io_error("cannot list", directory_, error.value());
    }
    for (; entries != fs::directory_iterator(); entries.increment(error)) {
      const fs::path& path = entries->path();
      if (path.extension() != ".json" || !is_valid_name(path.stem().string())) {
        continue;
      }
      std::error_code type_error;
      if (!entries->is_regular_file(type_error)) {
        continue;
      }
      Result<KeyFileInfo> info = read_key_file_info(path);
      TALLY_TRY(info);
      keys.push_back(std::move(*info));
    }
    if (error) {
      return io_error("cannot list", directory_, error.value());
    }
    std::sort(keys.begin(), keys.end(), [](const KeyFileInfo& left, const KeyFileInfo& right) {
      return std::tie(left.name, left.address) < std::tie(right.name, right.address);
    });
    return keys;
  });
}

Result<KeyFileInfo> Keystore::show(const std::string& name) const {
  return without_exceptions([&]() -> Result<KeyFileInfo> {
    TALLY_TRY(validate_name(name));
    Result<KeyFileInfo> info = read_key_file_info(path_of(name));
    if (!info.ok()) {
      return name_error(info.error(), name, directory_);
    }
    return info;
  });
}

Result<SecretKey> Keystore::unlock(const std::string& name, const std::string& passphrase) const {
  return without_exceptions([&]() -> Result<SecretKey> {
    TALLY_TRY(validate_name(name));
    Result<SecretKey> key = read_key_file(path_of(name), passphrase);
    if (!key.ok()) {
      return name_error(key.error(), name, directory_);
    }
    return key;
  });
}

}  // namespace tally
