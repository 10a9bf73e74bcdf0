#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/codec.h"
#include "crypto/sha256.h"
#include "ledger/state_tree.h"

namespace tally {
namespace {

// Keys and values are generated as small integer ids and expanded here, so that repeated keys
// (updates) are common, counterexamples print readably and shrinking works on plain integers.
enum class KeySpace {
  // Hashes of the id: uniformly spread keys, splits near the root.
  spread,
  // One base key with a subset of fixed bit positions flipped, most of them late in the key:
  // keys share long prefixes, so the tree grows long chains and splits down to depth 256.
  clustered,
  // Both of the above in one tree.
  mixed,
};

constexpr uint32_t kKeyIds = 4096;  // 12 flip positions below.
constexpr std::array<size_t, 12> kFlipPositions = {255, 254, 253, 251, 248, 243,
                                                   236, 220, 190, 129, 64,  7};

Hash256 hash_of_id(std::string_view domain, uint32_t id) {
  Writer writer;
  writer.u32(id);
  return sha256_parts({as_bytes(domain), writer.bytes()});
}

Hash256 key_for(KeySpace space, uint32_t id) {
  if (space == KeySpace::mixed) {
    return key_for(id % 2 == 0 ? KeySpace::spread : KeySpace::clustered, id / 2);
  }
  if (space == KeySpace::spread)
    return hash_of_id("spread key", id);
  Hash256 key = sha256(as_bytes("clustered base key"));
  for (size_t bit = 0; bit < kFlipPositions.size(); ++bit) {
    if ((id >> bit & 1) != 0) {
      const size_t position = kFlipPositions[bit];
      key.data[position / 8] ^= static_cast<uint8_t>(0x80 >> (position % 8));
    }
  }
  return key;
}

Hash256 value_for(uint32_t id) {
  return hash_of_id("value", id);
}

// The root computed straight from the definition over a sorted set of entries: independent of
// StateTree's incremental machinery.
int bit_of(const Hash256& key, size_t index) {
  return (key.data[index / 8] >> (7 - index % 8)) & 1;
}

using Entry = std::pair<Hash256, Hash256>;

Hash256 reference_root(std::span<const Entry> entries, size_t depth = 0) {
  if (entries.empty())
    return Hash256{};
  if (entries.size() == 1) {
    const Bytes domain{0x00};
    return sha256_parts({domain, entries[0].first.span(), entries[0].second.span()});
  }
  // Sorted keys sharing `depth` leading bits: those with a 0 at `depth` come first.
  const auto middle = std::partition_point(
      entries.begin(), entries.end(), [&](const Entry& e) { return bit_of(e.first, depth) == 0; });
  const auto split = static_cast<size_t>(middle - entries.begin());
  const Hash256 left = reference_root(entries.subspan(0, split), depth + 1);
  const Hash256 right = reference_root(entries.subspan(split), depth + 1);
  const Bytes domain{0x01};
  return sha256_parts({domain, left.span(), right.span()});
}

Hash256 reference_root(const std::map<Hash256, Hash256>& model) {
  const std::vector<Entry> entries(model.begin(), model.end());
  return reference_root(std::span<const Entry>(entries));
}

// (key id, value id, call root() after this update)
using Update = std::tuple<uint32_t, uint32_t, bool>;

rc::Gen<std::vector<Update>> updates() {
  return rc::gen::container<std::vector<Update>>(
      rc::gen::tuple(rc::gen::inRange<uint32_t>(0, kKeyIds), rc::gen::inRange<uint32_t>(0, 8),
                     rc::gen::arbitrary<bool>()));
}

// (a) The incrementally maintained root always equals the root from the definition, and a tree
// built from scratch from the final contents, in any order, has the same root.
void check_incremental_root(KeySpace space) {
  const auto sequence = *updates();
  const auto shuffle_seed = *rc::gen::arbitrary<uint64_t>();

  StateTree tree;
  std::map<Hash256, Hash256> model;
  for (const auto& [key_id, value_id, take_root] : sequence) {
    const Hash256 key = key_for(space, key_id);
    tree.set(key, value_for(value_id));
    model[key] = value_for(value_id);
    if (take_root)
      RC_ASSERT(tree.root() == reference_root(model));
  }
  const Hash256 root = tree.root();
  RC_ASSERT(root == reference_root(model));
  RC_ASSERT(tree.size() == model.size());
  for (const auto& [key, value_hash] : model) {
    RC_ASSERT(tree.get(key) == std::optional<Hash256>(value_hash));
  }

  std::vector<Entry> entries(model.begin(), model.end());
  std::shuffle(entries.begin(), entries.end(), std::mt19937_64(shuffle_seed));
  StateTree rebuilt;
  for (const auto& [key, value_hash] : entries) {
    rebuilt.set(key, value_hash);
  }
  RC_ASSERT(rebuilt.root() == root);
}

RC_GTEST_PROP(StateTreeProperty, IncrementalRootMatchesDefinitionWithSpreadKeys, ()) {
  check_incremental_root(KeySpace::spread);
}

RC_GTEST_PROP(StateTreeProperty, IncrementalRootMatchesDefinitionWithLongSharedPrefixes, ()) {
  check_incremental_root(KeySpace::clustered);
}

RC_GTEST_PROP(StateTreeProperty, IncrementalRootMatchesDefinitionWithMixedKeys, ()) {
  check_incremental_root(KeySpace::mixed);
}

// (b) Proofs for present keys verify with exactly their value, proofs for absent keys verify as
// absence, and no proof shows a present key as absent.
void check_proofs(KeySpace space) {
  const auto sequence = *updates();
  const auto probes =
      *rc::gen::container<std::vector<uint32_t>>(rc::gen::inRange<uint32_t>(0, kKeyIds));

  StateTree tree;
  std::map<Hash256, Hash256> model;
  for (const auto& [key_id, value_id, take_root] : sequence) {
    const Hash256 key = key_for(space, key_id);
    tree.set(key, value_for(value_id));
    model[key] = value_for(value_id);
  }
  const Hash256 root = tree.root();
  const Hash256 other_value = hash_of_id("not a value", 0);

  std::vector<TreeProof> absent_proofs;
  bool ends_empty = false;
  bool ends_at_other_leaf = false;
  for (uint32_t probe : probes) {
    const Hash256 key = key_for(space, probe);
    if (model.contains(key))
      continue;
    const TreeProof proof = tree.prove(key);
    RC_ASSERT(verify_tree_proof(root, key, std::nullopt, proof).ok());
    RC_ASSERT(!verify_tree_proof(root, key, other_value, proof).ok());
    Result<TreeProof> decoded = TreeProof::decode(proof.encode());
    RC_ASSERT(decoded.ok());
    RC_ASSERT(verify_tree_proof(root, key, std::nullopt, *decoded).ok());
    (proof.terminal == TreeProof::Terminal::empty ? ends_empty : ends_at_other_leaf) = true;
    absent_proofs.push_back(proof);
  }

  RC_CLASSIFY(ends_empty, "absence shown by an empty subtree");
  RC_CLASSIFY(ends_at_other_leaf, "absence shown by another key's leaf");

  size_t index = 0;
  for (const auto& [key, value_hash] : model) {
    const TreeProof proof = tree.prove(key);
    RC_ASSERT(verify_tree_proof(root, key, value_hash, proof).ok());
    RC_ASSERT(!verify_tree_proof(root, key, std::nullopt, proof).ok());
    RC_ASSERT(!verify_tree_proof(root, key, other_value, proof).ok());
    Result<TreeProof> decoded = TreeProof::decode(proof.encode());
    RC_ASSERT(decoded.ok());
    RC_ASSERT(verify_tree_proof(root, key, value_hash, *decoded).ok());
    // Another key's absence proof does not show this key absent either.
    if (!absent_proofs.empty()) {
      const TreeProof& borrowed = absent_proofs[index++ % absent_proofs.size()];
      RC_ASSERT(!verify_tree_proof(root, key, std::nullopt, borrowed).ok());
    }
  }
}

RC_GTEST_PROP(StateTreeProperty, ProofsAreSoundAndCompleteWithSpreadKeys, ()) {
  check_proofs(KeySpace::spread);
}

RC_GTEST_PROP(StateTreeProperty, ProofsAreSoundAndCompleteWithLongSharedPrefixes, ()) {
  check_proofs(KeySpace::clustered);
}

RC_GTEST_PROP(StateTreeProperty, ProofsAreSoundAndCompleteWithMixedKeys, ()) {
  check_proofs(KeySpace::mixed);
}

// (c) root_after(batch) equals the root of a tree rebuilt with the same contents plus the batch
// applied with set(), and leaves the tree as it was. Batch keys are drawn mostly from the keys
// already present (updates, and duplicates within the batch), the rest anywhere in the key space
// (new keys in empty subtrees, or splitting an existing leaf; deep in the clustered space).
void check_root_after(KeySpace space) {
  const auto sequence = *updates();
  // Whether the tree is left with pending (unhashed) updates when root_after runs.
  const auto leave_dirty = *rc::gen::arbitrary<bool>();

  StateTree tree;
  std::map<Hash256, Hash256> model;
  std::vector<uint32_t> present_ids;
  for (const auto& [key_id, value_id, take_root] : sequence) {
    const Hash256 key = key_for(space, key_id);
    tree.set(key, value_for(value_id));
    model[key] = value_for(value_id);
    present_ids.push_back(key_id);
    if (take_root)
      (void)tree.root();
  }
  if (!leave_dirty)
    (void)tree.root();

  const auto key_id =
      present_ids.empty()
          ? rc::gen::inRange<uint32_t>(0, kKeyIds)
          : rc::gen::weightedOneOf<uint32_t>({{2, rc::gen::elementOf(present_ids)},
                                              {1, rc::gen::inRange<uint32_t>(0, kKeyIds)}});
  const auto batch_ids = *rc::gen::container<std::vector<std::pair<uint32_t, uint32_t>>>(
      rc::gen::pair(key_id, rc::gen::inRange<uint32_t>(0, 8)));
  std::vector<Entry> batch;
  std::map<Hash256, Hash256> expected = model;
  bool has_duplicate = false;
  bool has_new_key = false;
  for (const auto& [id, value_id] : batch_ids) {
    const Hash256 key = key_for(space, id);
    has_duplicate |= std::any_of(batch.begin(), batch.end(),
                                 [&](const Entry& entry) { return entry.first == key; });
    has_new_key |= !model.contains(key);
    batch.emplace_back(key, value_for(value_id));
    expected[key] = value_for(value_id);
  }
  RC_CLASSIFY(has_duplicate, "batch repeats a key");
  RC_CLASSIFY(has_new_key, "batch adds keys");
  RC_CLASSIFY(!tree.is_clean(), "dirty tree");

  const bool was_clean = tree.is_clean();
  const Hash256 predicted = tree.root_after(batch);

  // The copy: the same contents rebuilt from scratch, then the batch through set().
  StateTree copy;
  for (const auto& [key, value_hash] : model)
    copy.set(key, value_hash);
  RC_ASSERT(copy.root() == reference_root(model));
  for (const auto& [key, value_hash] : batch)
    copy.set(key, value_hash);
  RC_ASSERT(predicted == copy.root());
  RC_ASSERT(predicted == reference_root(expected));

  // The original is untouched: not even its caches.
  RC_ASSERT(tree.is_clean() == was_clean);
  RC_ASSERT(tree.size() == model.size());
  for (const auto& [key, value_hash] : batch) {
    const auto found = model.find(key);
    RC_ASSERT(tree.get(key) ==
              (found == model.end() ? std::nullopt : std::optional<Hash256>(found->second)));
  }
  RC_ASSERT(tree.root() == reference_root(model));

  // Applying the batch with the hashes root_after recorded gives the predicted root and leaves
  // every cached hash right: proofs of the batch's keys verify, and a later update rehashes
  // from those caches to the reference root.
  TreeHashes computed;
  RC_ASSERT(tree.root_after(batch, &computed) == predicted);
  RC_ASSERT(tree.apply(batch, computed) == predicted);
  RC_ASSERT(tree.is_clean());
  RC_ASSERT(tree.size() == expected.size());
  for (const auto& [key, value_hash] : batch) {
    RC_ASSERT(tree.get(key) == std::optional<Hash256>(expected[key]));
    RC_ASSERT(verify_tree_proof(predicted, key, expected[key], tree.prove(key)).ok());
  }
  const Hash256 later_key = key_for(space, *rc::gen::inRange<uint32_t>(0, kKeyIds));
  tree.set(later_key, value_for(9));
  expected[later_key] = value_for(9);
  RC_ASSERT(tree.root() == reference_root(expected));
}

RC_GTEST_PROP(StateTreeProperty, RootAfterMatchesAppliedUpdatesWithSpreadKeys, ()) {
  check_root_after(KeySpace::spread);
}

RC_GTEST_PROP(StateTreeProperty, RootAfterMatchesAppliedUpdatesWithLongSharedPrefixes, ()) {
  check_root_after(KeySpace::clustered);
}

RC_GTEST_PROP(StateTreeProperty, RootAfterMatchesAppliedUpdatesWithMixedKeys, ()) {
  check_root_after(KeySpace::mixed);
}

// (d) Decoding arbitrary bytes never crashes, and whatever decodes re-encodes to the same bytes.
void check_decode_is_canonical(const Bytes& bytes) {
  Result<TreeProof> decoded = TreeProof::decode(bytes);
  RC_CLASSIFY(decoded.ok(), "decodes");
  if (decoded.ok())
    RC_ASSERT(decoded->encode() == bytes);
}

RC_GTEST_PROP(TreeProofProperty, RandomBytesDecodeOnlyCanonically, (const Bytes& bytes)) {
  check_decode_is_canonical(bytes);
}

// Random bytes almost never get past the header; start from valid encodings and damage them.
RC_GTEST_PROP(TreeProofProperty, DamagedEncodingsDecodeOnlyCanonically, ()) {
  using Array = std::array<uint8_t, Hash256::kSize>;
  TreeProof proof;
  if (*rc::gen::arbitrary<bool>()) {
    proof.terminal = TreeProof::Terminal::leaf;
    proof.leaf_key.data = *rc::gen::arbitrary<Array>();
    proof.leaf_value_hash.data = *rc::gen::arbitrary<Array>();
  }
  const auto siblings = *rc::gen::container<std::vector<Array>>(
      rc::gen::oneOf(rc::gen::just(Array{}), rc::gen::arbitrary<Array>()));
  for (const Array& sibling : siblings) {
    proof.siblings.push_back(Hash256{sibling});
  }
  RC_PRE(proof.siblings.size() <= 256);

  Bytes bytes = proof.encode();
  Result<TreeProof> intact = TreeProof::decode(bytes);
  RC_ASSERT(intact.ok());
  RC_ASSERT(intact->siblings == proof.siblings);
  RC_ASSERT(intact->encode() == bytes);

  const auto position = *rc::gen::inRange<size_t>(0, bytes.size());
  switch (*rc::gen::inRange(0, 4)) {
    case 0:
      bytes[position] ^= *rc::gen::inRange<uint8_t>(1, 255);
      break;
    case 1:
      bytes.resize(position);
      break;
    case 2:
      bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(position),
                   *rc::gen::arbitrary<uint8_t>());
      break;
    default:
      bytes.push_back(*rc::gen::arbitrary<uint8_t>());
      break;
  }
  check_decode_is_canonical(bytes);
}

}  // namespace
}  // namespace tally
