#include "registry/file_blob_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "kiln/error.hpp"

namespace kiln::registry_detail {

namespace {

[[noreturn]] void fail_errno(const std::string& action, const std::filesystem::path& path, int error) {
  Errc code = error == ENOENT ? Errc::not_found : Errc::io;
  throw Error(code, "cannot " + action + " " + path.string() + ": " + std::strerror(error));
}

}  // namespace

FileBlobReader::FileBlobReader(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail_errno("open", path, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int error = errno;
    ::close(fd_);
    fail_errno("stat", path, error);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(Errc::invalid_argument, path.string() + " is not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

FileBlobReader::~FileBlobReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileBlobReader::read(char* buffer, std::size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_, buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) fail_errno("read", path_, errno);
  }
}

bool FileBlobReader::seek(std::uint64_t offset) {
  return ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) == static_cast<off_t>(offset);
}

Descriptor describe_file(const std::filesystem::path& path, const std::string& media_type, const CancelToken& cancel) {
  FileBlobReader reader(path);
  Hasher hasher;
  std::vector<char> buffer(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    cancel.check();
    std::size_t n = reader.read(buffer.data(), buffer.size());
    if (n == 0) break;
    hasher.update(buffer.data(), n);
    total += n;
  }
  Descriptor out;
  out.media_type = media_type;
  out.digest = hasher.finish();
  out.size = static_cast<std::int64_t>(total);
  return out;
}

}  // namespace kiln::registry_detail
