#pragma once
// A binary Merkle root over a list of leaf hashes (for a block's transactions), with the
// RFC 6962 shape: leaf = SHA-256(0x00 || item), node = SHA-256(0x01 || left || right), a list of
// n > 1 items split after the largest power of two below n. The root of an empty list is 32 zero
// bytes. The domain bytes keep a leaf from ever being read as an inner node.

#include <span>

#include "crypto/sha256.h"

namespace tally {

Hash256 merkle_root(std::span<const Hash256> items);

}  // namespace tally
