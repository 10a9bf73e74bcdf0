#include "ledger/state_tree.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <string>
#include <utility>

#include "core/assert.h"
#include "core/codec.h"
#include "core/huge_pages.h"

namespace tally {
namespace {

constexpr size_t kKeyBits = Hash256::kSize * 8;
constexpr uint8_t kLeafDomain = 0x00;
constexpr uint8_t kInternalDomain = 0x01;
constexpr uint8_t kProofVersion = 1;

const Hash256 kEmptyHash{};

using Entry = std::pair<Hash256, Hash256>;  // (key, value_hash)

// Bit `depth` of the key, most significant bit of byte 0 first: the child taken at that depth.
inline int key_bit(const Hash256& key, size_t depth) {
  return (key.data[depth / 8] >> (7 - depth % 8)) & 1;
}

// Number of leading bits two keys share (kKeyBits when they are equal).
size_t common_prefix_bits(const Hash256& a, const Hash256& b) {
  for (size_t index = 0; index < Hash256::kSize; ++index) {
    const auto diff = static_cast<uint8_t>(a.data[index] ^ b.data[index]);
    if (diff != 0)
      return index * 8 + static_cast<size_t>(std::countl_zero(diff));
  }
  return kKeyBits;
}

Hash256 leaf_hash(const Hash256& key, const Hash256& value_hash) {
  return sha256_parts({ByteSpan(&kLeafDomain, 1), key.span(), value_hash.span()});
}

Hash256 internal_hash(const Hash256& left, const Hash256& right) {
  return sha256_parts({ByteSpan(&kInternalDomain, 1), left.span(), right.span()});
}

// Tree versions are unique in the process, so hashes computed on one tree are never taken for
// another's. Only identity: nothing hashed, stored or sent depends on the values.
std::atomic<uint64_t> next_tree_version{1};

uint64_t new_tree_version() {
  return next_tree_version.fetch_add(1, std::memory_order_relaxed);
}

// Sorted in bit order with one entry per key, the last given for it.
std::vector<Entry> sorted_distinct(std::span<const Entry> updates) {
  std::vector<Entry> sorted(updates.begin(), updates.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Entry& left, const Entry& right) { return left.first < right.first; });
  size_t distinct = 0;
  for (const Entry& entry : sorted) {
    if (distinct > 0 && sorted[distinct - 1].first == entry.first) {
      sorted[distinct - 1].second = entry.second;
    } else {
      sorted[distinct++] = entry;
    }
  }
  sorted.resize(distinct);
  return sorted;
}

// The first of the sorted `updates` whose key is not below `key`.
std::span<const Entry>::iterator first_update_at_or_after(std::span<const Entry> updates,
                                                          const Hash256& key) {
  return std::lower_bound(
      updates.begin(), updates.end(), key,
      [](const Entry& entry, const Hash256& wanted) { return entry.first < wanted; });
}

Error invalid_proof(std::string message) {
  return make_error("invalid_proof", std::move(message));
}

// A node reference packed in 32 bits: 0 is the empty subtree, odd values are leaves
// (index << 1 | 1), and non-zero even values are internal nodes ((index + 1) << 1).
class NodeRef {
 public:
  static constexpr uint32_t kMaxIndex = (uint32_t{1} << 31) - 2;

  constexpr NodeRef() = default;
  static NodeRef leaf(size_t index) {
    TALLY_ASSERT_MSG(index <= kMaxIndex, "state tree leaf pool exhausted");
    return NodeRef(static_cast<uint32_t>(index << 1 | 1));
  }
  static NodeRef internal(size_t index) {
    TALLY_ASSERT_MSG(index <= kMaxIndex, "state tree internal node pool exhausted");
    return NodeRef(static_cast<uint32_t>((index + 1) << 1));
  }

  static NodeRef from_raw(uint32_t raw) { return NodeRef(raw); }
  uint32_t raw() const { return raw_; }

  bool is_empty() const { return raw_ == 0; }
  bool is_leaf() const { return (raw_ & 1) != 0; }
  bool is_internal() const { return raw_ != 0 && (raw_ & 1) == 0; }
  // Index into the pool of the node's kind; meaningless for the empty subtree.
  uint32_t index() const { return is_leaf() ? raw_ >> 1 : (raw_ >> 1) - 1; }

 private:
  explicit constexpr NodeRef(uint32_t raw) : raw_(raw) {}
  uint32_t raw_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Proof encoding
//
//   u8  version = 1
//   u8  terminal: 0 empty, 1 leaf
//   if leaf: 32-byte leaf_key, 32-byte leaf_value_hash
//   u16 sibling count (<= 256), little-endian
//   ceil(count / 8) bytes of bitmap: bit j % 8 of byte j / 8 (LSB first) set iff sibling j is
//       non-empty; bits past `count` are zero
//   32 bytes for each non-empty sibling, in order from the root down
//
// Empty siblings (32 zero bytes) are implied by the bitmap, never written, so every proof has
// exactly one encoding.

Bytes TreeProof::encode() const {
  TALLY_ASSERT_MSG(terminal == Terminal::empty || terminal == Terminal::leaf,
                   "TreeProof has an unknown terminal kind");
  TALLY_ASSERT_MSG(siblings.size() <= kKeyBits, "TreeProof has more than 256 siblings");
  const size_t count = siblings.size();
  const size_t bitmap_size = (count + 7) / 8;

  std::array<uint8_t, kKeyBits / 8> bitmap{};
  size_t present = 0;
  for (size_t index = 0; index < count; ++index) {
    if (!siblings[index].is_zero()) {
      bitmap[index / 8] |= static_cast<uint8_t>(1u << (index % 8));
      ++present;
    }
  }

  Writer writer;
  writer.reserve(2 + 2 * Hash256::kSize + 2 + bitmap_size + present * Hash256::kSize);
  writer.u8(kProofVersion);
  writer.u8(static_cast<uint8_t>(terminal));
  if (terminal == Terminal::leaf) {
    writer.fixed(leaf_key.span());
    writer.fixed(leaf_value_hash.span());
  }
  writer.u16(static_cast<uint16_t>(count));
  writer.fixed(ByteSpan(bitmap.data(), bitmap_size));
  for (const Hash256& sibling : siblings) {
    if (!sibling.is_zero())
      writer.fixed(sibling.span());
  }
  return writer.take();
}

Result<TreeProof> TreeProof::decode(ByteSpan bytes) {
  Reader reader(bytes);
  TreeProof proof;

  const uint8_t version = reader.u8();
  if (!reader.failed() && version != kProofVersion) {
    reader.fail("unsupported_version",
                "tree proof version " + std::to_string(version) + " is not supported");
  }
  const uint8_t terminal = reader.u8();
  if (!reader.failed()) {
    if (terminal == static_cast<uint8_t>(Terminal::leaf)) {
      proof.terminal = Terminal::leaf;
      proof.leaf_key = reader.fixed_bytes<Hash256::kSize>();
      proof.leaf_value_hash = reader.fixed_bytes<Hash256::kSize>();
    } else if (terminal != static_cast<uint8_t>(Terminal::empty)) {
      reader.fail("non_canonical",
                  "tree proof terminal byte " + std::to_string(terminal) + " is neither 0 nor 1");
    }
  }
  const uint16_t count = reader.u16();
  if (!reader.failed() && count > kKeyBits) {
    reader.fail("oversized",
                "tree proof has " + std::to_string(count) + " siblings; a path has at most 256");
  }
  if (reader.failed())
    return reader.finish().error();

  std::array<uint8_t, kKeyBits / 8> bitmap{};
  const size_t bitmap_size = (count + 7) / 8;
  reader.fixed(std::span<uint8_t>(bitmap.data(), bitmap_size));
  if (!reader.failed() && count % 8 != 0 && (bitmap[bitmap_size - 1] >> (count % 8)) != 0) {
    reader.fail("non_canonical", "tree proof sibling bitmap has bits set past the sibling count");
  }

  proof.siblings.resize(count);
  for (size_t index = 0; index < count && !reader.failed(); ++index) {
    if ((bitmap[index / 8] >> (index % 8) & 1) == 0)
      continue;
    reader.fixed(proof.siblings[index].mutable_span());
    if (!reader.failed() && proof.siblings[index].is_zero()) {
      reader.fail("non_canonical", "tree proof sibling " + std::to_string(index) +
                                       " is flagged non-empty but is all zero");
    }
  }
  TALLY_TRY(reader.finish());
  return proof;
}

// ---------------------------------------------------------------------------------------------
// Proof verification

Status verify_tree_proof(const Hash256& root, const Hash256& key,
                         const std::optional<Hash256>& value_hash, const TreeProof& proof) {
  const size_t depth = proof.siblings.size();
  if (depth > kKeyBits) {
    return invalid_proof("proof has " + std::to_string(depth) +
                         " siblings; a path has at most 256");
  }

  Hash256 node;
  switch (proof.terminal) {
    case TreeProof::Terminal::empty:
      if (value_hash.has_value())
        return invalid_proof("inclusion proof ends in an empty subtree");
      node = kEmptyHash;
      break;

    case TreeProof::Terminal::leaf:
      if (value_hash.has_value()) {
        if (proof.leaf_key != key)
          return invalid_proof("inclusion proof ends at the leaf of another key");
        if (proof.leaf_value_hash != *value_hash)
          return invalid_proof("inclusion proof leaf holds a different value hash");
      } else {
        if (proof.leaf_key == key)
          return invalid_proof("non-inclusion proof ends at the key's own leaf");
        // The leaf must sit where the key's path ends, so it shares the path's prefix.
        if (common_prefix_bits(proof.leaf_key, key) < depth)
          return invalid_proof("non-inclusion proof leaf is not on the key's path");
      }
      // Canonical form: a leaf with an empty sibling would have been lifted into its parent's
      // place. This check is not what makes verification sound: for such a proof to verify, the
      // hash 0x01 || leaf || zero (or its mirror) must equal the hash the honest tree holds at the
      // parent's position, whose preimage is always different (an honest internal node never
      // pairs a lone leaf with an empty subtree), so forging it takes a SHA-256 collision. It
      // rejects malformed proofs with a precise reason instead of a root mismatch. The analogous
      // non-canonical shapes around an empty terminal (an empty or single-leaf sibling) cannot
      // be seen from hashes alone and, by the same argument, need no check.
      if (depth > 0 && proof.siblings.back().is_zero())
        return invalid_proof("proof leaf has an empty sibling, which no canonical tree holds");
      node = leaf_hash(proof.leaf_key, proof.leaf_value_hash);
      break;

    default:
      return invalid_proof("proof has an unknown terminal kind");
  }

  for (size_t level = depth; level-- > 0;) {
    const Hash256& sibling = proof.siblings[level];
    node = key_bit(key, level) == 0 ? internal_hash(node, sibling) : internal_hash(sibling, node);
  }
  if (node != root)
    return invalid_proof("proof does not lead to the expected root " + root.hex());
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// The tree

// Nodes live in index-addressed pools and refer to each other through 32-bit NodeRefs: no
// per-node allocation, 41 bytes per internal node and 97 per leaf (random keys give ~1.44
// internal nodes per leaf, so ~150 MB per million accounts), nodes never freed (accounts are
// never deleted, and a split only adds nodes).
//
// The internal-node pool is split by access pattern. Walking down a path reads only `children`,
// 8 bytes per node (~11 MB for a million keys), so the walk mostly hits cache instead of missing
// once per level. Each node's hash and stale flag sit together in `internal_hashes`: when `set`
// marks the path stale, those independent writes pull the lines `root` will rewrite into cache in
// parallel, and when `root` checks a clean sibling's flag it has fetched the sibling's hash too.
//
// Invariant: if a node is stale, so is every ancestor. `set` marks the path bottom-up and stops
// at the first ancestor already stale; `root` descends only into stale nodes.
struct StateTree::Impl {
  struct CachedHash {
    Hash256 value;
    bool stale = true;
    // Stale, but `value` already holds the new hash (from TreeHashes): refresh only descends.
    bool precomputed = false;
  };
  struct Leaf {
    Hash256 key;
    Hash256 value_hash;
    CachedHash hash;
  };

  // Huge pages (core/huge_pages.h): at a million keys these are ~160 MB read at random.
  std::vector<std::array<NodeRef, 2>, HugePageAllocator<std::array<NodeRef, 2>>>
      children;  // Internal nodes, indexed alike.
  std::vector<CachedHash, HugePageAllocator<CachedHash>> internal_hashes;
  std::vector<Leaf, HugePageAllocator<Leaf>> leaves;
  NodeRef root;
  // Changes whenever the tree's contents do (see TreeHashes).
  uint64_t version = new_tree_version();

  NodeRef new_leaf(const Hash256& key, const Hash256& value_hash) {
    const NodeRef ref = NodeRef::leaf(leaves.size());
    leaves.push_back(Leaf{key, value_hash, CachedHash{}});
    return ref;
  }

  // An internal node with `toward` on the side `bit` selects and `away` on the other.
  NodeRef new_internal(int bit, NodeRef toward, NodeRef away) {
    const NodeRef ref = NodeRef::internal(children.size());
    children.push_back(bit == 0 ? std::array{toward, away} : std::array{away, toward});
    internal_hashes.emplace_back();
    return ref;
  }

  // Replaces `existing`, a leaf at `depth` whose key differs from `key`, by the smallest subtree
  // holding both leaves: a chain of internal nodes with one empty child down to the first bit
  // where the keys differ, and there a node with the two leaves.
  NodeRef split(NodeRef existing, size_t depth, const Hash256& key, const Hash256& value_hash) {
    const size_t split_depth = common_prefix_bits(key, leaves[existing.index()].key);
    TALLY_ASSERT(split_depth >= depth && split_depth < kKeyBits);
    NodeRef below = new_internal(key_bit(key, split_depth), new_leaf(key, value_hash), existing);
    for (size_t level = split_depth; level-- > depth;) {
      below = new_internal(key_bit(key, level), below, NodeRef());
    }
    return below;
  }

  // Hash of a node, recomputing the stale ones in its subtree first. Recursion descends only
  // into stale nodes, and never deeper than the key length.
  const Hash256& refresh(NodeRef node) {
    if (node.is_internal()) {
      CachedHash& cached = internal_hashes[node.index()];
      if (cached.stale) {
        const auto [left, right] = children[node.index()];
        const Hash256& left_hash = refresh(left);
        const Hash256& right_hash = refresh(right);
        if (!cached.precomputed)
          cached.value = internal_hash(left_hash, right_hash);
        cached.stale = false;
        cached.precomputed = false;
      }
      return cached.value;
    }
    if (node.is_leaf()) {
      Leaf& leaf = leaves[node.index()];
      if (leaf.hash.stale) {
        if (!leaf.hash.precomputed)
          leaf.hash.value = leaf_hash(leaf.key, leaf.value_hash);
        leaf.hash.stale = false;
        leaf.hash.precomputed = false;
      }
      return leaf.hash.value;
    }
    return kEmptyHash;
  }

  // Applies `updates`, which only change the values of existing keys, to a clean tree, given
  // the hash after them of every node they change (recorded by hash_after on this tree). Each
  // node is written once, in no particular order: no walk from the root, so at a million keys
  // the misses of the path walks are gone and the writes' misses overlap.
  const Hash256& write_value_changes(std::span<const Entry> updates,
                                     std::span<const std::pair<uint32_t, Hash256>> nodes) {
    size_t leaves_written = 0;
    for (const auto& [raw, hash] : nodes) {
      const NodeRef node = NodeRef::from_raw(raw);
      TALLY_ASSERT(!node.is_empty());
      if (node.is_internal()) {
        internal_hashes[node.index()].value = hash;
        continue;
      }
      Leaf& leaf = leaves[node.index()];
      const auto update = first_update_at_or_after(updates, leaf.key);
      TALLY_ASSERT_MSG(update != updates.end() && update->first == leaf.key,
                       "a recorded leaf has no update");
      leaf.value_hash = update->second;
      leaf.hash.value = hash;
      ++leaves_written;
    }
    TALLY_ASSERT_MSG(leaves_written == updates.size(), "an update has no recorded leaf");
    version = new_tree_version();
    return refresh(root);
  }

  // Hash of a node without writing any cache: the cached hash where it is current, recomputed
  // below stale nodes otherwise.
  Hash256 peek(NodeRef node) const {
    if (node.is_internal()) {
      const CachedHash& cached = internal_hashes[node.index()];
      if (!cached.stale)
        return cached.value;
      const auto [left, right] = children[node.index()];
      return internal_hash(peek(left), peek(right));
    }
    if (node.is_leaf()) {
      const Leaf& leaf = leaves[node.index()];
      return leaf.hash.stale ? leaf_hash(leaf.key, leaf.value_hash) : leaf.hash.value;
    }
    return kEmptyHash;
  }

  // Hash, from the definition, of the subtree at `depth` holding exactly `entries`: distinct keys
  // sorted in bit order (byte-wise lexicographic) that share their first `depth` bits.
  static Hash256 subtree_hash(std::span<const Entry> entries, size_t depth) {
    if (entries.empty())
      return kEmptyHash;
    if (entries.size() == 1)
      return leaf_hash(entries.front().first, entries.front().second);
    // Sorted keys share exactly the prefix the first and the last share. Down to the first bit
    // where they differ, every level is an internal node with one empty child.
    const Hash256& first_key = entries.front().first;
    const size_t split_depth = common_prefix_bits(first_key, entries.back().first);
    TALLY_ASSERT(split_depth >= depth && split_depth < kKeyBits);
    const auto middle = std::partition_point(entries.begin(), entries.end(), [&](const Entry& e) {
      return key_bit(e.first, split_depth) == 0;
    });
    const auto left_count = static_cast<size_t>(middle - entries.begin());
    Hash256 node = internal_hash(subtree_hash(entries.first(left_count), split_depth + 1),
                                 subtree_hash(entries.subspan(left_count), split_depth + 1));
    for (size_t level = split_depth; level-- > depth;) {
      node = key_bit(first_key, level) == 0 ? internal_hash(node, kEmptyHash)
                                            : internal_hash(kEmptyHash, node);
    }
    return node;
  }

  // Starts loading what hash_after will read for sorted updates, a bounded distance ahead of it:
  // the nodes on their paths and their siblings' cached hashes. At a million keys hash_after
  // would otherwise miss the cache about twice per level, each miss waiting for the hashing
  // before it; the prefetcher walks a small batch of paths side by side, so their misses
  // overlap. Batches stay small because the core drops prefetches beyond the misses it can keep
  // in flight, and the walk stays only kAheadUpdates ahead so that what it loads is still cached
  // when hash_after reads it (which it does in the updates' order).
  class PathPrefetcher {
   public:
    PathPrefetcher(const Impl& tree, std::span<const Entry> updates)
        : tree_(tree), updates_(updates) {
      consumed(updates.data());
    }

    // hash_after is done with the updates before `position` (a pointer into the updates).
    void consumed(const Entry* position) {
      const auto done = static_cast<size_t>(position - updates_.data());
      while (walked_ < updates_.size() && walked_ < done + kAheadUpdates) {
        const size_t batch_end = std::min(updates_.size(), walked_ + kBatchUpdates);
        walk(walked_, batch_end);
        walked_ = batch_end;
      }
    }

   private:
    static constexpr size_t kBatchUpdates = 8;
    static constexpr size_t kAheadUpdates = 2 * kBatchUpdates;

    // Walks the paths of updates [begin, end) one level at a time for all of them.
    void walk(size_t begin, size_t end) {
      std::array<NodeRef, kBatchUpdates> nodes;
      std::array<const Hash256*, kBatchUpdates> keys;
      size_t active = 0;
      for (size_t index = begin; index < end; ++index) {
        nodes[active] = tree_.root;
        keys[active++] = &updates_[index].first;
      }
      for (size_t depth = 0; active > 0; ++depth) {
        for (size_t lane = 0; lane < active;) {
          if (!nodes[lane].is_internal()) {  // this path is done
            --active;
            nodes[lane] = nodes[active];
            keys[lane] = keys[active];
            continue;
          }
          TALLY_ASSERT(depth < kKeyBits);
          const std::array<NodeRef, 2>& child = tree_.children[nodes[lane].index()];
          const int bit = key_bit(*keys[lane], depth);
          prefetch_hash(child[1 - bit]);
          const NodeRef next = child[bit];
          if (next.is_internal()) {
            __builtin_prefetch(&tree_.children[next.index()]);
          } else if (next.is_leaf()) {
            __builtin_prefetch(&tree_.leaves[next.index()].key);
          }
          nodes[lane++] = next;
        }
      }
    }

    // Starts loading the cached hash and its stale flag, which peek reads for `node`. A
    // CachedHash is not aligned to cache lines, so the two may lie in different lines.
    // Always inlined: GCC counts prefetches as free of side effects, finds a function made only
    // of them "pure" and deletes calls to it.
    __attribute__((always_inline)) void prefetch_hash(NodeRef node) const {
      if (node.is_internal()) {
        const CachedHash& cached = tree_.internal_hashes[node.index()];
        __builtin_prefetch(&cached.value);
        __builtin_prefetch(&cached.stale);
      } else if (node.is_leaf()) {
        const CachedHash& cached = tree_.leaves[node.index()].hash;
        __builtin_prefetch(&cached.value);
        __builtin_prefetch(&cached.stale);
      }
    }

    const Impl& tree_;
    std::span<const Entry> updates_;
    size_t walked_ = 0;  // updates whose paths have been walked
  };

  // Hash `node`, at `depth`, would have after `updates`: distinct keys sorted in bit order, all
  // on the node's path (sharing its first `depth` bits). Descends only where updates go; an
  // untouched subtree keeps its hash. Accounts are never deleted, so every existing internal node
  // stays (it keeps at least two leaves below it) and only empty subtrees and leaves change
  // shape: there the new subtree is hashed from its short list of leaves. With `computed`, the
  // new hashes of existing nodes are recorded there.
  Hash256 hash_after(NodeRef node, size_t depth, std::span<const Entry> updates,
                     TreeHashes* computed, PathPrefetcher& prefetcher) const {
    if (updates.empty())
      return peek(node);
    if (node.is_internal()) {
      TALLY_ASSERT(depth < kKeyBits);
      const auto middle = std::partition_point(updates.begin(), updates.end(), [&](const Entry& e) {
        return key_bit(e.first, depth) == 0;
      });
      const auto left_count = static_cast<size_t>(middle - updates.begin());
      const auto [left, right] = children[node.index()];
      // Left before right, in the order of the updates, which the prefetcher walks ahead of.
      const Hash256 left_hash =
          hash_after(left, depth + 1, updates.first(left_count), computed, prefetcher);
      const Hash256 right_hash =
          hash_after(right, depth + 1, updates.subspan(left_count), computed, prefetcher);
      Hash256 hash = internal_hash(left_hash, right_hash);
      if (computed)
        computed->nodes.emplace_back(node.raw(), hash);
      return hash;
    }
    // The updates end here, at an empty subtree or a leaf: keep the prefetcher ahead.
    prefetcher.consumed(updates.data() + updates.size());
    if (node.is_empty()) {
      if (computed)
        computed->adds_keys = true;
      return subtree_hash(updates, depth);
    }

    // A leaf keeps its place among the updates unless one of them replaces its value.
    const Leaf& leaf = leaves[node.index()];
    const auto position = first_update_at_or_after(updates, leaf.key);
    if (position != updates.end() && position->first == leaf.key) {
      Hash256 hash = subtree_hash(updates, depth);
      if (computed) {
        if (updates.size() == 1) {  // the leaf stays, with a new value
          computed->nodes.emplace_back(node.raw(), hash);
        } else {
          computed->adds_keys = true;
        }
      }
      return hash;
    }
    if (computed)
      computed->adds_keys = true;
    const Entry existing{leaf.key, leaf.value_hash};
    if (updates.size() == 1) {  // The common case: one new key meets one leaf. No allocation.
      const std::array<Entry, 2> pair = position == updates.begin()
                                            ? std::array{existing, updates.front()}
                                            : std::array{updates.front(), existing};
      return subtree_hash(pair, depth);
    }
    std::vector<Entry> merged;
    merged.reserve(updates.size() + 1);
    merged.insert(merged.end(), updates.begin(), position);
    merged.push_back(existing);
    merged.insert(merged.end(), position, updates.end());
    return subtree_hash(merged, depth);
  }
};

StateTree::StateTree() : impl_(std::make_unique<Impl>()) {}
StateTree::~StateTree() = default;
StateTree::StateTree(StateTree&&) noexcept = default;
StateTree& StateTree::operator=(StateTree&&) noexcept = default;

void StateTree::set(const Hash256& key, const Hash256& value_hash) {
  Impl& tree = *impl_;

  // Walk down to where the key's path ends, remembering the internal nodes passed.
  std::array<uint32_t, kKeyBits> path;
  size_t depth = 0;
  NodeRef node = tree.root;
  while (node.is_internal()) {
    TALLY_ASSERT(depth < kKeyBits);
    path[depth] = node.index();
    node = tree.children[node.index()][key_bit(key, depth)];
    ++depth;
  }

  if (node.is_leaf() && tree.leaves[node.index()].key == key) {
    Impl::Leaf& leaf = tree.leaves[node.index()];
    if (leaf.value_hash == value_hash)
      return;
    tree.version = new_tree_version();
    leaf.value_hash = value_hash;
    leaf.hash.stale = true;
  } else {
    tree.version = new_tree_version();
    const NodeRef replacement =
        node.is_empty() ? tree.new_leaf(key, value_hash) : tree.split(node, depth, key, value_hash);
    if (depth == 0) {
      tree.root = replacement;
    } else {
      tree.children[path[depth - 1]][key_bit(key, depth - 1)] = replacement;
    }
  }

  for (size_t level = depth; level-- > 0;) {
    bool& stale = tree.internal_hashes[path[level]].stale;
    if (stale)
      break;
    stale = true;
  }
}

std::optional<Hash256> StateTree::get(const Hash256& key) const {
  const Impl& tree = *impl_;
  NodeRef node = tree.root;
  for (size_t depth = 0; node.is_internal(); ++depth) {
    node = tree.children[node.index()][key_bit(key, depth)];
  }
  if (node.is_leaf()) {
    const Impl::Leaf& leaf = tree.leaves[node.index()];
    if (leaf.key == key)
      return leaf.value_hash;
  }
  return std::nullopt;
}

size_t StateTree::size() const {
  return impl_->leaves.size();
}

Hash256 StateTree::root() {
  return impl_->refresh(impl_->root);
}

bool StateTree::is_clean() const {
  // Stale nodes have stale ancestors, so the root's flag speaks for the whole tree.
  const Impl& tree = *impl_;
  if (tree.root.is_internal())
    return !tree.internal_hashes[tree.root.index()].stale;
  if (tree.root.is_leaf())
    return !tree.leaves[tree.root.index()].hash.stale;
  return true;
}

Hash256 StateTree::peek_root() const {
  return impl_->peek(impl_->root);
}

Hash256 StateTree::root_after(std::span<const Entry> updates, TreeHashes* computed) const {
  std::vector<Entry> sorted = sorted_distinct(updates);
  if (computed) {
    computed->tree_version = impl_->version;
    computed->nodes.clear();
    computed->adds_keys = false;
  }
  Impl::PathPrefetcher prefetcher(*impl_, sorted);
  Hash256 root = impl_->hash_after(impl_->root, 0, sorted, computed, prefetcher);
  if (computed)
    computed->updates = std::move(sorted);
  return root;
}

Hash256 StateTree::apply(std::span<const Entry> updates, const TreeHashes& computed) {
  const std::vector<Entry> sorted = sorted_distinct(updates);
  // Computed against exactly this tree and these updates, the recorded hashes are the hashes
  // those nodes have once the updates are set.
  const bool reusable = computed.tree_version != 0 && computed.tree_version == impl_->version &&
                        computed.updates == sorted;
  return apply_sorted(sorted, computed, reusable);
}

Hash256 StateTree::apply_recorded(const TreeHashes& computed) {
  TALLY_ASSERT_MSG(computed.tree_version != 0, "no updates were recorded");
  TALLY_ASSERT_MSG(std::adjacent_find(computed.updates.begin(), computed.updates.end(),
                                      [](const Entry& left, const Entry& right) {
                                        return !(left.first < right.first);
                                      }) == computed.updates.end(),
                   "recorded updates must be sorted and distinct");
  return apply_sorted(computed.updates, computed, computed.tree_version == impl_->version);
}

Hash256 StateTree::apply_sorted(std::span<const Entry> sorted, const TreeHashes& computed,
                                bool reusable) {
  Impl& tree = *impl_;
  if (reusable && !computed.adds_keys && is_clean())
    return tree.write_value_changes(sorted, computed.nodes);
  for (const Entry& entry : sorted)
    set(entry.first, entry.second);
  if (reusable) {
    for (const auto& [raw, hash] : computed.nodes) {
      const NodeRef node = NodeRef::from_raw(raw);
      Impl::CachedHash& cached =
          node.is_leaf() ? tree.leaves[node.index()].hash : tree.internal_hashes[node.index()];
      if (cached.stale) {
        cached.value = hash;
        cached.precomputed = true;
      } else {
        // Untouched by set (every update under it kept its value): its hash cannot have changed.
        TALLY_ASSERT_MSG(cached.value == hash, "a precomputed tree hash disagrees with the tree");
      }
    }
  }
  return root();
}

TreeProof StateTree::prove(const Hash256& key) const {
  const Impl& tree = *impl_;
  TreeProof proof;
  NodeRef node = tree.root;
  for (size_t depth = 0; node.is_internal(); ++depth) {
    const std::array<NodeRef, 2>& child = tree.children[node.index()];
    const int bit = key_bit(key, depth);
    // On a clean tree (the state keeps it clean) peek returns the cached hash; on a dirty one it
    // recomputes without caching.
    proof.siblings.push_back(tree.peek(child[1 - bit]));
    node = child[bit];
  }
  if (node.is_leaf()) {
    const Impl::Leaf& leaf = tree.leaves[node.index()];
    proof.terminal = TreeProof::Terminal::leaf;
    proof.leaf_key = leaf.key;
    proof.leaf_value_hash = leaf.value_hash;
  }
  return proof;
}

}  // namespace tally
