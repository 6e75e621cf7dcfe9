// A BlobReader over a local file: seekable, so an interrupted upload can be
// resumed from the server's Range, and never read into memory whole.
#pragma once

#include <filesystem>

#include "kiln/registry.hpp"

namespace kiln::registry_detail {

class FileBlobReader : public BlobReader {
 public:
  // Throws Error(not_found / io) naming the file.
  explicit FileBlobReader(const std::filesystem::path& path);
  ~FileBlobReader() override;
  FileBlobReader(const FileBlobReader&) = delete;
  FileBlobReader& operator=(const FileBlobReader&) = delete;

  std::size_t read(char* buffer, std::size_t size) override;
  bool seek(std::uint64_t offset) override;
  std::uint64_t size() const { return size_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Digest and size of a file, hashed in a streaming pass.
Descriptor describe_file(const std::filesystem::path& path, const std::string& media_type,
                         const CancelToken& cancel = {});

}  // namespace kiln::registry_detail
