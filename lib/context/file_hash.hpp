// Content hashes of single files, cheap enough per file that hashing 100k
// small files is bound by the system calls: one kiln::Hasher reused per
// thread and fixed-size hex results (no allocation).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/cancel.hpp"
#include "kiln/digest.hpp"

namespace kiln::context {

// 64 lower-case hex characters; all zero bytes = no hash (not a regular file).
using HexDigest = std::array<char, 64>;

inline bool has_hash(const HexDigest& h) noexcept { return h[0] != 0; }
inline std::string_view hex_view(const HexDigest& h) noexcept { return {h.data(), h.size()}; }
HexDigest to_hex_digest(std::string_view hex64);

// One per thread: an OpenSSL context and a read buffer, reused across files.
class FileHasher {
 public:
  FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  HexDigest of_bytes(std::string_view data);
  // Hashes the open regular file fd, which the walk saw with expected_size
  // bytes; throws Error(io) naming rel when it is unreadable or its size
  // differs (it changed while the context was read).
  HexDigest of_fd(int fd, std::string_view rel, std::uint64_t expected_size, const CancelToken& cancel);

 private:
  HexDigest finish();
  Hasher hasher_;
  std::vector<char> buf_;
};

// The Error(io) for a failed open of rel (errno e), with the hint that fits.
[[noreturn]] void throw_open_error(std::string_view rel, int e);

}  // namespace kiln::context
