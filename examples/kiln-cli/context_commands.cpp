// `kiln version` and `kiln context`: the content version, the file list and
// the tar stream of a build context.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli.hpp"
#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

namespace kiln_cli {
namespace {

// Paths with control characters, quotes or backslashes are printed quoted
// with C escapes (as `git ls-files` does), so that one line is one path.
std::string quote_path(const std::string& path) {
  bool plain = std::none_of(path.begin(), path.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F || c == '"' || c == '\\';
  });
  if (plain) return path;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '"' || c == '\\') out += std::string("\\") + c;
    else if (u < 0x20 || u == 0x7F) out += std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
    else out += c;
  }
  return out + "\"";
}

kiln::EventSink printer(const Context& c) {
  if (!c.verbose) {
    return [](const kiln::Event& e) {
      if (e.type == "warning") std::cerr << "kiln: warning: " << e.json << "\n";
      return true;
    };
  }
  return [](const kiln::Event& e) {
    std::cerr << "kiln: " << e.type << " " << e.json << "\n";
    return true;
  };
}

std::string dockerfile_of(const Context& c) { return c.has("--file") ? c.all("--file").back() : "Dockerfile"; }

int version(Context& c) {
  kiln::ContextOptions options;
  if (c.has("--stat-cache")) options.stat_cache_path = c.all("--stat-cache").back();
  kiln::DirectoryContext context(c.args[0], dockerfile_of(c), options);
  auto events = printer(c);
  if (c.has("--files")) {
    std::vector<std::string> paths;
    for (const auto& e : context.entries(events, c.cancel)) paths.push_back(e.path);
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) std::cout << quote_path(p) << "\n";
    return 0;
  }
  kiln::VersionInputs inputs;
  for (const auto& arg : c.all("--build-arg")) {
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError{"--build-arg takes NAME=VALUE, got '" + arg + "'"};
    inputs.build_args[arg.substr(0, eq)] = arg.substr(eq + 1);
  }
  if (c.has("--target")) inputs.target = c.all("--target").back();
  if (c.has("--platform")) inputs.platform = c.all("--platform").back();
  std::cout << context.version(inputs, events, c.cancel).version << "\n";
  return 0;
}

int archive(Context& c) {
  if (!c.has("-o") && !c.has("--output")) throw UsageError{"'kiln context' needs -o FILE (or -o - for stdout)"};
  std::string out = c.has("-o") ? c.all("-o").back() : c.all("--output").back();
  kiln::TarOptions options;
  options.gzip = c.has("--gzip") || c.has("--gzip-level");
  options.zero_mtimes = c.has("--zero-mtimes");
  if (c.has("--gzip-level")) {
    const std::string& text = c.all("--gzip-level").back();
    if (text.size() != 1 || text[0] < '0' || text[0] > '9') throw UsageError{"--gzip-level must be 0 to 9"};
    options.gzip_level = text[0] - '0';
  }
  kiln::DirectoryContext context(c.args[0], dockerfile_of(c));
  if (out == "-") {
    if (::isatty(1)) throw UsageError{"refusing to write a tar stream to a terminal; redirect it or use -o FILE"};
    kiln::FdSink sink(1);
    context.write_tar(sink, options, printer(c), c.cancel);
    return 0;
  }
  struct stat st {};
  if (::stat(out.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or FIFO (e.g. /dev/null): write straight into it.
    int fd = ::open(out.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      throw kiln::Error(kiln::Errc::io, "cannot open '" + out + "': " + std::strerror(e));
    }
    kiln::FdSink sink(fd);
    try {
      context.write_tar(sink, options, printer(c), c.cancel);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return 0;
  }
  std::string tmp = out + ".kiln-partial";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    throw kiln::Error(kiln::Errc::io, "cannot create '" + tmp + "': " + std::strerror(e));
  }
  try {
    kiln::FdSink sink(fd);
    context.write_tar(sink, options, printer(c), c.cancel);
    if (::close(fd) != 0) {
      fd = -1;
      throw kiln::Error(kiln::Errc::io, "cannot write '" + tmp + "': " + std::strerror(errno));
    }
    fd = -1;
    if (::rename(tmp.c_str(), out.c_str()) != 0) {
      throw kiln::Error(kiln::Errc::io, "cannot rename '" + tmp + "' to '" + out + "': " + std::strerror(errno));
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());  // never leave a truncated archive behind
    throw;
  }
  return 0;
}

}  // namespace

void add_context_commands(std::vector<Command>& commands) {
  commands.push_back({"version", "CONTEXT", "print the content version of a build context (or its files)", 1, 1,
                      {{"--file", "DOCKERFILE", "the Dockerfile (relative to CONTEXT, or absolute)"},
                       {"--files", "", "print the paths that would be sent, sorted, one per line"},
                       {"--build-arg", "NAME=VALUE", "a build argument that changes the image (repeatable)"},
                       {"--target", "STAGE", "the target stage"},
                       {"--platform", "OS/ARCH", "the target platform"},
                       {"--stat-cache", "FILE", "reuse content hashes of unchanged files from FILE"}},
                      version});
  commands.push_back({"context", "CONTEXT", "write the tar stream a builder receives", 1, 1,
                      {{"--file", "DOCKERFILE", "the Dockerfile (relative to CONTEXT, or absolute)"},
                       {"-o", "FILE", "write to FILE, or - for stdout (also --output)"},
                       {"--output", "FILE", "write to FILE, or - for stdout"},
                       {"--gzip", "", "compress with gzip (level 1)"},
                       {"--gzip-level", "N", "compress with gzip at level N (0-9)"},
                       {"--zero-mtimes", "", "set every mtime to 0 (byte-identical streams)"}},
                      archive});
}

}  // namespace kiln_cli
