#include "ledger/state_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "crypto/sha256.h"

namespace tally {
namespace {

// Hashes recomputed here from the documented rules, independently of the implementation.
Hash256 leaf_hash(const Hash256& key, const Hash256& value_hash) {
  const Bytes domain{0x00};
  return sha256_parts({domain, key.span(), value_hash.span()});
}

Hash256 internal_hash(const Hash256& left, const Hash256& right) {
  const Bytes domain{0x01};
  return sha256_parts({domain, left.span(), right.span()});
}

const Hash256 kZero{};

int bit_of(const Hash256& key, size_t index) {
  return (key.data[index / 8] >> (7 - index % 8)) & 1;
}

Hash256 flip_bit(Hash256 key, size_t index) {
  key.data[index / 8] ^= static_cast<uint8_t>(0x80 >> (index % 8));
  return key;
}

// A key whose first bytes are given and whose remaining bytes are zero.
Hash256 key_with_prefix(std::initializer_list<uint8_t> prefix) {
  Hash256 key;
  std::copy(prefix.begin(), prefix.end(), key.data.begin());
  return key;
}

Hash256 value(int number) {
  return sha256(as_bytes("value " + std::to_string(number)));
}

Hash256 pseudo_random_key(int number) {
  return sha256(as_bytes("key " + std::to_string(number)));
}

// Folds `node`, the hash at depth `to_depth`, up through a chain of internal nodes whose other
// child is empty at every depth in [from_depth, to_depth), following `key`'s bits.
Hash256 fold_chain(Hash256 node, const Hash256& key, size_t from_depth, size_t to_depth) {
  for (size_t depth = to_depth; depth-- > from_depth;) {
    node = bit_of(key, depth) == 0 ? internal_hash(node, kZero) : internal_hash(kZero, node);
  }
  return node;
}

void expect_invalid(const Status& status, const std::string& reason_part = "") {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "invalid_proof");
  if (!reason_part.empty()) {
    EXPECT_NE(status.error().message.find(reason_part), std::string::npos)
        << status.error().message;
  }
}

void expect_decode_error(const Bytes& bytes, const std::string& code) {
  Result<TreeProof> decoded = TreeProof::decode(bytes);
  ASSERT_FALSE(decoded.ok()) << to_hex(bytes);
  EXPECT_EQ(decoded.error().code, code) << decoded.error().message;
}

// ---------------------------------------------------------------------------------------------
// Roots

TEST(StateTree, EmptyTreeRootIsZero) {
  StateTree tree;
  EXPECT_TRUE(tree.is_clean());
  EXPECT_TRUE(tree.peek_root().is_zero());
  EXPECT_TRUE(tree.root().is_zero());
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_FALSE(tree.get(pseudo_random_key(1)).has_value());
}

TEST(StateTree, SingleKeyRootIsItsLeafHash) {
  StateTree tree;
  const Hash256 key = pseudo_random_key(1);
  tree.set(key, value(1));
  EXPECT_EQ(tree.root(), leaf_hash(key, value(1)));
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree.get(key), value(1));
}

TEST(StateTree, KeysDifferingAtBitZeroHangFromTheRoot) {
  const Hash256 left = key_with_prefix({0x12, 0x34});
  const Hash256 right = key_with_prefix({0x92, 0x34});  // Same key with bit 0 set.
  const Hash256 expected = internal_hash(leaf_hash(left, value(1)), leaf_hash(right, value(2)));

  StateTree forward;
  forward.set(left, value(1));
  forward.set(right, value(2));
  EXPECT_EQ(forward.root(), expected);

  StateTree backward;
  backward.set(right, value(2));
  backward.set(left, value(1));
  EXPECT_EQ(backward.root(), expected);
}

TEST(StateTree, KeysSharingALongPrefixHangBelowAChainOfInternalNodes) {
  const Hash256 a = key_with_prefix({0xa5, 0x3c, 0x96, 0x7e});
  const Hash256 b = flip_bit(a, 20);  // Equal in bits 0..19.
  StateTree tree;
  tree.set(a, value(1));
  tree.set(b, value(2));

  const Hash256 leaf_a = leaf_hash(a, value(1));
  const Hash256 leaf_b = leaf_hash(b, value(2));
  const Hash256 split =
      bit_of(a, 20) == 0 ? internal_hash(leaf_a, leaf_b) : internal_hash(leaf_b, leaf_a);
  EXPECT_EQ(tree.root(), fold_chain(split, a, 0, 20));

  // A third key leaving the shared path at bit 3 puts a two-way node at depth 3.
  const Hash256 c = flip_bit(a, 3);
  tree.set(c, value(3));
  const Hash256 ab_subtree = fold_chain(split, a, 4, 20);
  const Hash256 leaf_c = leaf_hash(c, value(3));
  const Hash256 at_depth_3 =
      bit_of(a, 3) == 0 ? internal_hash(ab_subtree, leaf_c) : internal_hash(leaf_c, ab_subtree);
  EXPECT_EQ(tree.root(), fold_chain(at_depth_3, a, 0, 3));
  EXPECT_EQ(tree.size(), 3u);
  EXPECT_EQ(tree.get(a), value(1));
  EXPECT_EQ(tree.get(b), value(2));
  EXPECT_EQ(tree.get(c), value(3));
}

TEST(StateTree, KeysDifferingOnlyInTheLastBitSitAtDepth256) {
  const Hash256 a = pseudo_random_key(7);
  const Hash256 b = flip_bit(a, 255);
  StateTree tree;
  tree.set(a, value(1));
  tree.set(b, value(2));

  const Hash256 leaf_a = leaf_hash(a, value(1));
  const Hash256 leaf_b = leaf_hash(b, value(2));
  const Hash256 split =
      bit_of(a, 255) == 0 ? internal_hash(leaf_a, leaf_b) : internal_hash(leaf_b, leaf_a);
  const Hash256 root = tree.root();
  EXPECT_EQ(root, fold_chain(split, a, 0, 255));

  const TreeProof proof = tree.prove(b);
  EXPECT_EQ(proof.siblings.size(), 256u);
  EXPECT_TRUE(verify_tree_proof(root, b, value(2), proof).ok());
  Result<TreeProof> decoded = TreeProof::decode(proof.encode());
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(verify_tree_proof(root, b, value(2), *decoded).ok());
}

TEST(StateTree, UpdatingAValueChangesTheRoot) {
  StateTree tree;
  const Hash256 key = pseudo_random_key(1);
  tree.set(key, value(1));
  tree.set(pseudo_random_key(2), value(2));
  const Hash256 before = tree.root();

  tree.set(key, value(3));
  const Hash256 after = tree.root();
  EXPECT_NE(after, before);
  EXPECT_EQ(tree.get(key), value(3));
  EXPECT_EQ(tree.size(), 2u);

  StateTree rebuilt;
  rebuilt.set(pseudo_random_key(2), value(2));
  rebuilt.set(key, value(3));
  EXPECT_EQ(rebuilt.root(), after);

  tree.set(key, value(3));  // Same value again: nothing changes.
  EXPECT_EQ(tree.root(), after);
  tree.set(key, value(1));  // Back to the first value: back to the first root.
  EXPECT_EQ(tree.root(), before);
}

TEST(StateTree, RootIsLazyAcrossManyUpdates) {
  StateTree incremental;
  StateTree batch;
  for (int number = 0; number < 500; ++number) {
    incremental.set(pseudo_random_key(number), value(number));
    if (number % 37 == 0)
      (void)incremental.root();
  }
  for (int number = 499; number >= 0; --number) {
    batch.set(pseudo_random_key(number), value(number));
  }
  EXPECT_EQ(incremental.root(), batch.root());
  EXPECT_EQ(incremental.size(), 500u);
}

// ---------------------------------------------------------------------------------------------
// root_after: the root a batch of updates would give, without applying it

using Update = std::pair<Hash256, Hash256>;

// The root of a fresh tree holding `entries` then `updates`, applied in order with set().
Hash256 root_with(const std::vector<Update>& entries, const std::vector<Update>& updates) {
  StateTree tree;
  for (const auto& [key, value_hash] : entries)
    tree.set(key, value_hash);
  for (const auto& [key, value_hash] : updates)
    tree.set(key, value_hash);
  return tree.root();
}

// Checks root_after against a rebuilt tree and that `tree` (clean, holding `entries`) is intact.
void expect_root_after(StateTree& tree, const std::vector<Update>& entries,
                       const std::vector<Update>& updates) {
  const Hash256 before = tree.root();
  EXPECT_EQ(tree.root_after(updates), root_with(entries, updates));
  EXPECT_TRUE(tree.is_clean());
  EXPECT_EQ(tree.peek_root(), before);
  EXPECT_EQ(tree.root(), before);
  EXPECT_EQ(tree.size(), entries.size());
  for (const auto& [key, value_hash] : entries)
    EXPECT_EQ(tree.get(key), value_hash);
  for (const Update& update : updates) {
    const bool existed = std::any_of(entries.begin(), entries.end(), [&](const Update& entry) {
      return entry.first == update.first;
    });
    if (!existed) {
      EXPECT_FALSE(tree.get(update.first).has_value());
    }
  }
}

// apply(): set() for each update, reusing what root_after computed when it may.

struct AppliedBatch {
  StateTree tree;
  std::vector<Update> entries;
  std::vector<Update> batch;
  Hash256 honest_root;
};

// A tree of 200 entries, and a batch that changes 20 of them and adds 20 new keys.
AppliedBatch tree_and_batch() {
  AppliedBatch setup;
  for (int number = 0; number < 200; ++number) {
    setup.entries.emplace_back(pseudo_random_key(number), value(number));
    setup.tree.set(setup.entries.back().first, setup.entries.back().second);
  }
  (void)setup.tree.root();
  for (int number = 0; number < 20; ++number)
    setup.batch.emplace_back(pseudo_random_key(number * 7), value(1000 + number));
  for (int number = 200; number < 220; ++number)
    setup.batch.emplace_back(pseudo_random_key(number), value(number));
  setup.honest_root = root_with(setup.entries, setup.batch);
  return setup;
}

// The root is the last node root_after records; a wrong hash there shows whether it is reused.
void tamper_with_root(TreeHashes& computed) {
  ASSERT_FALSE(computed.nodes.empty());
  computed.nodes.back().second = value(-1);
}

TEST(StateTreeApply, GivesTheRootOfTheUpdatesWithOrWithoutComputedHashes) {
  AppliedBatch with_hashes = tree_and_batch();
  TreeHashes computed;
  EXPECT_EQ(with_hashes.tree.root_after(with_hashes.batch, &computed), with_hashes.honest_root);
  EXPECT_EQ(with_hashes.tree.apply(with_hashes.batch, computed), with_hashes.honest_root);
  EXPECT_TRUE(with_hashes.tree.is_clean());

  AppliedBatch without = tree_and_batch();
  EXPECT_EQ(without.tree.apply(without.batch, TreeHashes{}), without.honest_root);
  EXPECT_TRUE(without.tree.is_clean());
}

TEST(StateTreeApply, ReusesHashesComputedOnTheSameTreeForTheSameUpdates) {
  AppliedBatch setup = tree_and_batch();
  TreeHashes computed;
  (void)setup.tree.root_after(setup.batch, &computed);
  tamper_with_root(computed);
  // Not hashed again: the recorded (here wrong) root is what comes out.
  EXPECT_EQ(setup.tree.apply(setup.batch, computed), value(-1));
}

TEST(StateTreeApply, WritesTheRecordedHashesWhenTheUpdatesOnlyChangeValues) {
  AppliedBatch setup = tree_and_batch();
  setup.batch.resize(20);  // only the changed values, no new keys
  setup.honest_root = root_with(setup.entries, setup.batch);
  TreeHashes computed;
  EXPECT_EQ(setup.tree.root_after(setup.batch, &computed), setup.honest_root);
  EXPECT_FALSE(computed.adds_keys);
  EXPECT_EQ(setup.tree.apply(setup.batch, computed), setup.honest_root);
  EXPECT_TRUE(setup.tree.is_clean());
  for (const auto& [key, value_hash] : setup.batch) {
    EXPECT_EQ(setup.tree.get(key), std::optional<Hash256>(value_hash));
    EXPECT_TRUE(verify_tree_proof(setup.honest_root, key, value_hash, setup.tree.prove(key)).ok());
  }
  // The caches are right: later updates, of a changed key and of a new one, hash from them.
  std::vector<Update> later = {{setup.batch.front().first, value(7000)},
                               {pseudo_random_key(7001), value(7001)}};
  for (const Update& update : setup.batch) {
    for (Update& entry : setup.entries) {
      if (entry.first == update.first)
        entry.second = update.second;
    }
  }
  for (const Update& update : later)
    setup.tree.set(update.first, update.second);
  EXPECT_EQ(setup.tree.root(), root_with(setup.entries, later));

  AppliedBatch tampered = tree_and_batch();
  tampered.batch.resize(20);
  (void)tampered.tree.root_after(tampered.batch, &computed);
  tamper_with_root(computed);
  EXPECT_EQ(tampered.tree.apply(tampered.batch, computed), value(-1));
}

TEST(StateTreeApply, RecordsThatABatchAddsKeys) {
  AppliedBatch setup = tree_and_batch();
  TreeHashes computed;
  (void)setup.tree.root_after(setup.batch, &computed);
  EXPECT_TRUE(computed.adds_keys);
  (void)setup.tree.root_after(std::span(setup.batch).first(20), &computed);
  EXPECT_FALSE(computed.adds_keys);
  (void)setup.tree.root_after(std::span(setup.batch).last(1), &computed);
  EXPECT_TRUE(computed.adds_keys);
}

// A batch whose hashes root_after recorded (the root's tampered with, to show any reuse), on a
// tree that then changed.
AppliedBatch recorded_then_tree_changed(TreeHashes& computed) {
  AppliedBatch setup = tree_and_batch();
  (void)setup.tree.root_after(setup.batch, &computed);
  tamper_with_root(computed);
  const Update other{pseudo_random_key(5000), value(5000)};
  setup.tree.set(other.first, other.second);
  setup.entries.push_back(other);
  return setup;
}

TEST(StateTreeApply, IgnoresHashesComputedBeforeTheTreeChanged) {
  TreeHashes computed;
  AppliedBatch setup = recorded_then_tree_changed(computed);
  EXPECT_EQ(setup.tree.apply(setup.batch, computed), root_with(setup.entries, setup.batch));
}

TEST(StateTreeApply, IgnoresHashesComputedForOtherUpdates) {
  AppliedBatch setup = tree_and_batch();
  TreeHashes computed;
  (void)setup.tree.root_after(setup.batch, &computed);
  tamper_with_root(computed);
  setup.batch.back().second = value(-2);
  EXPECT_EQ(setup.tree.apply(setup.batch, computed), root_with(setup.entries, setup.batch));
}

TEST(StateTreeApply, IgnoresHashesComputedOnAnotherTree) {
  AppliedBatch first = tree_and_batch();
  AppliedBatch second = tree_and_batch();  // same contents, another tree
  TreeHashes computed;
  (void)first.tree.root_after(first.batch, &computed);
  tamper_with_root(computed);
  EXPECT_EQ(second.tree.apply(second.batch, computed), second.honest_root);
}

// apply_recorded(): the updates root_after recorded, applied without being given again.

TEST(StateTreeApplyRecorded, AppliesTheRecordedUpdatesAndReusesTheirHashes) {
  for (bool adds_keys : {true, false}) {
    AppliedBatch setup = tree_and_batch();
    if (!adds_keys) {
      setup.batch.resize(20);
      setup.honest_root = root_with(setup.entries, setup.batch);
    }
    TreeHashes computed;
    EXPECT_EQ(setup.tree.root_after(setup.batch, &computed), setup.honest_root);
    EXPECT_EQ(computed.adds_keys, adds_keys);
    EXPECT_EQ(setup.tree.apply_recorded(computed), setup.honest_root);
    EXPECT_TRUE(setup.tree.is_clean());
    for (const auto& [key, value_hash] : setup.batch)
      EXPECT_EQ(setup.tree.get(key), std::optional<Hash256>(value_hash));

    AppliedBatch tampered = tree_and_batch();
    if (!adds_keys)
      tampered.batch.resize(20);
    (void)tampered.tree.root_after(tampered.batch, &computed);
    tamper_with_root(computed);
    EXPECT_EQ(tampered.tree.apply_recorded(computed), value(-1));  // reused, not hashed again
  }
}

TEST(StateTreeApplyRecorded, HashesAgainWhenTheTreeChangedSince) {
  TreeHashes computed;
  AppliedBatch setup = recorded_then_tree_changed(computed);
  EXPECT_EQ(setup.tree.apply_recorded(computed), root_with(setup.entries, setup.batch));
}

TEST(StateTreeApplyRecordedDeathTest, RefusesWhatRootAfterDidNotRecord) {
  StateTree tree;
  EXPECT_DEATH((void)tree.apply_recorded(TreeHashes{}), "no updates were recorded");
  TreeHashes unsorted;
  unsorted.tree_version = 1;
  unsorted.updates = {{pseudo_random_key(2), value(2)}, {pseudo_random_key(2), value(3)}};
  EXPECT_DEATH((void)tree.apply_recorded(unsorted), "sorted and distinct");
}

TEST(StateTreeRootAfter, OnAnEmptyTree) {
  StateTree tree;
  EXPECT_TRUE(tree.root_after({}).is_zero());

  const Hash256 a = key_with_prefix({0x12});
  const Hash256 b = key_with_prefix({0x92});
  const std::vector<Update> one = {{a, value(1)}};
  EXPECT_EQ(tree.root_after(one), leaf_hash(a, value(1)));
  const std::vector<Update> two = {{b, value(2)}, {a, value(1)}};
  EXPECT_EQ(tree.root_after(two), internal_hash(leaf_hash(a, value(1)), leaf_hash(b, value(2))));

  EXPECT_TRUE(tree.root().is_zero());
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_FALSE(tree.get(a).has_value());
}

TEST(StateTreeRootAfter, NoUpdatesOrUnchangedValuesGiveTheCurrentRoot) {
  StateTree tree;
  std::vector<Update> entries;
  for (int number = 0; number < 50; ++number) {
    entries.emplace_back(pseudo_random_key(number), value(number));
    tree.set(entries.back().first, entries.back().second);
  }
  const Hash256 root = tree.root();
  EXPECT_EQ(tree.root_after({}), root);
  const std::vector<Update> same(entries.begin() + 10, entries.begin() + 20);
  EXPECT_EQ(tree.root_after(same), root);
}

TEST(StateTreeRootAfter, UpdatesOfExistingKeys) {
  StateTree tree;
  std::vector<Update> entries;
  for (int number = 0; number < 200; ++number) {
    entries.emplace_back(pseudo_random_key(number), value(number));
    tree.set(entries.back().first, entries.back().second);
  }
  (void)tree.root();
  expect_root_after(tree, entries, {{pseudo_random_key(5), value(1005)}});
  std::vector<Update> many;
  for (int number = 0; number < 200; number += 3)
    many.emplace_back(pseudo_random_key(number), value(1000 + number));
  expect_root_after(tree, entries, many);
  EXPECT_NE(tree.root_after(many), tree.root());
}

TEST(StateTreeRootAfter, NewKeysInEmptySubtrees) {
  // a and b split at bit 1 under the root's left child; the root's right child is empty, and so
  // is everything beside the chain above a key that joins at depth 7.
  const Hash256 a = key_with_prefix({0x00});
  const Hash256 b = key_with_prefix({0x40});
  StateTree tree;
  tree.set(a, value(1));
  tree.set(b, value(2));
  const std::vector<Update> entries = {{a, value(1)}, {b, value(2)}};
  const Hash256 ab = internal_hash(leaf_hash(a, value(1)), leaf_hash(b, value(2)));
  EXPECT_EQ(tree.root(), internal_hash(ab, kZero));

  const Hash256 c = key_with_prefix({0x80});
  const Hash256 d = key_with_prefix({0xc0});
  EXPECT_EQ(tree.root_after(std::vector<Update>{{c, value(3)}}),
            internal_hash(ab, leaf_hash(c, value(3))));
  // Two new keys in the same empty subtree: hashed as the subtree they form.
  EXPECT_EQ(tree.root_after(std::vector<Update>{{d, value(4)}, {c, value(3)}}),
            internal_hash(ab, internal_hash(leaf_hash(c, value(3)), leaf_hash(d, value(4)))));
  expect_root_after(tree, entries, {{d, value(4)}, {c, value(3)}, {b, value(5)}});
}

TEST(StateTreeRootAfter, NewKeysSplitAnExistingLeafDeep) {
  // a and b split at bit 200; the new keys leave a's path at bits 250 and 255 (a depth-256
  // split), and one more leaves at bit 3, above everything.
  const Hash256 a = pseudo_random_key(11);
  const Hash256 b = flip_bit(a, 200);
  StateTree tree;
  tree.set(a, value(1));
  tree.set(b, value(2));
  const std::vector<Update> entries = {{a, value(1)}, {b, value(2)}};
  (void)tree.root();

  const Hash256 c = flip_bit(a, 250);
  const Hash256 d = flip_bit(a, 255);
  const Hash256 e = flip_bit(a, 3);
  // From the definition: d splits from a at 255, c joins at 250, b at 200.
  const Hash256 leaf_a = leaf_hash(a, value(1));
  const Hash256 leaf_d = leaf_hash(d, value(4));
  Hash256 node =
      bit_of(a, 255) == 0 ? internal_hash(leaf_a, leaf_d) : internal_hash(leaf_d, leaf_a);
  node = fold_chain(node, a, 251, 255);
  const Hash256 leaf_c = leaf_hash(c, value(3));
  node = bit_of(a, 250) == 0 ? internal_hash(node, leaf_c) : internal_hash(leaf_c, node);
  node = fold_chain(node, a, 201, 250);
  const Hash256 leaf_b = leaf_hash(b, value(2));
  node = bit_of(a, 200) == 0 ? internal_hash(node, leaf_b) : internal_hash(leaf_b, node);
  EXPECT_EQ(tree.root_after(std::vector<Update>{{c, value(3)}, {d, value(4)}}),
            fold_chain(node, a, 0, 200));

  expect_root_after(tree, entries, {{d, value(4)}});
  expect_root_after(tree, entries, {{c, value(3)}, {d, value(4)}, {a, value(9)}});
  expect_root_after(tree, entries, {{e, value(5)}, {d, value(4)}, {b, value(8)}});
}

TEST(StateTreeRootAfter, ANewKeyMeetsAnExistingLeafOnEitherSide) {
  const Hash256 a = key_with_prefix({0x10, 0x80});
  const Hash256 b = key_with_prefix({0x90});
  const Hash256 below = key_with_prefix({0x10, 0x00});  // Leaves a's path at bit 8, to the left.
  const Hash256 above = key_with_prefix({0x10, 0xc0});  // Leaves it at bit 9, to the right.
  StateTree tree;
  tree.set(a, value(1));
  tree.set(b, value(2));
  const std::vector<Update> entries = {{a, value(1)}, {b, value(2)}};
  (void)tree.root();

  const Hash256 leaf_a = leaf_hash(a, value(1));
  const Hash256 leaf_b = leaf_hash(b, value(2));
  const Hash256 with_below = fold_chain(internal_hash(leaf_hash(below, value(3)), leaf_a), a, 1, 8);
  EXPECT_EQ(tree.root_after(std::vector<Update>{{below, value(3)}}),
            internal_hash(with_below, leaf_b));
  const Hash256 with_above = fold_chain(internal_hash(leaf_a, leaf_hash(above, value(4))), a, 1, 9);
  EXPECT_EQ(tree.root_after(std::vector<Update>{{above, value(4)}}),
            internal_hash(with_above, leaf_b));
  expect_root_after(tree, entries, {{above, value(4)}, {below, value(3)}});
}

TEST(StateTreeRootAfter, LastValueOfADuplicatedKeyWins) {
  StateTree tree;
  std::vector<Update> entries;
  for (int number = 0; number < 20; ++number) {
    entries.emplace_back(pseudo_random_key(number), value(number));
    tree.set(entries.back().first, entries.back().second);
  }
  (void)tree.root();
  const Hash256 existing = pseudo_random_key(3);
  const Hash256 fresh = pseudo_random_key(100);
  const std::vector<Update> updates = {{existing, value(50)}, {fresh, value(51)},
                                       {existing, value(52)}, {fresh, value(53)},
                                       {fresh, value(54)},    {existing, value(3)}};
  expect_root_after(tree, entries, updates);
  EXPECT_EQ(tree.root_after(updates), root_with(entries, {{fresh, value(54)}}));
}

TEST(StateTreeRootAfter, WorksOnADirtyTreeWithoutCleaningIt) {
  StateTree tree;
  std::vector<Update> entries;
  for (int number = 0; number < 100; ++number) {
    entries.emplace_back(pseudo_random_key(number), value(number));
    tree.set(entries.back().first, entries.back().second);
    if (number == 60)
      (void)tree.root();
  }
  tree.set(pseudo_random_key(7), value(700));
  entries[7].second = value(700);
  EXPECT_FALSE(tree.is_clean());
  const std::vector<Update> updates = {{pseudo_random_key(8), value(800)},
                                       {pseudo_random_key(1000), value(1000)}};
  EXPECT_EQ(tree.root_after(updates), root_with(entries, updates));
  EXPECT_EQ(tree.peek_root(), root_with(entries, {}));
  EXPECT_FALSE(tree.is_clean());
  EXPECT_EQ(tree.root(), root_with(entries, {}));
  EXPECT_TRUE(tree.is_clean());
}

// ---------------------------------------------------------------------------------------------
// Proofs
//
// The fixture tree, by key bits:
//   a = 0000 0000 ...   b = 0000 0100 ...   (equal in bits 0..4, split at bit 5)
//   c = 1000 0000 ...
// root -> left: chain of internal nodes at depths 1..4 down to the split at depth 5;
//      -> right: c's leaf.
class StateTreeProofs : public testing::Test {
 protected:
  StateTreeProofs() {
    tree_.set(a_, value(1));
    tree_.set(b_, value(2));
    tree_.set(c_, value(3));
    root_ = tree_.root();
  }

  const Hash256 a_ = key_with_prefix({0x00});
  const Hash256 b_ = key_with_prefix({0x04});
  const Hash256 c_ = key_with_prefix({0x80});
  StateTree tree_;
  Hash256 root_;
};

TEST_F(StateTreeProofs, InclusionProofsVerify) {
  for (const auto& [key, number] : {std::pair{a_, 1}, std::pair{b_, 2}, std::pair{c_, 3}}) {
    const TreeProof proof = tree_.prove(key);
    EXPECT_EQ(proof.terminal, TreeProof::Terminal::leaf);
    EXPECT_EQ(proof.leaf_key, key);
    EXPECT_TRUE(verify_tree_proof(root_, key, value(number), proof).ok());
  }
  EXPECT_EQ(tree_.prove(a_).siblings.size(), 6u);
  EXPECT_EQ(tree_.prove(c_).siblings.size(), 1u);
}

TEST_F(StateTreeProofs, InclusionProofWithWrongValueFails) {
  const TreeProof proof = tree_.prove(a_);
  expect_invalid(verify_tree_proof(root_, a_, value(2), proof), "different value");
}

TEST_F(StateTreeProofs, NonInclusionProofEndingInAnEmptySubtreeVerifies) {
  const Hash256 absent = key_with_prefix({0x40});  // Leaves the a/b chain at depth 1.
  const TreeProof proof = tree_.prove(absent);
  EXPECT_EQ(proof.terminal, TreeProof::Terminal::empty);
  ASSERT_EQ(proof.siblings.size(), 2u);
  EXPECT_EQ(proof.siblings[0], leaf_hash(c_, value(3)));
  EXPECT_TRUE(verify_tree_proof(root_, absent, std::nullopt, proof).ok());
  expect_invalid(verify_tree_proof(root_, absent, value(1), proof), "empty subtree");
}

TEST_F(StateTreeProofs, NonInclusionProofEndingAtAnotherLeafVerifies) {
  const Hash256 near_c = flip_bit(c_, 255);
  const TreeProof beside_c = tree_.prove(near_c);
  EXPECT_EQ(beside_c.terminal, TreeProof::Terminal::leaf);
  EXPECT_EQ(beside_c.leaf_key, c_);
  EXPECT_EQ(beside_c.siblings.size(), 1u);
  EXPECT_TRUE(verify_tree_proof(root_, near_c, std::nullopt, beside_c).ok());
  expect_invalid(verify_tree_proof(root_, near_c, value(3), beside_c), "another key");

  const Hash256 near_a = key_with_prefix({0x02});  // Reaches a's leaf at depth 6.
  const TreeProof beside_a = tree_.prove(near_a);
  EXPECT_EQ(beside_a.terminal, TreeProof::Terminal::leaf);
  EXPECT_EQ(beside_a.leaf_key, a_);
  EXPECT_EQ(beside_a.siblings.size(), 6u);
  EXPECT_TRUE(verify_tree_proof(root_, near_a, std::nullopt, beside_a).ok());
}

TEST_F(StateTreeProofs, EmptyTreeProvesAbsence) {
  StateTree empty;
  const TreeProof proof = empty.prove(a_);
  EXPECT_EQ(proof.terminal, TreeProof::Terminal::empty);
  EXPECT_TRUE(proof.siblings.empty());
  EXPECT_TRUE(verify_tree_proof(kZero, a_, std::nullopt, proof).ok());
  expect_invalid(verify_tree_proof(root_, a_, std::nullopt, proof), "root");
}

TEST_F(StateTreeProofs, NonInclusionFailsForAPresentKey) {
  // The key's own proof does not show absence...
  expect_invalid(verify_tree_proof(root_, a_, std::nullopt, tree_.prove(a_)), "own leaf");
  // ...and neither does another key's absence proof, whether it ends in an empty subtree or at a
  // leaf, nor a proof borrowed from a key on another path.
  expect_invalid(verify_tree_proof(root_, a_, std::nullopt, tree_.prove(key_with_prefix({0x40}))));
  expect_invalid(verify_tree_proof(root_, a_, std::nullopt, tree_.prove(flip_bit(c_, 255))),
                 "not on the key's path");
  expect_invalid(verify_tree_proof(root_, b_, std::nullopt, tree_.prove(a_)));
}

TEST_F(StateTreeProofs, TamperedProofsFail) {
  const TreeProof honest = tree_.prove(a_);
  ASSERT_TRUE(verify_tree_proof(root_, a_, value(1), honest).ok());

  for (size_t index = 0; index < honest.siblings.size(); ++index) {
    TreeProof proof = honest;
    proof.siblings[index].data[31] ^= 1;
    expect_invalid(verify_tree_proof(root_, a_, value(1), proof), "root");
  }

  TreeProof wrong_value = honest;
  wrong_value.leaf_value_hash = value(9);
  expect_invalid(verify_tree_proof(root_, a_, value(9), wrong_value), "root");

  TreeProof wrong_key = honest;
  wrong_key.leaf_key = flip_bit(a_, 200);
  expect_invalid(verify_tree_proof(root_, a_, value(1), wrong_key), "another key");
  expect_invalid(verify_tree_proof(root_, wrong_key.leaf_key, value(1), wrong_key), "root");

  TreeProof emptied = honest;
  emptied.terminal = TreeProof::Terminal::empty;
  expect_invalid(verify_tree_proof(root_, a_, std::nullopt, emptied), "root");

  TreeProof shortened = honest;
  shortened.siblings.pop_back();  // Now ends beside the chain's empty subtree.
  expect_invalid(verify_tree_proof(root_, a_, value(1), shortened), "empty sibling");

  TreeProof lengthened = honest;
  lengthened.siblings.push_back(value(5));
  expect_invalid(verify_tree_proof(root_, a_, value(1), lengthened), "root");

  TreeProof unknown_terminal = honest;
  unknown_terminal.terminal = static_cast<TreeProof::Terminal>(2);
  expect_invalid(verify_tree_proof(root_, a_, value(1), unknown_terminal), "terminal");
}

TEST_F(StateTreeProofs, LeafWithAnEmptySiblingIsRejectedAsNonCanonical) {
  // c's leaf pushed one level down beside an empty subtree: the shape of a tree that failed to
  // lift the leaf. Recompute the root such a tree would have, so only the shape check can fail.
  TreeProof proof = tree_.prove(c_);
  proof.siblings.push_back(kZero);
  const Hash256 leaf_c = leaf_hash(c_, value(3));
  const Hash256 pushed_down =
      bit_of(c_, 1) == 0 ? internal_hash(leaf_c, kZero) : internal_hash(kZero, leaf_c);
  const Hash256 bogus_root = internal_hash(proof.siblings[0], pushed_down);
  expect_invalid(verify_tree_proof(bogus_root, c_, value(3), proof), "empty sibling");
}

TEST_F(StateTreeProofs, MoreThan256SiblingsAreRejected) {
  TreeProof proof = tree_.prove(a_);
  proof.siblings.resize(257, value(4));
  expect_invalid(verify_tree_proof(root_, a_, value(1), proof), "at most 256");
}

TEST_F(StateTreeProofs, ProofAgainstAStaleRootFails) {
  const TreeProof old_proof = tree_.prove(a_);
  tree_.set(c_, value(4));  // Changes the root, not a's value.
  const Hash256 new_root = tree_.root();
  ASSERT_NE(new_root, root_);

  expect_invalid(verify_tree_proof(new_root, a_, value(1), old_proof), "root");
  EXPECT_TRUE(verify_tree_proof(root_, a_, value(1), old_proof).ok());
  const TreeProof new_proof = tree_.prove(a_);
  EXPECT_TRUE(verify_tree_proof(new_root, a_, value(1), new_proof).ok());
  expect_invalid(verify_tree_proof(root_, a_, value(1), new_proof), "root");
}

TEST_F(StateTreeProofs, ProveComputesTheRootFirst) {
  tree_.set(c_, value(5));
  const TreeProof proof = tree_.prove(a_);  // No root() call in between.
  EXPECT_TRUE(verify_tree_proof(tree_.root(), a_, value(1), proof).ok());
}

TEST_F(StateTreeProofs, ProofsWithManyKeys) {
  StateTree tree;
  for (int number = 0; number < 300; ++number) {
    tree.set(pseudo_random_key(number), value(number));
  }
  const Hash256 root = tree.root();
  for (int number = 0; number < 300; ++number) {
    const TreeProof proof = tree.prove(pseudo_random_key(number));
    EXPECT_TRUE(verify_tree_proof(root, pseudo_random_key(number), value(number), proof).ok());
    const Hash256 absent = pseudo_random_key(1000 + number);
    EXPECT_TRUE(verify_tree_proof(root, absent, std::nullopt, tree.prove(absent)).ok());
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

TEST(TreeProofEncoding, LayoutIsVersionTerminalCountBitmapSiblings) {
  const Hash256 first = value(1);
  const Hash256 third = value(2);
  TreeProof proof;
  proof.siblings = {first, kZero, third};
  const Bytes bytes = proof.encode();
  // Version 1, empty terminal, count 3 (u16 LE), bitmap 0b101, then the two non-empty siblings.
  Bytes expected{0x01, 0x00, 0x03, 0x00, 0x05};
  expected.insert(expected.end(), first.data.begin(), first.data.end());
  expected.insert(expected.end(), third.data.begin(), third.data.end());
  EXPECT_EQ(to_hex(bytes), to_hex(expected));

  TreeProof leaf;
  leaf.terminal = TreeProof::Terminal::leaf;
  leaf.leaf_key = key_with_prefix({0xaa});
  leaf.leaf_value_hash = key_with_prefix({0xbb});
  // Version, leaf terminal, key, value hash, zero siblings (and so no bitmap).
  const std::string key_hex = "aa" + std::string(62, '0');
  const std::string value_hex = "bb" + std::string(62, '0');
  EXPECT_EQ(to_hex(leaf.encode()), "0101" + key_hex + value_hex + "0000");
}

TEST_F(StateTreeProofs, EncodingRoundTrips) {
  for (const Hash256& key : {a_, b_, c_, key_with_prefix({0x40}), flip_bit(c_, 255)}) {
    const TreeProof proof = tree_.prove(key);
    const Bytes bytes = proof.encode();
    Result<TreeProof> decoded = TreeProof::decode(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->terminal, proof.terminal);
    EXPECT_EQ(decoded->leaf_key, proof.leaf_key);
    EXPECT_EQ(decoded->leaf_value_hash, proof.leaf_value_hash);
    EXPECT_EQ(decoded->siblings, proof.siblings);
    EXPECT_EQ(decoded->encode(), bytes);
  }

  StateTree empty;
  const Bytes bytes = empty.prove(a_).encode();
  EXPECT_EQ(to_hex(bytes), "01000000");  // Version, empty terminal, zero siblings.
  ASSERT_TRUE(TreeProof::decode(bytes).ok());
}

TEST(TreeProofEncoding, AcceptsExactly256Siblings) {
  TreeProof proof;
  proof.siblings.assign(256, kZero);
  proof.siblings[255] = value(1);
  const Bytes bytes = proof.encode();
  Result<TreeProof> decoded = TreeProof::decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->siblings, proof.siblings);
}

TEST(TreeProofEncoding, RejectsUnknownVersion) {
  expect_decode_error({0x00, 0x00, 0x00, 0x00}, "unsupported_version");
  expect_decode_error({0x02, 0x00, 0x00, 0x00}, "unsupported_version");
}

TEST(TreeProofEncoding, RejectsBadTerminalByte) {
  expect_decode_error({0x01, 0x02, 0x00, 0x00}, "non_canonical");
  expect_decode_error({0x01, 0xff, 0x00, 0x00}, "non_canonical");
}

TEST(TreeProofEncoding, RejectsMoreThan256Siblings) {
  Bytes bytes{0x01, 0x00, 0x01, 0x01};  // 257 siblings.
  bytes.resize(bytes.size() + 33, 0x00);
  expect_decode_error(bytes, "oversized");
  expect_decode_error({0x01, 0x00, 0xff, 0xff}, "oversized");
}

TEST(TreeProofEncoding, RejectsBitmapBitsPastTheCount) {
  Bytes bytes{0x01, 0x00, 0x03, 0x00, 0x08};  // Bit 3 flagged, 3 siblings.
  bytes.resize(bytes.size() + 32, 0x11);
  expect_decode_error(bytes, "non_canonical");
  expect_decode_error({0x01, 0x00, 0x01, 0x00, 0x80}, "non_canonical");
}

TEST(TreeProofEncoding, RejectsAllZeroSiblingFlaggedNonEmpty) {
  Bytes bytes{0x01, 0x00, 0x02, 0x00, 0x03};
  bytes.resize(bytes.size() + 32, 0x22);
  bytes.resize(bytes.size() + 32, 0x00);  // The second flagged sibling is all zero.
  expect_decode_error(bytes, "non_canonical");
}

TEST(TreeProofEncoding, RejectsTruncation) {
  TreeProof proof;
  proof.terminal = TreeProof::Terminal::leaf;
  proof.leaf_key = value(1);
  proof.leaf_value_hash = value(2);
  proof.siblings = {value(3), kZero, value(4), value(5), kZero, kZero, kZero, kZero, value(6)};
  const Bytes bytes = proof.encode();
  ASSERT_TRUE(TreeProof::decode(bytes).ok());
  for (size_t length = 0; length < bytes.size(); ++length) {
    expect_decode_error(Bytes(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length)),
                        "truncated");
  }
}

TEST(TreeProofEncoding, RejectsTrailingBytes) {
  TreeProof proof;
  proof.siblings = {value(1)};
  Bytes bytes = proof.encode();
  bytes.push_back(0x00);
  expect_decode_error(bytes, "trailing_bytes");
}

}  // namespace
}  // namespace tally
