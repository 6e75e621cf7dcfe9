// The directory walk `docker build` does over a context: depth first, names
// in byte order, excluded directories skipped unless an exception pattern
// names something below them, symlinks never followed. Directories are
// listed (and, on request, their files hashed) on all cores; the result and
// the first error are those of a serial walk.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "context/file_hash.hpp"
#include "context/ignore.hpp"
#include "kiln/build_context.hpp"

namespace kiln::context {

struct WalkedEntry {
  ContextEntry entry;
  // Synthesised content (an outside Dockerfile, the .dockerignore naming
  // it); null for files read from the root.
  std::shared_ptr<const std::string> inline_data;
  std::uint64_t ino = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
};

struct WalkRequest {
  std::string root;              // absolute, no trailing slash
  const PatternSet* patterns = nullptr;
  std::vector<std::string> forced;  // paths sent although the rules ignore them
  unsigned threads = 0;             // 0 = one per core
};

// Throws Error(io) naming the relative path for unreadable directories,
// names that are not UTF-8, paths too long for the system, files that vanish.
// With hashes, also reads every regular file while its directory is open
// (one path component to resolve per file, the walk and the reading spread
// over the cores) and fills *hashes in step with the entries.
std::vector<WalkedEntry> walk(const WalkRequest& request, const EventSink& events, const CancelToken& cancel,
                              std::vector<HexDigest>* hashes = nullptr);

// Opens root for openat(); throws Error(io).
int open_root(const std::string& root);
// Opens a regular file below root for reading without following any symlink
// (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it), so
// that a directory swapped for a symlink after the walk cannot lead outside.
int open_beneath(int root_fd, const std::string& rel);

// Opens regular files below root like open_beneath(), one after another,
// through a descriptor of their directory that is kept while consecutive
// files share it (stream order): one name to resolve per file instead of a
// whole path. Returns -1 with errno set.
class BeneathOpener {
 public:
  explicit BeneathOpener(int root_fd) : root_fd_(root_fd) {}
  ~BeneathOpener();
  BeneathOpener(const BeneathOpener&) = delete;
  BeneathOpener& operator=(const BeneathOpener&) = delete;
  int open(const std::string& rel);

 private:
  int root_fd_;
  int dir_fd_ = -1;
  std::string dir_rel_;
};

bool is_valid_utf8(std::string_view s);

// "x" with control characters shown as \xNN, for error messages.
std::string printable(std::string_view path);

}  // namespace kiln::context
