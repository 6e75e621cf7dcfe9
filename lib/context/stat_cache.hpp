// The stat cache: (path, size, mtime, ctime, inode) -> content hash, kept in
// a file the host tool chooses, so that an unchanged tree is re-versioned
// without reading file contents. Racy entries (modified in the same second
// the scan started, or later) are never stored, and an entry is trusted only
// when its mtime is older than the cache's own write time.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace kiln::context {

struct StatKey {
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  friend bool operator==(const StatKey&, const StatKey&) = default;
};

class StatCache {
 public:
  // A missing, unreadable or corrupt file gives an empty cache.
  static StatCache load(const std::string& file);

  // The cached hex sha256, or nullptr when unknown or not trustworthy.
  const std::string* find(const std::string& path, const StatKey& key) const;
  // Records a fresh hash; scan_start_sec is when the walk began.
  void put(const std::string& path, const StatKey& key, std::string hex, std::int64_t scan_start_sec);
  bool dirty() const noexcept { return dirty_; }
  void mark_dirty() noexcept { dirty_ = true; }
  // Keeps only the given paths' entries (drops deleted files).
  template <typename Pred>
  void retain(Pred&& keep) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (keep(it->first)) {
        ++it;
      } else {
        it = entries_.erase(it);
        dirty_ = true;
      }
    }
  }
  // Writes atomically (temporary file + rename). Throws Error(io).
  void save(const std::string& file, std::int64_t written_at_sec) const;

 private:
  struct Entry {
    StatKey key;
    std::string hex;
  };
  std::unordered_map<std::string, Entry> entries_;
  std::int64_t written_at_sec_ = 0;
  bool dirty_ = false;
};

}  // namespace kiln::context
