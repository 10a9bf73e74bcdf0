#include "ledger/transaction.h"

#include <algorithm>

#include "core/assert.h"
#include "core/codec.h"

namespace tally {
namespace {

// Writes `value` little-endian at `out` and returns the position after it.
uint8_t* put_u64(uint8_t* out, uint64_t value) {
  for (size_t index = 0; index < 8; ++index)
    *out++ = static_cast<uint8_t>(value >> (8 * index));
  return out;
}

uint8_t* put_bytes(uint8_t* out, ByteSpan bytes) {
  return std::copy(bytes.begin(), bytes.end(), out);
}

// The one place the body layout is written (docs/protocol.md); `out` has kTransferBodySize bytes.
void write_body(uint8_t* out, const Transfer& transfer) {
  uint8_t* const end = out + kTransferBodySize;
  *out++ = kTransactionVersion;
  *out++ = kTransactionKindTransfer;
  out = put_bytes(out, transfer.from.key.span());
  out = put_bytes(out, transfer.to.key.span());
  out = put_u64(out, transfer.amount.units);
  out = put_u64(out, transfer.fee.units);
  out = put_u64(out, transfer.nonce);
  *out++ = transfer.create ? 1 : 0;
  TALLY_ASSERT(out == end);
}

}  // namespace

Bytes encode_transfer_body(const Transfer& transfer) {
  Bytes body(kTransferBodySize);
  write_body(body.data(), transfer);
  return body;
}

EncodedTransaction Transaction::encode_fixed() const {
  EncodedTransaction encoded;
  write_body(encoded.data(), transfer);
  put_bytes(encoded.data() + kTransferBodySize, signature.span());
  return encoded;
}

Bytes Transaction::encode() const {
  const EncodedTransaction encoded = encode_fixed();
  return Bytes(encoded.begin(), encoded.end());
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
  const EncodedTransaction encoded = encode_fixed();
  return sha256(encoded);
}

Bytes transaction_signing_message(std::string_view chain_id, const Transfer& transfer) {
  Writer writer;
  writer.reserve(4 + kTransactionSigningTag.size() + 4 + chain_id.size() + kTransferBodySize);
  writer.string(kTransactionSigningTag);
  writer.string(chain_id);
  std::array<uint8_t, kTransferBodySize> body;
  write_body(body.data(), transfer);
  writer.fixed(body);
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
