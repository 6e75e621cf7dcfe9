#include "context/stat_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "kiln/error.hpp"

namespace kiln::context {
namespace {

constexpr std::string_view kMagic = "kiln-stat-cache 1 ";

template <typename T>
bool parse_number(std::string_view& s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || p == s.data() + s.size() || *p != ' ') return false;
  s.remove_prefix(static_cast<std::size_t>(p - s.data()) + 1);
  return true;
}

bool read_file(const std::string& file, std::string& out) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

}  // namespace

StatCache StatCache::load(const std::string& file) {
  StatCache cache;
  std::string text;
  if (file.empty() || !read_file(file, text)) return cache;
  std::string_view s = text;
  if (s.substr(0, kMagic.size()) != kMagic) return cache;
  s.remove_prefix(kMagic.size());
  auto nl = s.find('\n');
  if (nl == std::string_view::npos) return cache;
  std::int64_t written = 0;
  auto header = s.substr(0, nl);
  if (std::from_chars(header.data(), header.data() + header.size(), written).ec != std::errc()) return cache;
  s.remove_prefix(nl + 1);
  cache.entries_.reserve(static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')));
  while (!s.empty()) {
    Entry e;
    std::size_t path_len = 0;
    if (!parse_number(s, e.key.ino) || !parse_number(s, e.key.size) || !parse_number(s, e.key.mtime_ns) ||
        !parse_number(s, e.key.ctime_ns) || s.size() < 65 || s[64] != ' ') {
      return StatCache{};
    }
    e.hex = std::string(s.substr(0, 64));
    s.remove_prefix(65);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), path_len);
    if (ec != std::errc() || p == s.data() + s.size() || *p != ':') return StatCache{};
    s.remove_prefix(static_cast<std::size_t>(p - s.data()) + 1);
    if (s.size() < path_len + 1 || s[path_len] != '\n') return StatCache{};
    cache.entries_.emplace(std::string(s.substr(0, path_len)), std::move(e));
    s.remove_prefix(path_len + 1);
  }
  cache.written_at_sec_ = written;
  return cache;
}

const std::string* StatCache::find(const std::string& path, const StatKey& key) const {
  auto it = entries_.find(path);
  if (it == entries_.end() || !(it->second.key == key)) return nullptr;
  // Same-second writes: an mtime not older than the cache's write time may
  // hide a change that kept size and mtime.
  if (key.mtime_ns / 1000000000 >= written_at_sec_) return nullptr;
  return &it->second.hex;
}

void StatCache::put(const std::string& path, const StatKey& key, std::string hex, std::int64_t scan_start_sec) {
  if (key.mtime_ns / 1000000000 >= scan_start_sec || key.ctime_ns / 1000000000 >= scan_start_sec) {
    // Racy: written in the second the scan started or later. Leave unknown.
    if (entries_.erase(path)) dirty_ = true;
    return;
  }
  auto& e = entries_[path];
  // An equal entry still needs a save when the file's write time kept it
  // from being trusted: the new write time makes it trusted next time.
  if (e.key == key && e.hex == hex && key.mtime_ns / 1000000000 < written_at_sec_) return;
  e.key = key;
  e.hex = std::move(hex);
  dirty_ = true;
}

void StatCache::save(const std::string& file, std::int64_t written_at_sec) const {
  std::string out;
  out.reserve(entries_.size() * 120 + 64);
  out += kMagic;
  out += std::to_string(written_at_sec);
  out += '\n';
  for (const auto& [path, e] : entries_) {
    out += std::to_string(e.key.ino) + ' ' + std::to_string(e.key.size) + ' ' + std::to_string(e.key.mtime_ns) + ' ' +
           std::to_string(e.key.ctime_ns) + ' ' + e.hex + ' ' + std::to_string(path.size()) + ':';
    out += path;
    out += '\n';
  }
  std::string tmp = file + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    throw Error(Errc::io, "cannot write the stat cache '" + tmp + "': " + std::strerror(e));
  }
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(Errc::io, "cannot write the stat cache '" + tmp + "': " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(Errc::io, "cannot replace the stat cache '" + file + "': " + std::strerror(e));
  }
}

}  // namespace kiln::context
