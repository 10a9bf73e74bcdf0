// State tree costs at ledger scale: a tree of 1,000,000 accounts, updated one block at a time.
//
//   BM_StateTreeUpdateBatch/N   N existing keys get new values, then root(): the per-block
//                               cost; `per_key` is the time per touched key.
//   BM_StateTreeRootAfter*/N    the root N updates (existing keys) or N new keys would give,
//                               computed without changing the tree: what predicting a block's
//                               state root costs; `per_key` is the time per touched key.
//   BM_StateTreeInsertBatch/N   the same with N new keys (grows the shared tree; runs last).
//   BM_StateTreeProve*/Verify*  one proof, or one verification, against the 1M-key tree.
//   BM_StateTreeBuild           1M random keys into an empty tree, plus the first root().

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "ledger/state_tree.h"

namespace tally {
namespace {

constexpr size_t kTreeKeys = 1'000'000;

Hash256 random_hash(std::mt19937_64& random) {
  Hash256 hash;
  for (size_t offset = 0; offset < Hash256::kSize; offset += sizeof(uint64_t)) {
    const uint64_t word = random();
    std::memcpy(hash.data.data() + offset, &word, sizeof(word));
  }
  return hash;
}

// Built once, on first use, and shared by the benchmarks below.
struct PopulatedTree {
  StateTree tree;
  std::vector<Hash256> keys;
  std::mt19937_64 random{20240601};

  PopulatedTree() {
    keys.reserve(kTreeKeys);
    for (size_t index = 0; index < kTreeKeys; ++index) {
      keys.push_back(random_hash(random));
      tree.set(keys.back(), random_hash(random));
    }
    benchmark::DoNotOptimize(tree.root());
  }

  const Hash256& random_key() {
    return keys[std::uniform_int_distribution<size_t>(0, keys.size() - 1)(random)];
  }
};

PopulatedTree& populated() {
  static PopulatedTree instance;
  return instance;
}

void report_per_key(benchmark::State& state, int64_t keys_per_iteration) {
  state.SetItemsProcessed(state.iterations() * keys_per_iteration);
  state.counters["per_key"] = benchmark::Counter(
      static_cast<double>(keys_per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_StateTreeBuild(benchmark::State& state) {
  const auto count = static_cast<size_t>(state.range(0));
  std::mt19937_64 random(1);
  for (auto _ : state) {
    StateTree tree;
    for (size_t index = 0; index < count; ++index) {
      tree.set(random_hash(random), random_hash(random));
    }
    benchmark::DoNotOptimize(tree.root());
  }
  report_per_key(state, static_cast<int64_t>(count));
}
BENCHMARK(BM_StateTreeBuild)->Arg(kTreeKeys)->Iterations(1)->Unit(benchmark::kMillisecond);

// Random keys and values are drawn inside the timed loop; that costs a few nanoseconds per key,
// negligible next to the microseconds of hashing.
void BM_StateTreeUpdateBatch(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  const auto batch = state.range(0);
  for (auto _ : state) {
    for (int64_t index = 0; index < batch; ++index) {
      populated_tree.tree.set(populated_tree.random_key(), random_hash(populated_tree.random));
    }
    benchmark::DoNotOptimize(populated_tree.tree.root());
  }
  report_per_key(state, batch);
}
BENCHMARK(BM_StateTreeUpdateBatch)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

void BM_StateTreeGet(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  for (auto _ : state) {
    benchmark::DoNotOptimize(populated_tree.tree.get(populated_tree.random_key()));
  }
}
BENCHMARK(BM_StateTreeGet);

void BM_StateTreeProve(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  size_t proof_bytes = 0;
  for (auto _ : state) {
    const TreeProof proof = populated_tree.tree.prove(populated_tree.random_key());
    proof_bytes += proof.encode().size();
    benchmark::DoNotOptimize(proof);
  }
  state.counters["encoded_bytes"] =
      benchmark::Counter(static_cast<double>(proof_bytes), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_StateTreeProve);

void BM_StateTreeVerify(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  const Hash256 root = populated_tree.tree.root();
  const Hash256& key = populated_tree.random_key();
  const std::optional<Hash256> value_hash = populated_tree.tree.get(key);
  const TreeProof proof = populated_tree.tree.prove(key);
  for (auto _ : state) {
    benchmark::DoNotOptimize(verify_tree_proof(root, key, value_hash, proof));
  }
  state.counters["siblings"] = static_cast<double>(proof.siblings.size());
}
BENCHMARK(BM_StateTreeVerify);

// What a light client pays end to end: prove on the node, then verify.
void BM_StateTreeProveAndVerify(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  const Hash256 root = populated_tree.tree.root();
  for (auto _ : state) {
    const Hash256& key = populated_tree.random_key();
    const TreeProof proof = populated_tree.tree.prove(key);
    const Status status = verify_tree_proof(root, key, populated_tree.tree.get(key), proof);
    if (!status.ok())
      state.SkipWithError(status.error().message.c_str());
  }
}
BENCHMARK(BM_StateTreeProveAndVerify);

void BM_StateTreeProveAndVerifyAbsent(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  const Hash256 root = populated_tree.tree.root();
  for (auto _ : state) {
    const Hash256 key = random_hash(populated_tree.random);
    const TreeProof proof = populated_tree.tree.prove(key);
    const Status status = verify_tree_proof(root, key, std::nullopt, proof);
    if (!status.ok())
      state.SkipWithError(status.error().message.c_str());
  }
}
BENCHMARK(BM_StateTreeProveAndVerifyAbsent);

// The batch is drawn inside the timed loop, as above; the tree is left as it was.
void root_after_batch(benchmark::State& state, bool new_keys) {
  PopulatedTree& populated_tree = populated();
  (void)populated_tree.tree.root();
  const auto batch = static_cast<size_t>(state.range(0));
  std::vector<std::pair<Hash256, Hash256>> updates(batch);
  for (auto _ : state) {
    for (auto& [key, value_hash] : updates) {
      key = new_keys ? random_hash(populated_tree.random) : populated_tree.random_key();
      value_hash = random_hash(populated_tree.random);
    }
    benchmark::DoNotOptimize(populated_tree.tree.root_after(updates));
  }
  report_per_key(state, static_cast<int64_t>(batch));
}

void BM_StateTreeRootAfterUpdates(benchmark::State& state) {
  root_after_batch(state, false);
}
BENCHMARK(BM_StateTreeRootAfterUpdates)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_StateTreeRootAfterNewKeys(benchmark::State& state) {
  root_after_batch(state, true);
}
BENCHMARK(BM_StateTreeRootAfterNewKeys)->Arg(1000)->Unit(benchmark::kMicrosecond);

// Registered last: every iteration adds `batch` accounts to the shared tree.
void BM_StateTreeInsertBatch(benchmark::State& state) {
  PopulatedTree& populated_tree = populated();
  const auto batch = state.range(0);
  for (auto _ : state) {
    for (int64_t index = 0; index < batch; ++index) {
      populated_tree.tree.set(random_hash(populated_tree.random),
                              random_hash(populated_tree.random));
    }
    benchmark::DoNotOptimize(populated_tree.tree.root());
  }
  report_per_key(state, batch);
}
BENCHMARK(BM_StateTreeInsertBatch)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tally
