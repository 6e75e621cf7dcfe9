// Reading tar archives given as a build context (TarballContext): POSIX
// ustar and pax (path, linkpath, size), GNU long names and base-256 sizes,
// v7; gzip'd archives (several members too) are recognised by their magic.
// Input is outside data: every malformed header is an Error naming the
// member, never a crash or an unbounded allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::context {

struct TarMember {
  std::string path;   // as stored (after pax / GNU long names), not cleaned
  char type = '0';    // '0' regular, '5' directory, '2' symlink, '1' hard link, others as stored
  std::uint32_t mode = 0;
  std::int64_t mtime = 0;
  std::string link;   // symlink or hard link target
  std::string data;  // regular files
};

// Decompresses a gzip stream (all members); other bytes are returned as they
// are. Throws Error(invalid_argument) for a corrupt stream and
// Error(too_large) beyond max_bytes.
std::string maybe_gunzip(std::string bytes, std::uint64_t max_bytes);

// Parses an uncompressed archive. Throws Error(invalid_argument) naming the
// member and what is wrong with it.
std::vector<TarMember> read_tar(std::string_view archive);

}  // namespace kiln::context
