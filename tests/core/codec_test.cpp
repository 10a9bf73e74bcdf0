#include "core/codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace tally {
namespace {

TEST(Codec, IntegersAreLittleEndianFixedWidth) {
  Writer writer;
  writer.u8(0x01);
  writer.u16(0x0203);
  writer.u32(0x04050607);
  writer.u64(0x08090a0b0c0d0e0fULL);
  EXPECT_EQ(to_hex(writer.bytes()), "010302070605040f0e0d0c0b0a0908");

  Reader reader(writer.bytes());
  EXPECT_EQ(reader.u8(), 0x01);
  EXPECT_EQ(reader.u16(), 0x0203);
  EXPECT_EQ(reader.u32(), 0x04050607u);
  EXPECT_EQ(reader.u64(), 0x08090a0b0c0d0e0fULL);
  EXPECT_TRUE(reader.finish().ok());
}

TEST(Codec, VarBytesCarryU32LengthPrefix) {
  Writer writer;
  writer.string("abc");
  EXPECT_EQ(to_hex(writer.bytes()), "03000000616263");
  Reader reader(writer.bytes());
  EXPECT_EQ(reader.string(3), "abc");
  EXPECT_TRUE(reader.finish().ok());
}

TEST(Codec, RejectsTruncation) {
  Bytes bytes{0x01, 0x02, 0x03};
  Reader reader(bytes);
  reader.u32();
  ASSERT_FALSE(reader.finish().ok());
  EXPECT_EQ(reader.finish().error().code, "truncated");
}

TEST(Codec, RejectsTrailingBytes) {
  Bytes bytes{0x01, 0x02};
  Reader reader(bytes);
  reader.u8();
  EXPECT_EQ(reader.finish().error().code, "trailing_bytes");
}

TEST(Codec, RejectsOversizedLengthBeforeReadingIt) {
  Writer writer;
  writer.u32(0xffffffff);
  Reader reader(writer.bytes());
  EXPECT_TRUE(reader.var_bytes(1024).empty());
  EXPECT_EQ(reader.finish().error().code, "oversized");
}

TEST(Codec, RejectsNonCanonicalBoolean) {
  Bytes bytes{0x02};
  Reader reader(bytes);
  reader.boolean();
  EXPECT_EQ(reader.finish().error().code, "non_canonical");
}

TEST(Codec, FirstErrorIsSticky) {
  Bytes bytes{0x05};
  Reader reader(bytes);
  reader.boolean();  // non-canonical
  reader.u64();      // would be truncated
  EXPECT_EQ(reader.finish().error().code, "non_canonical");
  EXPECT_EQ(reader.u64(), 0u);
}

RC_GTEST_PROP(CodecProperty, RoundTripsMixedFields,
              (uint8_t a, uint16_t b, uint32_t c, uint64_t d, bool e, std::vector<uint8_t> f)) {
  Writer writer;
  writer.u8(a);
  writer.u16(b);
  writer.u32(c);
  writer.u64(d);
  writer.boolean(e);
  writer.var_bytes(f);
  Reader reader(writer.bytes());
  RC_ASSERT(reader.u8() == a);
  RC_ASSERT(reader.u16() == b);
  RC_ASSERT(reader.u32() == c);
  RC_ASSERT(reader.u64() == d);
  RC_ASSERT(reader.boolean() == e);
  RC_ASSERT(reader.var_bytes(f.size()) == f);
  RC_ASSERT(reader.finish().ok());
}

RC_GTEST_PROP(CodecProperty, RandomInputNeverOverreads, (std::vector<uint8_t> input)) {
  Reader reader(input);
  reader.u16();
  reader.var_bytes(64);
  reader.boolean();
  reader.u64();
  RC_ASSERT(reader.position() <= input.size());
}

}  // namespace
}  // namespace tally
