// The stat cache: (path, size, mtime, ctime, inode) -> content hash, kept in
// a file the host tool chooses, so that an unchanged tree is re-versioned
// without reading file contents. Racy entries (modified in the same second
// the scan started, or later) are never stored, and an entry is trusted only
// when its mtime is older than the cache's own write time.
//
// The file lists entries in walk order, so that looking a tree up again is a
// sequential scan; a hash index is built only when the order differs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::context {

struct StatKey {
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  friend bool operator==(const StatKey&, const StatKey&) = default;
};

struct StatRecord {
  std::string_view path;
  StatKey key;
  std::string_view hex;  // 64 lower-case hex characters
};

class StatCache {
 public:
  // A missing, unreadable or corrupt file gives an empty cache.
  static StatCache load(const std::string& file);

  // The cached hex sha256, or an empty view when unknown or not trustworthy.
  std::string_view find(std::string_view path, const StatKey& key) const;
  std::size_t size() const noexcept { return records_.size(); }
  std::int64_t written_at_sec() const noexcept { return written_at_sec_; }

  // Whether a record may be stored: not modified in or after the second the
  // scan started (a same-second write could keep size and mtime).
  static bool storable(const StatKey& key, std::int64_t scan_start_sec);
  // Writes records (in walk order) atomically: temporary file + rename.
  // Throws Error(io).
  static void save(const std::string& file, const std::vector<StatRecord>& records, std::int64_t written_at_sec);

 private:
  std::shared_ptr<const std::string> text_;  // records point into it
  std::vector<StatRecord> records_;
  mutable std::size_t cursor_ = 0;
  mutable std::unordered_map<std::string_view, std::size_t> index_;
  std::int64_t written_at_sec_ = 0;
};

}  // namespace kiln::context
