// tar headers: POSIX ustar, with a PAX extended header in front when a name
// or link target does not fit or a size needs more than 11 octal digits.
#pragma once

#include <cstdint>
#include <string>

namespace kiln::context {

struct TarHeader {
  std::string name;  // directories end in '/'
  char type = '0';   // '0' file, '5' directory, '2' symlink
  std::uint32_t mode = 0644;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::string link_target;
};

// Appends the header block(s) for one entry (512-byte multiples).
void append_tar_header(std::string& out, const TarHeader& header);

// Bytes of zero padding after `size` bytes of content.
inline std::size_t tar_padding(std::uint64_t size) { return static_cast<std::size_t>((512 - size % 512) % 512); }

}  // namespace kiln::context
