#pragma once
// The canonical binary encoding shared by everything Tally hashes, signs, stores or sends.
// Integers are fixed-width little-endian; variable-length byte strings carry a u32 length
// prefix; booleans are one byte, 0 or 1. Each encoding has exactly one valid byte form, and
// the Reader rejects everything else: truncation, trailing bytes, lengths over the caller's
// bound, booleans other than 0 and 1. Byte layouts are specified in docs/protocol.md.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/status.h"

namespace tally {

class Writer {
 public:
  Writer() = default;

  void u8(uint8_t value);
  void u16(uint16_t value);
  void u32(uint32_t value);
  void u64(uint64_t value);
  void boolean(bool value);
  // Raw bytes with no length prefix: for fields whose size is fixed by the format.
  void fixed(ByteSpan bytes);
  // u32 length prefix, then the bytes.
  void var_bytes(ByteSpan bytes);
  void string(std::string_view text) { var_bytes(as_bytes(text)); }

  const Bytes& bytes() const { return out_; }
  Bytes take() { return std::move(out_); }
  void reserve(size_t size) { out_.reserve(size); }

 private:
  Bytes out_;
};

// Reads a canonical encoding. Failures are sticky: after the first one every read returns
// zero/empty and `finish()` reports that first error, so decoders can read all fields and check
// once at the end.
class Reader {
 public:
  explicit Reader(ByteSpan input) : input_(input) {}

  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  bool boolean();
  void fixed(std::span<uint8_t> out);
  Bytes var_bytes(size_t max_length);
  std::string string(size_t max_length);

  template <size_t N>
  FixedBytes<N> fixed_bytes() {
    FixedBytes<N> value;
    fixed(value.mutable_span());
    return value;
  }

  // Records a semantic error found by the decoder (e.g. an unknown version); the first wins.
  void fail(std::string code, std::string message);

  bool failed() const { return error_.has_value(); }
  size_t remaining() const { return input_.size() - position_; }
  size_t position() const { return position_; }

  // OK only if nothing failed and every byte was consumed.
  Status finish() const;

 private:
  bool take(size_t count, const uint8_t** out);

  ByteSpan input_;
  size_t position_ = 0;
  std::optional<Error> error_;
};

}  // namespace tally
