#include "crypto/merkle.h"

#include <vector>

namespace tally {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

Hash256 subtree_root(std::span<const Hash256> items) {
  if (items.size() == 1) {
    return sha256_parts({ByteSpan(&kLeafPrefix, 1), items[0].span()});
  }
  size_t split = 1;
  while (split * 2 < items.size())
    split *= 2;
  Hash256 left = subtree_root(items.subspan(0, split));
  Hash256 right = subtree_root(items.subspan(split));
  return sha256_parts({ByteSpan(&kNodePrefix, 1), left.span(), right.span()});
}

}  // namespace

Hash256 merkle_root(std::span<const Hash256> items) {
  if (items.empty())
    return Hash256{};
  return subtree_root(items);
}

}  // namespace tally
