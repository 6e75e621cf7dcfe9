#include "registry/blob_pipe.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "kiln/error.hpp"

namespace kiln::registry_detail {

namespace {
// Waits are bounded so that a cancellation is seen even if nobody notifies.
constexpr auto kPoll = std::chrono::milliseconds(100);
}  // namespace

BlobPipe::BlobPipe(std::size_t capacity, CancelToken cancel) : ring_(capacity), cancel_(std::move(cancel)) {}

void BlobPipe::write(const char* data, std::size_t size) {
  std::unique_lock lock(mutex_);
  while (size > 0) {
    while (used_ == ring_.size() && !read_closed_ && !cancel_.cancelled()) writable_.wait_for(lock, kPoll);
    if (read_closed_ || cancel_.cancelled()) throw Error(Errc::cancelled, "blob stream closed by the uploader");
    std::size_t tail = (head_ + used_) % ring_.size();
    std::size_t room = std::min(ring_.size() - used_, ring_.size() - tail);
    std::size_t n = std::min(room, size);
    std::memcpy(ring_.data() + tail, data, n);
    used_ += n;
    data += n;
    size -= n;
    readable_.notify_one();
  }
}

void BlobPipe::close_write(bool complete) {
  std::lock_guard lock(mutex_);
  write_closed_ = true;
  if (!complete) used_ = 0;  // drop the partial tail: the upload must not complete
  readable_.notify_all();
}

std::size_t BlobPipe::read(char* buffer, std::size_t size) {
  if (size == 0) return 0;
  std::unique_lock lock(mutex_);
  while (used_ == 0 && !write_closed_ && !cancel_.cancelled()) readable_.wait_for(lock, kPoll);
  if (used_ == 0 || cancel_.cancelled()) return 0;
  std::size_t contiguous = std::min(used_, ring_.size() - head_);
  std::size_t n = std::min(contiguous, size);
  std::memcpy(buffer, ring_.data() + head_, n);
  head_ = (head_ + n) % ring_.size();
  used_ -= n;
  writable_.notify_one();
  return n;
}

void BlobPipe::close_read() {
  std::lock_guard lock(mutex_);
  read_closed_ = true;
  writable_.notify_all();
}

}  // namespace kiln::registry_detail
