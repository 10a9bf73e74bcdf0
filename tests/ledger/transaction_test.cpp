#include "ledger/transaction.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "test_chain.h"

namespace tally {
namespace {

using testing::address_for;
using testing::key_for;
using testing::signed_transfer;

TEST(Transaction, EncodesToFixedCanonicalLayout) {
  Transaction transaction = signed_transfer(0, address_for(1), 5, 7, 3, true);
  Bytes bytes = transaction.encode();
  ASSERT_EQ(bytes.size(), kTransactionEncodedSize);
  EXPECT_EQ(bytes[0], kTransactionVersion);
  EXPECT_EQ(bytes[1], kTransactionKindTransfer);
  EXPECT_TRUE(std::equal(bytes.begin() + 2, bytes.begin() + 34, address_for(0).key.data.begin()));
  EXPECT_EQ(bytes[66], 5);  // amount, little-endian
  EXPECT_EQ(bytes[74], 7);  // fee
  EXPECT_EQ(bytes[82], 3);  // nonce
  EXPECT_EQ(bytes[90], 1);  // create
  EXPECT_EQ(Transaction::decode(bytes).value(), transaction);
}

TEST(Transaction, HashIsSha256OfEncoding) {
  Transaction transaction = signed_transfer(0, address_for(1), 5, 7, 0);
  EXPECT_EQ(transaction.hash(), sha256(transaction.encode()));
}

TEST(Transaction, SignatureBindsChainIdAndEveryField) {
  Transaction transaction = signed_transfer(0, address_for(1), 5, 7, 0);
  EXPECT_TRUE(verify_transaction_signature(transaction, "tally-test"));
  EXPECT_FALSE(verify_transaction_signature(transaction, "tally-other"));

  Transaction altered = transaction;
  altered.transfer.amount = Amount{6};
  EXPECT_FALSE(verify_transaction_signature(altered, "tally-test"));
  altered = transaction;
  altered.transfer.create = true;
  EXPECT_FALSE(verify_transaction_signature(altered, "tally-test"));
  altered = transaction;
  altered.transfer.to = address_for(2);
  EXPECT_FALSE(verify_transaction_signature(altered, "tally-test"));
}

TEST(Transaction, SigningMessageIsDomainSeparated) {
  Transfer transfer = signed_transfer(0, address_for(1), 5, 7, 0).transfer;
  Bytes message = transaction_signing_message("tally-test", transfer);
  Bytes body = encode_transfer_body(transfer);
  ASSERT_EQ(message.size(), 4 + kTransactionSigningTag.size() + 4 + 10 + body.size());
  EXPECT_EQ(std::string(message.begin() + 4, message.begin() + 4 + kTransactionSigningTag.size()),
            kTransactionSigningTag);
  EXPECT_TRUE(std::equal(body.begin(), body.end(), message.end() - static_cast<long>(body.size())));
}

TEST(Transaction, DecoderRejectsNonCanonicalInput) {
  Bytes valid = signed_transfer(0, address_for(1), 5, 7, 0).encode();

  Bytes truncated(valid.begin(), valid.end() - 1);
  EXPECT_EQ(Transaction::decode(truncated).error().code, "truncated");

  Bytes trailing = valid;
  trailing.push_back(0);
  EXPECT_EQ(Transaction::decode(trailing).error().code, "oversized");

  Bytes wrong_version = valid;
  wrong_version[0] = 2;
  EXPECT_EQ(Transaction::decode(wrong_version).error().code, "unsupported_version");

  Bytes wrong_kind = valid;
  wrong_kind[1] = 9;
  EXPECT_EQ(Transaction::decode(wrong_kind).error().code, "unsupported_kind");

  Bytes bad_boolean = valid;
  bad_boolean[90] = 2;
  EXPECT_EQ(Transaction::decode(bad_boolean).error().code, "non_canonical");

  EXPECT_EQ(Transaction::decode(Bytes{}).error().code, "truncated");
}

RC_GTEST_PROP(TransactionProperty, RandomBytesDecodeOnlyWhenCanonical,
              (std::vector<uint8_t> bytes)) {
  Result<Transaction> decoded = Transaction::decode(bytes);
  if (decoded.ok())
    RC_ASSERT(decoded->encode() == bytes);
}

RC_GTEST_PROP(TransactionProperty, MutatedValidEncodingDecodesOnlyWhenCanonical,
              (size_t position, uint8_t value)) {
  Bytes bytes = signed_transfer(0, address_for(1), 5, 7, 0).encode();
  bytes[position % bytes.size()] = value;
  Result<Transaction> decoded = Transaction::decode(bytes);
  if (decoded.ok())
    RC_ASSERT(decoded->encode() == bytes);
}

RC_GTEST_PROP(TransactionProperty, SignedTransfersRoundTripAndVerify,
              (uint64_t amount, uint64_t fee, uint64_t nonce, bool create)) {
  Transaction transaction = signed_transfer(3, address_for(4), amount, fee, nonce, create);
  Result<Transaction> decoded = Transaction::decode(transaction.encode());
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == transaction);
  RC_ASSERT(verify_transaction_signature(*decoded, "tally-test"));
}

}  // namespace
}  // namespace tally
