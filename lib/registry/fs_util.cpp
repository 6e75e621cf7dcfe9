#include "registry/fs_util.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "kiln/error.hpp"

namespace kiln::registry_detail {

namespace {

[[noreturn]] void fail_errno(const std::string& action, const std::filesystem::path& path, int error) {
  Errc code = error == ENOENT ? Errc::not_found : Errc::io;
  throw Error(code, "cannot " + action + " " + path.string() + ": " + std::strerror(error));
}

std::string random_suffix() {
  static std::atomic<unsigned> counter{0};
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(engine() & 0xffffffffu);
}

}  // namespace

TempFile::TempFile(const std::filesystem::path& directory) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    path_ = directory / (".kiln-tmp-" + random_suffix());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ >= 0) return;
    if (errno != EEXIST) fail_errno("create a temporary file in", directory, errno);
  }
  throw Error(Errc::io, "cannot create a temporary file in " + directory.string());
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
}

void TempFile::write(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("write", path_, errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void TempFile::commit(const std::filesystem::path& destination) {
  if (::fsync(fd_) != 0) fail_errno("sync", path_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail_errno("close", path_, errno);
  }
  fd_ = -1;
  if (::rename(path_.c_str(), destination.c_str()) != 0) fail_errno("rename into", destination, errno);
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& destination, std::string_view bytes) {
  TempFile temp(destination.parent_path());
  temp.write(bytes.data(), bytes.size());
  temp.commit(destination);
}

std::string read_small_file(const std::filesystem::path& path, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("open", path, errno);
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      fail_errno("read", path, error);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > limit) {
      ::close(fd);
      throw Error(Errc::too_large, path.string() + " is larger than " + std::to_string(limit) + " bytes");
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

DirectoryLock::DirectoryLock(const std::filesystem::path& directory) {
  fd_ = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) fail_errno("open", directory, errno);
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int error = errno;
    ::close(fd_);
    fail_errno("lock", directory, error);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace kiln::registry_detail
