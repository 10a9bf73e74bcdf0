#pragma once
// Memory for large, randomly accessed tables (the state tree, the account map) backed by
// transparent huge pages where the kernel allows them.
//
// With a million accounts every updated path of the state tree and every account lookup lands
// on a different 4 KiB page, so each level costs a TLB miss as well as a cache miss (and under
// virtualisation a TLB miss walks two page tables). With 2 MiB pages the TLB covers the tables.
// Linux's default THP mode is "madvise", which gives huge pages only to memory that asks for
// them; malloc never asks, so large tables are mapped here and advised with MADV_HUGEPAGE.
// Where huge pages are unavailable the memory is ordinary: the advice is only a hint.

#include <cstddef>
#include <new>

namespace tally {

// Allocations of at least this many bytes are mapped with huge-page advice; smaller ones come
// from operator new (a huge page for a small table would waste most of it).
inline constexpr size_t kHugePageAllocationMinimumBytes = size_t{2} << 20;

// Maps `bytes` (>= kHugePageAllocationMinimumBytes), aligned to 2 MiB and advised for huge
// pages. Throws std::bad_alloc when the mapping fails.
void* map_huge_page_memory(size_t bytes);
void unmap_huge_page_memory(void* memory, size_t bytes);

// A standard allocator that uses map_huge_page_memory for large allocations. Stateless, so
// containers that use it move and swap like with std::allocator.
template <typename T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() noexcept = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t count) {
    if (count > static_cast<size_t>(-1) / sizeof(T))
      throw std::bad_array_new_length();
    const size_t bytes = count * sizeof(T);
    if (bytes >= kHugePageAllocationMinimumBytes)
      return static_cast<T*>(map_huge_page_memory(bytes));
    return static_cast<T*>(::operator new (bytes, std::align_val_t{alignof(T)}));
  }

  void deallocate(T* memory, size_t count) noexcept {
    const size_t bytes = count * sizeof(T);
    if (bytes >= kHugePageAllocationMinimumBytes) {
      unmap_huge_page_memory(memory, bytes);
    } else {
      // Unsized: clang does not declare sized deallocation unless -fsized-deallocation.
      ::operator delete (memory, std::align_val_t{alignof(T)});
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace tally
