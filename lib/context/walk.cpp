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
  unsigned char type;  // d_type: DT_UNKNOWN means "stat to know"
};

std::int64_t ns_of(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// An open directory and its sorted names, shared by the tasks that each
// take a slice of its names.
struct DirHandle {
  DIR* dir;
  std::string rel;                 // "" for the root
  std::vector<std::uint8_t> info;  // the directory's own pattern results
  std::size_t depth;               // directories from the root, root = 1
  std::vector<Child> children;
  DirHandle(DIR* d, std::string r, std::vector<std::uint8_t> i, std::size_t dep)
      : dir(d), rel(std::move(r)), info(std::move(i)), depth(dep) {}
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
  bool present = false;  // not ignored (sent, descended, or an error here)
  bool emit = false;     // part of the output (else only descended)
  Node* sub = nullptr;   // the directory's own listing, when descended
  // Rare: kept out of line so that an item of a 100k-file tree stays small.
  struct Problem {
    std::exception_ptr error;
    std::string warning;  // a skipped special file
  };
  std::unique_ptr<Problem> problem;
  std::exception_ptr error() const { return problem ? problem->error : nullptr; }
  void set_error(std::exception_ptr e) {
    if (!problem) problem = std::make_unique<Problem>();
    problem->error = std::move(e);
  }
};

struct Node {
  std::vector<Item> items;
  std::vector<HexDigest> hashes;  // in step with items, when hashing
  std::exception_ptr error;  // the directory itself could not be read
};

// Either "list the directory rel" or "process names [begin, end) of the
// listed directory dir".
struct Task {
  Node* node = nullptr;
  std::string rel;
  std::vector<std::uint8_t> info;
  std::size_t depth = 1;
  std::shared_ptr<DirHandle> dir;
  std::size_t begin = 0, end = 0;
};

// Names of one directory processed by one task; a bigger directory is split
// so that all cores stat and read it.
constexpr std::size_t kChunk = 128;
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
        process(*task.node, *task.dir, task.begin, task.end, hasher);
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
    int dfd = open_dir_beneath(root_fd_, task.rel);
    DIR* dir = dfd >= 0 ? ::fdopendir(dfd) : nullptr;
    if (!dir) {
      int e = errno;
      if (dfd >= 0) ::close(dfd);
      node.error = std::make_exception_ptr(dir_error(task.rel, e));
      return;
    }
    auto handle = std::make_shared<DirHandle>(dir, std::move(task.rel), std::move(task.info), task.depth);
    auto& children = handle->children;
    errno = 0;
    while (dirent* d = ::readdir(dir)) {
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      children.push_back(Child{d->d_name, d->d_type});
    }
    if (int e = errno) {
      node.error = std::make_exception_ptr(
          Error(Errc::io, "cannot list directory '" + printable(handle->rel.empty() ? "." : handle->rel) +
                              "': " + errno_text(e)));
      return;
    }
    std::sort(children.begin(), children.end(), [](const Child& a, const Child& b) { return a.name < b.name; });
    // Sized once: tasks write their own slice.
    node.items.resize(children.size());
    if (hash_) node.hashes.resize(children.size());
    for (std::size_t begin = kChunk; begin < children.size(); begin += kChunk) {
      push(Task{&node, {}, {}, 0, handle, begin, std::min(children.size(), begin + kChunk)});
    }
    process(node, *handle, 0, std::min(children.size(), kChunk), hasher);
  }

  // Decides, stats and (when hashing) reads names [begin, end) of dir. A
  // regular file is opened once and stat'ed through its descriptor, so that
  // its name is resolved once; other names are stat'ed by name. Ignored
  // names are not stat'ed at all unless they may be directories to descend.
  void process(Node& node, const DirHandle& dir, std::size_t begin, std::size_t end, FileHasher& hasher) {
    std::vector<std::uint8_t> info;
    const std::vector<std::uint8_t>* parent = dir.depth > 1 ? &dir.info : nullptr;
    std::vector<Task> subdirs;
    std::size_t emitted = 0;
    for (std::size_t i = begin; i < end; ++i) {
      if (cancel_.cancelled()) break;
      const Child& child = dir.children[i];
      Item& item = node.items[i];
      visited_.fetch_add(1, std::memory_order_relaxed);
      std::string rel = dir.rel.empty() ? child.name : dir.rel + "/" + child.name;
      auto fail = [&](Error error) {
        item.present = true;
        item.emit = false;
        item.set_error(std::make_exception_ptr(std::move(error)));
      };
      std::size_t full_size = request_.root.size() + 1 + rel.size();
      if (full_size >= PATH_MAX) {
        fail(Error(Errc::io, "path in the build context is too long (" + std::to_string(full_size) +
                                 " bytes, the system limit is " + std::to_string(PATH_MAX) + ", directory depth " +
                                 std::to_string(dir.depth) + "): '" + printable(rel.substr(0, 120)) +
                                 "...'; add the deep directory to .dockerignore"));
        break;
      }
      auto stat_error = [&](int e) {
        return Error(Errc::io, "cannot stat '" + printable(rel) + "' in the build context: " + errno_text(e) +
                                   (e == ENOENT ? " (it was removed while the context was read; retry)" : ""));
      };
      struct stat st {};
      bool skip = pm_.size() ? pm_.match_with_parent(rel, parent, info) : false;
      if (!pm_.size()) info.clear();
      if (skip) {
        if (!pm_.exclusions()) continue;
        bool is_dir = child.type == DT_DIR;
        if (child.type == DT_UNKNOWN) {
          is_dir = ::fstatat(dir.fd(), child.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (!is_dir || !pm_.exception_below(rel)) continue;
        // An exception names something below: descend without sending the
        // directory itself, as Docker does.
        if (dir.depth >= kMaxDepth) {
          fail(too_deep(rel));
          break;
        }
        item.present = true;
        item.sub = new_node();
        item.w.entry.path = rel;
        subdirs.push_back(Task{item.sub, std::move(rel), info, dir.depth + 1, nullptr, 0, 0});
        continue;
      }
      int fd = -1;
      int open_errno = 0;
      if (hash_ && child.type == DT_REG) {
        fd = ::openat(dir.fd(), child.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
          open_errno = errno;
        } else if (::fstat(fd, &st) != 0) {
          open_errno = errno;
          ::close(fd);
          fd = -1;
        }
      }
      struct Closer {
        int& fd;
        ~Closer() {
          if (fd >= 0) ::close(fd);
        }
      } closer{fd};
      if (fd < 0 && ::fstatat(dir.fd(), child.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        fail(stat_error(errno));
        break;
      }
      if (!valid_utf8(rel)) {
        fail(Error(Errc::invalid_argument, "file name '" + printable(rel) +
                                               "' in the build context is not valid UTF-8; rename it or add it to "
                                               ".dockerignore"));
        break;
      }
      item.present = true;
      WalkedEntry& w = item.w;
      w.entry.mode = st.st_mode & 07777;
      w.entry.mtime = st.st_mtim.tv_sec;
      w.entry.forced = std::find(request_.forced.begin(), request_.forced.end(), rel) != request_.forced.end();
      w.ino = st.st_ino;
      w.mtime_ns = ns_of(st.st_mtim);
      w.ctime_ns = ns_of(st.st_ctim);
      bool is_dir = S_ISDIR(st.st_mode);
      if (S_ISREG(st.st_mode)) {
        w.entry.type = EntryType::regular;
        w.entry.size = static_cast<std::uint64_t>(st.st_size);
      } else if (S_ISLNK(st.st_mode)) {
        w.entry.type = EntryType::symlink;
        std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
        ssize_t n = ::readlinkat(dir.fd(), child.name.c_str(), target.data(), target.size());
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
        item.problem = std::make_unique<Item::Problem>();
        item.problem->warning =
            "skipped special file (socket, fifo or device) '" + printable(rel) + "': it is not sent";
        w.entry.path = std::move(rel);
        continue;
      }
      if (is_dir) {
        if (dir.depth >= kMaxDepth) {
          fail(too_deep(rel));
          break;
        }
        item.sub = new_node();
        subdirs.push_back(Task{item.sub, rel, info, dir.depth + 1, nullptr, 0, 0});
      }
      item.emit = true;
      ++emitted;
      w.entry.path = std::move(rel);
      if (hash_ && w.entry.type == EntryType::regular) {
        try {
          if (fd < 0) {
            // Not known as a regular file from the listing, or its open
            // failed: open it now (the error names the file).
            if (open_errno) throw_open_error(w.entry.path, open_errno);
            fd = ::openat(dir.fd(), child.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
            if (fd < 0) throw_open_error(w.entry.path, errno);
          }
          node.hashes[i] = hasher.of_fd(fd, w.entry.path, w.entry.size, cancel_);
        } catch (const Error&) {
          item.set_error(std::current_exception());
        }
      }
    }
    emitted_.fetch_add(emitted, std::memory_order_relaxed);
    for (auto& sub : subdirs) push(std::move(sub));
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
        // Its entries have moved to the output: free the listing now, so
        // that the peak is not the tree twice.
        std::vector<Item>().swap(node->items);
        std::vector<HexDigest>().swap(node->hashes);
        stack.pop_back();
        continue;
      }
      Item& item = node->items[next++];
      if (!item.present) continue;
      if (item.error()) std::rethrow_exception(item.error());
      if (item.problem && !item.problem->warning.empty()) {
        emit(events, "warning", {{"message", item.problem->warning}, {"path", printable(item.w.entry.path)}});
        continue;
      }
      if (item.emit) {
        out.push_back(std::move(item.w));
        if (hashes) hashes->push_back(node->hashes.empty() ? HexDigest{} : node->hashes[next - 1]);
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

bool is_valid_utf8(std::string_view s) { return valid_utf8(s); }

BeneathOpener::~BeneathOpener() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

int BeneathOpener::open(const std::string& rel) {
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  auto slash = rel.rfind('/');
  // The root's descriptor is the root itself: a top-level name is one component.
  if (slash == std::string::npos) return ::openat(root_fd_, rel.c_str(), kFlags);
  std::string_view parent(rel.data(), slash);
  if (dir_fd_ < 0 || parent != dir_rel_) {
    if (dir_fd_ >= 0) ::close(dir_fd_);
    dir_rel_.assign(parent);
    dir_fd_ = open_dir_beneath(root_fd_, dir_rel_);
    if (dir_fd_ < 0) return -1;
  }
  return ::openat(dir_fd_, rel.c_str() + slash + 1, kFlags);
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
