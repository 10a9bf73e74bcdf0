#include "core/codec.h"

#include <cstring>
#include <limits>

namespace tally {
namespace {

template <typename Integer>
void append_little_endian(Bytes& out, Integer value) {
  for (size_t index = 0; index < sizeof(Integer); ++index) {
    out.push_back(static_cast<uint8_t>(value >> (8 * index)));
  }
}

template <typename Integer>
Integer load_little_endian(const uint8_t* bytes) {
  Integer value = 0;
  for (size_t index = 0; index < sizeof(Integer); ++index) {
    value |= static_cast<Integer>(static_cast<Integer>(bytes[index]) << (8 * index));
  }
  return value;
}

}  // namespace

void Writer::u8(uint8_t value) {
  out_.push_back(value);
}
void Writer::u16(uint16_t value) {
  append_little_endian(out_, value);
}
void Writer::u32(uint32_t value) {
  append_little_endian(out_, value);
}
void Writer::u64(uint64_t value) {
  append_little_endian(out_, value);
}
void Writer::boolean(bool value) {
  out_.push_back(value ? 1 : 0);
}
void Writer::fixed(ByteSpan bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Writer::var_bytes(ByteSpan bytes) {
  TALLY_ASSERT_MSG(bytes.size() <= std::numeric_limits<uint32_t>::max(),
                   "byte string too long for a u32 length prefix");
  u32(static_cast<uint32_t>(bytes.size()));
  fixed(bytes);
}

bool Reader::take(size_t count, const uint8_t** out) {
  if (error_.has_value())
    return false;
  if (remaining() < count) {
    fail("truncated", "input ends " + std::to_string(count - remaining()) +
                          " bytes early at offset " + std::to_string(position_));
    return false;
  }
  *out = input_.data() + position_;
  position_ += count;
  return true;
}

uint8_t Reader::u8() {
  const uint8_t* bytes = nullptr;
  return take(1, &bytes) ? bytes[0] : 0;
}

uint16_t Reader::u16() {
  const uint8_t* bytes = nullptr;
  return take(2, &bytes) ? load_little_endian<uint16_t>(bytes) : 0;
}

uint32_t Reader::u32() {
  const uint8_t* bytes = nullptr;
  return take(4, &bytes) ? load_little_endian<uint32_t>(bytes) : 0;
}

uint64_t Reader::u64() {
  const uint8_t* bytes = nullptr;
  return take(8, &bytes) ? load_little_endian<uint64_t>(bytes) : 0;
}

bool Reader::boolean() {
  size_t offset = position_;
  uint8_t value = u8();
  if (value > 1) {
    fail("non_canonical", "boolean byte " + std::to_string(value) + " at offset " +
                              std::to_string(offset) + " is neither 0 nor 1");
    return false;
  }
  return value == 1;
}

void Reader::fixed(std::span<uint8_t> out) {
  const uint8_t* bytes = nullptr;
  if (take(out.size(), &bytes)) {
    std::memcpy(out.data(), bytes, out.size());
  } else {
    std::fill(out.begin(), out.end(), 0);
  }
}

Bytes Reader::var_bytes(size_t max_length) {
  size_t offset = position_;
  uint32_t length = u32();
  if (failed())
    return {};
  if (length > max_length) {
    fail("oversized", "length " + std::to_string(length) + " at offset " + std::to_string(offset) +
                          " exceeds the limit of " + std::to_string(max_length));
    return {};
  }
  const uint8_t* bytes = nullptr;
  if (!take(length, &bytes))
    return {};
  return Bytes(bytes, bytes + length);
}

std::string Reader::string(size_t max_length) {
  Bytes bytes = var_bytes(max_length);
  return std::string(bytes.begin(), bytes.end());
}

void Reader::fail(std::string code, std::string message) {
  if (!error_.has_value())
    error_ = make_error(std::move(code), std::move(message));
}

Status Reader::finish() const {
  if (error_.has_value())
    return *error_;
  if (remaining() != 0) {
    return make_error("trailing_bytes", std::to_string(remaining()) +
                                            " unexpected bytes after the end of the encoding");
  }
  return Status::success();
}

}  // namespace tally
