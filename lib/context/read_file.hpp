// Whole small files read into memory (a Dockerfile, an ignore file, a tar
// archive given as the context), with a size limit and errors that name the
// file by its role.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kiln::context {

// std::nullopt when `path` does not exist. Error(invalid_argument) when it
// is not a regular file, Error(too_large) beyond max_bytes (also for a file
// that grows while read), Error(io) for any other failure. `what` names the
// file in messages ("Dockerfile", "tar archive").
std::optional<std::string> read_file(const std::string& path, const std::string& what, std::uint64_t max_bytes);

}  // namespace kiln::context
