// The registry section of kiln.h over kiln/registry.hpp.
#include <boost/json.hpp>
#include <memory>

#include "guard.hpp"
#include "options.hpp"
#include "kiln/auth.hpp"
#include "kiln/registry.hpp"
#include "registry/file_blob_reader.hpp"

struct kiln_registry {
  std::shared_ptr<kiln::Registry> registry;
};

namespace kiln::capi {
namespace {
namespace json = boost::json;

struct ParsedOptions {
  RegistryOptions registry;
  CopyOptions copy;
  bool create = false;
};

constexpr const char* kParam = "options_json";
constexpr const char* kCommonFields =
    "insecureRegistries, caFile, clientCertFile, clientKeyFile, connectTimeoutMs, maxRetries, userAgent, "
    "dockerConfig, dockerConfigJson, anonymous, chunkSize";
const std::string kOpenFields = std::string(kCommonFields) + ", create";
const std::string kCopyFields = std::string(kCommonFields) + ", parallelBlobs, platforms, extraTags";

std::string string_field(const json::value& value, const std::string& field) {
  return kiln::capi::string_field(value, kParam, field);
}

std::vector<std::string> string_list(const json::value& value, const std::string& field) {
  return kiln::capi::string_list(value, kParam, field);
}

std::int64_t integer_field(const json::value& value, const std::string& field, std::int64_t min, std::int64_t max) {
  return kiln::capi::int_field(value, kParam, field, min, max);
}

bool bool_field(const json::value& value, const std::string& field) { return kiln::capi::bool_field(value, kParam, field); }

// `copy` allows the copy-only fields; the handle options do not.
ParsedOptions parse_options(const char* text, bool copy) {
  ParsedOptions out;
  std::string docker_config;
  std::string docker_config_json;
  bool anonymous = false;
  {
    auto& transport = out.registry.transport;
    for (const auto& [key, value] : kiln::capi::parse_options(text, kParam)) {
      std::string field(key);
      if (field == "insecureRegistries") transport.insecure_registries = string_list(value, field);
      else if (field == "caFile") transport.ca_file = string_field(value, field);
      else if (field == "clientCertFile") transport.client_cert_file = string_field(value, field);
      else if (field == "clientKeyFile") transport.client_key_file = string_field(value, field);
      else if (field == "connectTimeoutMs") transport.connect_timeout_ms = integer_field(value, field, 1, 3600000);
      else if (field == "maxRetries") transport.max_retries = static_cast<int>(integer_field(value, field, 0, 100));
      else if (field == "userAgent") transport.user_agent = string_field(value, field);
      else if (field == "dockerConfig") docker_config = string_field(value, field);
      else if (field == "dockerConfigJson") docker_config_json = string_field(value, field);
      else if (field == "anonymous") anonymous = bool_field(value, field);
      else if (field == "chunkSize") out.registry.chunk_size = static_cast<std::size_t>(integer_field(value, field, 0, std::int64_t(1) << 40));
      else if (field == "create" && !copy) out.create = bool_field(value, field);
      else if (field == "parallelBlobs" && copy) out.copy.parallel_blobs = static_cast<int>(integer_field(value, field, 1, 16));
      else if (field == "platforms" && copy) out.copy.platforms = string_list(value, field);
      else if (field == "extraTags" && copy) out.copy.extra_tags = string_list(value, field);
      else if (copy) unknown_field(kParam, field, kCopyFields);
      else unknown_field(kParam, field, kOpenFields);
    }
  }
  if (!anonymous) {
    out.registry.credentials = !docker_config_json.empty() ? dockerconfigjson_credentials(docker_config_json)
                                                           : docker_config_credentials(docker_config);
  }
  return out;
}

std::string str(const char* text) { return text ? std::string(text) : std::string(); }

// A missing local file is a file error (KILN_EIO) as kiln.h says, not a
// missing blob or manifest (KILN_ENOTFOUND, which lib/registry's file reader
// uses for ENOENT).
template <typename Body>
auto local_file(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) throw Error(Errc::io, e.what());
    throw;
  }
}

kiln::Registry& registry_of(kiln_registry* handle) {
  require(handle, "registry");
  return *handle->registry;
}

}  // namespace
}  // namespace kiln::capi

using namespace kiln::capi;

extern "C" {

int kiln_registry_open(const char* location, const char* options_json, kiln_registry** out, kiln_error** err) {
  return guard(err, [&] {
    require(location, "location");
    require(out, "out");
    *out = nullptr;
    ParsedOptions options = parse_options(options_json, false);
    std::string where(location);
    auto handle = std::make_unique<kiln_registry>();
    if (where.rfind("oci:", 0) == 0) {
      handle->registry = kiln::open_oci_layout(where.substr(4), options.create);
    } else {
      if (where.empty() || where.find('/') != std::string::npos) {
        throw kiln::Error(kiln::Errc::invalid_argument,
                          "location \"" + where + "\" must be a registry host[:port] or oci:<directory>");
      }
      handle->registry = kiln::open_remote_registry(where, options.registry);
    }
    *out = handle.release();
  });
}

void kiln_registry_free(kiln_registry* registry) { delete registry; }

int kiln_registry_resolve(kiln_registry* registry, const char* repository, const char* reference, kiln_cancel* cancel,
                          char** descriptor_json, kiln_error** err) {
  return guard(err, [&] {
    require(reference, "reference");
    require(descriptor_json, "descriptor_json");
    *descriptor_json = nullptr;
    auto descriptor = registry_of(registry).resolve(str(repository), reference, token_of(cancel));
    if (!descriptor) {
      throw kiln::Error(kiln::Errc::not_found, "\"" + std::string(reference) + "\" not found in " +
                                                   registry->registry->describe());
    }
    *descriptor_json = dup_string(descriptor->to_json());
  });
}

int kiln_registry_tags(kiln_registry* registry, const char* repository, kiln_cancel* cancel, char** tags_json,
                       kiln_error** err) {
  return guard(err, [&] {
    require(tags_json, "tags_json");
    *tags_json = nullptr;
    boost::json::array tags;
    for (auto& tag : registry_of(registry).tags(str(repository), token_of(cancel))) tags.emplace_back(tag);
    *tags_json = dup_string(boost::json::serialize(tags));
  });
}

int kiln_registry_catalog(kiln_registry* registry, kiln_cancel* cancel, char** repositories_json, kiln_error** err) {
  return guard(err, [&] {
    require(repositories_json, "repositories_json");
    *repositories_json = nullptr;
    boost::json::array names;
    for (auto& name : registry_of(registry).catalog(token_of(cancel))) names.emplace_back(name);
    *repositories_json = dup_string(boost::json::serialize(names));
  });
}

int kiln_registry_delete(kiln_registry* registry, const char* repository, const char* reference, kiln_cancel* cancel,
                         char** digest_out, kiln_error** err) {
  return guard(err, [&] {
    require(reference, "reference");
    if (digest_out) *digest_out = nullptr;
    kiln::Digest digest = kiln::delete_image(registry_of(registry), str(repository), reference, token_of(cancel));
    if (digest_out) *digest_out = dup_string(digest.str());
  });
}

int kiln_registry_push_blob_file(kiln_registry* registry, const char* repository, const char* path,
                                 const char* media_type, const char* expected_digest, int64_t expected_size,
                                 kiln_cancel* cancel, char** descriptor_json, kiln_error** err) {
  return guard(err, [&] {
    require(path, "path");
    if (descriptor_json) *descriptor_json = nullptr;
    kiln::Registry& store = registry_of(registry);
    kiln::CancelToken token = token_of(cancel);
    std::string type = media_type && *media_type ? media_type : "application/octet-stream";
    kiln::Descriptor blob;
    if (expected_digest) {
      blob.media_type = type;
      blob.digest = kiln::Digest::parse(expected_digest);
      blob.size = expected_size;
      if (blob.size < 0) blob.size = static_cast<std::int64_t>(local_file([&] { return kiln::registry_detail::FileBlobReader(path).size(); }));
    } else {
      blob = local_file([&] { return kiln::registry_detail::describe_file(path, type, token); });
      if (expected_size >= 0 && expected_size != blob.size) {
        throw kiln::Error(kiln::Errc::digest_mismatch, std::string(path) + " has " + std::to_string(blob.size) +
                                                           " bytes, expected " + std::to_string(expected_size));
      }
    }
    if (!store.stat_blob(str(repository), blob.digest, token)) {
      auto reader = local_file([&] { return std::make_unique<kiln::registry_detail::FileBlobReader>(path); });
      store.put_blob(str(repository), blob, *reader, token);
    }
    if (descriptor_json) *descriptor_json = dup_string(blob.to_json());
  });
}

int kiln_registry_put_manifest(kiln_registry* registry, const char* repository, const char* reference,
                               const char* media_type, const char* bytes, size_t size, kiln_cancel* cancel,
                               char** digest_out, kiln_error** err) {
  return guard(err, [&] {
    require(reference, "reference");
    require(media_type, "media_type");
    if (size > 0) require(bytes, "bytes");
    if (digest_out) *digest_out = nullptr;
    kiln::Manifest manifest{media_type, std::string(bytes ? bytes : "", size)};
    registry_of(registry).put_manifest(str(repository), reference, manifest, token_of(cancel));
    if (digest_out) *digest_out = dup_string(manifest.digest().str());
  });
}

int kiln_registry_get_manifest(kiln_registry* registry, const char* repository, const char* reference,
                               kiln_cancel* cancel, char** bytes, size_t* size, char** media_type, kiln_error** err) {
  return guard(err, [&] {
    require(reference, "reference");
    require(bytes, "bytes");
    require(size, "size");
    *bytes = nullptr;
    *size = 0;
    if (media_type) *media_type = nullptr;
    kiln::Manifest manifest = registry_of(registry).get_manifest(str(repository), reference, token_of(cancel));
    char* type = media_type ? dup_string(manifest.media_type) : nullptr;
    char* data = nullptr;
    try {
      data = dup_string(manifest.bytes);
    } catch (...) {
      std::free(type);
      throw;
    }
    *bytes = data;
    *size = manifest.bytes.size();
    if (media_type) *media_type = type;
  });
}

int kiln_registry_inspect(kiln_registry* registry, const char* repository, const char* reference, kiln_cancel* cancel,
                          char** inspect_json, kiln_error** err) {
  return guard(err, [&] {
    require(reference, "reference");
    require(inspect_json, "inspect_json");
    *inspect_json = nullptr;
    *inspect_json = dup_string(kiln::inspect_image(registry_of(registry), str(repository), reference, token_of(cancel)));
  });
}

int kiln_registry_copy(const char* source, const char* destination, const char* options_json, kiln_event_cb callback,
                       void* payload, kiln_cancel* cancel, char** result_json, kiln_error** err) {
  return guard(err, [&] {
    require(source, "source");
    require(destination, "destination");
    if (result_json) *result_json = nullptr;
    ParsedOptions options = parse_options(options_json, true);
    kiln::ImageLocation from = kiln::open_image(source, options.registry, false);
    kiln::ImageLocation to = kiln::open_image(destination, options.registry, true);
    // One registry object for both ends within one registry: one ping, one
    // connection pool, one token cache.
    std::string src(source), dst(destination);
    if (src.rfind("oci:", 0) != 0 && dst.rfind("oci:", 0) != 0 &&
        kiln::ImageRef::parse(src).registry() == kiln::ImageRef::parse(dst).registry()) {
      to.registry = from.registry;
    }
    kiln::CopyResult result = kiln::copy_image(*from.registry, from.repository, from.reference, *to.registry,
                                               to.repository, to.reference, options.copy, sink_of(callback, payload),
                                               token_of(cancel));
    if (result_json) {
      boost::json::object out;
      out["digest"] = result.descriptor.digest.str();
      out["mediaType"] = result.descriptor.media_type;
      out["size"] = result.descriptor.size;
      out["blobsCopied"] = result.blobs_copied;
      out["blobsMounted"] = result.blobs_mounted;
      out["blobsSkipped"] = result.blobs_skipped;
      out["bytesCopied"] = result.bytes_copied;
      out["manifestsPut"] = result.manifests_put;
      *result_json = dup_string(boost::json::serialize(out));
    }
  });
}

}  // extern "C"
