// C API of build contexts (kiln.h, "build context" section).
#include <boost/json.hpp>
#include <mutex>

#include "guard.hpp"
#include "options.hpp"
#include "kiln/build_context.hpp"

struct kiln_context {
  std::mutex mutex;  // a DirectoryContext caches its walk: one call at a time
  std::unique_ptr<kiln::DirectoryContext> context;
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
    auto handle = std::make_unique<kiln_context>();
    handle->context = std::make_unique<kiln::DirectoryContext>(root, dockerfile, options);
    *out = handle.release();
  });
}

void kiln_context_free(kiln_context* context) { delete context; }

void kiln_context_rescan(kiln_context* context) {
  if (!context) return;
  std::lock_guard lock(context->mutex);
  context->context->rescan();
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
    json::array patterns;
    for (const auto& p : context->context->ignore_patterns()) patterns.push_back(json::string(p));
    json::object doc{{"dockerfile", context->context->dockerfile()}, {"ignorePatterns", std::move(patterns)},
                     {"entries", std::move(list)}};
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
