#pragma once
// Whole-file reads and durable, atomic whole-file writes.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tally {

// Writes `contents` to a temporary file in the same directory (created with `mode`), fsyncs it,
// renames it over `path` and fsyncs the directory: after a crash `path` holds either the old or
// the new contents, never a mix. Error code "io_error".
Status write_file_atomically(const std::filesystem::path& path, std::string_view contents,
                             unsigned mode = 0644);

// Reads a whole file, refusing files over `max_bytes` ("file_too_large"); a missing file is
// "not_found", any other failure "io_error".
Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes);

}  // namespace tally
