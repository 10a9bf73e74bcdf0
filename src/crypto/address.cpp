#include "crypto/address.h"

#include "core/assert.h"
#include "crypto/bech32.h"

namespace tally {
namespace {

// 32 bytes = 256 bits, in 5-bit groups: 52 groups, the last one padded with 4 zero bits.
constexpr size_t kKeyGroups = (PublicKey::kSize * 8 + 4) / 5;

Error address_error(std::string message) {
  return make_error("invalid_address", std::move(message));
}

}  // namespace

std::string Address::to_string() const {
  Result<Bytes> groups = convert_bits(key.span(), 8, 5, true);
  TALLY_ASSERT(groups.ok() && groups->size() == kKeyGroups);
  return bech32_encode(kAddressPrefix, *groups, Bech32Variant::bech32m);
}

Result<Address> Address::parse(std::string_view text) {
  Result<Bech32Decoded> decoded = bech32_decode(text);
  if (!decoded.ok()) {
    if (decoded.error().message == kBech32ChecksumMismatch) {
      return address_error("checksum mismatch: the address has a typo");
    }
    return address_error("not a valid address: " + decoded.error().message);
  }
  if (decoded->human_readable_part != kAddressPrefix) {
    return address_error("wrong prefix: expected '" + std::string(kAddressPrefix) + "1', found '" +
                         decoded->human_readable_part + "1'");
  }
  if (decoded->variant != Bech32Variant::bech32m) {
    return address_error(
        "wrong checksum variant: the address uses bech32, tally addresses use bech32m");
  }
  if (decoded->data.size() != kKeyGroups) {
    return address_error("wrong length: expected " + std::to_string(kKeyGroups) +
                         " data characters (a 32-byte key), found " +
                         std::to_string(decoded->data.size()));
  }
  Result<Bytes> key_bytes = convert_bits(decoded->data, 5, 8, false);
  if (!key_bytes.ok()) {
    return address_error("non-canonical encoding: " + key_bytes.error().message);
  }
  TALLY_ASSERT(key_bytes->size() == PublicKey::kSize);
  return Address{PublicKey::from_span(*key_bytes)};
}

}  // namespace tally
