// Runs a helper program without a shell: docker credential helpers and
// Kubernetes exec credential plugins. argv as given, extra environment
// variables, optional stdin bytes, stdout and stderr captured with a cap, a
// timeout and cancellation (the child is killed and reaped, never left behind).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "kiln/cancel.hpp"

namespace kiln::core {

struct ProcessOptions {
  // Added to (or replacing the same names in) the host's environment.
  std::vector<std::pair<std::string, std::string>> extra_env;
  // Written to the child's stdin, which is then closed; empty: /dev/null.
  std::string stdin_data;
  // Per stream; more output is Error(too_large) and the child is killed.
  std::size_t max_output = 1 << 20;
  // 0: no limit besides `cancel`.
  std::chrono::milliseconds timeout{30000};
  CancelToken cancel;
};

struct ProcessResult {
  int exit_code = 0;  // exit status, or 128 + signal when killed by one
  std::string out;
  std::string err;
};

// `command` without a '/' is looked up in PATH. Error(not_found) when the
// program cannot be started, Error(timeout), Error(cancelled),
// Error(too_large); a non-zero exit status is a result, not an error.
ProcessResult run_process(const std::string& command, const std::vector<std::string>& args,
                          const ProcessOptions& options);

}  // namespace kiln::core
