// Runs a program without a shell (credential plugins): argv as given, extra
// environment variables, stdin from /dev/null, stdout and stderr captured
// with a cap, a timeout and cancellation (the child is killed).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "kiln/cancel.hpp"

namespace kiln::kube {

struct ProcessResult {
  int exit_code = 0;  // exit status, or 128 + signal when killed by one
  std::string out;
  std::string err;
};

// Error(not_found) when the program cannot be started, Error(timeout),
// Error(cancelled), Error(too_large) when the output exceeds max_output.
ProcessResult run_process(const std::string& command, const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& extra_env, std::size_t max_output,
                          std::chrono::milliseconds timeout, const CancelToken& cancel);

}  // namespace kiln::kube
