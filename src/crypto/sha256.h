#pragma once
// SHA-256 through OpenSSL's SHA256_* functions (which use the CPU's SHA extensions when
// present; see sha256.cpp for why not EVP). Every digest starts from a fresh context.

#include <initializer_list>

#include "core/bytes.h"

namespace tally {

using Hash256 = FixedBytes<32>;

Hash256 sha256(ByteSpan data);

// SHA-256 over the concatenation of `parts`, without building the concatenation.
Hash256 sha256_parts(std::initializer_list<ByteSpan> parts);

}  // namespace tally
