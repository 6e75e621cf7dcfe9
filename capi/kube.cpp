// The kubernetes section of kiln.h over kiln/kube.hpp.
#include <boost/json.hpp>

#include <memory>

#include "guard.hpp"
#include "kiln/kube.hpp"
#include "options.hpp"

struct kiln_kube {
  std::unique_ptr<kiln::kube::Client> client;
};

namespace kiln::capi {
namespace {
namespace json = boost::json;

constexpr const char* kOptions = "options_json";

std::string text(const char* s) { return s ? std::string(s) : std::string(); }

kube::Object parse_document(const char* document, const char* param) {
  require(document, param);
  json::error_code ec;
  auto value = json::parse(document, ec);
  if (ec || !value.is_object()) throw Error(Errc::invalid_argument, std::string(param) + " is not a JSON object");
  return std::move(value.get_object());
}

kube::Client& client_of(kiln_kube* kube) {
  require(kube, "kube");
  return *kube->client;
}

kube::Resource resource(kiln_kube* kube, const char* api_version, const char* kind, const CancelToken& cancel) {
  require(api_version, "api_version");
  require(kind, "kind");
  return client_of(kube).resource_for(api_version, kind, cancel);
}

std::string member(const kube::Object& object, std::string_view key) {
  auto it = object.find(key);
  return it != object.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

// The resource an object names (apiVersion + kind), for create and replace.
kube::Resource resource_of(kiln_kube* kube, const kube::Object& object, const char* param, const CancelToken& cancel) {
  auto api_version = member(object, "apiVersion");
  auto kind = member(object, "kind");
  if (api_version.empty() || kind.empty())
    throw Error(Errc::invalid_argument, std::string(param) + " needs apiVersion and kind");
  return client_of(kube).resource_for(api_version, kind, cancel);
}

// metadata.namespace of the object wins over `ns`, as in kiln_kube_apply.
std::string namespace_of(const kube::Object& object, const char* ns) {
  if (auto it = object.find("metadata"); it != object.end() && it->value().is_object()) {
    auto from_object = member(it->value().get_object(), "namespace");
    if (!from_object.empty()) return from_object;
  }
  return text(ns);
}

void set_result(char** out, const kube::Object& object) {
  if (out) *out = dup_string(json::serialize(object));
}

std::chrono::milliseconds timeout_of(int64_t timeout_ms) {
  if (timeout_ms < 0) throw Error(Errc::invalid_argument, "timeout_ms must not be negative (0 means no deadline)");
  return std::chrono::milliseconds(timeout_ms);
}

std::vector<std::string> command_of(const char* const* argv, size_t argc) {
  if (argc == 0) throw Error(Errc::invalid_argument, "argc must be at least 1 (the command)");
  require(argv, "argv");
  std::vector<std::string> command;
  for (size_t i = 0; i < argc; ++i) {
    if (!argv[i]) throw Error(Errc::invalid_argument, "argv[" + std::to_string(i) + "] must not be NULL");
    command.emplace_back(argv[i]);
  }
  return command;
}

// Output of kiln_kube_exec collected in memory, up to KILN_KUBE_EXEC_MAX_OUTPUT.
kube::ExecOutput collect(std::string& buffer, const char* stream) {
  return [&buffer, stream](std::string_view data) {
    if (buffer.size() + data.size() > KILN_KUBE_EXEC_MAX_OUTPUT) {
      throw Error(Errc::too_large, std::string("exec: ") + stream + " exceeded the " +
                                       std::to_string(KILN_KUBE_EXEC_MAX_OUTPUT >> 20) +
                                       " MiB that kiln_kube_exec buffers (KILN_KUBE_EXEC_MAX_OUTPUT); use "
                                       "kiln_kube_exec_stream for larger output");
    }
    buffer.append(data);
  };
}

kube::ExecOutput forward(kiln_write_cb write, void* payload, const char* stream) {
  if (!write) return {};
  return [write, payload, stream](std::string_view data) {
    if (int refused = write(data.data(), data.size(), payload); refused != 0) {
      throw Error(Errc::io, std::string("exec: the ") + stream + " callback refused the data (returned " +
                                std::to_string(refused) + ")");
    }
  };
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
    auto options = parse_options(options_json, kOptions);
    kiln::kube::LoadOptions load;
    if (kubeconfig_path && *kubeconfig_path) load.file = kubeconfig_path;
    load.context = text(context);
    kiln::kube::ClientOptions client_options;
    for (const auto& [key, value] : options) {
      std::string field(key);
      if (field == "namespace") load.namespace_name = string_field(value, kOptions, field);
      else if (field == "fieldValidation") {
        client_options.field_validation = string_field(value, kOptions, field);
        const auto& fv = client_options.field_validation;
        if (fv != "Strict" && fv != "Warn" && fv != "Ignore") bad_field(kOptions, field, "Strict, Warn or Ignore");
      } else if (field == "connectTimeoutMs") client_options.connect_timeout_ms = static_cast<long>(int_field(value, kOptions, field, 1, 600000));
      else if (field == "requestTimeoutMs") client_options.request_timeout = std::chrono::milliseconds(int_field(value, kOptions, field, 1, 3600000));
      else if (field == "maxRetries") client_options.max_retries = static_cast<int>(int_field(value, kOptions, field, 0, 20));
      else if (field == "userAgent") client_options.user_agent = string_field(value, kOptions, field);
      else unknown_field(kOptions, field, "namespace, fieldValidation, connectTimeoutMs, requestTimeoutMs, maxRetries, userAgent");
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
  if (object_json) *object_json = nullptr;
  return guard(err, [&] {
    require(name, "name");
    require(object_json, "object_json");
    auto token = token_of(cancel);
    auto object = client_of(kube).get(resource(kube, api_version, kind, token), name, text(ns), token);
    set_result(object_json, object);
  });
}

int kiln_kube_list(kiln_kube* kube, const char* api_version, const char* kind, const char* ns,
                   const char* options_json, kiln_cancel* cancel, char** list_json, kiln_error** err) {
  if (list_json) *list_json = nullptr;
  return guard(err, [&] {
    require(list_json, "list_json");
    kiln::kube::ListOptions options;
    options.namespace_name = text(ns);
    bool all_pages = false;
    for (const auto& [key, value] : parse_options(options_json, kOptions)) {
      std::string field(key);
      if (field == "labelSelector") options.label_selector = string_field(value, kOptions, field);
      else if (field == "fieldSelector") options.field_selector = string_field(value, kOptions, field);
      else if (field == "limit") options.limit = int_field(value, kOptions, field, 1, 1000000);
      else if (field == "continue") options.continue_token = string_field(value, kOptions, field);
      else if (field == "resourceVersion") options.resource_version = string_field(value, kOptions, field);
      else if (field == "allNamespaces") options.all_namespaces = bool_field(value, kOptions, field);
      else if (field == "allPages") all_pages = bool_field(value, kOptions, field);
      else unknown_field(kOptions, field, "labelSelector, fieldSelector, limit, continue, resourceVersion, allNamespaces, allPages");
    }
    if (all_pages && !options.continue_token.empty()) bad_field(kOptions, "continue", "absent when allPages is true");
    auto token = token_of(cancel);
    auto res = resource(kube, api_version, kind, token);
    auto& client = client_of(kube);
    auto list = all_pages ? client.list_all(res, options, token) : client.list(res, options, token);
    json::object metadata{{"resourceVersion", list.resource_version}};
    if (!list.continue_token.empty()) metadata["continue"] = list.continue_token;
    json::array items;
    items.reserve(list.items.size());
    for (auto& item : list.items) items.emplace_back(std::move(item));
    json::object document{{"apiVersion", api_version},
                          {"kind", std::string(kind) + "List"},
                          {"metadata", std::move(metadata)},
                          {"items", std::move(items)}};
    *list_json = dup_string(json::serialize(document));
  });
}

int kiln_kube_apply(kiln_kube* kube, const char* object_json, const char* ns, kiln_cancel* cancel, char** result_json,
                    kiln_error** err) {
  if (result_json) *result_json = nullptr;
  return guard(err, [&] {
    auto object = parse_document(object_json, "object_json");
    set_result(result_json, client_of(kube).apply(object, {}, text(ns), token_of(cancel)));
  });
}

namespace {
// POST or PUT of a whole object: the kind decides the resource, the object's
// namespace wins over `ns`.
int store_object(kiln_kube* kube, const char* object_json, const char* ns, kiln_cancel* cancel, char** result_json,
                 kiln_error** err, bool create) {
  if (result_json) *result_json = nullptr;
  return guard(err, [&] {
    auto object = parse_document(object_json, "object_json");
    auto token = token_of(cancel);
    auto res = resource_of(kube, object, "object_json", token);
    auto& client = client_of(kube);
    auto where = namespace_of(object, ns);
    set_result(result_json, create ? client.create(res, object, where, token) : client.replace(res, object, where, token));
  });
}
}  // namespace

int kiln_kube_create(kiln_kube* kube, const char* object_json, const char* ns, kiln_cancel* cancel,
                     char** result_json, kiln_error** err) {
  return store_object(kube, object_json, ns, cancel, result_json, err, true);
}

int kiln_kube_replace(kiln_kube* kube, const char* object_json, const char* ns, kiln_cancel* cancel,
                      char** result_json, kiln_error** err) {
  return store_object(kube, object_json, ns, cancel, result_json, err, false);
}

int kiln_kube_patch(kiln_kube* kube, const char* api_version, const char* kind, const char* ns, const char* name,
                    const char* patch_json, kiln_cancel* cancel, char** result_json, kiln_error** err) {
  if (result_json) *result_json = nullptr;
  return guard(err, [&] {
    require(name, "name");
    auto patch = parse_document(patch_json, "patch_json");
    auto token = token_of(cancel);
    auto res = resource(kube, api_version, kind, token);
    set_result(result_json, client_of(kube).merge_patch(res, name, patch, text(ns), token));
  });
}

int kiln_kube_delete(kiln_kube* kube, const char* api_version, const char* kind, const char* ns, const char* name,
                     const char* options_json, kiln_cancel* cancel, kiln_error** err) {
  return guard(err, [&] {
    require(name, "name");
    kiln::kube::DeleteOptions options;
    for (const auto& [key, value] : parse_options(options_json, kOptions)) {
      std::string field(key);
      if (field == "propagationPolicy") {
        options.propagation_policy = string_field(value, kOptions, field);
        const auto& p = options.propagation_policy;
        if (p != "Background" && p != "Foreground" && p != "Orphan") bad_field(kOptions, field, "Background, Foreground or Orphan");
      } else if (field == "gracePeriodSeconds") options.grace_period_seconds = int_field(value, kOptions, field, 0, 1LL << 40);
      else if (field == "ignoreNotFound") options.ignore_not_found = bool_field(value, kOptions, field);
      else unknown_field(kOptions, field, "propagationPolicy, gracePeriodSeconds, ignoreNotFound");
    }
    auto token = token_of(cancel);
    client_of(kube).remove(resource(kube, api_version, kind, token), name, options, text(ns), token);
  });
}

int kiln_kube_watch(kiln_kube* kube, const char* api_version, const char* kind, const char* ns,
                    const char* options_json, kiln_event_cb callback, void* payload, kiln_cancel* cancel,
                    char** result_json, kiln_error** err) {
  if (result_json) *result_json = nullptr;
  return guard(err, [&] {
    require(reinterpret_cast<const void*>(callback), "callback");
    kiln::kube::WatchOptions options;
    options.namespace_name = text(ns);
    options.bookmarks = false;
    for (const auto& [key, value] : parse_options(options_json, kOptions)) {
      std::string field(key);
      if (field == "labelSelector") options.label_selector = string_field(value, kOptions, field);
      else if (field == "fieldSelector") options.field_selector = string_field(value, kOptions, field);
      else if (field == "resourceVersion") options.resource_version = string_field(value, kOptions, field);
      else if (field == "allNamespaces") options.all_namespaces = bool_field(value, kOptions, field);
      else if (field == "bookmarks") options.bookmarks = bool_field(value, kOptions, field);
      else if (field == "timeoutSeconds") options.timeout_seconds = static_cast<int>(int_field(value, kOptions, field, 1, 3600));
      else if (field == "deadlineMs") options.deadline = std::chrono::milliseconds(int_field(value, kOptions, field, 0, 1LL << 40));
      else if (field == "maxReconnectFailures") options.max_reconnect_failures = static_cast<int>(int_field(value, kOptions, field, 0, 100));
      else unknown_field(kOptions, field, "labelSelector, fieldSelector, resourceVersion, allNamespaces, bookmarks, timeoutSeconds, deadlineMs, maxReconnectFailures");
    }
    auto token = token_of(cancel);
    auto res = resource(kube, api_version, kind, token);
    auto result = client_of(kube).watch(
        res, options,
        [&](const kiln::kube::WatchEvent& event) {
          std::string object = json::serialize(event.object);
          kiln_event c_event{event.type.c_str(), object.c_str()};
          return callback(&c_event, payload) == 0;
        },
        token);
    if (result_json) {
      json::object out{{"resourceVersion", result.resource_version},
                       {"reconnects", result.reconnects},
                       {"relists", result.relists}};
      *result_json = dup_string(json::serialize(out));
    }
  });
}

int kiln_kube_logs(kiln_kube* kube, const char* ns, const char* pod, const char* options_json, kiln_event_cb callback,
                   void* payload, kiln_cancel* cancel, kiln_error** err) {
  return guard(err, [&] {
    require(pod, "pod");
    require(reinterpret_cast<const void*>(callback), "callback");
    kiln::kube::LogOptions options;
    options.namespace_name = text(ns);
    options.follow = false;
    for (const auto& [key, value] : parse_options(options_json, kOptions)) {
      std::string field(key);
      if (field == "container") options.container = string_field(value, kOptions, field);
      else if (field == "follow") options.follow = bool_field(value, kOptions, field);
      else if (field == "timestamps") options.timestamps = bool_field(value, kOptions, field);
      else if (field == "sinceTime") options.since_time = string_field(value, kOptions, field);
      else if (field == "sinceSeconds") options.since_seconds = int_field(value, kOptions, field, 1, 1LL << 40);
      else if (field == "tailLines") options.tail_lines = int_field(value, kOptions, field, 0, 1LL << 40);
      else if (field == "previous") options.previous = bool_field(value, kOptions, field);
      else if (field == "followRestarts") options.follow_restarts = bool_field(value, kOptions, field);
      else unknown_field(kOptions, field, "container, follow, timestamps, sinceTime, sinceSeconds, tailLines, previous, followRestarts");
    }
    client_of(kube).follow_logs(pod, options, sink_of(callback, payload), token_of(cancel));
  });
}

int kiln_kube_wait_pod(kiln_kube* kube, const char* ns, const char* pod, const char* until, int64_t timeout_ms,
                       kiln_cancel* cancel, char** pod_json, kiln_error** err) {
  if (pod_json) *pod_json = nullptr;
  return guard(err, [&] {
    require(pod, "pod");
    require(until, "until");
    std::string want(until);
    auto timeout = timeout_of(timeout_ms);
    auto& client = client_of(kube);
    kiln::kube::Object object;
    if (want.rfind("phase=", 0) == 0) {
      object = client.wait_for_pod_phase(pod, want.substr(6), timeout, text(ns), token_of(cancel));
    } else if (want.rfind("condition=", 0) == 0 && want.size() > 10) {
      object = client.wait_for_pod_condition(pod, want.substr(10), timeout, text(ns), token_of(cancel));
    } else {
      throw kiln::Error(kiln::Errc::invalid_argument,
                        "until \"" + want + "\" must be \"phase=<Pending|Running|Succeeded|Failed>\" or "
                        "\"condition=<type>\" (e.g. condition=Ready)");
    }
    set_result(pod_json, object);
  });
}

int kiln_kube_wait_rollout(kiln_kube* kube, const char* ns, const char* deployment, int64_t timeout_ms,
                           kiln_cancel* cancel, char** deployment_json, kiln_error** err) {
  if (deployment_json) *deployment_json = nullptr;
  return guard(err, [&] {
    require(deployment, "deployment");
    auto timeout = timeout_of(timeout_ms);
    set_result(deployment_json, client_of(kube).wait_for_rollout(deployment, timeout, text(ns), token_of(cancel)));
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
    require(pod, "pod");
    require(exit_code, "exit_code");
    if (stdin_size > 0) require(stdin_data, "stdin_data");
    kiln::kube::ExecRequest request;
    request.namespace_name = text(ns);
    request.container = text(container);
    request.command = command_of(argv, argc);
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
    if (stdout_data) request.on_stdout = collect(out, "stdout");
    if (stderr_data) request.on_stderr = collect(errors, "stderr");
    auto result = client_of(kube).exec(pod, request, token_of(cancel));
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

int kiln_kube_exec_stream(kiln_kube* kube, const char* ns, const char* pod, const char* container,
                          const char* const* argv, size_t argc, const char* options_json, kiln_read_cb stdin_read,
                          void* stdin_payload, kiln_write_cb stdout_write, void* stdout_payload,
                          kiln_write_cb stderr_write, void* stderr_payload, kiln_cancel* cancel, int* exit_code,
                          kiln_error** err) {
  return guard(err, [&] {
    require(pod, "pod");
    require(exit_code, "exit_code");
    kiln::kube::ExecRequest request;
    request.namespace_name = text(ns);
    request.container = text(container);
    request.command = command_of(argv, argc);
    for (const auto& [key, value] : parse_options(options_json, kOptions)) {
      std::string field(key);
      if (field == "tty") request.tty = bool_field(value, kOptions, field);
      else if (field == "timeoutMs") request.timeout = std::chrono::milliseconds(int_field(value, kOptions, field, 0, 1LL << 40));
      else unknown_field(kOptions, field, "tty, timeoutMs");
    }
    if (stdin_read) {
      request.stdin_source = [stdin_read, stdin_payload](char* buffer, std::size_t size) {
        std::size_t filled = 0;
        if (int failed = stdin_read(buffer, size, &filled, stdin_payload); failed != 0) {
          throw kiln::Error(kiln::Errc::io,
                            "exec: the stdin callback failed (returned " + std::to_string(failed) + ")");
        }
        if (filled > size) {
          throw kiln::Error(kiln::Errc::invalid_argument, "exec: the stdin callback filled " + std::to_string(filled) +
                                                              " bytes of a " + std::to_string(size) + "-byte buffer");
        }
        return filled;
      };
    }
    request.on_stdout = forward(stdout_write, stdout_payload, "stdout");
    request.on_stderr = forward(stderr_write, stderr_payload, "stderr");
    *exit_code = client_of(kube).exec(pod, request, token_of(cancel)).exit_code;
  });
}

}  // extern "C"
