// C API of build contexts (kiln.h, "build context" section).
#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "guard.hpp"
#include "options.hpp"
#include "kiln/build_context.hpp"

struct kiln_context {
  std::mutex mutex;  // every kind caches its walk: one call at a time
  std::unique_ptr<kiln::BuildContext> context;
  kiln::DirectoryContext* directory = nullptr;  // the same object when it is one (rescan, ignore patterns)
};

// The in-memory builder: plain data until kiln_context_open_files copies it.
struct kiln_files {
  std::map<std::string, kiln::MemoryFile> files;
};

namespace {

namespace json = boost::json;
using kiln::capi::bad_field;
using kiln::capi::unknown_field;

kiln::TarOptions tar_options(const char* text) {
  const char* what = "tar_options_json";
  kiln::TarOptions o;
  for (const auto& [key, value] : kiln::capi::parse_options(text, what)) {
    std::string k(key);
    if (k == "gzip") {
      o.gzip = kiln::capi::bool_field(value, what, k);
    } else if (k == "gzipLevel") {
      o.gzip_level = static_cast<int>(kiln::capi::int_field(value, what, k, 0, 9));
    } else if (k == "zeroMtimes") {
      o.zero_mtimes = kiln::capi::bool_field(value, what, k);
    } else if (k == "threads") {
      o.threads = static_cast<unsigned>(kiln::capi::int_field(value, what, k, 0, 256));
    } else {
      unknown_field(what, k, "gzip, gzipLevel, zeroMtimes, threads");
    }
  }
  return o;
}

kiln::VersionInputs version_inputs(const char* text) {
  const char* what = "inputs_json";
  kiln::VersionInputs in;
  for (const auto& [key, value] : kiln::capi::parse_options(text, what)) {
    std::string k(key);
    if (k == "buildArgs") {
      if (!value.is_object()) bad_field(what, k, "an object of strings");
      for (const auto& [name, arg] : value.as_object()) {
        in.build_args[std::string(name)] = kiln::capi::string_field(arg, what, "buildArgs." + std::string(name));
      }
    } else if (k == "target") {
      in.target = kiln::capi::string_field(value, what, k);
    } else if (k == "platform") {
      in.platform = kiln::capi::string_field(value, what, k);
    } else {
      unknown_field(what, k, "buildArgs, target, platform");
    }
  }
  return in;
}

const char* type_name(kiln::EntryType t) {
  switch (t) {
    case kiln::EntryType::directory:
      return "dir";
    case kiln::EntryType::symlink:
      return "symlink";
    case kiln::EntryType::regular:
      break;
  }
  return "file";
}

// The patterns a context reports, when its kind can tell them: a
// DirectoryContext always; the others once they offer ignore_patterns().
template <typename Context>
const std::vector<std::string>* patterns_of(Context& c) {
  if constexpr (requires { c.ignore_patterns(); }) {
    return &c.ignore_patterns();
  } else {
    return nullptr;
  }
}

kiln_context* wrap(std::unique_ptr<kiln::BuildContext> context, kiln::DirectoryContext* directory) {
  auto handle = std::make_unique<kiln_context>();
  handle->context = std::move(context);
  handle->directory = directory;
  return handle.release();
}

struct TarballOptions {
  std::string dockerfile = "Dockerfile";
  std::uint64_t max_bytes = kiln::TarballContext::kDefaultMaxBytes;
};

TarballOptions tarball_options(const char* text) {
  const char* what = "options_json";
  TarballOptions o;
  for (const auto& [key, value] : kiln::capi::parse_options(text, what)) {
    std::string k(key);
    if (k == "dockerfile") {
      o.dockerfile = kiln::capi::string_field(value, what, k);
    } else if (k == "maxBytes") {
      o.max_bytes = static_cast<std::uint64_t>(kiln::capi::int_field(value, what, k, 1, INT64_MAX));
    } else {
      unknown_field(what, k, "dockerfile, maxBytes");
    }
  }
  return o;
}

void add_file(kiln_files* files, const char* path, kiln::MemoryFile file) {
  kiln::capi::require(files, "files");
  kiln::capi::require(path, "path");
  if (file.mode > 07777) {
    throw kiln::Error(kiln::Errc::invalid_argument, "mode of '" + std::string(path) +
                                                        "' must be permission bits (0 to 07777), got " +
                                                        std::to_string(file.mode));
  }
  files->files[path] = std::move(file);
}

}  // namespace

extern "C" {

int kiln_context_open(const char* root, const char* options_json, kiln_context** out, kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(root, "root");
    kiln::capi::require(out, "out");
    *out = nullptr;
    const char* what = "options_json";
    std::string dockerfile = "Dockerfile";
    kiln::ContextOptions options;
    for (const auto& [key, value] : kiln::capi::parse_options(options_json, what)) {
      std::string k(key);
      if (k == "dockerfile") {
        dockerfile = kiln::capi::string_field(value, what, k);
      } else if (k == "statCache") {
        options.stat_cache_path = kiln::capi::string_field(value, what, k);
      } else if (k == "threads") {
        options.threads = static_cast<unsigned>(kiln::capi::int_field(value, what, k, 0, 256));
      } else {
        unknown_field(what, k, "dockerfile, statCache, threads");
      }
    }
    auto directory = std::make_unique<kiln::DirectoryContext>(root, dockerfile, options);
    auto* raw = directory.get();
    *out = wrap(std::move(directory), raw);
  });
}

int kiln_context_open_tarball(const char* path, const char* options_json, kiln_context** out, kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(path, "path");
    kiln::capi::require(out, "out");
    *out = nullptr;
    auto o = tarball_options(options_json);
    *out = wrap(std::make_unique<kiln::TarballContext>(path, o.dockerfile, o.max_bytes), nullptr);
  });
}

int kiln_context_open_tarball_data(const void* data, size_t size, const char* options_json, kiln_context** out,
                                   kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    if (size > 0) kiln::capi::require(data, "data");
    kiln::capi::require(out, "out");
    *out = nullptr;
    auto o = tarball_options(options_json);
    std::string bytes(size > 0 ? static_cast<const char*>(data) : "", size);
    *out = wrap(std::make_unique<kiln::TarballContext>(
                    kiln::TarballContext::from_bytes(std::move(bytes), o.dockerfile, o.max_bytes)),
                nullptr);
  });
}

kiln_files* kiln_files_new(void) { return new (std::nothrow) kiln_files; }

void kiln_files_free(kiln_files* files) { delete files; }

int kiln_files_add(kiln_files* files, const char* path, const void* data, size_t size, unsigned mode, int64_t mtime,
                   kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    if (size > 0) kiln::capi::require(data, "data");
    kiln::MemoryFile f;
    f.content.assign(size > 0 ? static_cast<const char*>(data) : "", size);
    f.type = kiln::EntryType::regular;
    f.mode = mode;
    f.mtime = mtime;
    add_file(files, path, std::move(f));
  });
}

int kiln_files_add_symlink(kiln_files* files, const char* path, const char* target, int64_t mtime,
                           kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(target, "target");
    kiln::MemoryFile f;
    f.content = target;
    f.type = kiln::EntryType::symlink;
    f.mode = 0777;
    f.mtime = mtime;
    add_file(files, path, std::move(f));
  });
}

int kiln_files_add_dir(kiln_files* files, const char* path, unsigned mode, int64_t mtime, kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::MemoryFile f;
    f.type = kiln::EntryType::directory;
    f.mode = mode;
    f.mtime = mtime;
    add_file(files, path, std::move(f));
  });
}

int kiln_context_open_files(const kiln_files* files, const char* options_json, kiln_context** out,
                            kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(files, "files");
    kiln::capi::require(out, "out");
    *out = nullptr;
    const char* what = "options_json";
    std::string dockerfile = "Dockerfile";
    for (const auto& [key, value] : kiln::capi::parse_options(options_json, what)) {
      std::string k(key);
      if (k == "dockerfile") {
        dockerfile = kiln::capi::string_field(value, what, k);
      } else {
        unknown_field(what, k, "dockerfile");
      }
    }
    // A copy: the builder stays the caller's, unchanged and reusable.
    *out = wrap(std::make_unique<kiln::MemoryContext>(files->files, dockerfile), nullptr);
  });
}

void kiln_context_free(kiln_context* context) { delete context; }

void kiln_context_rescan(kiln_context* context) {
  if (!context || !context->directory) return;  // memory and tarball contents never change
  std::lock_guard lock(context->mutex);
  context->directory->rescan();
}

int kiln_context_files(kiln_context* context, kiln_event_cb callback, void* payload, kiln_cancel* cancel,
                       char** files_json, kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(context, "context");
    kiln::capi::require(files_json, "files_json");
    *files_json = nullptr;
    std::lock_guard lock(context->mutex);
    const auto& entries =
        context->context->entries(kiln::capi::sink_of(callback, payload), kiln::capi::token_of(cancel));
    json::array list;
    list.reserve(entries.size());
    for (const auto& e : entries) {
      json::object o{{"path", e.path}, {"type", type_name(e.type)}, {"mode", e.mode},
                     {"size", e.size}, {"mtime", e.mtime},           {"forced", e.forced}};
      if (e.type == kiln::EntryType::symlink) o["linkTarget"] = e.link_target;
      list.push_back(std::move(o));
    }
    json::object doc{{"dockerfile", context->context->dockerfile()}};
    const std::vector<std::string>* known = nullptr;
    if (context->directory) {
      known = patterns_of(*context->directory);
    } else if (auto* memory = dynamic_cast<kiln::MemoryContext*>(context->context.get())) {
      known = patterns_of(*memory);
    } else if (auto* tarball = dynamic_cast<kiln::TarballContext*>(context->context.get())) {
      known = patterns_of(*tarball);
    }
    if (known) {
      json::array patterns;
      for (const auto& p : *known) patterns.push_back(json::string(p));
      doc["ignorePatterns"] = std::move(patterns);
    }
    doc["entries"] = std::move(list);
    *files_json = kiln::capi::dup_string(json::serialize(doc));
  });
}

int kiln_context_version(kiln_context* context, const char* inputs_json, kiln_event_cb callback, void* payload,
                         kiln_cancel* cancel, char** version_json, kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(context, "context");
    kiln::capi::require(version_json, "version_json");
    *version_json = nullptr;
    auto inputs = version_inputs(inputs_json);
    std::lock_guard lock(context->mutex);
    auto v = context->context->version(inputs, kiln::capi::sink_of(callback, payload), kiln::capi::token_of(cancel));
    json::object doc{{"version", v.version}, {"digest", v.digest.str()}, {"filesHashed", v.files_hashed}};
    *version_json = kiln::capi::dup_string(json::serialize(doc));
  });
}

int kiln_context_write_fd(kiln_context* context, int fd, const char* tar_options_json, kiln_event_cb callback,
                          void* payload, kiln_cancel* cancel, kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(context, "context");
    if (fd < 0) throw kiln::Error(kiln::Errc::invalid_argument, "parameter 'fd' must be an open file descriptor");
    auto options = tar_options(tar_options_json);
    kiln::FdSink sink(fd);
    std::lock_guard lock(context->mutex);
    context->context->write_tar(sink, options, kiln::capi::sink_of(callback, payload), kiln::capi::token_of(cancel));
  });
}

int kiln_context_write_cb(kiln_context* context, kiln_write_cb write, void* write_payload,
                          const char* tar_options_json, kiln_event_cb callback, void* payload, kiln_cancel* cancel,
                          kiln_error** err) {
  return kiln::capi::guard(err, [&] {
    kiln::capi::require(context, "context");
    kiln::capi::require(reinterpret_cast<const void*>(write), "write");
    auto options = tar_options(tar_options_json);
    // A receiver that refuses bytes is a failed write (KILN_EIO, as a
    // failing fd is), never KILN_ECANCELLED, which belongs to kiln_cancel.
    kiln::CallbackSink sink([write, write_payload](const void* data, std::size_t size) {
      if (int refused = write(data, size, write_payload); refused != 0) {
        throw kiln::Error(kiln::Errc::io, "the write callback refused the build context stream (returned " +
                                              std::to_string(refused) + ")");
      }
      return true;
    });
    std::lock_guard lock(context->mutex);
    context->context->write_tar(sink, options, kiln::capi::sink_of(callback, payload), kiln::capi::token_of(cancel));
  });
}

}  // extern "C"
