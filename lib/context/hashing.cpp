#include "context/hashing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "context/events_util.hpp"
#include "context/stat_cache.hpp"
#include "kiln/digest.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

HexDigest hash_file(int root_fd, const WalkedEntry& w, FileHasher& hasher, const CancelToken& cancel) {
  if (w.inline_data) return hasher.of_bytes(*w.inline_data);
  int fd = open_beneath(root_fd, w.entry.path);
  if (fd < 0) throw_open_error(w.entry.path, errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  return hasher.of_fd(fd, w.entry.path, w.entry.size, cancel);
}

void put_len(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

}  // namespace

std::vector<HexDigest> hash_contents(const HashRequest& request, const EventSink& events, const CancelToken& cancel,
                                     std::size_t* files_read) {
  const auto& entries = *request.entries;
  std::vector<HexDigest> hashes(entries.size());
  const std::vector<HexDigest>* walked = request.walked_hashes;
  std::size_t read_in_walk = 0;
  StatCache cache = request.stat_cache_path.empty() ? StatCache{} : StatCache::load(request.stat_cache_path);

  std::vector<std::size_t> todo;
  std::uint64_t todo_bytes = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& w = entries[i];
    if (w.entry.type != EntryType::regular) continue;
    if (!w.inline_data && walked && i < walked->size() && has_hash((*walked)[i])) {
      hashes[i] = (*walked)[i];
      ++read_in_walk;
      continue;
    }
    if (!w.inline_data && !request.stat_cache_path.empty()) {
      std::string_view hex = cache.find(w.entry.path, {w.ino, w.entry.size, w.mtime_ns, w.ctime_ns});
      if (!hex.empty()) {
        hashes[i] = to_hex_digest(hex);
        continue;
      }
    }
    todo.push_back(i);
    todo_bytes += w.entry.size;
  }

  int root_fd = todo.empty() ? -1 : open_root(request.root);
  struct RootCloser {
    int fd;
    ~RootCloser() {
      if (fd >= 0) ::close(fd);
    }
  } root_closer{root_fd};
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done_files{0};
  std::atomic<std::uint64_t> done_bytes{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto work = [&] {
    FileHasher hasher;
    try {
      for (;;) {
        if (failed.load(std::memory_order_relaxed)) return;
        std::size_t k = next.fetch_add(1);
        if (k >= todo.size()) return;
        check_cancel(cancel);
        const auto& w = entries[todo[k]];
        hashes[todo[k]] = hash_file(root_fd, w, hasher, cancel);
        done_files.fetch_add(1, std::memory_order_relaxed);
        done_bytes.fetch_add(w.entry.size, std::memory_order_relaxed);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };

  unsigned threads = request.threads ? request.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(todo.size(), 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  // The calling thread hashes too, and reports progress between its files,
  // so that events always come from the caller's thread.
  if (events && !todo.empty()) {
    FileHasher hasher;
    auto last = std::chrono::steady_clock::now();
    try {
      for (;;) {
        if (failed.load(std::memory_order_relaxed)) break;
        std::size_t k = next.fetch_add(1);
        if (k >= todo.size()) break;
        check_cancel(cancel);
        const auto& w = entries[todo[k]];
        hashes[todo[k]] = hash_file(root_fd, w, hasher, cancel);
        done_files.fetch_add(1, std::memory_order_relaxed);
        done_bytes.fetch_add(w.entry.size, std::memory_order_relaxed);
        auto now = std::chrono::steady_clock::now();
        if (now - last >= std::chrono::milliseconds(100)) {
          last = now;
          emit(events, "context.progress",
               {{"phase", "hash"}, {"files", done_files.load()}, {"bytes", done_bytes.load()},
                {"total_files", todo.size()}, {"total_bytes", todo_bytes}});
        }
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  } else {
    work();
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  check_cancel(cancel);
  if (files_read) *files_read = todo.size() + read_in_walk;

  if (!request.stat_cache_path.empty()) {
    // Rewritten only when something changed: a fresh storable hash, or a
    // different number of entries (files deleted, added or racy).
    std::vector<StatRecord> records;
    records.reserve(entries.size());
    std::size_t fresh = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& w = entries[i];
      bool hashed_now = k < todo.size() && todo[k] == i;
      if (hashed_now) ++k;
      if (walked && i < walked->size() && has_hash((*walked)[i])) hashed_now = true;
      if (w.entry.type != EntryType::regular || w.inline_data) continue;
      StatKey key{w.ino, w.entry.size, w.mtime_ns, w.ctime_ns};
      if (!StatCache::storable(key, request.scan_start_sec)) continue;
      records.push_back({w.entry.path, key, hex_view(hashes[i])});
      if (hashed_now) ++fresh;
    }
    if (fresh > 0 || records.size() != cache.size()) {
      StatCache::save(request.stat_cache_path, records, request.scan_start_sec);
    }
  }
  return hashes;
}

ContentVersion make_version(const std::vector<WalkedEntry>& entries, const std::vector<HexDigest>& hashes,
                            const std::string& dockerfile, const VersionInputs& inputs) {
  std::vector<std::size_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  auto by_path = [&](std::size_t a, std::size_t b) { return entries[a].entry.path < entries[b].entry.path; };
  // The walk order is byte order unless names hold bytes below '/'.
  if (!std::is_sorted(order.begin(), order.end(), by_path)) std::sort(order.begin(), order.end(), by_path);
  Hasher hasher;
  std::string record = "kiln-context-version 1\n";
  for (std::size_t i : order) {
    const ContextEntry& e = entries[i].entry;
    switch (e.type) {
      case EntryType::regular:
        record += (e.mode & 0111) ? "x " : "f ";
        put_len(record, e.path);
        record += ' ';
        record += hex_view(hashes[i]);
        break;
      case EntryType::directory:
        record += "d ";
        put_len(record, e.path);
        break;
      case EntryType::symlink:
        record += "l ";
        put_len(record, e.path);
        record += ' ';
        put_len(record, e.link_target);
        break;
    }
    record += '\n';
    if (record.size() > 64 * 1024) {
      hasher.update(record);
      record.clear();
    }
  }
  record += "dockerfile ";
  put_len(record, dockerfile);
  record += '\n';
  for (const auto& [key, value] : inputs.build_args) {
    record += "arg ";
    put_len(record, key);
    record += ' ';
    put_len(record, value);
    record += '\n';
  }
  record += "target ";
  put_len(record, inputs.target);
  record += "\nplatform ";
  put_len(record, inputs.platform);
  record += '\n';
  hasher.update(record);
  ContentVersion v;
  v.digest = hasher.finish();
  v.version = "v-" + v.digest.hex().substr(0, 10);
  return v;
}

}  // namespace kiln::context
