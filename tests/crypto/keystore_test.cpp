#include "crypto/keystore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

namespace tally {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr KdfStrength kFast = KdfStrength::interactive;

// A fresh directory per test, removed afterwards.
class KeystoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    std::ostringstream name;
    name << "tally-keystore-test-" << std::hex << random() << random();
    root_ = fs::temp_directory_path() / name.str();
    ASSERT_TRUE(fs::create_directory(root_));
  }
  void TearDown() override {
    std::error_code error;
    fs::remove_all(root_, error);
  }

  static SecretKey test_key(uint8_t fill) {
    Seed seed;
    seed.data.fill(fill);
    return SecretKey::from_seed(seed);
  }

  static std::string read_text(const fs::path& path) {
    std::ifstream stream(path);
    std::stringstream buffer;
    buffer << stream.rdbuf();
    return buffer.str();
  }
  static void write_text(const fs::path& path, const std::string& text) {
    std::ofstream stream(path, std::ios::trunc);
    stream << text;
  }
  static json read_json(const fs::path& path) { return json::parse(read_text(path)); }
  static void write_json(const fs::path& path, const json& document) {
    write_text(path, document.dump(2));
  }
  static unsigned mode_of(const fs::path& path) {
    struct stat status {};
    EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
    return status.st_mode & 07777;
  }

  fs::path root_;
};

TEST_F(KeystoreTest, CreateListShowUnlockRoundTrip) {
  Keystore keystore(root_ / "home");
  SecretKey alice = test_key(1);
  SecretKey bob = test_key(2);

  Result<KeyFileInfo> created = keystore.create("bob", bob, true, "bob's passphrase", kFast);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->name, "bob");
  EXPECT_EQ(created->address, Address{bob.public_key()});
  EXPECT_TRUE(created->encrypted);
  ASSERT_TRUE(keystore.create("alice", alice, false, "", kFast).ok());

  Result<std::vector<KeyFileInfo>> listed = keystore.list();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "alice");
  EXPECT_FALSE((*listed)[0].encrypted);
  EXPECT_EQ((*listed)[0].address, Address{alice.public_key()});
  EXPECT_EQ((*listed)[1].name, "bob");
  EXPECT_TRUE((*listed)[1].encrypted);

  Result<KeyFileInfo> shown = keystore.show("bob");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->address, Address{bob.public_key()});

  Result<SecretKey> unlocked = keystore.unlock("bob", "bob's passphrase");
  ASSERT_TRUE(unlocked.ok()) << unlocked.error().message;
  EXPECT_EQ(unlocked->public_key(), bob.public_key());
  EXPECT_EQ(unlocked->seed(), bob.seed());

  Result<SecretKey> plain = keystore.unlock("alice", "ignored");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->seed(), alice.seed());

  EXPECT_EQ(keystore.path_of("bob"), root_ / "home" / "keys" / "bob.json");
}

TEST_F(KeystoreTest, FileFormatIsAsDocumented) {
  Keystore keystore(root_);
  SecretKey key = test_key(3);
  ASSERT_TRUE(keystore.create("carol", key, true, "pass", kFast).ok());
  json document = read_json(keystore.path_of("carol"));
  EXPECT_EQ(document["version"], 1);
  EXPECT_EQ(document["name"], "carol");
  EXPECT_EQ(document["address"], Address{key.public_key()}.to_string());
  EXPECT_EQ(document["encryption"], "argon2id-xchacha20poly1305");
  EXPECT_TRUE(document["kdf"]["opslimit"].is_number_unsigned());
  EXPECT_TRUE(document["kdf"]["memlimit"].is_number_unsigned());
  EXPECT_EQ(document["kdf"]["salt"].get<std::string>().size(), 32u);
  EXPECT_EQ(document["nonce"].get<std::string>().size(), 48u);
  EXPECT_EQ(document["ciphertext"].get<std::string>().size(), 96u);
  EXPECT_FALSE(document.contains("seed"));
  // The seed does not appear in the file.
  EXPECT_EQ(read_text(keystore.path_of("carol")).find(key.seed().hex()), std::string::npos);

  ASSERT_TRUE(keystore.create("dave", key, false, "", kFast).ok());
  json plain = read_json(keystore.path_of("dave"));
  EXPECT_EQ(plain["encryption"], "none");
  EXPECT_EQ(plain["seed"], key.seed().hex());
}

TEST_F(KeystoreTest, WrongPassphrase) {
  Keystore keystore(root_);
  ASSERT_TRUE(keystore.create("alice", test_key(4), true, "right", kFast).ok());
  Result<SecretKey> unlocked = keystore.unlock("alice", "wrong");
  ASSERT_FALSE(unlocked.ok());
  EXPECT_EQ(unlocked.error().code, "wrong_passphrase");
  EXPECT_EQ(unlocked.error().message, "wrong passphrase (or the key file was altered)");
}

TEST_F(KeystoreTest, PermissionsArePrivate) {
  Keystore keystore(root_ / "home");
  ASSERT_TRUE(keystore.create("alice", test_key(5), false, "", kFast).ok());
  EXPECT_EQ(mode_of(root_ / "home" / "keys"), 0700u);
  EXPECT_EQ(mode_of(keystore.path_of("alice")), 0600u);

  fs::path loose = root_ / "loose" / "nested" / "account0.key";
  ASSERT_TRUE(write_key_file(loose, "account0", test_key(6), false, "", kFast).ok());
  EXPECT_EQ(mode_of(loose), 0600u);
  EXPECT_EQ(mode_of(loose.parent_path()), 0700u);
  // No temporary files are left behind.
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(loose.parent_path())) {
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(KeystoreTest, TamperedCiphertextIsDetected) {
  Keystore keystore(root_);
  ASSERT_TRUE(keystore.create("alice", test_key(7), true, "pass", kFast).ok());
  fs::path path = keystore.path_of("alice");
  json document = read_json(path);
  std::string ciphertext = document["ciphertext"];
  ciphertext[0] = ciphertext[0] == '0' ? '1' : '0';
  document["ciphertext"] = ciphertext;
  write_json(path, document);
  Result<SecretKey> unlocked = keystore.unlock("alice", "pass");
  ASSERT_FALSE(unlocked.ok());
  EXPECT_EQ(unlocked.error().code, "wrong_passphrase");
}

TEST_F(KeystoreTest, TamperedAddressIsDetected) {
  Keystore keystore(root_);
  const std::string other_address = Address{test_key(99).public_key()}.to_string();

  // Encrypted: the address is bound to the ciphertext as associated data.
  ASSERT_TRUE(keystore.create("enc", test_key(8), true, "pass", kFast).ok());
  json encrypted = read_json(keystore.path_of("enc"));
  encrypted["address"] = other_address;
  write_json(keystore.path_of("enc"), encrypted);
  Result<SecretKey> unlocked = keystore.unlock("enc", "pass");
  ASSERT_FALSE(unlocked.ok());
  EXPECT_EQ(unlocked.error().code, "wrong_passphrase");

  // Plain: the public key re-derived from the seed must match.
  ASSERT_TRUE(keystore.create("plain", test_key(9), false, "", kFast).ok());
  json plain = read_json(keystore.path_of("plain"));
  plain["address"] = other_address;
  write_json(keystore.path_of("plain"), plain);
  Result<SecretKey> plain_unlocked = keystore.unlock("plain", "");
  ASSERT_FALSE(plain_unlocked.ok());
  EXPECT_EQ(plain_unlocked.error().code, "invalid_key_file");
  EXPECT_NE(plain_unlocked.error().message.find("address does not match key"), std::string::npos);

  // An address with a typo.
  std::string typo = other_address;
  typo[10] = typo[10] == 'q' ? 'p' : 'q';
  plain["address"] = typo;
  write_json(keystore.path_of("plain"), plain);
  Result<KeyFileInfo> info = keystore.show("plain");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, "invalid_key_file");
  EXPECT_NE(info.error().message.find("address"), std::string::npos);
}

TEST_F(KeystoreTest, HostileKdfCostsAreRefused) {
  Keystore keystore(root_);
  ASSERT_TRUE(keystore.create("alice", test_key(10), true, "pass", kFast).ok());
  fs::path path = keystore.path_of("alice");
  const json original = read_json(path);

  struct Case {
    const char* field;
    json value;
  };
  const Case cases[] = {
      {"memlimit", json(100ull << 30)},  // 100 GiB
      {"memlimit", json(1024)},          // below libsodium's minimum
      {"memlimit", json(-1)},           {"memlimit", json("67108864")},
      {"opslimit", json(1000000)},      {"opslimit", json(0)},
      {"opslimit", json(2.5)},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(std::string(test_case.field) + " = " + test_case.value.dump());
    json document = original;
    document["kdf"][test_case.field] = test_case.value;
    write_json(path, document);
    Result<SecretKey> unlocked = keystore.unlock("alice", "pass");
    ASSERT_FALSE(unlocked.ok());
    EXPECT_EQ(unlocked.error().code, "invalid_key_file");
    EXPECT_NE(unlocked.error().message.find(std::string("kdf.") + test_case.field),
              std::string::npos)
        << unlocked.error().message;
  }
}

TEST_F(KeystoreTest, MalformedFilesAreInvalid) {
  Keystore keystore(root_);
  ASSERT_TRUE(keystore.create("good", test_key(11), false, "", kFast).ok());
  const json good = read_json(keystore.path_of("good"));
  fs::path path = root_ / "bad.json";

  auto expect_invalid = [&](const std::string& text, const std::string& mention) {
    SCOPED_TRACE(text.substr(0, 200));
    write_text(path, text);
    Result<SecretKey> key = read_key_file(path, "");
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, "invalid_key_file");
    EXPECT_NE(key.error().message.find(mention), std::string::npos) << key.error().message;
    Result<KeyFileInfo> info = read_key_file_info(path);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.error().code, "invalid_key_file");
  };
  auto with = [&](const std::string& field, const json& value) {
    json document = good;
    document[field] = value;
    return document.dump();
  };
  auto without = [&](const std::string& field) {
    json document = good;
    document.erase(field);
    return document.dump();
  };

  expect_invalid("", "not valid JSON");
  expect_invalid("{\"version\": 1,", "not valid JSON");
  expect_invalid("\x01\x02garbage", "not valid JSON");
  expect_invalid("[1, 2, 3]", "not a JSON object");
  expect_invalid(std::string(20000, '[') + std::string(20000, ']'), "not a JSON object");
  expect_invalid(with("version", 2), "version");
  expect_invalid(with("version", "1"), "version");
  expect_invalid(without("version"), "version");
  expect_invalid(with("name", 5), "name");
  expect_invalid(without("address"), "address");
  expect_invalid(with("address", "tally1notanaddress"), "address");
  expect_invalid(with("encryption", "rot13"), "encryption");
  expect_invalid(with("seed", "abcd"), "seed");
  expect_invalid(with("seed", std::string(64, 'z')), "seed");
  expect_invalid(without("seed"), "seed");
  expect_invalid(std::string(70 * 1024, ' ') + good.dump(), "larger than");
}

TEST_F(KeystoreTest, MalformedEncryptedFieldsAreInvalid) {
  Keystore keystore(root_);
  ASSERT_TRUE(keystore.create("alice", test_key(12), true, "pass", kFast).ok());
  const json good = read_json(keystore.path_of("alice"));
  fs::path path = root_ / "bad.json";
  auto expect_invalid = [&](const json& document, const std::string& mention) {
    SCOPED_TRACE(document.dump());
    write_json(path, document);
    Result<SecretKey> key = read_key_file(path, "pass");
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, "invalid_key_file");
    EXPECT_NE(key.error().message.find(mention), std::string::npos) << key.error().message;
  };
  json document = good;
  document["nonce"] = "00";
  expect_invalid(document, "nonce");
  document = good;
  document["ciphertext"] = good["ciphertext"].get<std::string>() + "00";
  expect_invalid(document, "ciphertext");
  document = good;
  document["kdf"]["salt"] = 7;
  expect_invalid(document, "kdf.salt");
  document = good;
  document["kdf"] = "argon2";
  expect_invalid(document, "kdf");
  document = good;
  document.erase("kdf");
  expect_invalid(document, "kdf");
}

TEST_F(KeystoreTest, MissingKeys) {
  Keystore keystore(root_ / "nowhere");
  Result<std::vector<KeyFileInfo>> listed = keystore.list();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());

  Result<KeyFileInfo> shown = keystore.show("ghost");
  ASSERT_FALSE(shown.ok());
  EXPECT_EQ(shown.error().code, "key_not_found");
  EXPECT_NE(shown.error().message.find("ghost"), std::string::npos);
  Result<SecretKey> unlocked = keystore.unlock("ghost", "x");
  ASSERT_FALSE(unlocked.ok());
  EXPECT_EQ(unlocked.error().code, "key_not_found");

  Result<SecretKey> missing = read_key_file(root_ / "missing.json", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "key_not_found");
}

TEST_F(KeystoreTest, ExistingNameIsRefused) {
  Keystore keystore(root_);
  SecretKey first = test_key(13);
  ASSERT_TRUE(keystore.create("alice", first, false, "", kFast).ok());
  Result<KeyFileInfo> again = keystore.create("alice", test_key(14), false, "", kFast);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "key_exists");
  // The original is untouched.
  Result<SecretKey> unlocked = keystore.unlock("alice", "");
  ASSERT_TRUE(unlocked.ok());
  EXPECT_EQ(unlocked->public_key(), first.public_key());
}

TEST_F(KeystoreTest, InvalidNamesAreRefused) {
  Keystore keystore(root_);
  for (const std::string& name :
       {std::string(""), std::string(65, 'a'), std::string("a b"), std::string("../escape"),
        std::string("a/b"), std::string("dot.name"), std::string("tab\t"), std::string("nul\0x", 5),
        std::string("caf\xc3\xa9")}) {
    SCOPED_TRACE(name);
    Result<KeyFileInfo> created = keystore.create(name, test_key(15), false, "", kFast);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.error().code, "invalid_key_name");
    Result<KeyFileInfo> shown = keystore.show(name);
    ASSERT_FALSE(shown.ok());
    EXPECT_EQ(shown.error().code, "invalid_key_name");
    Result<SecretKey> unlocked = keystore.unlock(name, "");
    ASSERT_FALSE(unlocked.ok());
    EXPECT_EQ(unlocked.error().code, "invalid_key_name");
  }
  EXPECT_FALSE(fs::exists(root_ / "escape.json"));
  for (const std::string& name : {std::string(64, 'a'), std::string("A-z_0-9"), std::string("x")}) {
    EXPECT_TRUE(keystore.create(name, test_key(16), false, "", kFast).ok()) << name;
  }
}

TEST_F(KeystoreTest, ListSkipsOtherFiles) {
  Keystore keystore(root_);
  ASSERT_TRUE(keystore.create("zed", test_key(17), false, "", kFast).ok());
  ASSERT_TRUE(keystore.create("amy", test_key(18), false, "", kFast).ok());
  fs::path directory = keystore.path_of("amy").parent_path();
  write_text(directory / "notes.txt", "not a key");
  write_text(directory / ".hidden.json", "{}");
  write_text(directory / "README", "hello");
  fs::create_directory(directory / "sub.json");
  Result<std::vector<KeyFileInfo>> listed = keystore.list();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "amy");
  EXPECT_EQ((*listed)[1].name, "zed");
}

TEST_F(KeystoreTest, PlainFileRoundTripWithWriteAndRead) {
  fs::path path = root_ / "account0.key";
  SecretKey key = test_key(19);
  ASSERT_TRUE(write_key_file(path, "account0", key, false, "", kFast).ok());
  Result<KeyFileInfo> info = read_key_file_info(path);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->name, "account0");
  EXPECT_FALSE(info->encrypted);
  EXPECT_EQ(info->address, Address{key.public_key()});
  Result<SecretKey> read = read_key_file(path, "");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->seed(), key.seed());

  // write_key_file replaces an existing file.
  SecretKey other = test_key(20);
  ASSERT_TRUE(write_key_file(path, "account0", other, false, "", kFast).ok());
  Result<SecretKey> replaced = read_key_file(path, "");
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->public_key(), other.public_key());

  // Uppercase address text is accepted on read.
  json document = read_json(path);
  document["address"] = [&] {
    std::string text = document["address"];
    for (char& character : text) {
      character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
    }
    return text;
  }();
  write_json(path, document);
  EXPECT_TRUE(read_key_file(path, "").ok());
}

TEST_F(KeystoreTest, EncryptedFileRoundTripWithWriteAndRead) {
  fs::path path = root_ / "validator_key";
  SecretKey key = test_key(21);
  ASSERT_TRUE(write_key_file(path, "validator", key, true, "p4ss", kFast).ok());
  Result<KeyFileInfo> info = read_key_file_info(path);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->encrypted);
  Result<SecretKey> read = read_key_file(path, "p4ss");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->seed(), key.seed());
}

TEST_F(KeystoreTest, UnwritableLocationIsAnIoError) {
  // Tests may run as root, so permissions cannot make a path unwritable: put it under a file.
  fs::path file = root_ / "somefile";
  write_text(file, "I am a file");
  Status status = write_key_file(file / "sub" / "key.json", "name", test_key(22), false, "", kFast);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "io_error");

  Keystore keystore(file);
  Result<KeyFileInfo> created = keystore.create("alice", test_key(23), false, "", kFast);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, "io_error");

  // A directory where the file should be.
  fs::create_directory(root_ / "taken");
  Status over_directory = write_key_file(root_ / "taken", "name", test_key(24), false, "", kFast);
  ASSERT_FALSE(over_directory.ok());
  EXPECT_EQ(over_directory.error().code, "io_error");
}

TEST_F(KeystoreTest, ReadingSomethingThatIsNotAFile) {
  fs::create_directory(root_ / "dir.json");
  Result<KeyFileInfo> info = read_key_file_info(root_ / "dir.json");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, "invalid_key_file");
  ASSERT_EQ(::mkfifo((root_ / "fifo.json").c_str(), 0600), 0);
  Result<SecretKey> key = read_key_file(root_ / "fifo.json", "");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, "invalid_key_file");
}

TEST_F(KeystoreTest, NameThatIsNotUtf8CannotBeWritten) {
  Status status = write_key_file(root_ / "k.json", "bad\xff", test_key(25), false, "", kFast);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "invalid_key_name");
  EXPECT_FALSE(fs::exists(root_ / "k.json"));
}

}  // namespace
}  // namespace tally
