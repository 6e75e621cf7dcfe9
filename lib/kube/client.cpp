// REST on JSON objects: get/list/create/replace/delete/patch/apply, raw
// requests and discovery.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "http/route.hpp"
#include "http/url.hpp"
#include "kube/client_impl.hpp"
#include "kube/resources.hpp"
#include "kube/status.hpp"

namespace kiln::kube {

Object parse_object(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object())
    throw Error(Errc::protocol, fmt::format("{}: the server answered something that is not a JSON object", what));
  return std::move(value.get_object());
}

std::string json_str(const boost::json::value& v, std::initializer_list<std::string_view> path) {
  const boost::json::value* cur = &v;
  for (auto key : path) {
    if (!cur->is_object()) return {};
    auto it = cur->get_object().find(key);
    if (it == cur->get_object().end()) return {};
    cur = &it->value();
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}

std::string object_name(const Object& o) { return json_str(boost::json::value(o), {"metadata", "name"}); }
std::string object_namespace(const Object& o) { return json_str(boost::json::value(o), {"metadata", "namespace"}); }
std::string object_resource_version(const Object& o) {
  return json_str(boost::json::value(o), {"metadata", "resourceVersion"});
}

std::optional<std::string> RawResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (http::iequals(n, name)) return v;
  return std::nullopt;
}

Client::Impl::Impl(Config c, ClientOptions o) : config(std::move(c)), options(std::move(o)), auth(config, options.exec_plugin_timeout) {
  if (config.server.empty()) throw Error(Errc::invalid_argument, "Kubernetes configuration without a server URL");
  http::parse_url(config.server);  // fails early, naming the URL
  // proxy-url and tls-server-name fail here, naming where they came from,
  // rather than at the first request.
  try {
    if (!config.proxy_url.empty()) http::parse_proxy_url(config.proxy_url);
    if (!config.tls_server_name.empty()) http::check_server_name(config.tls_server_name);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", config.origin, e.what()));
  }
}

std::shared_ptr<http::Session> Client::Impl::session(bool streaming, const RequestCredentials& creds) {
  std::lock_guard lock(mutex);
  std::string cert_key = creds.client_cert_pem + creds.client_key_pem;
  if (cert_key != session_cert) {
    // An exec plugin handed out a new client certificate: new connections.
    rest_session.reset();
    stream_session.reset();
    session_cert = cert_key;
  }
  auto& slot = streaming ? stream_session : rest_session;
  if (!slot) slot = std::make_shared<http::Session>(session_options(streaming, creds));
  return slot;
}

http::SessionOptions Client::Impl::session_options(bool streaming, const RequestCredentials& creds) const {
  http::SessionOptions so;
  so.tls.verify = !config.insecure_skip_tls_verify;
  if (!config.ca_data.empty()) so.tls.ca_pem = config.ca_data;
  else so.tls.ca_file = config.ca_file;
  if (!creds.client_cert_pem.empty()) {
    so.tls.client_cert_pem = creds.client_cert_pem;
    so.tls.client_key_pem = creds.client_key_pem;
  } else {
    so.tls.client_cert_pem = config.client_cert_data;
    so.tls.client_key_pem = config.client_key_data;
    so.tls.client_cert_file = config.client_cert_file;
    so.tls.client_key_file = config.client_key_file;
  }
  // As client-go: SNI and the certificate check use tls-server-name, and
  // every connection (REST, streams, exec, the service proxy transport)
  // goes through proxy-url, which NO_PROXY does not override.
  so.tls.server_name = config.tls_server_name;
  so.tls.failure_hint = fmt::format(
      "check certificate-authority(-data), client-certificate(-data) and tls-server-name of {} "
      "(insecure-skip-tls-verify only for a cluster without a valid certificate)",
      config.origin);
  so.proxy = config.proxy_url;
  if (config.server.rfind("http://", 0) == 0) so.insecure_hosts.push_back(http::url_authority(config.server));
  so.connect_timeout_ms = options.connect_timeout_ms;
  so.max_retries = options.max_retries;
  so.user_agent = options.user_agent;
  // Watches and followed logs are legitimately silent for minutes.
  if (streaming) so.low_speed_timeout_s = 0;
  return so;
}

http::Headers Client::Impl::headers_for(const RequestCredentials& creds) const {
  http::Headers h;
  if (!creds.authorization.empty()) h.set("Authorization", creds.authorization);
  if (!config.impersonate_user.empty()) h.set("Impersonate-User", config.impersonate_user);
  for (const auto& g : config.impersonate_groups) h.add("Impersonate-Group", g);
  if (!config.impersonate_uid.empty()) h.set("Impersonate-Uid", config.impersonate_uid);
  return h;
}

std::string Client::Impl::what(const Call& call) {
  auto q = call.path.find('?');
  return fmt::format("{} {}", call.method, q == std::string::npos ? call.path : call.path.substr(0, q));
}

http::Response Client::Impl::send(Call& call, const CancelToken& cancel) {
  for (int attempt = 0;; ++attempt) {
    auto creds = auth.current(cancel);
    http::Request request;
    request.method = call.method;
    request.url = config.server + call.path;
    request.headers = headers_for(creds);
    if (!call.accept.empty()) request.headers.set("Accept", call.accept);
    if (!call.content_type.empty()) request.headers.set("Content-Type", call.content_type);
    for (const auto& [n, v] : call.headers) request.headers.add(n, v);
    request.body = call.body;
    request.body_source = call.body_source;
    request.body_size = call.body_source ? call.body_size : -1;
    request.sink = call.sink;
    request.max_body = options.max_response_bytes;
    request.retry = call.retry;
    // Redirects from an API server are not part of the protocol; the
    // service proxy hands them back to the caller (Location rewriting).
    request.follow_redirects = false;
    auto timeout = call.timeout.count() >= 0 ? call.timeout : (call.streaming ? std::chrono::milliseconds(0) : options.request_timeout);
    request.total_timeout = timeout;
    request.cancel = cancel;
    auto response = session(call.streaming, creds)->perform(request);
    if (response.status == 401 && attempt == 0 && !call.body_source && auth.invalidate()) continue;
    return response;
  }
}

Object Client::Impl::send_json(Call& call, const CancelToken& cancel) {
  auto response = send(call, cancel);
  if (!response.ok()) throw status_error(response.status, response.body, what(call));
  return parse_object(response.body, what(call));
}

// ---------------------------------------------------------------- Client

Client::Client(Config config, ClientOptions options) : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}
Client::~Client() = default;

const Config& Client::config() const { return impl_->config; }
const std::string& Client::default_namespace() const { return impl_->config.namespace_name; }

std::string Client::url_of(const std::string& path) const { return impl_->config.server + path; }

std::vector<std::pair<std::string, std::string>> Client::auth_headers(const CancelToken& cancel) {
  auto creds = impl_->auth.current(cancel);
  return impl_->headers_for(creds).fields();
}

void Client::invalidate_credentials() { impl_->auth.invalidate(); }

Resource Client::resource_for(const std::string& api_version, const std::string& kind, const CancelToken& cancel) {
  if (api_version.empty() || kind.empty())
    throw Error(Errc::invalid_argument, "an object needs apiVersion and kind to find its resource");
  if (auto r = builtin_resource(api_version, kind)) return *r;
  std::string key = api_version + "/" + kind;
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->discovered.find(key); it != impl_->discovered.end()) return it->second;
  }
  Call call;
  call.path = api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  auto response = impl_->send(call, cancel);
  if (response.status == 404)
    throw Error(Errc::not_found, fmt::format("the server does not serve apiVersion {} (is the CRD installed?)", api_version))
        .with_http_status(404);
  if (!response.ok()) throw status_error(response.status, response.body, Impl::what(call));
  auto list = parse_object(response.body, Impl::what(call));
  std::optional<Resource> found;
  if (auto it = list.find("resources"); it != list.end() && it->value().is_array()) {
    std::lock_guard lock(impl_->mutex);
    for (const auto& item : it->value().get_array()) {
      auto name = json_str(item, {"name"});
      auto k = json_str(item, {"kind"});
      if (name.empty() || k.empty() || name.find('/') != std::string::npos) continue;  // subresources
      bool namespaced = item.is_object() && item.get_object().contains("namespaced") &&
                        item.get_object().at("namespaced").is_bool() && item.get_object().at("namespaced").get_bool();
      Resource r{api_version, k, name, namespaced};
      impl_->discovered[api_version + "/" + k] = r;
      if (k == kind) found = r;
    }
  }
  if (!found) throw Error(Errc::not_found, fmt::format("the server has no kind {} in {}", kind, api_version));
  return *found;
}

namespace {
std::string with_query(std::string path, std::string_view key, std::string_view value) {
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += std::string(key) + "=" + query_escape(value);
  return path;
}

std::string name_of(const Object& object, std::string_view what) {
  auto name = object_name(object);
  if (name.empty()) throw Error(Errc::invalid_argument, fmt::format("{}: the object has no metadata.name", what));
  return name;
}
}  // namespace

Object Client::get(const Resource& resource, const std::string& name, const std::string& ns, const CancelToken& cancel) {
  Call call;
  call.path = resource.path(impl_->ns(ns), name);
  return impl_->send_json(call, cancel);
}

std::optional<Object> Client::find(const Resource& resource, const std::string& name, const std::string& ns,
                                   const CancelToken& cancel) {
  try {
    return get(resource, name, ns, cancel);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found && e.http_status() == 404) return std::nullopt;
    throw;
  }
}

ObjectList Client::list(const Resource& resource, const ListOptions& options, const CancelToken& cancel) {
  Call call;
  call.path = resource.path(options.all_namespaces ? std::string() : impl_->ns(options.namespace_name));
  if (!options.label_selector.empty()) call.path = with_query(call.path, "labelSelector", options.label_selector);
  if (!options.field_selector.empty()) call.path = with_query(call.path, "fieldSelector", options.field_selector);
  if (options.limit > 0) call.path = with_query(call.path, "limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) call.path = with_query(call.path, "continue", options.continue_token);
  if (!options.resource_version.empty()) call.path = with_query(call.path, "resourceVersion", options.resource_version);
  auto object = impl_->send_json(call, cancel);
  ObjectList out;
  out.resource_version = json_str(object, {"metadata", "resourceVersion"});
  out.continue_token = json_str(object, {"metadata", "continue"});
  if (auto it = object.find("items"); it != object.end() && it->value().is_array()) {
    for (auto& item : it->value().get_array()) {
      if (item.is_object()) out.items.push_back(std::move(item.get_object()));
    }
  } else if (it != object.end() && !it->value().is_null()) {
    throw Error(Errc::protocol, fmt::format("{}: the list's items is not an array", Impl::what(call)));
  }
  return out;
}

ObjectList Client::list_all(const Resource& resource, ListOptions options, const CancelToken& cancel) {
  if (options.limit <= 0) options.limit = 500;
  options.continue_token.clear();
  bool restarted = false;
  ObjectList all;
  for (;;) {
    ObjectList page;
    try {
      page = list(resource, options, cancel);
    } catch (const Error& e) {
      // A continue token expires with its resourceVersion (410): start over
      // once, as client-go's pager does.
      if (e.http_status() == 410 && !options.continue_token.empty() && !restarted) {
        restarted = true;
        options.continue_token.clear();
        all = ObjectList{};
        continue;
      }
      throw;
    }
    for (auto& item : page.items) all.items.push_back(std::move(item));
    all.resource_version = page.resource_version;
    if (page.continue_token.empty()) return all;
    options.continue_token = page.continue_token;
  }
}

Object Client::create(const Resource& resource, const Object& object, const std::string& ns, const CancelToken& cancel) {
  Call call;
  call.method = "POST";
  call.path = resource.path(impl_->ns(ns));
  if (!impl_->options.field_validation.empty())
    call.path = with_query(call.path, "fieldValidation", impl_->options.field_validation);
  call.body = boost::json::serialize(object);
  call.content_type = "application/json";
  call.retry = false;  // a retried create after a 5xx could create twice (generateName)
  return impl_->send_json(call, cancel);
}

Object Client::replace(const Resource& resource, const Object& object, const std::string& ns, const CancelToken& cancel) {
  Call call;
  call.method = "PUT";
  call.path = resource.path(impl_->ns(ns), name_of(object, "replace"));
  if (!impl_->options.field_validation.empty())
    call.path = with_query(call.path, "fieldValidation", impl_->options.field_validation);
  call.body = boost::json::serialize(object);
  call.content_type = "application/json";
  return impl_->send_json(call, cancel);
}

std::optional<Object> Client::remove(const Resource& resource, const std::string& name, const DeleteOptions& options,
                                     const std::string& ns, const CancelToken& cancel) {
  Call call;
  call.method = "DELETE";
  call.path = resource.path(impl_->ns(ns), name);
  boost::json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) {
    const auto& p = options.propagation_policy;
    if (p != "Background" && p != "Foreground" && p != "Orphan")
      throw Error(Errc::invalid_argument, fmt::format("propagation policy \"{}\" is not Background, Foreground or Orphan", p));
    body["propagationPolicy"] = p;
  }
  if (options.grace_period_seconds) {
    if (*options.grace_period_seconds < 0) throw Error(Errc::invalid_argument, "grace period must not be negative");
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  call.body = boost::json::serialize(body);
  call.content_type = "application/json";
  auto response = impl_->send(call, cancel);
  if (response.status == 404 && options.ignore_not_found) return std::nullopt;
  if (!response.ok()) throw status_error(response.status, response.body, Impl::what(call));
  return parse_object(response.body, Impl::what(call));
}

Object Client::merge_patch(const Resource& resource, const std::string& name, const Object& patch, const std::string& ns,
                           const CancelToken& cancel) {
  Call call;
  call.method = "PATCH";
  call.path = resource.path(impl_->ns(ns), name);
  if (!impl_->options.field_validation.empty())
    call.path = with_query(call.path, "fieldValidation", impl_->options.field_validation);
  call.body = boost::json::serialize(patch);
  call.content_type = "application/merge-patch+json";
  return impl_->send_json(call, cancel);
}

Object Client::apply(const Object& object, const ApplyOptions& options, const std::string& ns, const CancelToken& cancel) {
  auto api_version = json_str(object, {"apiVersion"});
  auto kind = json_str(object, {"kind"});
  if (api_version.empty() || kind.empty())
    throw Error(Errc::invalid_argument, "apply: the object needs apiVersion and kind (server-side apply requires them)");
  auto name = name_of(object, "apply");
  if (options.field_manager.empty()) throw Error(Errc::invalid_argument, "apply: the field manager must not be empty");
  auto resource = resource_for(api_version, kind, cancel);
  auto object_ns = object_namespace(object);
  Call call;
  call.method = "PATCH";
  call.path = resource.path(object_ns.empty() ? impl_->ns(ns) : object_ns, name);
  call.path = with_query(call.path, "fieldManager", options.field_manager);
  if (options.force) call.path = with_query(call.path, "force", "true");
  if (options.dry_run) call.path = with_query(call.path, "dryRun", "All");
  if (!impl_->options.field_validation.empty())
    call.path = with_query(call.path, "fieldValidation", impl_->options.field_validation);
  call.body = boost::json::serialize(object);  // JSON is YAML
  call.content_type = "application/apply-patch+yaml";
  return impl_->send_json(call, cancel);
}

RawResponse Client::request(const std::string& method, const std::string& path_and_query, const std::string& body,
                            const std::string& content_type, const CancelToken& cancel) {
  if (path_and_query.empty() || path_and_query.front() != '/')
    throw Error(Errc::invalid_argument, fmt::format("API path \"{}\" must start with '/'", path_and_query));
  Call call;
  call.method = method;
  call.path = path_and_query;
  call.body = body;
  call.content_type = content_type;
  call.accept.clear();
  auto response = impl_->send(call, cancel);
  RawResponse out;
  out.status = response.status;
  out.headers = response.headers.fields();
  out.body = std::move(response.body);
  return out;
}

}  // namespace kiln::kube
