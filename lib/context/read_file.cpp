#include "context/read_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "context/walk.hpp"
#include "kiln/error.hpp"

namespace kiln::context {

namespace {
std::string size_text(std::uint64_t bytes) {
  return bytes % (1u << 20) == 0 ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes) + " bytes";
}
}  // namespace

std::optional<std::string> read_file(const std::string& path, const std::string& what, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return std::nullopt;
    throw Error(Errc::io, "cannot read " + what + " '" + printable(path) + "': " + std::strerror(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(Errc::invalid_argument, what + " '" + printable(path) + "' is not a regular file");
  }
  auto too_large = [&] {
    return Error(Errc::too_large, what + " '" + printable(path) + "' is larger than " + size_text(max_bytes));
  };
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) throw too_large();
  // Sized from fstat, one byte more to see the end (or growth) in one read.
  std::string out(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      throw Error(Errc::io, "cannot read " + what + " '" + printable(path) + "': " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    if (got > max_bytes) throw too_large();
  }
  out.resize(got);
  return out;
}

}  // namespace kiln::context
