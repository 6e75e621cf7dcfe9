#include "context/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

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

std::int64_t ns_of(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// An open directory, shared by the tasks that read files in it.
struct DirHandle {
  DIR* dir;
  explicit DirHandle(DIR* d) : dir(d) {}
  ~DirHandle() { ::closedir(dir); }
  DirHandle(const DirHandle&) = delete;
  DirHandle& operator=(const DirHandle&) = delete;
  int fd() const { return ::dirfd(dir); }
};

struct Node;

// One name in a directory, in name order. An error is thrown when the
// serial order reaches it, so that the first error is the serial walk's.
struct Item {
  WalkedEntry w;
  bool emit = false;     // part of the output (else only descended)
  Node* sub = nullptr;   // the directory's own listing, when descended
  std::exception_ptr error;
  std::string warning;   // a skipped special file
  HexDigest hash{};
};

struct Node {
  std::vector<Item> items;
  std::exception_ptr error;  // the directory itself could not be read
};

struct Task {
  Node* node = nullptr;
  std::string rel;                 // "" for the root
  std::vector<std::uint8_t> info;  // the directory's own pattern results
  std::size_t depth = 1;           // directories from the root, root = 1
  // Hashing tasks: items [begin, end) of node, in the open directory.
  std::shared_ptr<DirHandle> dir;
  std::size_t begin = 0, end = 0;
};

// Files of one directory hashed by one task; a bigger directory is split so
// that both cores read it.
constexpr std::size_t kHashChunk = 128;
constexpr std::size_t kMaxDepth = 4096;

int open_dir_beneath(int root_fd, const std::string& rel) {
  if (rel.empty()) return ::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#ifdef SYS_openat2
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
#endif
  return ::openat(root_fd, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

class Walker {
 public:
  Walker(const WalkRequest& request, bool hash, const CancelToken& cancel)
      : request_(request), pm_(*request.patterns), hash_(hash), cancel_(cancel), root_fd_(open_root(request.root)) {}
  ~Walker() {
    stop();
    for (auto& t : pool_) t.join();
    ::close(root_fd_);
  }
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  std::vector<WalkedEntry> run(const EventSink& events, std::vector<HexDigest>* hashes) {
    Node* root = new_node();
    {
      std::lock_guard lock(mutex_);
      ++pending_;
      queue_.push_back(Task{root, "", {}, 1, nullptr, 0, 0});
    }
    unsigned threads = request_.threads ? request_.threads : std::max(1u, std::thread::hardware_concurrency());
    // The caller works too and is the only one to report progress, so that
    // events always come from the caller's thread.
    FileHasher hasher;
    auto last_event = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    for (;;) {
      if (queue_.empty()) {
        if (pending_ == 0 || stop_) break;
        idle_.wait_for(lock, std::chrono::milliseconds(100));
      } else {
        Task task = std::move(queue_.front());
        queue_.pop_front();
        // Helpers start only once there is more than one thing to do: a
        // small context is walked without creating a thread.
        while (pool_.size() + 1 < threads && !queue_.empty()) pool_.emplace_back([this] { work(); });
        lock.unlock();
        execute(task, hasher);
        lock.lock();
        if (--pending_ == 0) idle_.notify_all();
      }
      if (cancel_.cancelled()) stop_ = true;
      if (events) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_event > std::chrono::milliseconds(100)) {
          last_event = now;
          lock.unlock();
          try {
            emit(events, "context.progress",
                 {{"phase", "scan"}, {"visited", visited_.load()}, {"entries", emitted_.load()}});
          } catch (...) {
            stop();
            throw;
          }
          lock.lock();
        }
      }
    }
    lock.unlock();
    stop();
    for (auto& t : pool_) t.join();
    pool_.clear();
    if (fatal_) std::rethrow_exception(fatal_);
    check_cancel(cancel_);
    return flatten(root, events, hashes);
  }

 private:
  Node* new_node() {
    std::lock_guard lock(nodes_mutex_);
    return &nodes_.emplace_back();
  }

  void stop() {
    std::lock_guard lock(mutex_);
    stop_ = true;
    idle_.notify_all();
  }

  void push(Task task) {
    std::lock_guard lock(mutex_);
    ++pending_;
    queue_.push_back(std::move(task));
    idle_.notify_one();
  }

  void work() {
    FileHasher hasher;
    std::unique_lock lock(mutex_);
    for (;;) {
      idle_.wait(lock, [&] { return stop_ || !queue_.empty() || pending_ == 0; });
      if (stop_ || queue_.empty()) return;
      Task task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      execute(task, hasher);
      lock.lock();
      if (--pending_ == 0) idle_.notify_all();
    }
  }

  void execute(Task& task, FileHasher& hasher) {
    if (cancel_.cancelled()) return;
    try {
      if (task.dir) {
        hash_range(*task.node, *task.dir, task.begin, task.end, hasher);
      } else {
        list(task, hasher);
      }
    } catch (...) {
      // Not an error of one path (memory, threads): ends the walk.
      std::lock_guard lock(mutex_);
      if (!fatal_) fatal_ = std::current_exception();
      stop_ = true;
      idle_.notify_all();
    }
  }

  void list(Task& task, FileHasher& hasher) {
    Node& node = *task.node;
    const std::string& dir_rel = task.rel;
    int dfd = open_dir_beneath(root_fd_, dir_rel);
    DIR* dir = dfd >= 0 ? ::fdopendir(dfd) : nullptr;
    if (!dir) {
      int e = errno;
      if (dfd >= 0) ::close(dfd);
      node.error = std::make_exception_ptr(dir_error(dir_rel, e));
      return;
    }
    auto handle = std::make_shared<DirHandle>(dir);
    std::vector<Child> children;
    errno = 0;
    while (dirent* d = ::readdir(dir)) {
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      children.push_back(Child{d->d_name, {}, 0, d->d_type == DT_DIR});
    }
    if (int e = errno) {
      node.error = std::make_exception_ptr(Error(
          Errc::io, "cannot list directory '" + printable(dir_rel.empty() ? "." : dir_rel) + "': " + errno_text(e)));
      return;
    }
    std::sort(children.begin(), children.end(), [](const Child& a, const Child& b) { return a.name < b.name; });
    for (auto& c : children) {
      if (::fstatat(handle->fd(), c.name.c_str(), &c.st, AT_SYMLINK_NOFOLLOW) != 0) c.stat_errno = errno;
    }

    node.items.reserve(children.size());
    std::vector<Task> subdirs;
    std::vector<std::uint8_t> info;
    const std::vector<std::uint8_t>* parent = task.depth > 1 ? &task.info : nullptr;
    std::size_t emitted = 0;
    for (const Child& child : children) {
      visited_.fetch_add(1, std::memory_order_relaxed);
      std::string rel = dir_rel.empty() ? child.name : dir_rel + "/" + child.name;
      const struct stat& st = child.st;
      Item item;
      auto fail = [&](Error error) {
        item.error = std::make_exception_ptr(std::move(error));
        node.items.push_back(std::move(item));
      };
      std::size_t full_size = request_.root.size() + 1 + rel.size();
      if (full_size >= PATH_MAX) {
        fail(Error(Errc::io, "path in the build context is too long (" + std::to_string(full_size) +
                                 " bytes, the system limit is " + std::to_string(PATH_MAX) + ", directory depth " +
                                 std::to_string(task.depth) + "): '" + printable(rel.substr(0, 120)) +
                                 "...'; add the deep directory to .dockerignore"));
        break;
      }
      auto stat_error = [&] {
        return Error(Errc::io, "cannot stat '" + printable(rel) + "' in the build context: " +
                                   errno_text(child.stat_errno) +
                                   (child.stat_errno == ENOENT ? " (it was removed while the context was read; retry)"
                                                               : ""));
      };
      bool is_dir = child.stat_errno ? child.dirent_dir : S_ISDIR(st.st_mode);
      bool skip = pm_.size() ? pm_.match_with_parent(rel, parent, info) : false;
      if (!pm_.size()) info.clear();
      if (skip) {
        if (!is_dir || !pm_.exclusions() || !pm_.exception_below(rel)) continue;
        // An exception names something below: descend without sending the
        // directory itself, as Docker does.
        if (child.stat_errno) {
          fail(stat_error());
          break;
        }
        if (task.depth >= kMaxDepth) {
          fail(too_deep(rel));
          break;
        }
        item.sub = new_node();
        subdirs.push_back(Task{item.sub, std::move(rel), info, task.depth + 1, nullptr, 0, 0});
        node.items.push_back(std::move(item));
        continue;
      }
      if (child.stat_errno) {
        fail(stat_error());
        break;
      }
      if (!valid_utf8(rel)) {
        fail(Error(Errc::invalid_argument, "file name '" + printable(rel) +
                                               "' in the build context is not valid UTF-8; rename it or add it to "
                                               ".dockerignore"));
        break;
      }
      WalkedEntry& w = item.w;
      w.entry.mode = st.st_mode & 07777;
      w.entry.mtime = st.st_mtim.tv_sec;
      w.entry.forced = std::find(request_.forced.begin(), request_.forced.end(), rel) != request_.forced.end();
      w.ino = st.st_ino;
      w.mtime_ns = ns_of(st.st_mtim);
      w.ctime_ns = ns_of(st.st_ctim);
      if (S_ISREG(st.st_mode)) {
        w.entry.type = EntryType::regular;
        w.entry.size = static_cast<std::uint64_t>(st.st_size);
      } else if (S_ISLNK(st.st_mode)) {
        w.entry.type = EntryType::symlink;
        std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
        ssize_t n = ::readlinkat(handle->fd(), child.name.c_str(), target.data(), target.size());
        if (n < 0) {
          int e = errno;
          fail(Error(Errc::io, "cannot read symlink '" + printable(rel) + "': " + errno_text(e)));
          break;
        }
        target.resize(static_cast<std::size_t>(n));
        if (!valid_utf8(target)) {
          fail(Error(Errc::invalid_argument,
                     "symlink '" + printable(rel) + "' points to a name that is not valid UTF-8"));
          break;
        }
        w.entry.link_target = std::move(target);
      } else if (is_dir) {
        w.entry.type = EntryType::directory;
      } else {
        item.warning = "skipped special file (socket, fifo or device) '" + printable(rel) + "': it is not sent";
        item.w.entry.path = std::move(rel);
        node.items.push_back(std::move(item));
        continue;
      }
      item.emit = true;
      ++emitted;
      if (is_dir) {
        if (task.depth >= kMaxDepth) {
          item.emit = false;
          fail(too_deep(rel));
          break;
        }
        item.sub = new_node();
        subdirs.push_back(Task{item.sub, rel, info, task.depth + 1, nullptr, 0, 0});
      }
      w.entry.path = std::move(rel);
      node.items.push_back(std::move(item));
    }
    emitted_.fetch_add(emitted, std::memory_order_relaxed);
    // The items are final from here on: tasks may point into them.
    for (auto& sub : subdirs) push(std::move(sub));
    if (!hash_) return;
    std::vector<std::size_t> files;
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      if (wants_hash(node.items[i])) files.push_back(i);
    }
    if (files.empty()) return;
    // Hand out every chunk but the first; this task reads that one itself.
    auto chunk_start = [&](std::size_t k) { return k < files.size() ? files[k] : node.items.size(); };
    for (std::size_t k = kHashChunk; k < files.size(); k += kHashChunk) {
      push(Task{&node, {}, {}, 0, handle, files[k], chunk_start(k + kHashChunk)});
    }
    hash_range(node, *handle, files[0], chunk_start(kHashChunk), hasher);
  }

  static bool wants_hash(const Item& item) {
    return item.emit && !item.error && item.w.entry.type == EntryType::regular;
  }

  void hash_range(Node& node, const DirHandle& dir, std::size_t begin, std::size_t end, FileHasher& hasher) {
    for (std::size_t i = begin; i < end; ++i) {
      Item& item = node.items[i];
      if (!wants_hash(item)) continue;
      if (cancel_.cancelled()) return;
      const std::string& rel = item.w.entry.path;
      auto slash = rel.rfind('/');
      const char* name = rel.c_str() + (slash == std::string::npos ? 0 : slash + 1);
      try {
        // The directory was opened without following symlinks and the name
        // is one component opened with O_NOFOLLOW: nothing leads outside.
        int fd = ::openat(dir.fd(), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) throw_open_error(rel, errno);
        struct Closer {
          int fd;
          ~Closer() { ::close(fd); }
        } closer{fd};
        item.hash = hasher.of_fd(fd, rel, item.w.entry.size, cancel_);
      } catch (const Error&) {
        item.error = std::current_exception();
      }
    }
  }

  static Error dir_error(const std::string& rel, int e) {
    if (!rel.empty() && (e == ELOOP || e == EXDEV || e == ENOTDIR || e == ENOENT)) {
      return Error(Errc::io, "directory '" + printable(rel) +
                                 "' was removed or replaced while the build context was read; retry");
    }
    return Error(Errc::io, "cannot read directory '" + printable(rel.empty() ? "." : rel) +
                               "' in the build context: " + errno_text(e) +
                               "; fix its permissions or add it to .dockerignore");
  }

  static Error too_deep(const std::string& rel) {
    return Error(Errc::io, "build context is nested too deeply (more than " + std::to_string(kMaxDepth) +
                               " directories) at '" + printable(rel.substr(0, 120)) +
                               "...'; add the deep directory to .dockerignore");
  }

  // The serial walk's order: depth first, each directory's items in name
  // order; the first error in that order is thrown.
  std::vector<WalkedEntry> flatten(Node* root, const EventSink& events, std::vector<HexDigest>* hashes) {
    std::vector<WalkedEntry> out;
    out.reserve(emitted_.load());
    if (hashes) {
      hashes->clear();
      hashes->reserve(emitted_.load());
    }
    if (root->error) std::rethrow_exception(root->error);
    std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == node->items.size()) {
        stack.pop_back();
        continue;
      }
      Item& item = node->items[next++];
      if (item.error) std::rethrow_exception(item.error);
      if (!item.warning.empty()) {
        emit(events, "warning", {{"message", item.warning}, {"path", printable(item.w.entry.path)}});
        continue;
      }
      if (item.emit) {
        out.push_back(std::move(item.w));
        if (hashes) hashes->push_back(item.hash);
      }
      if (item.sub) {
        if (item.sub->error) std::rethrow_exception(item.sub->error);
        stack.emplace_back(item.sub, 0);
      }
    }
    return out;
  }

  const WalkRequest& request_;
  const PatternSet& pm_;
  bool hash_;
  CancelToken cancel_;
  int root_fd_;
  std::mutex nodes_mutex_;
  std::deque<Node> nodes_;  // stable addresses; freed without recursion
  std::mutex mutex_;
  std::condition_variable idle_;
  std::deque<Task> queue_;
  std::size_t pending_ = 0;  // queued or running
  bool stop_ = false;
  std::exception_ptr fatal_;
  std::vector<std::thread> pool_;
  std::atomic<std::size_t> visited_{0};
  std::atomic<std::size_t> emitted_{0};
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


std::vector<WalkedEntry> walk(const WalkRequest& request, const EventSink& events, const CancelToken& cancel,
                              std::vector<HexDigest>* hashes) {
  Walker walker(request, hashes != nullptr, cancel);
  return walker.run(events, hashes);
}

}  // namespace kiln::context
