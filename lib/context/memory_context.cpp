// MemoryContext: files given as path -> content, walked the way a directory
// is (names in byte order, Docker's ignore rules), so that the same tree in
// memory, in a tarball or on disk has the same entries and version.
#include <algorithm>
#include <map>
#include <optional>

#include "context/events_util.hpp"
#include "context/file_hash.hpp"
#include "context/hashing.hpp"
#include "context/ignore.hpp"
#include "context/stream.hpp"
#include "context/walk.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

namespace kiln {

using context::printable;

namespace {

struct Node {
  EntryType type = EntryType::directory;
  std::uint32_t mode = 0755;
  std::int64_t mtime = 0;
  bool implied = true;                         // a parent nobody gave explicitly
  std::shared_ptr<const std::string> data;     // content, or the link target
  std::map<std::string, Node> children;        // byte order, as the directory walk sorts
};

std::string clean_relative(const std::string& path, const char* what) {
  std::string p = context::go_clean(path);
  if (path.empty() || p == "." || p[0] == '/' || p == ".." || p.compare(0, 3, "../") == 0) {
    throw Error(Errc::invalid_argument, std::string(what) + " '" + printable(path) +
                                            "' is not a relative path inside the context");
  }
  if (!context::is_valid_utf8(p)) {
    throw Error(Errc::invalid_argument, std::string(what) + " '" + printable(path) + "' is not valid UTF-8");
  }
  return p;
}

}  // namespace

struct MemoryContext::Impl {
  Node root;
  std::string dockerfile;
  std::vector<std::string> patterns;
  context::PatternSet set;
  std::vector<std::string> forced;
  std::optional<std::vector<context::WalkedEntry>> walked;
  std::vector<ContextEntry> public_entries;

  void add(const std::string& given, MemoryFile file) {
    std::string path = clean_relative(given, "path");
    Node* node = &root;
    std::size_t start = 0;
    for (;;) {
      auto slash = path.find('/', start);
      std::string name = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      Node& child = node->children[name];
      if (slash == std::string::npos) {
        if (!child.children.empty() && file.type != EntryType::directory) {
          throw Error(Errc::invalid_argument, "'" + printable(path) + "' is given as a file and as a directory");
        }
        child.type = file.type;
        child.mode = file.mode & 07777;
        child.mtime = file.mtime;
        child.implied = false;
        if (file.type == EntryType::symlink && file.content.empty()) {
          throw Error(Errc::invalid_argument, "symlink '" + printable(path) + "' has an empty target");
        }
        if (file.type != EntryType::directory) {
          if (!context::is_valid_utf8(file.content) && file.type == EntryType::symlink) {
            throw Error(Errc::invalid_argument,
                        "symlink '" + printable(path) + "' points to a name that is not valid UTF-8");
          }
          child.data = std::make_shared<const std::string>(std::move(file.content));
        }
        return;
      }
      if (child.type != EntryType::directory) {
        throw Error(Errc::invalid_argument, "'" + printable(path) + "' lies below '" +
                                                printable(path.substr(0, slash)) + "', which is not a directory");
      }
      node = &child;
      start = slash + 1;
    }
  }

  const Node* find(const std::string& path) const {
    const Node* node = &root;
    std::size_t start = 0;
    for (;;) {
      auto slash = path.find('/', start);
      auto it = node->children.find(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (it == node->children.end()) return nullptr;
      if (slash == std::string::npos) return &it->second;
      node = &it->second;
      start = slash + 1;
    }
  }

  std::optional<std::string> text_of(const std::string& path) const {
    const Node* n = find(path);
    if (!n || n->type != EntryType::regular) return std::nullopt;
    return *n->data;
  }

  void resolve(const std::string& given) {
    if (!given.empty() && given[0] == '/') {
      throw Error(Errc::invalid_argument, "Dockerfile path '" + printable(given) +
                                              "' must be relative to an in-memory or tarball context");
    }
    std::string rel = context::go_clean(given.empty() ? "Dockerfile" : given);
    if (rel == ".." || rel.compare(0, 3, "../") == 0 || rel == ".") {
      throw Error(Errc::invalid_argument, "Dockerfile path '" + printable(given) + "' leaves the build context");
    }
    const Node* n = find(rel);
    if (!n) throw Error(Errc::not_found, "Dockerfile '" + printable(rel) + "' not found in the build context");
    if (n->type != EntryType::regular) {
      throw Error(Errc::invalid_argument, "Dockerfile '" + printable(rel) + "' is not a regular file");
    }
    dockerfile = rel;
    // The same precedence and forced files as DirectoryContext::read_ignore.
    std::optional<std::string> text = text_of(rel + ".dockerignore");
    std::string source = rel + ".dockerignore";
    if (!text) {
      text = text_of(".dockerignore");
      source = ".dockerignore";
    }
    try {
      if (text) patterns = context::read_dockerignore(*text);
      std::vector<std::string> effective = patterns;
      context::PatternSet plain(patterns);
      if (plain.matches_or_parent_matches(".dockerignore")) {
        effective.push_back("!.dockerignore");
        forced.push_back(".dockerignore");
      }
      if (plain.matches_or_parent_matches(dockerfile)) {
        effective.push_back("!" + dockerfile);
        forced.push_back(dockerfile);
      }
      set = context::PatternSet(effective);
    } catch (const Error& e) {
      throw Error(e.code(), printable(source) + ": " + e.what());
    }
  }

  // The directory walk's rules over the tree (see Walker::process).
  std::vector<context::WalkedEntry> walk(const CancelToken& cancel) const {
    struct Frame {
      const Node* node;
      std::map<std::string, Node>::const_iterator next;
      std::string rel;
      std::vector<std::uint8_t> info;
      bool top;
    };
    std::vector<context::WalkedEntry> out;
    std::vector<Frame> stack;
    stack.push_back(Frame{&root, root.children.begin(), "", {}, true});
    std::vector<std::uint8_t> info;
    std::size_t visited = 0;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.node->children.end()) {
        stack.pop_back();
        continue;
      }
      const auto& [name, node] = *f.next++;
      if ((++visited & 1023) == 0) context::check_cancel(cancel);
      std::string rel = f.rel.empty() ? name : f.rel + "/" + name;
      bool skip = set.size() ? set.match_with_parent(rel, f.top ? nullptr : &f.info, info) : false;
      if (!set.size()) info.clear();
      bool is_dir = node.type == EntryType::directory;
      if (skip) {
        if (is_dir && set.exclusions() && set.exception_below(rel)) {
          stack.push_back(Frame{&node, node.children.begin(), std::move(rel), info, false});
        }
        continue;
      }
      context::WalkedEntry w;
      w.entry.path = rel;
      w.entry.type = node.type;
      w.entry.mode = node.mode;
      w.entry.mtime = node.mtime;
      w.entry.forced = std::find(forced.begin(), forced.end(), rel) != forced.end();
      if (node.type == EntryType::regular) {
        w.entry.size = node.data->size();
        w.inline_data = node.data;
      } else if (node.type == EntryType::symlink) {
        w.entry.link_target = *node.data;
      }
      out.push_back(std::move(w));
      if (is_dir) stack.push_back(Frame{&node, node.children.begin(), std::move(rel), info, false});
    }
    return out;
  }

  const std::vector<context::WalkedEntry>& walked_entries(const CancelToken& cancel) {
    if (!walked) walked = walk(cancel);
    return *walked;
  }
};

MemoryContext::MemoryContext(std::map<std::string, MemoryFile> files, std::string dockerfile)
    : impl_(std::make_unique<Impl>()) {
  for (auto& [path, file] : files) impl_->add(path, std::move(file));
  impl_->resolve(dockerfile);
}

MemoryContext::~MemoryContext() = default;

const std::string& MemoryContext::dockerfile() const { return impl_->dockerfile; }
const std::vector<std::string>& MemoryContext::ignore_patterns() const { return impl_->patterns; }

const std::vector<ContextEntry>& MemoryContext::entries(const EventSink&, const CancelToken& cancel) {
  const auto& walked = impl_->walked_entries(cancel);
  if (impl_->public_entries.size() != walked.size()) {
    impl_->public_entries.clear();
    for (const auto& w : walked) impl_->public_entries.push_back(w.entry);
  }
  return impl_->public_entries;
}

ContentVersion MemoryContext::version(const VersionInputs& inputs, const EventSink&, const CancelToken& cancel) {
  const auto& walked = impl_->walked_entries(cancel);
  context::FileHasher hasher;
  std::vector<context::HexDigest> hashes(walked.size());
  std::size_t files = 0;
  for (std::size_t i = 0; i < walked.size(); ++i) {
    if (walked[i].entry.type != EntryType::regular) continue;
    hashes[i] = hasher.of_bytes(*walked[i].inline_data);
    ++files;
  }
  ContentVersion v = context::make_version(walked, hashes, impl_->dockerfile, inputs);
  v.files_hashed = files;
  return v;
}

void MemoryContext::write_tar(ByteSink& sink, const TarOptions& options, const EventSink& events,
                              const CancelToken& cancel) {
  // Every entry carries its bytes: no directory to read from.
  context::stream_tar({}, impl_->walked_entries(cancel), sink, options, events, cancel);
}

}  // namespace kiln
