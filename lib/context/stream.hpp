// Writes a walked context as a tar stream, plain or gzip'd, into a sink.
#pragma once

#include <vector>

#include "context/walk.hpp"
#include "kiln/build_context.hpp"

namespace kiln::context {

// root: what the entries' paths are relative to; empty when every entry
// carries its bytes (inline_data).
void stream_tar(const std::string& root, const std::vector<WalkedEntry>& entries, ByteSink& sink,
                const TarOptions& options, const EventSink& events, const CancelToken& cancel);

}  // namespace kiln::context
