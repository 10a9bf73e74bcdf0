#pragma once
// SHA-256 through OpenSSL's EVP interface (which uses the CPU's SHA extensions when present).
// Every digest starts from a freshly initialised context: OpenSSL 3.0 contexts that are reused
// without re-initialisation can silently keep earlier state.

#include <initializer_list>

#include "core/bytes.h"

namespace tally {

using Hash256 = FixedBytes<32>;

Hash256 sha256(ByteSpan data);

// SHA-256 over the concatenation of `parts`, without building the concatenation.
Hash256 sha256_parts(std::initializer_list<ByteSpan> parts);

}  // namespace tally
