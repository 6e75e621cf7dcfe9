#include "context/stat_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "kiln/error.hpp"

namespace kiln::context {
namespace {

constexpr std::string_view kMagic = "kiln-stat-cache 2 ";

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
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
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

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

StatCache StatCache::load(const std::string& file) {
  StatCache cache;
  auto text = std::make_shared<std::string>();
  if (file.empty() || !read_file(file, *text)) return cache;
  std::string_view s = *text;
  if (s.substr(0, kMagic.size()) != kMagic) return cache;
  s.remove_prefix(kMagic.size());
  auto nl = s.find('\n');
  if (nl == std::string_view::npos) return cache;
  std::int64_t written = 0;
  auto header = s.substr(0, nl);
  auto [hp, hec] = std::from_chars(header.data(), header.data() + header.size(), written);
  if (hec != std::errc() || hp != header.data() + header.size()) return cache;
  s.remove_prefix(nl + 1);
  std::vector<StatRecord> records;
  records.reserve(static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')));
  while (!s.empty()) {
    StatRecord r;
    std::size_t path_len = 0;
    if (!parse_number(s, r.key.ino) || !parse_number(s, r.key.size) || !parse_number(s, r.key.mtime_ns) ||
        !parse_number(s, r.key.ctime_ns) || s.size() < 65 || s[64] != ' ' || !is_hex(s.substr(0, 64))) {
      return StatCache{};
    }
    r.hex = s.substr(0, 64);
    s.remove_prefix(65);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), path_len);
    if (ec != std::errc() || p == s.data() + s.size() || *p != ':') return StatCache{};
    s.remove_prefix(static_cast<std::size_t>(p - s.data()) + 1);
    if (s.size() < path_len + 1 || s[path_len] != '\n') return StatCache{};
    r.path = s.substr(0, path_len);
    s.remove_prefix(path_len + 1);
    records.push_back(r);
  }
  cache.text_ = std::move(text);
  cache.records_ = std::move(records);
  cache.written_at_sec_ = written;
  return cache;
}

std::string_view StatCache::find(std::string_view path, const StatKey& key) const {
  const StatRecord* hit = nullptr;
  if (cursor_ < records_.size() && records_[cursor_].path == path) {
    hit = &records_[cursor_++];
  } else {
    if (index_.empty() && !records_.empty()) {
      index_.reserve(records_.size());
      for (std::size_t i = 0; i < records_.size(); ++i) index_.emplace(records_[i].path, i);
    }
    auto it = index_.find(path);
    if (it == index_.end()) return {};
    hit = &records_[it->second];
    cursor_ = it->second + 1;
  }
  if (!(hit->key == key)) return {};
  // Same-second writes: an mtime not older than the cache's write time may
  // hide a change that kept size and mtime.
  if (key.mtime_ns / 1000000000 >= written_at_sec_) return {};
  return hit->hex;
}

bool StatCache::storable(const StatKey& key, std::int64_t scan_start_sec) {
  return key.mtime_ns / 1000000000 < scan_start_sec && key.ctime_ns / 1000000000 < scan_start_sec;
}

void StatCache::save(const std::string& file, const std::vector<StatRecord>& records, std::int64_t written_at_sec) {
  std::string out;
  out.reserve(records.size() * 140 + 64);
  out += kMagic;
  out += std::to_string(written_at_sec);
  out += '\n';
  char num[24];
  auto put = [&](auto value) {
    auto [p, ec] = std::to_chars(num, num + sizeof num, value);
    (void)ec;
    out.append(num, static_cast<std::size_t>(p - num));
  };
  for (const auto& r : records) {
    put(r.key.ino);
    out += ' ';
    put(r.key.size);
    out += ' ';
    put(r.key.mtime_ns);
    out += ' ';
    put(r.key.ctime_ns);
    out += ' ';
    out += r.hex;
    out += ' ';
    put(r.path.size());
    out += ':';
    out += r.path;
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
