// kiln: the command-line face of the library. Common options are parsed
// here; commands come from the group files (registry_commands.cpp, ...).
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "cli.hpp"
#include "kiln/auth.hpp"
#include "kiln/error.hpp"

namespace kiln_cli {

const std::vector<std::string>& Context::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = options.find(name);
  return it == options.end() ? none : it->second;
}

const kiln::RegistryOptions& Context::registry_options() {
  if (!registry.credentials) registry.credentials = kiln::docker_config_credentials();
  return registry;
}

namespace {

const std::vector<OptionSpec> kCommonOptions = {
    {"--ca-file", "FILE", "trust the CA certificates in FILE (PEM) for registry TLS"},
    {"--insecure-registry", "HOST", "allow plain HTTP or unverified TLS for HOST[:PORT] (repeatable)"},
    {"--verbose", "", "print progress to stderr (also -v)"},
    {"--help", "", "show help (also -h)"},
};

kiln::CancelToken* g_cancel = nullptr;

extern "C" void on_signal(int) {
  if (g_cancel) g_cancel->cancel();  // an atomic store: safe in a signal handler
}

void print_options(std::ostream& out, const std::vector<OptionSpec>& options) {
  for (const auto& o : options) {
    std::string left = "  " + o.name + (o.value.empty() ? "" : " " + o.value);
    out << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << o.help << "\n";
  }
}

void print_help(std::ostream& out, const std::vector<Command>& commands) {
  out << "usage: kiln [options] COMMAND [ARGS]\n\n"
         "An image is a registry reference (host[:port]/repo[:tag|@digest]) or\n"
         "oci:DIR[:TAG] (an OCI image layout directory).\n"
         "Credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json.\n\ncommands:\n";
  for (const auto& c : commands) {
    std::string left = "  " + c.name + " " + c.arguments;
    out << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << c.summary << "\n";
  }
  out << "\noptions:\n";
  print_options(out, kCommonOptions);
  out << "\n'kiln COMMAND --help' shows a command's own options.\n";
}

void print_command_help(std::ostream& out, const Command& c) {
  out << "usage: kiln " << c.name << " [options] " << c.arguments << "\n\n" << c.summary << "\n\noptions:\n";
  print_options(out, c.options);
  print_options(out, kCommonOptions);
}

const OptionSpec* find_option(const std::vector<OptionSpec>& options, const std::string& name) {
  for (const auto& o : options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

int run(int argc, char** argv) {
  std::vector<Command> commands;
  add_registry_commands(commands);
  add_context_commands(commands);

  Context context;
  const Command* command = nullptr;
  bool help = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_inline_value = true;
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
    } else if (arg == "-v" || arg == "--verbose") {
      context.verbose = true;
    } else if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      const OptionSpec* spec = find_option(kCommonOptions, arg);
      if (!spec && command) spec = find_option(command->options, arg);
      if (!spec) throw UsageError{"unknown option " + arg + (command ? " for 'kiln " + command->name + "'" : "")};
      if (!spec->value.empty() && !has_inline_value) {
        if (i + 1 >= argc) throw UsageError{arg + " needs a value (" + spec->value + ")"};
        value = argv[++i];
      }
      if (arg == "--ca-file") context.registry.transport.ca_file = value;
      else if (arg == "--insecure-registry") context.registry.transport.insecure_registries.push_back(value);
      else context.options[arg].push_back(value);
    } else if (!command) {
      for (const auto& c : commands) {
        if (c.name == arg) command = &c;
      }
      if (!command) throw UsageError{"unknown command '" + arg + "' (see kiln --help)"};
    } else {
      positional.push_back(arg);
    }
  }
  if (!command) {
    print_help(help ? std::cout : std::cerr, commands);
    return help ? 0 : 1;
  }
  if (help) {
    print_command_help(std::cout, *command);
    return 0;
  }
  if (positional.size() < command->min_args || positional.size() > command->max_args) {
    throw UsageError{"usage: kiln " + command->name + " " + command->arguments};
  }
  context.args = std::move(positional);

  g_cancel = &context.cancel;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return command->run(context);
}

}  // namespace
}  // namespace kiln_cli

int main(int argc, char** argv) {
  try {
    return kiln_cli::run(argc, argv);
  } catch (const kiln_cli::UsageError& e) {
    std::cerr << "kiln: " << e.message << "\n";
  } catch (const kiln::Error& e) {
    std::string message = e.what();
    for (auto& c : message) {
      if (c == '\n') c = ' ';  // one line, always
    }
    std::cerr << "kiln: " << message << "\n";
  } catch (const std::exception& e) {
    std::cerr << "kiln: internal error: " << e.what() << "\n";
  }
  return 1;
}
