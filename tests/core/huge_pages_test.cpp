#include "core/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tally {
namespace {

constexpr size_t kTwoMebibytes = size_t{2} << 20;

// The smaps block of the mapping that contains `address`.
std::string smaps_entry_of(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  std::string entry;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t start = 0;
    uintptr_t end = 0;
    char dash = 0;
    std::istringstream fields(line);
    if (fields >> std::hex >> start >> dash >> end && dash == '-' &&
        line.find(':') > line.find(' ')) {
      if (inside)
        break;
      inside = start <= target && target < end;
    }
    if (inside)
      entry += line + "\n";
  }
  return entry;
}

TEST(HugePageMemory, IsAlignedToTwoMebibytesUsableAndAdvised) {
  const size_t bytes = 3 * kTwoMebibytes + 12345;
  auto* memory = static_cast<unsigned char*>(map_huge_page_memory(bytes));
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(memory) % kTwoMebibytes, 0u);
  for (size_t i = 0; i < bytes; i += 4096)
    memory[i] = static_cast<unsigned char>(i / 4096);
  memory[bytes - 1] = 0xab;
  for (size_t i = 0; i < bytes; i += 4096)
    ASSERT_EQ(memory[i], static_cast<unsigned char>(i / 4096));
  EXPECT_EQ(memory[bytes - 1], 0xab);
  // The kernel records the advice as the "hg" flag of the mapping.
  const std::string entry = smaps_entry_of(memory);
  ASSERT_FALSE(entry.empty());
  const size_t flags = entry.find("VmFlags:");
  ASSERT_NE(flags, std::string::npos);
  EXPECT_NE(entry.find(" hg", flags), std::string::npos) << entry;
  unmap_huge_page_memory(memory, bytes);
  EXPECT_TRUE(smaps_entry_of(memory).find(" hg") == std::string::npos);
}

TEST(HugePageAllocator, SmallAllocationsComeFromTheHeapAndLargeOnesAreMapped) {
  HugePageAllocator<uint64_t> allocator;
  uint64_t* small = allocator.allocate(16);
  uint64_t* large = allocator.allocate(kHugePageAllocationMinimumBytes / sizeof(uint64_t));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large) % kTwoMebibytes, 0u);
  small[15] = 7;
  large[kHugePageAllocationMinimumBytes / sizeof(uint64_t) - 1] = 9;
  EXPECT_EQ(small[15], 7u);
  allocator.deallocate(small, 16);
  allocator.deallocate(large, kHugePageAllocationMinimumBytes / sizeof(uint64_t));
}

TEST(HugePageAllocator, AVectorKeepsItsContentsWhileGrowingPastTheThreshold) {
  std::vector<uint32_t, HugePageAllocator<uint32_t>> values;
  const uint32_t count = 3 * kHugePageAllocationMinimumBytes / sizeof(uint32_t);
  for (uint32_t i = 0; i < count; ++i)
    values.push_back(i * 2654435761u);
  for (uint32_t i = 0; i < count; ++i)
    ASSERT_EQ(values[i], i * 2654435761u);
  std::vector<uint32_t, HugePageAllocator<uint32_t>> moved = std::move(values);
  EXPECT_EQ(moved.size(), count);
  EXPECT_EQ(moved.back(), (count - 1) * 2654435761u);
}

TEST(HugePageAllocator, RefusesACountWhoseSizeOverflows) {
  HugePageAllocator<uint64_t> allocator;
  EXPECT_THROW((void)allocator.allocate(static_cast<size_t>(-1) / 4), std::bad_array_new_length);
}

}  // namespace
}  // namespace tally
