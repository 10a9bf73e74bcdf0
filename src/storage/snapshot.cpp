#include "storage/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "consensus/validator_set.h"
#include "core/codec.h"
#include "core/file.h"
#include "storage/encoding.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

Error invalid_snapshot(std::string message) {
  return make_error("invalid_snapshot", std::move(message));
}

std::string_view as_text(ByteSpan bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Error filesystem_error(const std::string& what, const fs::path& path,
                       const std::error_code& error) {
  return make_error("io_error", what + " " + path.string() + ": " + error.message());
}

Status sync_directory(const fs::path& directory) {
  int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) {
    return make_error("io_error",
                      "cannot open directory " + directory.string() + ": " + std::strerror(errno));
  }
  int result = ::fsync(descriptor);
  int saved_errno = errno;
  ::close(descriptor);
  if (result != 0) {
    return make_error("io_error", "cannot sync directory " + directory.string() + ": " +
                                      std::strerror(saved_errno));
  }
  return Status::success();
}

// Canonical decimal heights only: "12", never "012" or "+12".
std::optional<uint64_t> parse_height_name(const std::string& name) {
  if (name.empty() || name.size() > 20 || (name.size() > 1 && name[0] == '0'))
    return std::nullopt;
  uint64_t height = 0;
  auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), height);
  if (error != std::errc() || end != name.data() + name.size())
    return std::nullopt;
  return height;
}

constexpr std::string_view kPartialPrefix = ".partial-";

fs::path chunk_path(const fs::path& directory, size_t index) {
  return directory / ("chunk-" + std::to_string(index));
}

// Checks the manifest fields that tie its parts together.
Status check_manifest_consistency(const SnapshotManifest& manifest) {
  const BlockHeader& header = manifest.decided.block.header;
  if (manifest.height == 0)
    return invalid_snapshot("a snapshot cannot be of height 0");
  if (header.chain_id != manifest.chain_id)
    return invalid_snapshot("the manifest's block is for chain " + header.chain_id);
  if (header.height != manifest.height || manifest.decided.commit.height != manifest.height) {
    return invalid_snapshot("the manifest's block or commit is not for height " +
                            std::to_string(manifest.height));
  }
  if (manifest.decided.commit.block_hash != header.hash())
    return invalid_snapshot("the manifest's commit is for another block");
  size_t chunks = manifest.chunk_hashes.size();
  if (manifest.account_count == 0 || chunks == 0 || chunks > kMaxSnapshotChunks ||
      chunks > manifest.account_count ||
      manifest.account_count > chunks * uint64_t{kMaxSnapshotChunkAccounts}) {
    return invalid_snapshot(std::to_string(chunks) + " chunks cannot hold " +
                            std::to_string(manifest.account_count) + " accounts");
  }
  return Status::success();
}

}  // namespace

// --- Manifest --------------------------------------------------------------------------------

Bytes SnapshotManifest::encode() const {
  Writer writer;
  writer.u8(kSnapshotFormatVersion);
  writer.string(chain_id);
  writer.u64(height);
  write_decided_block(writer, decided);
  writer.u64(account_count);
  writer.u32(static_cast<uint32_t>(chunk_hashes.size()));
  for (const Hash256& hash : chunk_hashes)
    writer.fixed(hash.span());
  return writer.take();
}

Result<SnapshotManifest> SnapshotManifest::decode(ByteSpan bytes) {
  if (bytes.size() > kMaxSnapshotManifestBytes)
    return invalid_snapshot("the manifest is larger than the limit");
  Reader reader(bytes);
  SnapshotManifest manifest;
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kSnapshotFormatVersion) {
    reader.fail("unsupported_version", "snapshot format version " + std::to_string(version));
  }
  manifest.chain_id = reader.string(kMaxChainIdLength);
  manifest.height = reader.u64();
  // The input's own size bounds the transaction count, so nothing large is reserved for a short
  // input.
  manifest.decided = read_decided_block(reader, bytes.size() / kTransactionEncodedSize);
  manifest.account_count = reader.u64();
  uint32_t chunk_count = reader.u32();
  if (!reader.failed() &&
      (chunk_count > kMaxSnapshotChunks || uint64_t{chunk_count} * 32 != reader.remaining())) {
    reader.fail("invalid_snapshot", "the manifest's chunk count " + std::to_string(chunk_count) +
                                        " does not match its size");
  }
  if (!reader.failed()) {
    manifest.chunk_hashes.reserve(chunk_count);
    for (uint32_t index = 0; index < chunk_count; ++index)
      manifest.chunk_hashes.push_back(reader.fixed_bytes<32>());
  }
  Status finished = reader.finish();
  if (!finished.ok())
    return invalid_snapshot("manifest: " + finished.error().message);
  Status valid_chain = validate_chain_id(manifest.chain_id);
  if (!valid_chain.ok())
    return invalid_snapshot("manifest: " + valid_chain.error().message);
  TALLY_TRY(check_manifest_consistency(manifest));
  return manifest;
}

Hash256 SnapshotManifest::hash() const {
  return sha256(encode());
}

// --- Chunks ----------------------------------------------------------------------------------

Bytes encode_snapshot_chunk(std::span<const std::pair<Address, Account>> accounts) {
  TALLY_ASSERT(!accounts.empty() && accounts.size() <= kMaxSnapshotChunkAccounts);
  Writer writer;
  writer.reserve(4 + accounts.size() * kSnapshotEntrySize);
  writer.u32(static_cast<uint32_t>(accounts.size()));
  for (const auto& [address, account] : accounts) {
    writer.fixed(address.key.span());
    writer.fixed(encode_account(account));
  }
  return writer.take();
}

Result<std::vector<std::pair<Address, Account>>> decode_snapshot_chunk(ByteSpan bytes) {
  Reader reader(bytes);
  uint32_t count = reader.u32();
  if (reader.failed())
    return invalid_snapshot("the chunk is truncated");
  if (count == 0 || count > kMaxSnapshotChunkAccounts)
    return invalid_snapshot("the chunk holds " + std::to_string(count) + " accounts");
  if (reader.remaining() != uint64_t{count} * kSnapshotEntrySize) {
    return invalid_snapshot("the chunk's size does not match its count of " +
                            std::to_string(count) + " accounts");
  }
  std::vector<std::pair<Address, Account>> accounts;
  accounts.reserve(count);
  for (uint32_t index = 0; index < count; ++index) {
    Address address{reader.fixed_bytes<32>()};
    FixedBytes<kAccountEncodedSize> encoded = reader.fixed_bytes<kAccountEncodedSize>();
    Result<Account> account = decode_account(encoded.span());
    if (!account.ok()) {
      return invalid_snapshot("account " + std::to_string(index) +
                              " of the chunk: " + account.error().message);
    }
    if (!accounts.empty() && !(accounts.back().first < address))
      return invalid_snapshot("the chunk's addresses are not strictly increasing");
    accounts.emplace_back(address, std::move(account).value());
  }
  Status finished = reader.finish();
  if (!finished.ok())
    return invalid_snapshot(finished.error().message);
  return accounts;
}

Status verify_snapshot_chunk(const SnapshotManifest& manifest, size_t index, ByteSpan chunk) {
  if (index >= manifest.chunk_hashes.size()) {
    return invalid_snapshot("chunk " + std::to_string(index) +
                            " does not exist; the snapshot has " +
                            std::to_string(manifest.chunk_hashes.size()) + " chunks");
  }
  if (chunk.size() > kMaxSnapshotChunkBytes)
    return invalid_snapshot("chunk " + std::to_string(index) + " is larger than the limit");
  if (sha256(chunk) != manifest.chunk_hashes[index]) {
    return invalid_snapshot("chunk " + std::to_string(index) +
                            " does not match its hash in the manifest");
  }
  return Status::success();
}

// --- Files -----------------------------------------------------------------------------------

Result<SnapshotDirectoryWriter> SnapshotDirectoryWriter::start(
    const fs::path& snapshot_directory, uint64_t height,
    std::function<void(std::string_view)> crash_hook) {
  if (height == 0)
    return invalid_snapshot("a snapshot cannot be of height 0");
  SnapshotDirectoryWriter writer;
  writer.directory_ = snapshot_directory;
  writer.height_ = height;
  writer.crash_hook_ = std::move(crash_hook);
  std::string name = std::to_string(height);
  writer.final_ = snapshot_directory / name;
  writer.partial_ = snapshot_directory / (std::string(kPartialPrefix) + name);

  std::error_code error;
  fs::create_directories(snapshot_directory, error);
  if (error)
    return filesystem_error("cannot create", snapshot_directory, error);
  if (fs::exists(writer.final_, error)) {
    if (read_snapshot_manifest(snapshot_directory, height).ok()) {
      writer.already_complete_ = true;
      return writer;
    }
    fs::remove_all(writer.final_, error);
    if (error)
      return filesystem_error("cannot remove", writer.final_, error);
  }
  fs::remove_all(writer.partial_, error);
  if (error)
    return filesystem_error("cannot remove", writer.partial_, error);
  fs::create_directory(writer.partial_, error);
  if (error)
    return filesystem_error("cannot create", writer.partial_, error);
  return writer;
}

Status SnapshotDirectoryWriter::add_chunk(ByteSpan chunk) {
  TALLY_ASSERT(!already_complete_);
  if (chunk_hashes_.size() >= kMaxSnapshotChunks)
    return invalid_snapshot("too many chunks");
  TALLY_TRY(write_file_atomically(chunk_path(partial_, chunk_hashes_.size()), as_text(chunk)));
  chunk_hashes_.push_back(sha256(chunk));
  if (crash_hook_)
    crash_hook_("after_snapshot_chunk");
  return Status::success();
}

Status SnapshotDirectoryWriter::finish(const SnapshotManifest& manifest) {
  TALLY_ASSERT(!already_complete_);
  if (manifest.height != height_ || manifest.chunk_hashes != chunk_hashes_)
    return invalid_snapshot("the manifest does not match the chunks written");
  Bytes encoded = manifest.encode();
  TALLY_TRY(write_file_atomically(partial_ / "manifest", as_text(encoded)));
  if (crash_hook_)
    crash_hook_("after_snapshot_manifest");
  std::error_code error;
  fs::rename(partial_, final_, error);
  if (error)
    return filesystem_error("cannot rename into place", final_, error);
  already_complete_ = true;
  return sync_directory(directory_);
}

Status write_snapshot_files(const fs::path& snapshot_directory, const SnapshotManifest& manifest,
                            const std::vector<Bytes>& chunks,
                            std::function<void(std::string_view)> crash_hook) {
  Result<SnapshotDirectoryWriter> writer =
      SnapshotDirectoryWriter::start(snapshot_directory, manifest.height, std::move(crash_hook));
  if (!writer.ok())
    return writer.error();
  if (writer->already_complete())
    return Status::success();
  for (const Bytes& chunk : chunks)
    TALLY_TRY(writer->add_chunk(chunk));
  return writer->finish(manifest);
}

std::vector<uint64_t> list_snapshots(const fs::path& snapshot_directory) {
  std::vector<uint64_t> heights;
  std::error_code error;
  fs::directory_iterator iterator(snapshot_directory, error);
  if (error)
    return heights;
  for (const fs::directory_entry& entry : iterator) {
    std::optional<uint64_t> height = parse_height_name(entry.path().filename().string());
    if (!height || *height == 0)
      continue;
    std::error_code entry_error;
    if (entry.is_directory(entry_error) &&
        fs::is_regular_file(entry.path() / "manifest", entry_error)) {
      heights.push_back(*height);
    }
  }
  std::sort(heights.begin(), heights.end());
  return heights;
}

Status prune_snapshots(const fs::path& snapshot_directory, uint32_t keep) {
  std::error_code error;
  fs::directory_iterator iterator(snapshot_directory, error);
  if (error)
    return Status::success();  // nothing written yet
  std::vector<fs::path> partials;
  for (const fs::directory_entry& entry : iterator) {
    if (entry.path().filename().string().starts_with(kPartialPrefix))
      partials.push_back(entry.path());
  }
  for (const fs::path& partial : partials) {
    fs::remove_all(partial, error);
    if (error)
      return filesystem_error("cannot remove", partial, error);
  }
  std::vector<uint64_t> heights = list_snapshots(snapshot_directory);
  for (size_t index = 0; index + keep < heights.size(); ++index) {
    fs::path path = snapshot_directory / std::to_string(heights[index]);
    fs::remove_all(path, error);
    if (error)
      return filesystem_error("cannot remove", path, error);
  }
  return Status::success();
}

Result<SnapshotManifest> read_snapshot_manifest(const fs::path& snapshot_directory,
                                                uint64_t height) {
  Result<std::string> text = read_file(snapshot_directory / std::to_string(height) / "manifest",
                                       kMaxSnapshotManifestBytes);
  if (!text.ok())
    return text.error();
  Result<SnapshotManifest> manifest = SnapshotManifest::decode(as_bytes(*text));
  if (!manifest.ok())
    return manifest.error();
  if (manifest->height != height) {
    return invalid_snapshot("the manifest in directory " + std::to_string(height) +
                            " is for height " + std::to_string(manifest->height));
  }
  return manifest;
}

Result<Bytes> read_snapshot_chunk(const fs::path& snapshot_directory, uint64_t height,
                                  uint32_t index) {
  Result<std::string> text = read_file(
      chunk_path(snapshot_directory / std::to_string(height), index), kMaxSnapshotChunkBytes);
  if (!text.ok())
    return text.error();
  ByteSpan bytes = as_bytes(*text);
  return Bytes(bytes.begin(), bytes.end());
}

// --- Restore and verification ----------------------------------------------------------------

Result<State> restore_state_from_snapshot(const Genesis& genesis, const SnapshotManifest& manifest,
                                          const std::vector<Bytes>& chunks) {
  if (manifest.chain_id != genesis.chain_id) {
    return invalid_snapshot("the snapshot is for chain " + manifest.chain_id + ", not " +
                            genesis.chain_id);
  }
  TALLY_TRY(check_manifest_consistency(manifest));
  const Block& block = manifest.decided.block;
  Status body = block.check_body_matches_header();
  if (!body.ok())
    return invalid_snapshot("the manifest's block: " + body.error().message);
  if (chunks.size() != manifest.chunk_hashes.size()) {
    return invalid_snapshot("the manifest lists " + std::to_string(manifest.chunk_hashes.size()) +
                            " chunks; " + std::to_string(chunks.size()) + " were given");
  }

  // Reserve by what was received, never by what the manifest claims.
  uint64_t received_bytes = 0;
  for (const Bytes& chunk : chunks)
    received_bytes += chunk.size();
  std::vector<std::pair<Address, Account>> accounts;
  accounts.reserve(static_cast<size_t>(
      std::min<uint64_t>(manifest.account_count, received_bytes / kSnapshotEntrySize)));
  for (size_t index = 0; index < chunks.size(); ++index) {
    TALLY_TRY(verify_snapshot_chunk(manifest, index, chunks[index]));
    Result<std::vector<std::pair<Address, Account>>> decoded = decode_snapshot_chunk(chunks[index]);
    if (!decoded.ok())
      return invalid_snapshot("chunk " + std::to_string(index) + ": " + decoded.error().message);
    if (!accounts.empty() && !(accounts.back().first < decoded->front().first)) {
      return invalid_snapshot("chunk " + std::to_string(index) +
                              " is out of order: its first address does not follow the previous "
                              "chunk's last");
    }
    if (accounts.size() + decoded->size() > manifest.account_count) {
      return invalid_snapshot("the chunks hold more than the manifest's " +
                              std::to_string(manifest.account_count) + " accounts");
    }
    accounts.insert(accounts.end(), decoded->begin(), decoded->end());
  }
  if (accounts.size() != manifest.account_count) {
    return invalid_snapshot("the chunks hold " + std::to_string(accounts.size()) +
                            " accounts; the manifest says " +
                            std::to_string(manifest.account_count));
  }

  Result<State> state = State::from_accounts(genesis, manifest.height, std::move(accounts));
  if (!state.ok())
    return invalid_snapshot("the accounts are not a valid state: " + state.error().message);
  if (state->state_root() != block.header.state_root) {
    return invalid_snapshot("the accounts give state root " + state->state_root().hex() +
                            "; the block at height " + std::to_string(manifest.height) + " says " +
                            block.header.state_root.hex());
  }
  return state;
}

Status verify_snapshot_commit(const Genesis& genesis, const SnapshotManifest& manifest,
                              const SignatureChecker& checker) {
  Result<ValidatorSet> validators = ValidatorSet::from_genesis(genesis);
  if (!validators.ok())
    return validators.error();
  const BlockHeader& header = manifest.decided.block.header;
  if (header.validators_hash != validators->hash()) {
    return make_error("invalid_commit",
                      "the snapshot's block was decided by another validator set");
  }
  return verify_commit(*validators, header, manifest.decided.commit, checker);
}

}  // namespace tally
