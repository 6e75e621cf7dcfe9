#include "context/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "context/events_util.hpp"
#include "context/regex.hpp"
#include "kiln/error.hpp"

namespace kiln::context {
namespace {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    char32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string errno_text(int e) { return std::strerror(e); }

struct Child {
  std::string name;
  struct stat st;
  int stat_errno;
  bool dirent_dir;
};

// Lists a directory and stats its children relative to it (no path walk
// per child), sorted by name. No descriptor stays open afterwards, so the
// depth of a tree never runs into the descriptor limit.
std::vector<Child> read_dir(const std::string& full, const std::string& rel) {
  DIR* dir = ::opendir(full.c_str());
  if (!dir) {
    int e = errno;
    throw Error(Errc::io, "cannot read directory '" + printable(rel.empty() ? "." : rel) + "' in the build context: " +
                              errno_text(e) + "; fix its permissions or add it to .dockerignore");
  }
  std::vector<Child> children;
  errno = 0;
  while (dirent* d = ::readdir(dir)) {
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    children.push_back(Child{d->d_name, {}, 0, d->d_type == DT_DIR});
  }
  int e = errno;
  if (e) {
    ::closedir(dir);
    throw Error(Errc::io, "cannot list directory '" + printable(rel.empty() ? "." : rel) + "': " + errno_text(e));
  }
  std::sort(children.begin(), children.end(), [](const Child& a, const Child& b) { return a.name < b.name; });
  int fd = ::dirfd(dir);
  for (auto& c : children) {
    if (::fstatat(fd, c.name.c_str(), &c.st, AT_SYMLINK_NOFOLLOW) != 0) c.stat_errno = errno;
  }
  ::closedir(dir);
  return children;
}

std::int64_t ns_of(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Frame {
  std::string rel;
  std::vector<Child> names;
  std::size_t next = 0;
  std::vector<std::uint8_t> info;
};

}  // namespace

int open_root(const std::string& root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    throw Error(Errc::io, "cannot open the build context directory '" + printable(root) + "': " + errno_text(e));
  }
  return fd;
}

int open_beneath(int root_fd, const std::string& rel) {
#ifdef SYS_openat2
  struct open_how how {};
  how.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
#endif
  return ::openat(root_fd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
}

std::string printable(std::string_view path) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto runes = decode_utf8(path);
  bool clean = true;
  for (char32_t r : runes) {
    if (r < 0x20 || r == 0x7F) clean = false;
  }
  if (!valid_utf8(path)) clean = false;
  if (clean) return std::string(path);
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    auto c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Copy a valid multi-byte sequence, escape a bad byte.
    std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n && i + n <= path.size() && valid_utf8(path.substr(i, n))) {
      out.append(path.substr(i, n));
      i += n;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

std::vector<WalkedEntry> walk(const WalkRequest& request, const EventSink& events, const CancelToken& cancel) {
  const PatternSet& pm = *request.patterns;
  std::vector<WalkedEntry> out;
  std::vector<Frame> stack;
  stack.push_back(Frame{"", read_dir(request.root, ""), 0, {}});
  std::vector<std::uint8_t> info;
  auto last_event = std::chrono::steady_clock::now();
  std::size_t visited = 0;

  while (!stack.empty()) {
    Frame& frame = stack.back();
    if (frame.next == frame.names.size()) {
      stack.pop_back();
      continue;
    }
    const Child& child = frame.names[frame.next++];
    const std::string& name = child.name;
    std::string rel = frame.rel.empty() ? name : frame.rel + "/" + name;
    std::string full = request.root + "/" + rel;
    if ((++visited & 255) == 0) {
      check_cancel(cancel);
      auto now = std::chrono::steady_clock::now();
      if (events && now - last_event > std::chrono::milliseconds(100)) {
        last_event = now;
        emit(events, "context.progress", {{"phase", "scan"}, {"visited", visited}, {"entries", out.size()}});
      }
    }
    if (full.size() >= PATH_MAX) {
      throw Error(Errc::io, "path in the build context is too long (" + std::to_string(full.size()) +
                                " bytes, the system limit is " + std::to_string(PATH_MAX) + ", directory depth " +
                                std::to_string(stack.size()) + "): '" + printable(rel.substr(0, 120)) +
                                "...'; add the deep directory to .dockerignore");
    }
    const struct stat& st = child.st;
    auto stat_failed = [&] {
      throw Error(Errc::io, "cannot stat '" + printable(rel) + "' in the build context: " +
                                errno_text(child.stat_errno) +
                                (child.stat_errno == ENOENT ? " (it was removed while the context was read; retry)" : ""));
    };
    bool is_dir = child.stat_errno ? child.dirent_dir : S_ISDIR(st.st_mode);
    const std::vector<std::uint8_t>* parent = stack.size() > 1 ? &frame.info : nullptr;
    bool skip = pm.size() ? pm.match_with_parent(rel, parent, info) : false;
    if (!pm.size()) info.clear();
    bool forced = std::find(request.forced.begin(), request.forced.end(), rel) != request.forced.end();
    if (skip) {
      if (!is_dir || !pm.exclusions() || !pm.exception_below(rel)) continue;
      // An exception names something below: descend without sending the
      // directory itself, as Docker does.
      if (child.stat_errno) stat_failed();
      if (stack.size() > 4096) throw Error(Errc::io, "build context is nested too deeply at '" + printable(rel) + "'");
      auto names = read_dir(full, rel);
      stack.push_back(Frame{std::move(rel), std::move(names), 0, info});
      continue;
    }
    if (child.stat_errno) stat_failed();
    if (!valid_utf8(rel)) {
      throw Error(Errc::invalid_argument, "file name '" + printable(rel) +
                                              "' in the build context is not valid UTF-8; rename it or add it to "
                                              ".dockerignore");
    }
    WalkedEntry w;
    w.entry.path = rel;
    w.entry.mode = st.st_mode & 07777;
    w.entry.mtime = st.st_mtim.tv_sec;
    w.entry.forced = forced;
    w.ino = st.st_ino;
    w.mtime_ns = ns_of(st.st_mtim);
    w.ctime_ns = ns_of(st.st_ctim);
    if (S_ISREG(st.st_mode)) {
      w.entry.type = EntryType::regular;
      w.entry.size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      w.entry.type = EntryType::symlink;
      std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
      ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      if (n < 0) {
        int e = errno;
        throw Error(Errc::io, "cannot read symlink '" + printable(rel) + "': " + errno_text(e));
      }
      target.resize(static_cast<std::size_t>(n));
      if (!valid_utf8(target)) {
        throw Error(Errc::invalid_argument, "symlink '" + printable(rel) + "' points to a name that is not valid UTF-8");
      }
      w.entry.link_target = std::move(target);
    } else if (is_dir) {
      w.entry.type = EntryType::directory;
    } else {
      emit(events, "warning",
           {{"message", "skipped special file (socket, fifo or device) '" + printable(rel) + "': it is not sent"},
            {"path", printable(rel)}});
      continue;
    }
    out.push_back(std::move(w));
    if (is_dir) {
      if (stack.size() > 4096) throw Error(Errc::io, "build context is nested too deeply at '" + printable(rel) + "'");
      auto names = read_dir(full, rel);
      stack.push_back(Frame{std::move(rel), std::move(names), 0, info});
    }
  }
  return out;
}

}  // namespace kiln::context
