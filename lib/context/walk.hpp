// The directory walk `docker build` does over a context: depth first, names
// in byte order, excluded directories skipped unless an exception pattern
// names something below them, symlinks never followed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "context/ignore.hpp"
#include "kiln/build_context.hpp"

namespace kiln::context {

struct WalkedEntry {
  ContextEntry entry;
  std::string source;                               // absolute path to read; empty when inline
  std::shared_ptr<const std::string> inline_data;  // synthesised content (e.g. an outside Dockerfile)
  std::uint64_t ino = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
};

struct WalkRequest {
  std::string root;              // absolute, no trailing slash
  const PatternSet* patterns = nullptr;
  std::vector<std::string> forced;  // paths sent although the rules ignore them
};

// Throws Error(io) naming the relative path for unreadable directories,
// names that are not UTF-8, paths too long for the system, files that vanish.
std::vector<WalkedEntry> walk(const WalkRequest& request, const EventSink& events, const CancelToken& cancel);

// "x" with control characters shown as \xNN, for error messages.
std::string printable(std::string_view path);

}  // namespace kiln::context
