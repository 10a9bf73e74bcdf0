#include "ledger/account.h"

#include "core/codec.h"

namespace tally {

Bytes encode_account(const Account& account) {
  Writer writer;
  writer.reserve(kAccountEncodedSize);
  writer.u8(kAccountEncodingVersion);
  writer.u64(account.balance.units);
  writer.u64(account.nonce);
  writer.fixed(account.endorser.key.span());
  writer.u64(account.created_height);
  return writer.take();
}

Result<Account> decode_account(ByteSpan bytes) {
  Reader reader(bytes);
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kAccountEncodingVersion) {
    reader.fail("unsupported_version",
                "unknown account encoding version " + std::to_string(version));
  }
  Account account;
  account.balance = Amount{reader.u64()};
  account.nonce = reader.u64();
  account.endorser.key = reader.fixed_bytes<32>();
  account.created_height = reader.u64();
  TALLY_TRY(reader.finish());
  return account;
}

Hash256 account_tree_key(const Address& address) {
  return sha256(address.key.span());
}

Hash256 account_value_hash(const Account& account) {
  Bytes bytes = encode_account(account);
  return sha256(bytes);
}

}  // namespace tally
