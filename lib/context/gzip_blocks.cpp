#include "context/gzip_blocks.hpp"

#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "kiln/error.hpp"

#ifdef KILN_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

namespace kiln::context {
namespace {

constexpr std::size_t kBlock = 1 << 20;

#ifdef KILN_HAVE_LIBDEFLATE
struct Compressor {
  explicit Compressor(int level) : c(libdeflate_alloc_compressor(level)) {
    if (!c) throw Error(Errc::internal, "libdeflate_alloc_compressor failed");
  }
  ~Compressor() { libdeflate_free_compressor(c); }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  std::string run(const char* in, std::size_t size) {
    std::string out(libdeflate_gzip_compress_bound(c, size), '\0');
    std::size_t n = libdeflate_gzip_compress(c, in, size, out.data(), out.size());
    if (n == 0) throw Error(Errc::internal, "libdeflate_gzip_compress failed");
    out.resize(n);
    return out;
  }
  libdeflate_compressor* c;
};
#else
struct Compressor {
  explicit Compressor(int level) : level(level) {}
  std::string run(const char* in, std::size_t size) {
    z_stream z{};
    // windowBits 31: a gzip wrapper with a zero mtime, so output is deterministic.
    if (deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw Error(Errc::internal, "deflateInit2 failed");
    }
    std::string out(deflateBound(&z, static_cast<uLong>(size)) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    z.avail_in = static_cast<uInt>(size);
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    std::size_t n = out.size() - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw Error(Errc::internal, "zlib deflate failed");
    out.resize(n);
    return out;
  }
  int level;
};
#endif

struct Job {
  std::string in;
  std::string out;
  bool done = false;
  std::exception_ptr error;
};

}  // namespace

std::string gzip_member(const char* in, std::size_t size, int level) { return Compressor(level).run(in, size); }

struct GzipBlockWriter::State {
  ByteSink& sink;
  int level;
  unsigned threads;
  std::string current;
  std::mutex mutex;
  std::condition_variable work_cv;
  std::condition_variable done_cv;
  std::deque<std::shared_ptr<Job>> pending;
  std::deque<std::shared_ptr<Job>> in_order;
  std::vector<std::thread> workers;
  bool stop = false;
  bool any = false;
  std::uint64_t compressed = 0;

  State(ByteSink& s, int l, unsigned t) : sink(s), level(l), threads(t) {}

  void worker() {
    std::unique_ptr<Compressor> compressor;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex);
        work_cv.wait(lock, [&] { return stop || !pending.empty(); });
        if (stop) return;
        job = pending.front();
        pending.pop_front();
      }
      try {
        if (!compressor) compressor = std::make_unique<Compressor>(level);
        job->out = compressor->run(job->in.data(), job->in.size());
      } catch (...) {
        job->error = std::current_exception();
      }
      job->in = std::string();
      {
        std::lock_guard lock(mutex);
        job->done = true;
      }
      done_cv.notify_all();
    }
  }

  // Writes finished blocks in order; waits while `wait_until` blocks are in flight.
  void drain(std::size_t wait_until) {
    std::unique_lock lock(mutex);
    for (;;) {
      if (in_order.empty()) return;
      if (!in_order.front()->done) {
        if (in_order.size() <= wait_until) return;
        done_cv.wait(lock, [&] { return in_order.front()->done; });
      }
      auto job = in_order.front();
      in_order.pop_front();
      lock.unlock();
      if (job->error) std::rethrow_exception(job->error);
      compressed += job->out.size();
      sink.write(job->out.data(), job->out.size());
      lock.lock();
    }
  }

  void submit() {
    auto job = std::make_shared<Job>();
    job->in.swap(current);
    current.reserve(kBlock);
    any = true;
    {
      std::lock_guard lock(mutex);
      pending.push_back(job);
      in_order.push_back(job);
    }
    work_cv.notify_one();
    drain(2 * threads + 1);
  }
};

GzipBlockWriter::GzipBlockWriter(ByteSink& sink, int level, unsigned threads)
    : state_(std::make_unique<State>(sink, std::clamp(level, 0, 9), std::max(1u, threads))) {
  state_->current.reserve(kBlock);
  for (unsigned i = 0; i < state_->threads; ++i) state_->workers.emplace_back([s = state_.get()] { s->worker(); });
}

GzipBlockWriter::~GzipBlockWriter() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
  }
  state_->work_cv.notify_all();
  for (auto& t : state_->workers) t.join();
}

void GzipBlockWriter::write(const void* data, std::size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    std::size_t room = kBlock - state_->current.size();
    std::size_t n = std::min(room, size);
    state_->current.append(p, n);
    p += n;
    size -= n;
    if (state_->current.size() == kBlock) state_->submit();
  }
}

void GzipBlockWriter::finish() {
  if (!state_->current.empty() || !state_->any) state_->submit();
  state_->drain(0);
}

std::uint64_t GzipBlockWriter::compressed_bytes() const noexcept { return state_->compressed; }

}  // namespace kiln::context
