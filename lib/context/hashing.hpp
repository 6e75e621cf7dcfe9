// Content hashes of a walked context (both cores, OpenSSL's sha256, the stat
// cache) and the content version built from them.
#pragma once

#include <string>
#include <vector>

#include "context/walk.hpp"
#include "kiln/build_context.hpp"

namespace kiln::context {

struct HashRequest {
  const std::vector<WalkedEntry>* entries = nullptr;
  std::string root;             // what entries are relative to
  std::string stat_cache_path;  // empty: no cache
  std::int64_t scan_start_sec = 0;
  unsigned threads = 0;
  // Hashes the walk already computed (walk(..., hashes)), in step with
  // entries; those files are not read again. Null: none.
  const std::vector<HexDigest>* walked_hashes = nullptr;
};

// Returns one lower-case hex sha256 per entry (none for non-regular entries)
// and how many files were read. Throws Error(io) naming unreadable or
// changing files.
std::vector<HexDigest> hash_contents(const HashRequest& request, const EventSink& events, const CancelToken& cancel,
                                       std::size_t* files_read);

// The version document hashed into the content version (docs/build-context.md).
ContentVersion make_version(const std::vector<WalkedEntry>& entries, const std::vector<HexDigest>& hashes,
                            const std::string& dockerfile, const VersionInputs& inputs);

}  // namespace kiln::context
