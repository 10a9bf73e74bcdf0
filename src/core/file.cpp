#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

namespace tally {
namespace {

Error io_error(const std::string& what, const std::filesystem::path& path) {
  return make_error("io_error", what + " " + path.string() + ": " + std::strerror(errno));
}

Status write_all(int descriptor, std::string_view contents, const std::filesystem::path& path) {
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t count = ::write(descriptor, contents.data() + written, contents.size() - written);
    if (count < 0 && errno == EINTR)
      continue;
    if (count < 0)
      return io_error("cannot write", path);
    written += static_cast<size_t>(count);
  }
  return Status::success();
}

}  // namespace

Status write_file_atomically(const std::filesystem::path& path, std::string_view contents,
                             unsigned mode) {
  std::filesystem::path directory = path.parent_path();
  if (directory.empty())
    directory = ".";
  // A unique temporary name, so two writers never share one; randomness here is not part of
  // any consensus-relevant computation.
  std::random_device random_source;
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + std::to_string(random_source());

  int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (descriptor < 0)
    return io_error("cannot create", temporary);
  Status status = write_all(descriptor, contents, temporary);
  if (status.ok() && ::fsync(descriptor) != 0)
    status = io_error("cannot sync", temporary);
  if (::close(descriptor) != 0 && status.ok())
    status = io_error("cannot close", temporary);
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = io_error("cannot rename into place", path);
  }
  if (!status.ok()) {
    ::unlink(temporary.c_str());
    return status;
  }
  int directory_descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_descriptor < 0)
    return io_error("cannot open directory", directory);
  int sync_result = ::fsync(directory_descriptor);
  ::close(directory_descriptor);
  if (sync_result != 0)
    return io_error("cannot sync directory", directory);
  return Status::success();
}

Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return make_error("not_found", "no such file: " + path.string());
  }
  uintmax_t size = std::filesystem::file_size(path, error);
  if (error)
    return make_error("io_error", "cannot read " + path.string() + ": " + error.message());
  if (size > max_bytes) {
    return make_error("file_too_large", path.string() + " is " + std::to_string(size) +
                                            " bytes; the limit is " + std::to_string(max_bytes));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return make_error("io_error", "cannot open " + path.string());
  std::string contents(static_cast<size_t>(size), '\0');
  file.read(contents.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(file.gcount()) != size) {
    return make_error("io_error", "short read from " + path.string());
  }
  return contents;
}

}  // namespace tally
