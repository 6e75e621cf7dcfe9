// The kubernetes section of kiln.h over kiln/kube.hpp.
#include <boost/json.hpp>

#include <memory>

#include "guard.hpp"
#include "kiln/kube.hpp"

struct kiln_kube {
  std::unique_ptr<kiln::kube::Client> client;
};

namespace kiln::capi {
namespace {
namespace json = boost::json;

[[noreturn]] void bad_option(const std::string& field, const std::string& problem) {
  throw Error(Errc::invalid_argument, "options." + field + ": " + problem);
}

json::object parse_options(const char* text) {
  if (!text || !*text) return {};
  json::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) throw Error(Errc::invalid_argument, "options: not a JSON object");
  return std::move(value.get_object());
}

std::string string_field(const json::value& v, const std::string& field) {
  if (!v.is_string()) bad_option(field, "expected a string");
  return std::string(v.get_string());
}

std::int64_t int_field(const json::value& v, const std::string& field, std::int64_t min, std::int64_t max) {
  if (!v.is_int64() || v.get_int64() < min || v.get_int64() > max)
    bad_option(field, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return v.get_int64();
}

std::string text(const char* s) { return s ? std::string(s) : std::string(); }

kube::Object parse_object(const char* object_json) {
  require(object_json, "object_json");
  json::error_code ec;
  auto value = json::parse(object_json, ec);
  if (ec || !value.is_object()) throw Error(Errc::invalid_argument, "object_json is not a JSON object");
  return std::move(value.get_object());
}

kube::Resource resource(kiln_kube* kube, const char* api_version, const char* kind, const CancelToken& cancel) {
  require(api_version, "api_version");
  require(kind, "kind");
  return kube->client->resource_for(api_version, kind, cancel);
}

}  // namespace
}  // namespace kiln::capi

using namespace kiln::capi;

extern "C" {

int kiln_kube_open(const char* kubeconfig_path, const char* context, const char* options_json, kiln_kube** out,
                   kiln_error** err) {
  return guard(err, [&] {
    require(out, "out");
    *out = nullptr;
    auto options = parse_options(options_json);
    kiln::kube::LoadOptions load;
    if (kubeconfig_path && *kubeconfig_path) load.file = kubeconfig_path;
    load.context = text(context);
    kiln::kube::ClientOptions client_options;
    for (const auto& [key, value] : options) {
      std::string field(key);
      if (field == "namespace") load.namespace_name = string_field(value, field);
      else if (field == "fieldValidation") {
        client_options.field_validation = string_field(value, field);
        const auto& fv = client_options.field_validation;
        if (fv != "Strict" && fv != "Warn" && fv != "Ignore") bad_option(field, "must be Strict, Warn or Ignore");
      } else if (field == "connectTimeoutMs") client_options.connect_timeout_ms = static_cast<long>(int_field(value, field, 1, 600000));
      else if (field == "requestTimeoutMs") client_options.request_timeout = std::chrono::milliseconds(int_field(value, field, 1, 3600000));
      else if (field == "maxRetries") client_options.max_retries = static_cast<int>(int_field(value, field, 0, 20));
      else if (field == "userAgent") client_options.user_agent = string_field(value, field);
      else bad_option(field, "unknown option (known: namespace, fieldValidation, connectTimeoutMs, requestTimeoutMs, maxRetries, userAgent)");
    }
    auto config = kiln::kube::default_config(load);
    *out = new kiln_kube{std::make_unique<kiln::kube::Client>(std::move(config), client_options)};
  });
}

void kiln_kube_free(kiln_kube* kube) { delete kube; }

const char* kiln_kube_namespace(const kiln_kube* kube) {
  return kube ? kube->client->default_namespace().c_str() : "";
}

int kiln_kube_get(kiln_kube* kube, const char* api_version, const char* kind, const char* ns, const char* name,
                  kiln_cancel* cancel, char** object_json, kiln_error** err) {
  return guard(err, [&] {
    require(kube, "kube");
    require(name, "name");
    require(object_json, "object_json");
    *object_json = nullptr;
    auto token = token_of(cancel);
    auto object = kube->client->get(resource(kube, api_version, kind, token), name, text(ns), token);
    *object_json = dup_string(boost::json::serialize(object));
  });
}

int kiln_kube_apply(kiln_kube* kube, const char* object_json, const char* ns, kiln_cancel* cancel, char** result_json,
                    kiln_error** err) {
  return guard(err, [&] {
    require(kube, "kube");
    if (result_json) *result_json = nullptr;
    auto object = parse_object(object_json);
    auto result = kube->client->apply(object, {}, text(ns), token_of(cancel));
    if (result_json) *result_json = dup_string(boost::json::serialize(result));
  });
}

int kiln_kube_delete(kiln_kube* kube, const char* api_version, const char* kind, const char* ns, const char* name,
                     const char* options_json, kiln_cancel* cancel, kiln_error** err) {
  return guard(err, [&] {
    require(kube, "kube");
    require(name, "name");
    kiln::kube::DeleteOptions options;
    for (const auto& [key, value] : parse_options(options_json)) {
      std::string field(key);
      if (field == "propagationPolicy") options.propagation_policy = string_field(value, field);
      else if (field == "gracePeriodSeconds") options.grace_period_seconds = int_field(value, field, 0, 1LL << 40);
      else if (field == "ignoreNotFound") {
        if (!value.is_bool()) bad_option(field, "expected true or false");
        options.ignore_not_found = value.get_bool();
      } else bad_option(field, "unknown option (known: propagationPolicy, gracePeriodSeconds, ignoreNotFound)");
    }
    auto token = token_of(cancel);
    kube->client->remove(resource(kube, api_version, kind, token), name, options, text(ns), token);
  });
}

int kiln_kube_exec(kiln_kube* kube, const char* ns, const char* pod, const char* container, const char* const* argv,
                   size_t argc, const void* stdin_data, size_t stdin_size, kiln_cancel* cancel, int* exit_code,
                   char** stdout_data, size_t* stdout_size, char** stderr_data, size_t* stderr_size, kiln_error** err) {
  if (stdout_data) *stdout_data = nullptr;
  if (stderr_data) *stderr_data = nullptr;
  if (stdout_size) *stdout_size = 0;
  if (stderr_size) *stderr_size = 0;
  return guard(err, [&] {
    require(kube, "kube");
    require(pod, "pod");
    require(exit_code, "exit_code");
    if (argc == 0) throw kiln::Error(kiln::Errc::invalid_argument, "argc must be at least 1 (the command)");
    require(argv, "argv");
    if (stdin_size > 0) require(stdin_data, "stdin_data");
    kiln::kube::ExecRequest request;
    request.namespace_name = text(ns);
    request.container = text(container);
    for (size_t i = 0; i < argc; ++i) {
      require(argv[i], "argv[i]");
      request.command.emplace_back(argv[i]);
    }
    std::size_t offset = 0;
    if (stdin_data) {
      const auto* bytes = static_cast<const char*>(stdin_data);
      request.stdin_source = [&, bytes](char* buffer, std::size_t size) {
        std::size_t n = std::min(size, stdin_size - offset);
        std::memcpy(buffer, bytes + offset, n);
        offset += n;
        return n;
      };
    }
    std::string out, errors;
    if (stdout_data) request.on_stdout = [&](std::string_view d) { out.append(d); };
    if (stderr_data) request.on_stderr = [&](std::string_view d) { errors.append(d); };
    auto result = kube->client->exec(pod, request, token_of(cancel));
    char* out_copy = stdout_data ? dup_string(out) : nullptr;
    char* err_copy = nullptr;
    try {
      err_copy = stderr_data ? dup_string(errors) : nullptr;
    } catch (...) {
      std::free(out_copy);
      throw;
    }
    *exit_code = result.exit_code;
    if (stdout_data) {
      *stdout_data = out_copy;
      if (stdout_size) *stdout_size = out.size();
    }
    if (stderr_data) {
      *stderr_data = err_copy;
      if (stderr_size) *stderr_size = errors.size();
    }
  });
}

}  // extern "C"
