// Parallel gzip in the way pigz parallelises: the stream is cut into 1 MiB
// blocks, each compressed on a worker thread as its own gzip member (RFC 1952
// allows concatenated members; gzip, zlib's gzread, Go, Python and Docker
// read them as one stream). Output order is input order; memory is bounded
// by the number of blocks in flight.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kiln/build_context.hpp"

namespace kiln::context {

class GzipBlockWriter {
 public:
  GzipBlockWriter(ByteSink& sink, int level, unsigned threads);
  ~GzipBlockWriter();
  GzipBlockWriter(const GzipBlockWriter&) = delete;
  GzipBlockWriter& operator=(const GzipBlockWriter&) = delete;

  void write(const void* data, std::size_t size);
  // Compresses what is buffered, waits for the workers, writes the rest.
  void finish();
  std::uint64_t compressed_bytes() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// One gzip member of `in` (libdeflate when available, else zlib).
std::string gzip_member(const char* in, std::size_t size, int level);

}  // namespace kiln::context
