#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include "context/hashing.hpp"
#include "context/ignore.hpp"
#include "context/read_file.hpp"
#include "context/stream.hpp"
#include "context/walk.hpp"
#include "kiln/build_context.hpp"
#include "kiln/digest.hpp"
#include "kiln/error.hpp"

namespace kiln {

using context::printable;

namespace {

constexpr std::size_t kMaxSmallFile = 16 * 1024 * 1024;

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return context::go_clean(path);
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) throw Error(Errc::io, "cannot determine the current directory");
  return context::go_clean(std::string(cwd) + "/" + path);
}

std::string real(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return {};
  return buf;
}

bool inside(const std::string& path, const std::string& root) {
  return root == "/" ? path.size() > 1 && path[0] == '/' : path.compare(0, root.size() + 1, root + "/") == 0;
}

// A Dockerfile or ignore file; std::nullopt when missing.
std::optional<std::string> read_small(const std::string& path, const std::string& what) {
  return context::read_file(path, what, kMaxSmallFile);
}

}  // namespace

struct DirectoryContext::Impl {
  std::string root;
  std::string dockerfile;  // path in the stream
  std::string dockerfile_abs;
  bool outside = false;
  std::shared_ptr<const std::string> dockerfile_content;  // outside Dockerfiles only
  std::int64_t dockerfile_mtime = 0;
  std::uint32_t dockerfile_mode = 0644;
  std::optional<std::string> root_dockerignore;  // its text, when it exists
  std::vector<std::string> patterns;
  context::PatternSet set;
  std::vector<std::string> forced;
  ContextOptions options;
  std::optional<std::vector<context::WalkedEntry>> walked;
  std::vector<ContextEntry> public_entries;
  std::int64_t scan_start_sec = 0;

  // Walks the root; with hashes, reads the files during the walk (see walk()).
  void walk(const EventSink& events, const CancelToken& cancel, std::vector<context::HexDigest>* hashes);

  void resolve_dockerfile(const std::string& given, const std::string& root_real) {
    std::string name = given.empty() ? "Dockerfile" : given;
    std::string abs;
    if (name[0] == '/') {
      abs = context::go_clean(name);
      if (!inside(abs, root)) {
        outside = true;
        dockerfile_abs = abs;
        struct stat st {};
        if (::stat(abs.c_str(), &st) != 0) {
          throw Error(Errc::not_found, "Dockerfile '" + printable(abs) + "' does not exist");
        }
        auto text = read_small(abs, "Dockerfile");
        if (!text) throw Error(Errc::not_found, "Dockerfile '" + printable(abs) + "' does not exist");
        dockerfile_content = std::make_shared<const std::string>(std::move(*text));
        dockerfile_mtime = st.st_mtim.tv_sec;
        dockerfile_mode = st.st_mode & 07777;
        // Deterministic where `docker build` picks a random name.
        dockerfile = ".kiln-dockerfile." + Digest::of(*dockerfile_content).hex().substr(0, 12);
        return;
      }
      name = abs.substr(root == "/" ? 1 : root.size() + 1);
    }
    std::string rel = context::go_clean(name);
    if (rel == ".." || rel.compare(0, 3, "../") == 0 || rel == "." || rel[0] == '/') {
      throw Error(Errc::invalid_argument,
                  "Dockerfile path '" + printable(given) +
                      "' leaves the build context; give a path inside the context, or an absolute path to use a "
                      "Dockerfile that lives outside it");
    }
    abs = root + "/" + rel;
    struct stat st {};
    if (::lstat(abs.c_str(), &st) != 0) {
      throw Error(Errc::not_found,
                  "Dockerfile '" + printable(rel) + "' not found in the build context '" + printable(root) + "'");
    }
    std::string resolved = real(abs);
    if (resolved.empty() || !inside(resolved, root_real)) {
      throw Error(Errc::invalid_argument, "Dockerfile '" + printable(rel) +
                                              "' is a symlink that leaves the build context; the builder could not "
                                              "read it");
    }
    struct stat target {};
    if (::stat(resolved.c_str(), &target) != 0 || !S_ISREG(target.st_mode)) {
      throw Error(Errc::invalid_argument, "Dockerfile '" + printable(rel) + "' is not a regular file");
    }
    dockerfile = rel;
    dockerfile_abs = abs;
  }

  void read_ignore() {
    root_dockerignore = read_small(root + "/.dockerignore", ".dockerignore");
    // "<Dockerfile>.dockerignore" next to the Dockerfile wins (BuildKit's rule).
    std::optional<std::string> text = read_small(dockerfile_abs + ".dockerignore", "ignore file");
    std::string source = dockerfile_abs + ".dockerignore";
    if (!text) {
      text = root_dockerignore;
      source = root + "/.dockerignore";
    }
    if (text) {
      try {
        patterns = context::read_dockerignore(*text);
      } catch (const Error& e) {
        throw Error(e.code(), printable(source) + ": " + e.what());
      }
    }
    // What `docker build` does (TrimBuildFilesFromExcludes): the ignore file
    // and the Dockerfile are sent even when the patterns exclude them.
    std::vector<std::string> effective = patterns;
    context::PatternSet plain;
    try {
      plain = context::PatternSet(patterns);
    } catch (const Error& e) {
      throw Error(e.code(), printable(source) + ": " + e.what());
    }
    if (plain.matches_or_parent_matches(".dockerignore")) {
      effective.push_back("!.dockerignore");
      forced.push_back(".dockerignore");
    }
    if (!outside && plain.matches_or_parent_matches(dockerfile)) {
      effective.push_back("!" + dockerfile);
      forced.push_back(dockerfile);
    }
    try {
      set = context::PatternSet(effective);
    } catch (const Error& e) {
      // Only reachable when the Dockerfile's own name is not a valid pattern.
      throw Error(e.code(), "the Dockerfile name '" + printable(dockerfile) + "' cannot be excepted from " +
                                printable(source) + ": " + e.what());
    }
  }
};

DirectoryContext::DirectoryContext(std::string root, std::string dockerfile, ContextOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (root.empty()) throw Error(Errc::invalid_argument, "build context directory must not be empty");
  impl_->root = absolute(root);
  impl_->options = std::move(options);
  struct stat st {};
  if (::stat(impl_->root.c_str(), &st) != 0) {
    int e = errno;
    throw Error(e == ENOENT ? Errc::not_found : Errc::io,
                "build context directory '" + printable(root) + "' " + (e == ENOENT ? "does not exist" : std::strerror(e)));
  }
  if (!S_ISDIR(st.st_mode)) {
    throw Error(Errc::invalid_argument, "build context '" + printable(root) + "' is not a directory");
  }
  std::string root_real = real(impl_->root);
  if (root_real.empty()) throw Error(Errc::io, "cannot resolve the build context directory '" + printable(root) + "'");
  impl_->resolve_dockerfile(dockerfile, root_real);
  impl_->read_ignore();
}

DirectoryContext::~DirectoryContext() = default;

const std::string& DirectoryContext::dockerfile() const { return impl_->dockerfile; }
const std::vector<std::string>& DirectoryContext::ignore_patterns() const { return impl_->patterns; }

void DirectoryContext::rescan() {
  impl_->walked.reset();
  impl_->public_entries.clear();
}

const std::vector<ContextEntry>& DirectoryContext::entries(const EventSink& events, const CancelToken& cancel) {
  if (!impl_->walked) impl_->walk(events, cancel, nullptr);
  // Copied on demand: version() and write_tar() of a large tree never need
  // the public copy (100k strings).
  if (impl_->public_entries.size() != impl_->walked->size()) {
    impl_->public_entries.clear();
    impl_->public_entries.reserve(impl_->walked->size());
    for (const auto& w : *impl_->walked) impl_->public_entries.push_back(w.entry);
  }
  return impl_->public_entries;
}

void DirectoryContext::Impl::walk(const EventSink& events, const CancelToken& cancel,
                                  std::vector<context::HexDigest>* hashes) {
  scan_start_sec = static_cast<std::int64_t>(std::time(nullptr));
  context::WalkRequest request{root, &set, forced, options.threads};
  auto walked_now = context::walk(request, events, cancel, hashes);
  if (outside) {
    // As `docker build -f /elsewhere/Dockerfile`: the Dockerfile travels
    // under its own name and .dockerignore lists it, so that the daemon
    // drops it from what COPY sees.
    std::string extra = "\n" + dockerfile + "\n";
    bool found = false;
    for (auto& w : walked_now) {
      if (w.entry.path == ".dockerignore" && w.entry.type == EntryType::regular) {
        auto data = std::make_shared<const std::string>(root_dockerignore.value_or("") + extra);
        w.inline_data = data;
        w.entry.size = data->size();
        found = true;
      }
    }
    if (!found) {
      context::WalkedEntry w;
      w.inline_data = std::make_shared<const std::string>(".dockerignore" + extra);
      w.entry.path = ".dockerignore";
      w.entry.mode = 0644;
      w.entry.size = w.inline_data->size();
      w.entry.forced = true;
      walked_now.push_back(std::move(w));
    }
    context::WalkedEntry d;
    d.inline_data = dockerfile_content;
    d.entry.path = dockerfile;
    d.entry.mode = dockerfile_mode;
    d.entry.mtime = dockerfile_mtime;
    d.entry.size = d.inline_data->size();
    d.entry.forced = true;
    walked_now.push_back(std::move(d));
  }
  public_entries.clear();
  walked = std::move(walked_now);
}

ContentVersion DirectoryContext::version(const VersionInputs& inputs, const EventSink& events,
                                         const CancelToken& cancel) {
  std::vector<context::HexDigest> walked_hashes;
  bool read_in_walk = false;
  try {
    if (!impl_->walked) {
      // Nothing to reuse: read each file while the walk has its directory
      // open. With a stat cache on disk the walk only stats, so that
      // unchanged files are not read at all.
      const std::string& cache = impl_->options.stat_cache_path;
      struct stat st {};
      read_in_walk = cache.empty() || ::stat(cache.c_str(), &st) != 0 || st.st_size == 0;
      impl_->walk(events, cancel, read_in_walk ? &walked_hashes : nullptr);
    }
  } catch (const Error& e) {
    if (e.code() == Errc::io) rescan();
    throw;
  }
  context::HashRequest request{&*impl_->walked, impl_->root, impl_->options.stat_cache_path,
                               impl_->scan_start_sec, impl_->options.threads,
                               read_in_walk ? &walked_hashes : nullptr};
  std::size_t files_read = 0;
  std::vector<context::HexDigest> hashes;
  try {
    hashes = context::hash_contents(request, events, cancel, &files_read);
  } catch (const Error& e) {
    // The tree changed under the walk: the next call walks again, so that
    // "retry" in the message means retrying this same context.
    if (e.code() == Errc::io) rescan();
    throw;
  }
  ContentVersion v = context::make_version(*impl_->walked, hashes, impl_->dockerfile, inputs);
  v.files_hashed = files_read;
  return v;
}

void DirectoryContext::write_tar(ByteSink& sink, const TarOptions& options, const EventSink& events,
                                 const CancelToken& cancel) {
  entries(events, cancel);
  try {
    context::stream_tar(impl_->root, *impl_->walked, sink, options, events, cancel);
  } catch (const Error& e) {
    if (e.code() == Errc::io) rescan();
    throw;
  }
}

}  // namespace kiln
