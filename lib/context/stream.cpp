#include "context/stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "context/events_util.hpp"
#include "context/gzip_blocks.hpp"
#include "context/tar_format.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

constexpr std::size_t kChunk = 1 << 20;

class Output {
 public:
  Output(ByteSink& sink, const TarOptions& options) : sink_(sink) {
    if (options.gzip) {
      unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
      gzip_ = std::make_unique<GzipBlockWriter>(sink, options.gzip_level, threads);
    } else {
      buffer_.reserve(kChunk);
    }
  }
  void write(const void* data, std::size_t size) {
    raw_ += size;
    if (gzip_) {
      gzip_->write(data, size);
      return;
    }
    if (buffer_.size() + size > kChunk) flush();
    if (size >= kChunk) {
      sink_.write(data, size);
      return;
    }
    buffer_.append(static_cast<const char*>(data), size);
  }
  void finish() {
    if (gzip_) {
      gzip_->finish();
    } else {
      flush();
    }
  }
  std::uint64_t raw() const { return raw_; }
  std::uint64_t written() const { return gzip_ ? gzip_->compressed_bytes() : raw_; }

 private:
  void flush() {
    if (!buffer_.empty()) sink_.write(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  ByteSink& sink_;
  std::unique_ptr<GzipBlockWriter> gzip_;
  std::string buffer_;
  std::uint64_t raw_ = 0;
};

[[noreturn]] void changed(const ContextEntry& e, const std::string& how) {
  throw Error(Errc::io, "'" + printable(e.path) + "' " + how +
                            " while the build context was archived; the stream is incomplete and must be "
                            "discarded: retry");
}

template <typename Out>
void copy_file(BeneathOpener& opener, const WalkedEntry& w, Out& out, std::vector<char>& buf,
               const CancelToken& cancel) {
  int fd = opener.open(w.entry.path);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ELOOP || e == EXDEV || e == ENOTDIR) changed(w.entry, "was removed or replaced");
    throw Error(Errc::io, "cannot read '" + printable(w.entry.path) + "' in the build context: " + std::strerror(e) +
                              (e == EACCES ? "; fix its permissions or add it to .dockerignore" : ""));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (w.entry.size > (1u << 20)) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  // Ask for one byte more than is left: getting it means the file grew.
  std::uint64_t left = w.entry.size;
  for (;;) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left + 1, buf.size()));
    ssize_t n = ::read(fd, buf.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      if (e == EISDIR || e == EAGAIN) changed(w.entry, "was replaced");
      throw Error(Errc::io, "cannot read '" + printable(w.entry.path) + "': " + std::strerror(e));
    }
    if (static_cast<std::uint64_t>(n) > left) changed(w.entry, "grew");
    if (n == 0) {
      if (left > 0) changed(w.entry, "shrank");
      return;
    }
    out.write(buf.data(), static_cast<std::size_t>(n));
    left -= static_cast<std::uint64_t>(n);
    // A short read of a regular file means its end.
    if (left == 0 && static_cast<std::size_t>(n) < want) return;
    check_cancel(cancel);
  }
}


struct StringOut {
  std::string& s;
  void write(const void* data, std::size_t size) { s.append(static_cast<const char*>(data), size); }
};

// Reads small files ahead on a second thread, in stream order, so that the
// open/read/close of many small files overlaps with assembling and
// compressing the stream. Errors are handed over with the file they belong
// to, so they surface in stream order. Memory is bounded by the window.
class Prefetcher {
 public:
  static constexpr std::uint64_t kSmall = 256 * 1024;
  static constexpr std::size_t kWindowBytes = 8u << 20;
  static constexpr std::size_t kWindowFiles = 1024;
  static constexpr std::size_t kBatch = 64;

  static bool eligible(const WalkedEntry& w) {
    return w.entry.type == EntryType::regular && !w.inline_data && w.entry.size <= kSmall;
  }

  Prefetcher(int root_fd, const std::vector<WalkedEntry>& entries, const CancelToken& cancel)
      : root_fd_(root_fd), entries_(entries), cancel_(cancel), thread_([this] { run(); }) {}
  ~Prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The content of entries[i] (eligible), or its read error.
  std::string take(std::size_t i) {
    std::unique_lock lock(mutex_);
    // Waking up once per small file costs a scheduler round trip each time
    // on a busy machine: wait for a batch unless the reader cannot go on.
    if (slots_.empty() || slots_.front().index != i) {
      ready_.wait(lock, [&] {
        return !slots_.empty() && slots_.front().index == i && (slots_.size() >= kBatch || done_ || waiting_);
      });
    }
    Slot slot = std::move(slots_.front());
    slots_.pop_front();
    buffered_ -= slot.data.size();
    // Wake the reader only when it may go on: a wake-up that finds its
    // condition false is two context switches for nothing, per file.
    bool wake = waiting_ && resume_reading();
    lock.unlock();
    if (wake) space_.notify_one();
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(slot.data);
  }

 private:
  struct Slot {
    std::size_t index;
    std::string data;
    std::exception_ptr error;
  };

  bool resume_reading() const { return buffered_ < kWindowBytes / 2 && slots_.size() < kWindowFiles / 2; }

  void run() {
    std::vector<char> buf(kSmall + 1);
    BeneathOpener opener(root_fd_);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const WalkedEntry& w = entries_[i];
      if (!eligible(w)) continue;
      {
        std::unique_lock lock(mutex_);
        if (!(buffered_ < kWindowBytes && slots_.size() < kWindowFiles)) {
          waiting_ = true;
          ready_.notify_one();
          // Resume at half the window, not at the first free slot: one
          // wake-up per batch instead of one per file.
          space_.wait(lock, [&] { return stop_ || resume_reading(); });
          waiting_ = false;
        }
        if (stop_) return;
      }
      Slot slot{i, {}, nullptr};
      try {
        slot.data.reserve(static_cast<std::size_t>(w.entry.size));
        StringOut out{slot.data};
        copy_file(opener, w, out, buf, cancel_);
      } catch (...) {
        slot.error = std::current_exception();
      }
      bool wake;
      {
        std::lock_guard lock(mutex_);
        buffered_ += slot.data.size();
        slots_.push_back(std::move(slot));
        wake = slots_.size() >= kBatch;  // what take() waits for
      }
      if (wake) ready_.notify_one();
    }
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    ready_.notify_one();
  }

  int root_fd_;
  const std::vector<WalkedEntry>& entries_;
  CancelToken cancel_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Slot> slots_;
  std::size_t buffered_ = 0;
  bool stop_ = false;
  bool done_ = false;     // every eligible file has been read
  bool waiting_ = false;  // the reader waits for the window to drain
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace

void stream_tar(const std::string& root, const std::vector<WalkedEntry>& entries, ByteSink& sink,
                const TarOptions& options, const EventSink& events, const CancelToken& cancel) {
  // No root: every entry carries its bytes (MemoryContext, TarballContext).
  int root_fd = root.empty() ? -1 : open_root(root);
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{root_fd};
  std::uint64_t total_bytes = 0;
  for (const auto& w : entries) total_bytes += w.entry.size;
  Output out(sink, options);
  std::vector<char> buf(kChunk);
  unsigned threads = options.threads ? options.threads : std::thread::hardware_concurrency();
  std::unique_ptr<Prefetcher> prefetch;
  if (threads > 1 && root_fd >= 0) prefetch = std::make_unique<Prefetcher>(root_fd, entries, cancel);
  BeneathOpener opener(root_fd);
  std::string header;
  std::size_t files = 0;
  auto last_event = std::chrono::steady_clock::now();
  static const char zeros[1024] = {};

  for (std::size_t i = 0; i < entries.size(); ++i) {
    const WalkedEntry& w = entries[i];
    check_cancel(cancel);
    const ContextEntry& e = w.entry;
    TarHeader h;
    h.mode = e.mode;
    h.mtime = options.zero_mtimes ? 0 : e.mtime;
    switch (e.type) {
      case EntryType::directory:
        h.name = e.path + "/";
        h.type = '5';
        break;
      case EntryType::symlink:
        h.name = e.path;
        h.type = '2';
        h.link_target = e.link_target;
        break;
      case EntryType::regular:
        h.name = e.path;
        h.type = '0';
        h.size = w.inline_data ? w.inline_data->size() : e.size;
        break;
    }
    header.clear();
    append_tar_header(header, h);
    out.write(header.data(), header.size());
    if (e.type == EntryType::regular) {
      if (w.inline_data) {
        out.write(w.inline_data->data(), w.inline_data->size());
      } else if (prefetch && Prefetcher::eligible(w)) {
        std::string data = prefetch->take(i);
        out.write(data.data(), data.size());
      } else {
        copy_file(opener, w, out, buf, cancel);
      }
      out.write(zeros, tar_padding(h.size));
    }
    ++files;
    if (events) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_event > std::chrono::milliseconds(100)) {
        last_event = now;
        emit(events, "context.progress",
             {{"phase", "tar"}, {"files", files}, {"bytes", out.raw()}, {"total_files", entries.size()},
              {"total_bytes", total_bytes}});
      }
    }
  }
  out.write(zeros, sizeof zeros);
  out.finish();
  emit(events, "context.done",
       {{"files", files}, {"bytes", out.raw()}, {"written_bytes", out.written()}, {"gzip", options.gzip}});
}

}  // namespace kiln::context
