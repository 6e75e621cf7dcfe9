#include "context/file_hash.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "context/events_util.hpp"
#include "context/walk.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

constexpr std::size_t kBuffer = 256 * 1024;

}  // namespace

HexDigest to_hex_digest(std::string_view hex64) {
  HexDigest h{};
  if (hex64.size() == h.size()) std::memcpy(h.data(), hex64.data(), h.size());
  return h;
}

FileHasher::FileHasher() : buf_(kBuffer) {}

HexDigest FileHasher::finish() {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char md[64];
  if (hasher_.finish_to(md) != 32) throw Error(Errc::internal, "OpenSSL could not finish sha256");
  HexDigest h;
  for (unsigned i = 0; i < 32; ++i) {
    h[2 * i] = kHex[md[i] >> 4];
    h[2 * i + 1] = kHex[md[i] & 15];
  }
  return h;
}

HexDigest FileHasher::of_bytes(std::string_view data) {
  hasher_.update(data);
  return finish();
}

HexDigest FileHasher::of_fd(int fd, std::string_view rel, std::uint64_t expected_size, const CancelToken& cancel) {
  // A file that fails half-way leaves nothing behind for the next one.
  struct ResetOnThrow {
    Hasher& h;
    ~ResetOnThrow() {
      if (std::uncaught_exceptions() > 0) h.reset();
    }
  } guard{hasher_};
  if (expected_size > (1u << 20)) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      if (e == EISDIR || e == EAGAIN) {
        throw Error(Errc::io, "'" + printable(rel) + "' was replaced while the build context was read; retry");
      }
      throw Error(Errc::io, "cannot read '" + printable(rel) + "': " + std::strerror(e));
    }
    if (n == 0) break;
    hasher_.update(buf_.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
    // A short read of a regular file means its end: no extra read() needed.
    if (static_cast<std::size_t>(n) < buf_.size() && total == expected_size) break;
    if (total % (16 * kBuffer) == 0) check_cancel(cancel);
  }
  if (total != expected_size) {
    throw Error(Errc::io, "'" + printable(rel) + "' changed size while the build context was read (" +
                              std::to_string(expected_size) + " -> " + std::to_string(total) + " bytes); retry");
  }
  return finish();
}

void throw_open_error(std::string_view rel, int e) {
  if (e == ELOOP || e == EXDEV || e == ENOENT || e == ENOTDIR) {
    throw Error(Errc::io, "'" + printable(rel) + "' was removed or replaced while the build context was read; retry");
  }
  throw Error(Errc::io, "cannot read '" + printable(rel) + "' in the build context: " + std::strerror(e) +
                            (e == EACCES ? "; fix its permissions or add it to .dockerignore" : ""));
}

}  // namespace kiln::context
