#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

#include "core/assert.h"

namespace tally {
namespace {

constexpr size_t kHugePageBytes = size_t{2} << 20;

size_t round_up_to_huge_page(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

}  // namespace

void* map_huge_page_memory(size_t bytes) {
  TALLY_ASSERT(bytes >= kHugePageAllocationMinimumBytes);
  const size_t length = round_up_to_huge_page(bytes);
  // Map one huge page more than needed and trim both ends, so the memory starts on a 2 MiB
  // boundary: the kernel backs only aligned 2 MiB ranges with huge pages.
  const size_t mapped_length = length + kHugePageBytes;
  void* mapped =
      mmap(nullptr, mapped_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED)
    throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  const size_t head = aligned - start;
  const size_t tail = mapped_length - head - length;
  if (head > 0)
    munmap(mapped, head);
  if (tail > 0)
    munmap(reinterpret_cast<void*>(aligned + length), tail);
  // A hint: fails harmlessly where THP is off or unsupported.
  madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void unmap_huge_page_memory(void* memory, size_t bytes) {
  const int result = munmap(memory, round_up_to_huge_page(bytes));
  TALLY_ASSERT(result == 0);
}

}  // namespace tally
