// The `kiln` tool's command framework: each command group lives in its own
// file and registers its commands; main.cpp only parses the common options
// and dispatches. Public C++ API only (include/kiln/*.hpp).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kiln/cancel.hpp"
#include "kiln/registry.hpp"

namespace kiln_cli {

struct OptionSpec {
  std::string name;       // "--platform"
  std::string value;      // "OS/ARCH" or "" for a switch
  std::string help;
};

struct Context {
  std::vector<std::string> args;                              // positional arguments after the command
  std::map<std::string, std::vector<std::string>> options;    // command options, in order given
  kiln::RegistryOptions registry;                             // --ca-file, --insecure-registry
  bool verbose = false;
  kiln::CancelToken cancel;                                   // triggered by SIGINT/SIGTERM

  bool has(const std::string& name) const { return options.count(name) > 0; }
  const std::vector<std::string>& all(const std::string& name) const;
  // The registry options with the docker credentials, read on first use
  // only: commands that never talk to a registry do not pay for (or fail
  // on) the credential configuration.
  const kiln::RegistryOptions& registry_options();
};

struct Command {
  std::string name;
  std::string arguments;  // "SRC DST"
  std::string summary;
  std::size_t min_args = 0, max_args = 0;
  std::vector<OptionSpec> options;
  std::function<int(Context&)> run;  // returns the exit code; throws kiln::Error on failure
};

// Each command group file defines one of these; main.cpp calls them all.
void add_registry_commands(std::vector<Command>& commands);
void add_context_commands(std::vector<Command>& commands);

// "kiln: <message>" usage errors.
struct UsageError {
  std::string message;
};

}  // namespace kiln_cli
