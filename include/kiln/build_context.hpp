// Build contexts: the files a builder receives, their content version and the
// tar stream that carries them. See docs/build-context.md for the exact
// .dockerignore semantics, the version algorithm and the tar format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/cancel.hpp"
#include "kiln/digest.hpp"
#include "kiln/events.hpp"

namespace kiln {

enum class EntryType { regular, directory, symlink };

// One entry of the stream, in stream order (depth first, names in byte order,
// the way `docker build` walks a context).
struct ContextEntry {
  std::string path;         // relative, '/'-separated, never "." or "./x"
  EntryType type = EntryType::regular;
  std::uint32_t mode = 0;   // permission bits (07777)
  std::uint64_t size = 0;   // regular files only
  std::int64_t mtime = 0;   // seconds since the epoch
  std::string link_target;  // symlinks only, sent verbatim
  // Ignored by the rules but sent anyway because the builder needs it
  // (the Dockerfile and the ignore file, as `docker build` does).
  bool forced = false;
};

// Where tar bytes go. write() is called from the thread that called
// write_tar(); it throws to abort the stream.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, std::size_t size) = 0;
};

// Writes to a file descriptor the caller owns (a file, a pipe, a socket);
// retries short writes and EINTR, throws Error(io) otherwise.
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  void write(const void* data, std::size_t size) override;

 private:
  int fd_;
};

// Appends to a string (tests, small contexts).
class MemorySink final : public ByteSink {
 public:
  void write(const void* data, std::size_t size) override { data_.append(static_cast<const char*>(data), size); }
  const std::string& data() const noexcept { return data_; }
  std::string take() { return std::move(data_); }

 private:
  std::string data_;
};

// Hands each chunk to a function, e.g. an HTTP upload body; returning false
// cancels the stream (Error(cancelled)).
class CallbackSink final : public ByteSink {
 public:
  explicit CallbackSink(std::function<bool(const void*, std::size_t)> fn) : fn_(std::move(fn)) {}
  void write(const void* data, std::size_t size) override;

 private:
  std::function<bool(const void*, std::size_t)> fn_;
};

// The build request's inputs that change the image, hashed into the version.
struct VersionInputs {
  std::map<std::string, std::string> build_args;
  std::string target;
  std::string platform;
};

struct ContentVersion {
  std::string version;  // "v-" + the first 10 hex characters of digest
  Digest digest;        // the full sha256 (see docs/build-context.md)
  std::size_t files_hashed = 0;  // contents read (the rest came from the stat cache)
};

struct TarOptions {
  bool gzip = false;
  int gzip_level = 1;         // 1 (fast, default) .. 9 (small); 0 stores
  bool zero_mtimes = false;   // mtime 0 for every entry: byte-identical streams
  unsigned threads = 0;       // compression threads; 0 = one per core
};

struct ContextOptions {
  // A file the host tool chooses (e.g. under its cache directory); empty
  // disables the stat cache. Written atomically; a corrupt file is ignored.
  std::string stat_cache_path;
  unsigned threads = 0;  // threads that walk, stat and hash; 0 = one per core
};

// A source of build input. An instance caches its walk and is not safe to
// use from several threads at once (the C API serialises calls per handle).
class BuildContext {
 public:
  virtual ~BuildContext() = default;

  // The entries the builder receives, in stream order. Walks the source on
  // first use; throws Error naming the bad path.
  virtual const std::vector<ContextEntry>& entries(const EventSink& events = {}, const CancelToken& cancel = {}) = 0;
  // The Dockerfile's path inside the stream (what the builder is told).
  virtual const std::string& dockerfile() const = 0;
  virtual ContentVersion version(const VersionInputs& inputs = {}, const EventSink& events = {},
                                 const CancelToken& cancel = {}) = 0;
  // Streams the tar (optionally gzip'd) into sink. Emits "context.progress"
  // events {files, bytes, total_files, total_bytes} and "context.done".
  virtual void write_tar(ByteSink& sink, const TarOptions& options = {}, const EventSink& events = {},
                         const CancelToken& cancel = {}) = 0;
};

// A directory plus its .dockerignore. The Dockerfile is a path relative to
// root (it must stay inside root, symlinks included) or an absolute path,
// which may lie outside root: it is then added to the stream as
// ".kiln-dockerfile.<12 hex of its sha256>", like `docker build -f` does.
// The ignore file is "<Dockerfile>.dockerignore" next to the Dockerfile when
// that exists, else root/.dockerignore.
class DirectoryContext final : public BuildContext {
 public:
  // Throws Error(not_found) for a missing root or Dockerfile and
  // Error(invalid_argument) for an escaping Dockerfile or a bad pattern.
  explicit DirectoryContext(std::string root, std::string dockerfile = "Dockerfile", ContextOptions options = {});
  ~DirectoryContext() override;
  DirectoryContext(const DirectoryContext&) = delete;
  DirectoryContext& operator=(const DirectoryContext&) = delete;

  const std::vector<ContextEntry>& entries(const EventSink& events = {}, const CancelToken& cancel = {}) override;
  const std::string& dockerfile() const override;
  ContentVersion version(const VersionInputs& inputs = {}, const EventSink& events = {},
                         const CancelToken& cancel = {}) override;
  void write_tar(ByteSink& sink, const TarOptions& options = {}, const EventSink& events = {},
                 const CancelToken& cancel = {}) override;

  // The patterns in effect, after Docker's normalisation, in file order.
  const std::vector<std::string>& ignore_patterns() const;
  // Forgets the last walk, so that the next call sees the tree as it is now.
  // version() and write_tar() do this themselves after an Error(io).
  void rescan();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One file of a MemoryContext.
struct MemoryFile {
  std::string content;            // regular files: the bytes; symlinks: the target
  EntryType type = EntryType::regular;  // regular, symlink, or directory (sends an empty one)
  std::uint32_t mode = 0644;      // permission bits (07777)
  std::int64_t mtime = 0;         // seconds since the epoch, as sent in the tar
};

// A context given as files in memory (tests, bindings, generated builds):
// relative '/'-separated paths to files. Parent directories are implied
// (mode 0755, mtime 0). The .dockerignore and the Dockerfile are taken from
// the files with DirectoryContext's rules, so the same files on disk give
// the same entries and the same version.
class MemoryContext final : public BuildContext {
 public:
  // Throws Error(invalid_argument) naming a path that is absolute, leaves
  // the context ("..") or is not UTF-8, and for a bad .dockerignore;
  // Error(not_found) when the Dockerfile is not among the files.
  explicit MemoryContext(std::map<std::string, MemoryFile> files, std::string dockerfile = "Dockerfile");
  ~MemoryContext() override;
  MemoryContext(const MemoryContext&) = delete;
  MemoryContext& operator=(const MemoryContext&) = delete;

  const std::vector<ContextEntry>& entries(const EventSink& events = {}, const CancelToken& cancel = {}) override;
  const std::string& dockerfile() const override;
  ContentVersion version(const VersionInputs& inputs = {}, const EventSink& events = {},
                         const CancelToken& cancel = {}) override;
  void write_tar(ByteSink& sink, const TarOptions& options = {}, const EventSink& events = {},
                 const CancelToken& cancel = {}) override;

  // The patterns in effect, after Docker's normalisation, in file order.
  const std::vector<std::string>& ignore_patterns() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// An existing tar archive (plain or gzip'd) as the context, e.g. one made
// by `tar -cf - -C DIR .`: its .dockerignore applies and the version is the
// one DirectoryContext gives the same tree. The archive is read into memory
// when constructed (limit: max_bytes uncompressed). Hard links become
// regular files (as a directory context sends them); devices and FIFOs are
// skipped with a warning event.
class TarballContext final : public BuildContext {
 public:
  static constexpr std::uint64_t kDefaultMaxBytes = 4ull << 30;
  // Throws Error(not_found) for a missing archive, Error(invalid_argument)
  // naming the member for a malformed one or a member path leaving the
  // context, Error(too_large) beyond max_bytes.
  explicit TarballContext(const std::string& archive_path, std::string dockerfile = "Dockerfile",
                          std::uint64_t max_bytes = kDefaultMaxBytes);
  // The same from archive bytes already in memory.
  static TarballContext from_bytes(std::string archive, std::string dockerfile = "Dockerfile",
                                   std::uint64_t max_bytes = kDefaultMaxBytes);
  ~TarballContext() override;
  TarballContext(TarballContext&&) noexcept;
  TarballContext& operator=(TarballContext&&) noexcept;

  const std::vector<ContextEntry>& entries(const EventSink& events = {}, const CancelToken& cancel = {}) override;
  const std::string& dockerfile() const override;
  ContentVersion version(const VersionInputs& inputs = {}, const EventSink& events = {},
                         const CancelToken& cancel = {}) override;
  void write_tar(ByteSink& sink, const TarOptions& options = {}, const EventSink& events = {},
                 const CancelToken& cancel = {}) override;

  // The patterns in effect, after Docker's normalisation, in file order.
  const std::vector<std::string>& ignore_patterns() const;

 private:
  TarballContext() = default;
  std::unique_ptr<MemoryContext> memory_;
  std::vector<std::string> skipped_;  // special members, reported as warnings
};

// The .dockerignore matcher on its own (used by DirectoryContext; public for
// tools and tests).
class IgnoreMatcher {
 public:
  // Parses a .dockerignore file's text exactly as Docker reads it. Throws
  // Error(invalid_argument) naming the line for a malformed pattern.
  static IgnoreMatcher parse(std::string_view dockerignore_text);
  explicit IgnoreMatcher(const std::vector<std::string>& patterns);  // already normalised
  IgnoreMatcher(IgnoreMatcher&&) noexcept;
  IgnoreMatcher& operator=(IgnoreMatcher&&) noexcept;
  ~IgnoreMatcher();

  const std::vector<std::string>& patterns() const;
  // Whether the relative path (or one of its parent directories) is
  // excluded, without walking: Docker's MatchesOrParentMatches.
  bool excluded(std::string_view path) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
