// The test vectors published in docs/protocol.md. The signature was cross-checked with the
// OpenSSL command line and the hashes and tree roots with sha256sum, independently of this code.

#include <gtest/gtest.h>

#include "ledger/state.h"

namespace tally {
namespace {

// RFC 8032 section 7.1, TEST 1 and TEST 2 secret keys.
constexpr const char* kSeedA = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kSeedB = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

SecretKey key_a() {
  return SecretKey::from_seed(Seed::from_hex(kSeedA).value());
}
Address address_a() {
  return Address{key_a().public_key()};
}
Address address_b() {
  return Address{SecretKey::from_seed(Seed::from_hex(kSeedB).value()).public_key()};
}

Transfer vector_transfer() {
  return Transfer{address_a(), address_b(), Amount{12'500'000'000}, Amount{1000}, 7, true};
}

TEST(ProtocolVectors, Addresses) {
  EXPECT_EQ(address_a().key.hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(address_a().to_string(),
            "tally16adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydqj74ulw");
  EXPECT_EQ(address_b().to_string(),
            "tally184qp0slggwy44y4hp2n56xm7hjwfstx09mzfdrxqe42lz2h5vcxq73gzaj");
}

TEST(ProtocolVectors, TransferBodySigningMessageSignatureAndHash) {
  Transfer transfer = vector_transfer();
  EXPECT_EQ(to_hex(encode_transfer_body(transfer)),
            "0101d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a3d4017c3e843895a"
            "92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c00dd0ee902000000e803000000000000070000"
            "000000000001");
  EXPECT_EQ(to_hex(transaction_signing_message("tally-test", transfer)),
            "1400000074616c6c792f7472616e73616374696f6e2f76310a00000074616c6c792d746573740101d75a"
            "980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a3d4017c3e843895a92b70aa74d"
            "1b7ebc9c982ccf2ec4968cc0cd55f12af4660c00dd0ee902000000e80300000000000007000000000000"
            "0001");
  Transaction transaction = sign_transfer(transfer, key_a(), "tally-test");
  EXPECT_EQ(transaction.signature.hex(),
            "fbb703848fb43f2b485824e011060c998c41329b2a26c2238c37fb98681404198be00985a6d25c40552e"
            "7f37408c684702166e898f028fbc3281d78a02d1cd0e");
  EXPECT_EQ(transaction.hash().hex(),
            "c4d16b7311b584ff04bd05004281f85fb361c5fcf595324621102461b50522cc");
  Bytes encoded = transaction.encode();
  EXPECT_EQ(to_hex(encoded).substr(0, 182), to_hex(encode_transfer_body(transfer)));
  EXPECT_EQ(to_hex(encoded).substr(182), transaction.signature.hex());
}

TEST(ProtocolVectors, AccountEncodingAndTreeKey) {
  Account account{Amount{1000}, 3, address_a(), 42};
  EXPECT_EQ(to_hex(encode_account(account)),
            "01e8030000000000000300000000000000d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af"
            "021a68f707511a2a00000000000000");
  EXPECT_EQ(account_value_hash(account).hex(),
            "920ea995d5a1a3921352eb65543b03a87d44918d0c13a12bb40d79e1b1f12040");
  EXPECT_EQ(account_tree_key(address_a()).hex(),
            "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9");
  EXPECT_EQ(account_tree_key(address_b()).hex(),
            "39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f");
}

TEST(ProtocolVectors, StateRootsAndProof) {
  Account genesis_a{Amount{600}, 0, Address{}, 0};
  Account genesis_b{Amount{400}, 0, Address{}, 0};
  StateTree tree;
  EXPECT_TRUE(tree.root().is_zero());
  tree.set(account_tree_key(address_a()), account_value_hash(genesis_a));
  EXPECT_EQ(tree.root().hex(), "abb52ce75a5426dcecf9eaa39f46dee2e4de70c57c5e4f0b61e834c334a3f1b4");
  tree.set(account_tree_key(address_b()), account_value_hash(genesis_b));
  Hash256 root = tree.root();
  EXPECT_EQ(root.hex(), "057503f7ab28d008d3e4ae102c77a634ec3a5396d7b646682c6ba06e83b45ee0");
  TreeProof proof = tree.prove(account_tree_key(address_a()));
  EXPECT_EQ(to_hex(proof.encode()),
            "010121fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9aa0f2f3129936735"
            "7b8e216436b3b1a88b2666bd53dd3339dbdf9552db83813b040008b515c4c29b14552b45c98ec93a7814"
            "4925bf368d8f42587e76e737a855e6d5ac");
  EXPECT_TRUE(verify_account_proof(root, address_a(), genesis_a, proof).ok());
}

}  // namespace
}  // namespace tally
