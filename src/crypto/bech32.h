#pragma once
// Bech32 and bech32m (BIP-173, BIP-350) text encoding with a checksum that catches typos.
// Tally addresses use bech32m only; plain bech32 is implemented so decoders can tell them apart.

#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"

namespace tally {

enum class Bech32Variant { bech32, bech32m };

struct Bech32Decoded {
  std::string human_readable_part;  // lowercase
  Bytes data;                       // 5-bit groups, checksum removed
  Bech32Variant variant = Bech32Variant::bech32m;
};

// `data` holds 5-bit values (each < 32). The result is lowercase.
std::string bech32_encode(std::string_view human_readable_part, ByteSpan data,
                          Bech32Variant variant);

// The message of the "invalid_bech32" error for a string whose checksum does not match (every
// other failure has its own message), so callers can tell a typo from a malformed string.
inline constexpr std::string_view kBech32ChecksumMismatch = "checksum mismatch";

// Rejects mixed case, characters outside the charset, a missing separator, strings over 90
// characters, and checksum failures (error code "invalid_bech32").
Result<Bech32Decoded> bech32_decode(std::string_view text);

// Regroups bits, e.g. 8-bit bytes into 5-bit groups (`pad` = true) and back (`pad` = false;
// then non-zero padding or an incomplete group is an error).
Result<Bytes> convert_bits(ByteSpan input, int from_bits, int to_bits, bool pad);

}  // namespace tally
