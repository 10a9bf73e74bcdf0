#pragma once
// The authenticated tree over all accounts: a binary sparse Merkle tree on 256-bit keys with
// single-leaf subtrees collapsed into the leaf (so depth is about log2(accounts), not 256).
//
//   empty subtree  = 32 zero bytes
//   leaf           = SHA-256(0x00 || key || value_hash)
//   internal node  = SHA-256(0x01 || left || right)
//
// A leaf sits at the shallowest depth where it is alone in its subtree; bit i of the key (most
// significant bit of byte 0 first) picks the child at depth i (0 = left). The root therefore
// depends only on the set of (key, value_hash) pairs, never on the order of insertion.
//
// Updates are lazy: `set` marks the path dirty and `root` rehashes only dirty nodes, so a block
// costs O(accounts touched x depth) hashes, never O(all accounts). `root_after` computes the root
// a batch of updates would give without applying them (to check a block before committing it).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/sha256.h"

namespace tally {

// Proof that a key has a given value, or has none, under a root.
struct TreeProof {
  enum class Terminal : uint8_t { empty = 0, leaf = 1 };

  // The node where the key's path ends: an empty subtree, or a leaf. For an inclusion proof the
  // leaf holds the key itself; for a non-inclusion proof it is empty or another key's leaf that
  // shares the path's prefix.
  Terminal terminal = Terminal::empty;
  Hash256 leaf_key;
  Hash256 leaf_value_hash;
  // Sibling hashes from the root (depth 0) down to the terminal's parent; size = terminal depth.
  std::vector<Hash256> siblings;

  // Canonical encoding (docs/protocol.md); decode rejects more than 256 siblings.
  Bytes encode() const;
  static Result<TreeProof> decode(ByteSpan bytes);
};

// With `value_hash`: checks that (key, *value_hash) is in the tree under `root`.
// Without: checks that `key` is absent. Error code "invalid_proof" with the reason.
Status verify_tree_proof(const Hash256& root, const Hash256& key,
                         const std::optional<Hash256>& value_hash, const TreeProof& proof);

// What root_after worked out about nodes the tree already has, so that apply() with the same
// updates on the unchanged tree does not hash them again: a validator executes each block
// (root_after) before voting, then commits it, and without this would hash every path twice.
struct TreeHashes {
  // The tree version they were computed against; 0 = none (apply then hashes everything).
  uint64_t tree_version = 0;
  // The updates, sorted by key with one entry per key: apply() reuses nothing for other ones.
  std::vector<std::pair<Hash256, Hash256>> updates;
  // (node reference, hash after the updates) for existing nodes on the updated paths.
  std::vector<std::pair<uint32_t, Hash256>> nodes;
  // Whether the updates add keys. When they only change values of existing keys, `nodes` holds
  // every node whose hash changes, and apply() writes them without walking the tree.
  bool adds_keys = false;
};

class StateTree {
 public:
  StateTree();
  ~StateTree();
  StateTree(StateTree&&) noexcept;
  StateTree& operator=(StateTree&&) noexcept;
  StateTree(const StateTree&) = delete;
  StateTree& operator=(const StateTree&) = delete;

  // Inserts or replaces. Accounts are never deleted from a Tally ledger, so there is no erase.
  void set(const Hash256& key, const Hash256& value_hash);
  std::optional<Hash256> get(const Hash256& key) const;
  size_t size() const;

  // Rehashes the dirty paths and returns the root hash.
  Hash256 root();
  // Whether every cached hash is current: no `set` changed the tree since the last root()/prove().
  bool is_clean() const;
  // The root without touching any cache: O(1) on a clean tree; on a dirty one it recomputes the
  // dirty paths on every call (call root() instead to keep the work).
  Hash256 peek_root() const;

  // The root the tree would have after `set(key, value_hash)` for each (key, value_hash) of
  // `updates`, computed without changing the tree or its caches. Keys may come in any order; a key
  // listed more than once takes the last value given for it. Costs O(updates x depth) hashes, plus
  // on a dirty tree the rehash of its dirty paths (uncached, so call root() first when it is
  // dirty).
  // With `computed`, also records what apply() can reuse.
  Hash256 root_after(std::span<const std::pair<Hash256, Hash256>> updates,
                     TreeHashes* computed = nullptr) const;

  // set() for each update, then root(). Where `computed` came from root_after on this tree in
  // its current version with the same updates, the hashes it holds are reused and only nodes the
  // updates create are hashed (and when they only change values on a clean tree, the recorded
  // nodes are written without walking the tree at all); otherwise it is ignored. Either way the
  // root is the same.
  Hash256 apply(std::span<const std::pair<Hash256, Hash256>> updates, const TreeHashes& computed);
  // apply(computed.updates, computed), without sorting them again: for the updates root_after
  // recorded (REQUIRES: `computed` came from root_after, on this tree in any version).
  Hash256 apply_recorded(const TreeHashes& computed);

  // Proof for `key` against the current root; reads cached hashes on a clean tree and computes
  // (without caching) on a dirty one.
  TreeProof prove(const Hash256& key) const;

 private:
  // apply() for distinct updates sorted by key; `reusable`: `computed` holds their hashes on
  // this tree as it is.
  Hash256 apply_sorted(std::span<const std::pair<Hash256, Hash256>> sorted,
                       const TreeHashes& computed, bool reusable);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
