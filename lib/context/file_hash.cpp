#include "context/file_hash.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "context/events_util.hpp"
#include "context/walk.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

constexpr std::size_t kBuffer = 256 * 1024;

const EVP_MD* sha256() {
  // Fetched once for the process and never freed: contexts on any thread
  // may use it until exit.
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

}  // namespace

HexDigest to_hex_digest(std::string_view hex64) {
  HexDigest h{};
  if (hex64.size() == h.size()) std::memcpy(h.data(), hex64.data(), h.size());
  return h;
}

FileHasher::FileHasher() : ctx_(EVP_MD_CTX_new()), buf_(kBuffer) {
  if (!ctx_) throw Error(Errc::internal, "OpenSSL could not allocate a digest context");
}

FileHasher::~FileHasher() { EVP_MD_CTX_free(ctx_); }

void FileHasher::init() {
  if (EVP_DigestInit_ex2(ctx_, sha256(), nullptr) != 1) {
    throw Error(Errc::internal, "OpenSSL could not initialise sha256");
  }
}

HexDigest FileHasher::finish() {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &size) != 1 || size != 32) {
    throw Error(Errc::internal, "OpenSSL could not finish sha256");
  }
  HexDigest h;
  for (unsigned i = 0; i < 32; ++i) {
    h[2 * i] = kHex[md[i] >> 4];
    h[2 * i + 1] = kHex[md[i] & 15];
  }
  return h;
}

HexDigest FileHasher::of_bytes(std::string_view data) {
  init();
  EVP_DigestUpdate(ctx_, data.data(), data.size());
  return finish();
}

HexDigest FileHasher::of_fd(int fd, std::string_view rel, std::uint64_t expected_size, const CancelToken& cancel) {
  init();
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
    EVP_DigestUpdate(ctx_, buf_.data(), static_cast<std::size_t>(n));
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
