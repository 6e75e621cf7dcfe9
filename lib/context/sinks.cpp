#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

namespace kiln {

void FdSink::write(const void* data, std::size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      throw Error(Errc::io, std::string("cannot write the build context stream to file descriptor ") +
                                std::to_string(fd_) + ": " + std::strerror(e));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void CallbackSink::write(const void* data, std::size_t size) {
  if (!fn_(data, size)) throw Error(Errc::cancelled, "the build context stream was stopped by its receiver");
}

}  // namespace kiln
