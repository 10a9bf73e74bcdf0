#include "node/snapshot_file.h"

#include "core/codec.h"
#include "core/file.h"
#include "node/config.h"
#include "storage/node_storage.h"
#include "storage/snapshot.h"

namespace tally {
namespace {

constexpr std::string_view kMagic = "TALLYSNAP";
constexpr uint8_t kVersion = 1;
constexpr size_t kMaxSnapshotFileBytes = size_t{16} * 1024 * 1024 * 1024;

Error invalid(std::string message) {
  return make_error("invalid_snapshot", std::move(message));
}

}  // namespace

Result<SnapshotFileSummary> export_snapshot_file(const NodeHome& home,
                                                 const std::filesystem::path& out,
                                                 std::optional<uint64_t> height) {
  std::vector<uint64_t> heights = list_snapshots(home.snapshots());
  if (heights.empty()) {
    return make_error("not_found",
                      "no snapshot in " + home.snapshots().string() +
                          " (snapshots are written every storage.snapshot_interval heights)");
  }
  uint64_t chosen = height.value_or(heights.back());
  Result<SnapshotManifest> manifest = read_snapshot_manifest(home.snapshots(), chosen);
  if (!manifest.ok())
    return manifest.error();
  Writer writer;
  writer.fixed(as_bytes(kMagic));
  writer.u8(kVersion);
  writer.var_bytes(manifest->encode());
  writer.u32(static_cast<uint32_t>(manifest->chunk_hashes.size()));
  for (uint32_t index = 0; index < manifest->chunk_hashes.size(); ++index) {
    Result<Bytes> chunk = read_snapshot_chunk(home.snapshots(), chosen, index);
    if (!chunk.ok())
      return chunk.error();
    writer.var_bytes(*chunk);
  }
  const Bytes& bytes = writer.bytes();
  TALLY_TRY(write_file_atomically(
      out, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  return SnapshotFileSummary{chosen, manifest->account_count, manifest->chunk_hashes.size(),
                             manifest->decided.block.header.state_root};
}

Result<SnapshotFileSummary> import_snapshot_file(const NodeHome& home,
                                                 const std::filesystem::path& in) {
  Result<Genesis> genesis = Genesis::load(home.genesis());
  if (!genesis.ok())
    return genesis.error();
  Result<NodeConfig> config = NodeConfig::load(home.config());
  if (!config.ok())
    return config.error();
  Result<std::string> contents = read_file(in, kMaxSnapshotFileBytes);
  if (!contents.ok())
    return contents.error();

  Reader reader(as_bytes(*contents));
  FixedBytes<kMagic.size()> magic = reader.fixed_bytes<kMagic.size()>();
  if (reader.failed() ||
      std::string_view(reinterpret_cast<const char*>(magic.data.data()), magic.kSize) != kMagic) {
    return invalid(in.string() + " is not a Tally snapshot file");
  }
  if (reader.u8() != kVersion)
    return invalid("unsupported snapshot file version");
  Result<SnapshotManifest> manifest =
      SnapshotManifest::decode(reader.var_bytes(kMaxSnapshotManifestBytes));
  if (!manifest.ok())
    return invalid("manifest: " + manifest.error().message);
  uint32_t count = reader.u32();
  if (count != manifest->chunk_hashes.size())
    return invalid("the chunk count does not match the manifest");
  std::vector<Bytes> chunks;
  for (uint32_t index = 0; index < count && !reader.failed(); ++index) {
    chunks.push_back(reader.var_bytes(kMaxSnapshotChunkBytes));
  }
  TALLY_TRY(reader.finish());

  // Trust nothing in the file: the commit must be the genesis validators', the chunks the
  // manifest's, the accounts the header's state root.
  TALLY_TRY(verify_snapshot_commit(*genesis, *manifest, Ed25519Checker()));
  Result<State> state = restore_state_from_snapshot(*genesis, *manifest, chunks);
  if (!state.ok())
    return state.error();

  StorageOptions options;
  options.retain_blocks = config->retain_blocks;
  options.snapshot_interval = config->snapshot_interval;
  options.snapshot_keep = config->snapshot_keep;
  options.keep_blocks_since_snapshot = true;
  Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(home.data(), *genesis, options);
  if (!storage.ok())
    return storage.error();
  TALLY_TRY((*storage)->import_snapshot(*manifest, *state));
  TALLY_TRY(write_snapshot_files(home.snapshots(), *manifest, chunks));
  return SnapshotFileSummary{manifest->height, manifest->account_count, chunks.size(),
                             state->state_root()};
}

}  // namespace tally
