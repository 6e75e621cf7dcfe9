// A bounded byte pipe between a download (push-style BlobWriter) and an
// upload (pull-style BlobReader) running on two threads, so that copying a
// blob between registries holds at most `capacity` bytes of it in memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "kiln/cancel.hpp"
#include "kiln/registry.hpp"

namespace kiln::registry_detail {

class BlobPipe {
 public:
  BlobPipe(std::size_t capacity, CancelToken cancel);

  // Producer side. Blocks while full; throws Error(cancelled) when the
  // consumer has gone or the operation was cancelled.
  void write(const char* data, std::size_t size);
  // `complete` false: the download failed, the consumer sees a short stream.
  void close_write(bool complete);

  // Consumer side. Blocks while empty; 0 at the end of the stream (or when
  // the producer failed or the operation was cancelled).
  std::size_t read(char* buffer, std::size_t size);
  void close_read();

 private:
  std::mutex mutex_;
  std::condition_variable readable_;
  std::condition_variable writable_;
  std::vector<char> ring_;
  std::size_t head_ = 0;  // next byte to read
  std::size_t used_ = 0;
  bool write_closed_ = false;
  bool read_closed_ = false;
  CancelToken cancel_;
};

// BlobReader adapter over the consumer side of a pipe. seek() succeeds only
// for the current position: a streamed blob cannot be rewound.
class PipeReader : public BlobReader {
 public:
  explicit PipeReader(BlobPipe& pipe) : pipe_(pipe) {}
  std::size_t read(char* buffer, std::size_t size) override {
    std::size_t n = pipe_.read(buffer, size);
    position_ += n;
    return n;
  }
  bool seek(std::uint64_t offset) override { return offset == position_; }

 private:
  BlobPipe& pipe_;
  std::uint64_t position_ = 0;
};

}  // namespace kiln::registry_detail
