#include "ledger/transaction.h"

#include "core/codec.h"

namespace tally {
namespace {

void write_body(Writer& writer, const Transfer& transfer) {
  writer.u8(kTransactionVersion);
  writer.u8(kTransactionKindTransfer);
  writer.fixed(transfer.from.key.span());
  writer.fixed(transfer.to.key.span());
  writer.u64(transfer.amount.units);
  writer.u64(transfer.fee.units);
  writer.u64(transfer.nonce);
  writer.boolean(transfer.create);
}

}  // namespace

Bytes encode_transfer_body(const Transfer& transfer) {
  Writer writer;
  writer.reserve(kTransferBodySize);
  write_body(writer, transfer);
  return writer.take();
}

Bytes Transaction::encode() const {
  Writer writer;
  writer.reserve(kTransactionEncodedSize);
  write_body(writer, transfer);
  writer.fixed(signature.span());
  return writer.take();
}

Result<Transaction> Transaction::decode(ByteSpan bytes) {
  if (bytes.size() > kTransactionEncodedSize) {
    return make_error("oversized", "a transaction is " + std::to_string(kTransactionEncodedSize) +
                                       " bytes; got " + std::to_string(bytes.size()));
  }
  Reader reader(bytes);
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kTransactionVersion) {
    reader.fail("unsupported_version", "unknown transaction version " + std::to_string(version));
  }
  uint8_t kind = reader.u8();
  if (!reader.failed() && kind != kTransactionKindTransfer) {
    reader.fail("unsupported_kind", "unknown transaction kind " + std::to_string(kind));
  }
  Transaction transaction;
  Transfer& transfer = transaction.transfer;
  transfer.from.key = reader.fixed_bytes<32>();
  transfer.to.key = reader.fixed_bytes<32>();
  transfer.amount = Amount{reader.u64()};
  transfer.fee = Amount{reader.u64()};
  transfer.nonce = reader.u64();
  transfer.create = reader.boolean();
  transaction.signature = reader.fixed_bytes<64>();
  TALLY_TRY(reader.finish());
  return transaction;
}

Hash256 Transaction::hash() const {
  Bytes bytes = encode();
  return sha256(bytes);
}

Bytes transaction_signing_message(std::string_view chain_id, const Transfer& transfer) {
  Writer writer;
  writer.reserve(4 + kTransactionSigningTag.size() + 4 + chain_id.size() + kTransferBodySize);
  writer.string(kTransactionSigningTag);
  writer.string(chain_id);
  write_body(writer, transfer);
  return writer.take();
}

Transaction sign_transfer(const Transfer& transfer, const SecretKey& key,
                          std::string_view chain_id) {
  TALLY_ASSERT_MSG(key.public_key() == transfer.from.key,
                   "a transfer must be signed by its sender's key");
  Transaction transaction;
  transaction.transfer = transfer;
  transaction.signature = key.sign(transaction_signing_message(chain_id, transfer));
  return transaction;
}

bool verify_transaction_signature(const Transaction& transaction, std::string_view chain_id) {
  Bytes message = transaction_signing_message(chain_id, transaction.transfer);
  return verify_signature(transaction.transfer.from.key, message, transaction.signature);
}

}  // namespace tally
