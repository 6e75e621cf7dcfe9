// File-system pieces of the OCI layout: files that appear only complete
// (written to a temporary name, synced, then renamed) and a lock shared by
// every process that updates the same layout.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace kiln::registry_detail {

// A new temporary file in `directory`, removed on destruction unless
// commit() renamed it into place.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& directory);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const char* data, std::size_t size);
  // fsync + rename over `destination`.
  void commit(const std::filesystem::path& destination);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

void write_file_atomic(const std::filesystem::path& destination, std::string_view bytes);
// Reads a whole file of at most `limit` bytes; Error(not_found / io / too_large).
std::string read_small_file(const std::filesystem::path& path, std::size_t limit);

// flock(LOCK_EX) on a directory for the lifetime of the object.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::filesystem::path& directory);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace kiln::registry_detail
