// Helpers of the registry integration tests: service variables (missing ones
// fail under CI=true) and running the independent checkers, skopeo and umoci.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <sys/wait.h>

namespace kiln_test {

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// The variable's value; when unset, the test fails under CI=true and is
// reported and skipped otherwise (the caller returns on nullopt).
inline std::optional<std::string> service(const char* name) {
  const char* value = std::getenv(name);
  if (value && *value) return std::string(value);
  if (under_ci()) FAIL("CI=true but " << std::string(name) << " is not set: run eval \"$(tests/services/up)\" first");
  MESSAGE("skipped: " << std::string(name) << " is not set (eval \"$(tests/services/up)\")");
  return std::nullopt;
}

struct RunResult {
  int status = -1;
  std::string output;  // stdout + stderr
};

inline std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

inline RunResult run(const std::string& command) {
  RunResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs and requires success, returning stdout+stderr.
inline std::string must_run(const std::string& command) {
  RunResult r = run(command);
  INFO("command: " << command);
  INFO("output: " << r.output);
  REQUIRE(r.status == 0);
  return r.output;
}

}  // namespace kiln_test
