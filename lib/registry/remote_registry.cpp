// RemoteRegistry: connection, auth, manifests, tags and catalog. Blobs are
// in remote_blobs.cpp and uploads in remote_upload.cpp.
#include "registry/remote_registry.hpp"

#include <boost/json.hpp>
#include <set>

#include "http/link_header.hpp"
#include "http/url.hpp"
#include "registry/json_util.hpp"
#include "registry/remote_errors.hpp"
#include "registry/remote_names.hpp"

namespace kiln {

std::unique_ptr<Registry> open_remote_registry(const std::string& host, const RegistryOptions& options) {
  return std::make_unique<registry_detail::RemoteRegistry>(host, options);
}

namespace registry_detail {
namespace {

constexpr std::size_t kMaxManifest = 4 << 20;  // distribution's own limit
constexpr std::size_t kMaxListPage = 16 << 20;
constexpr int kMaxPages = 100000;

std::string pull_scope(const std::string& repository) { return auth::repository_scope(repository, "pull"); }

std::string base_media_type(std::string content_type) {
  auto semi = content_type.find(';');
  if (semi != std::string::npos) content_type.resize(semi);
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) content_type.pop_back();
  for (char& c : content_type) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return content_type;
}

bool known_manifest_type(const std::string& type) {
  return media_type::is_index(type) || media_type::is_manifest(type);
}

// The mediaType field of a manifest, for registries that answer with a
// generic Content-Type.
std::string embedded_media_type(const std::string& bytes) {
  boost::system::error_code ec;
  auto value = boost::json::parse(bytes, ec);
  if (ec || !value.is_object()) return {};
  auto* mt = value.as_object().if_contains("mediaType");
  if (mt == nullptr || !mt->is_string()) return {};
  return std::string(mt->as_string());
}

void check_ok(const http::Response& response, const std::string& what) {
  if (!response.ok()) throw response_error(response, what);
}

}  // namespace

RemoteRegistry::RemoteRegistry(const std::string& host, const RegistryOptions& options) : options_(options) {
  std::string h = host;
  for (std::string scheme : {"https://", "http://"}) {
    if (h.rfind(scheme, 0) == 0) {
      forced_scheme_ = scheme.substr(0, scheme.size() - 3);
      h = h.substr(scheme.size());
    }
  }
  while (!h.empty() && h.back() == '/') h.pop_back();
  if (h.empty() || h.find_first_of("/?#@ \t\r\n") != std::string::npos) {
    throw Error(Errc::invalid_argument, "invalid registry host \"" + h + "\" (expected host[:port])");
  }
  host_ = h;
  api_host_ = h == kDockerHubRegistry || h == "index.docker.io" ? std::string(kDockerHubApiHost) : h;

  http::SessionOptions so;
  const auto& t = options.transport;
  so.insecure_hosts = t.insecure_registries;
  so.tls.ca_file = t.ca_file;
  so.tls.client_cert_file = t.client_cert_file;
  so.tls.client_key_file = t.client_key_file;
  so.tls.failure_hint =
      "check the CA bundle (ca_file) and client certificate, or mark the host as an insecure registry if it has no "
      "valid certificate";
  so.connect_timeout_ms = t.connect_timeout_ms;
  so.low_speed_timeout_s = t.low_speed_timeout_s;
  so.max_retries = t.max_retries;
  so.user_agent = t.user_agent;
  session_ = std::make_unique<http::Session>(std::move(so));
  insecure_ = session_->is_insecure_host(api_host_);
}

RemoteRegistry::~RemoteRegistry() {
  // Sessions a mount opened and nobody uploaded into.
  std::map<std::pair<std::string, std::string>, std::string> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(mount_sessions_);
  }
  for (const auto& [key, location] : left) delete_session(key.first, location);
}

std::string RemoteRegistry::describe() const { return "registry " + host_; }

std::string RemoteRegistry::what(const std::string& action) const { return action + " on registry " + host_; }

bool RemoteRegistry::same_storage(const Registry& other) const {
  auto* remote = dynamic_cast<const RemoteRegistry*>(&other);
  return remote != nullptr && remote->api_host_ == api_host_;
}

bool RemoteRegistry::plain_http_first() const {
  // A registry on loopback is nearly always a plain-http development
  // registry (kind's, a port-forward, a test registry). Asking it https first
  // costs loading the system CA bundle and a failed handshake (25-50 ms) on
  // every start; asking http first costs a TLS registry one 400 round trip.
  // The probe carries no credentials, and loopback has no one in the middle.
  // A CA or client certificate configured for the registry means TLS.
  const auto& t = options_.transport;
  return http::is_loopback_host(api_host_) && t.ca_file.empty() && t.client_cert_file.empty();
}

std::string RemoteRegistry::base_url(const CancelToken& cancel) {
  ensure_pinged(cancel);
  std::lock_guard lock(mutex_);
  return base_;
}

std::string RemoteRegistry::api_url(const std::string& path, const CancelToken& cancel) {
  ensure_pinged(cancel);
  std::lock_guard lock(mutex_);
  return base_ + path;
}

void RemoteRegistry::ensure_pinged(const CancelToken& cancel) {
  {
    std::lock_guard lock(mutex_);
    if (pinged_) return;
  }
  std::vector<std::string> schemes;
  if (!forced_scheme_.empty()) {
    schemes.push_back(forced_scheme_);
  } else if (plain_http_first()) {
    schemes = {"http", "https"};
  } else {
    schemes.push_back("https");
    // Like docker: an insecure or loopback registry may also speak plain http.
    if (insecure_) schemes.push_back("http");
  }
  std::optional<Error> first_error;
  for (std::size_t i = 0; i < schemes.size(); ++i) {
    std::string base = schemes[i] + "://" + api_host_;
    http::Request request;
    request.url = base + "/v2/";
    request.cancel = cancel;
    request.max_body = 64 * 1024;
    // A probe that may fail over to http must fail fast.
    request.retry = i + 1 == schemes.size();
    http::Response response;
    try {
      response = session_->perform(request);
    } catch (const Error& e) {
      if (e.code() == Errc::cancelled) throw;
      if (!first_error) first_error = e;
      continue;
    }
    if (response.status == 404) {
      throw Error(Errc::unsupported, host_ + " does not serve the registry v2 API (GET /v2/ answered 404)")
          .with_http_status(404);
    }
    if (response.status == 400 && schemes[i] == "http") {
      // Plain HTTP sent to a TLS port (Go and nginx answer 400): when https
      // was tried first its error is the real one, else https comes next.
      if (i + 1 < schemes.size()) continue;
      if (first_error) break;
    }
    if (response.status != 200 && response.status != 401) throw response_error(response, what("GET /v2/"));
    auto version = response.headers.get("Docker-Distribution-API-Version");
    if (version && !version->empty() && version->rfind("registry/2.", 0) != 0) {
      throw Error(Errc::unsupported, host_ + " announces API version \"" + shorten(*version) +
                                         "\"; kiln speaks registry/2.0");
    }
    std::lock_guard lock(mutex_);
    if (pinged_) return;
    base_ = base;
    auth_ = std::make_unique<auth::Authenticator>(*session_, base_, host_, options_.credentials,
                                                  insecure_ || http::is_loopback_host(api_host_));
    if (response.status == 401) auth_->learn(response);
    pinged_ = true;
    return;
  }
  Error e = *first_error;
  throw Error(e.code(), "cannot reach " + describe() + ": " + e.what());
}

http::Response RemoteRegistry::send(http::Request& request, const std::vector<std::string>& scopes,
                                    const CancelToken& cancel) {
  ensure_pinged(cancel);
  request.cancel = cancel;
  auth_->authorize(request, scopes, cancel);
  auto response = session_->perform(request);
  if (response.status != 401) return response;
  auto refuse = [&](const http::Response& r, const std::string& hint) {
    auto info = parse_remote_error(r.body);
    return Error(Errc::unauthorized,
                 what(request.method + " " + shorten(http::parse_url(request.url).path)) + ": HTTP 401: " + hint)
        .with_http_status(401)
        .with_remote_code(info.code.empty() ? "UNAUTHORIZED" : info.code);
  };
  if (!auth_->on_unauthorized(response, scopes, cancel)) {
    throw refuse(response, auth_->has_credentials(cancel)
                               ? "the credentials configured for " + host_ + " were rejected"
                               : "no credentials are configured for " + host_ + " (docker login " + host_ + ")");
  }
  if (request.body_source != nullptr && !request.body_source->rewind()) return response;
  auth_->authorize(request, scopes, cancel);
  response = session_->perform(request);
  if (response.status == 401) {
    std::string wanted;
    for (const auto& s : scopes) wanted += (wanted.empty() ? "" : ", ") + s;
    throw refuse(response, std::string("refused again after authenticating: ") +
                               (auth_->has_credentials(cancel)
                                    ? "the credentials configured for " + host_ + " do not grant "
                                    : "anonymous access does not grant ") +
                               (wanted.empty() ? std::string("access") : wanted));
  }
  return response;
}

void RemoteRegistry::delete_session(const std::string& repository, const std::string& location) {
  // Best effort, bounded, and not cancelled by the token of the operation
  // that failed: the session must go away even after a cancel.
  try {
    http::Request request;
    request.method = "DELETE";
    request.url = location;
    request.retry = false;
    request.total_timeout = std::chrono::seconds(10);
    send(request, {auth::repository_scope(repository, "pull,push")}, CancelToken());
  } catch (...) {
    // Best effort: the registry expires abandoned sessions itself.
  }
}

std::optional<Descriptor> RemoteRegistry::resolve(const std::string& repository, const std::string& reference,
                                                  const CancelToken& cancel) {
  check_repository(repository);
  check_reference(reference);
  http::Request request;
  request.method = "HEAD";
  request.url = api_url("/v2/" + repository + "/manifests/" + reference, cancel);
  request.headers.set("Accept", media_type::manifest_accept);
  auto response = send(request, {pull_scope(repository)}, cancel);
  if (response.status == 404) return std::nullopt;
  check_ok(response, what("HEAD manifest " + repository + ":" + reference));
  Descriptor d;
  d.media_type = base_media_type(response.headers.get("Content-Type").value_or(""));
  auto digest_header = response.headers.get("Docker-Content-Digest");
  auto length = response.headers.get("Content-Length");
  bool by_digest = Digest::is_valid(reference);
  if (by_digest && digest_header && *digest_header != reference) {
    throw Error(Errc::digest_mismatch, what("HEAD manifest " + repository + "@" + reference) +
                                           ": the registry announced digest " + shorten(*digest_header));
  }
  if (!known_manifest_type(d.media_type) || !length || (!by_digest && !digest_header) ||
      (digest_header && !Digest::is_valid(*digest_header))) {
    // Not enough in the headers: the bytes decide.
    Manifest m = get_manifest(repository, reference, cancel);
    return m.descriptor();
  }
  d.digest = Digest::parse(by_digest ? reference : *digest_header);
  try {
    d.size = std::stoll(*length);
  } catch (const std::exception&) {
    throw Error(Errc::protocol, what("HEAD manifest") + ": malformed Content-Length");
  }
  return d;
}

Manifest RemoteRegistry::get_manifest(const std::string& repository, const std::string& reference,
                                      const CancelToken& cancel) {
  check_repository(repository);
  check_reference(reference);
  std::string name = repository + (Digest::is_valid(reference) ? "@" : ":") + reference;
  http::Request request;
  request.url = api_url("/v2/" + repository + "/manifests/" + reference, cancel);
  request.headers.set("Accept", media_type::manifest_accept);
  request.max_body = kMaxManifest;
  auto response = send(request, {pull_scope(repository)}, cancel);
  check_ok(response, what("GET manifest " + name));
  Manifest m;
  m.bytes = std::move(response.body);
  m.media_type = base_media_type(response.headers.get("Content-Type").value_or(""));
  if (!known_manifest_type(m.media_type)) {
    std::string embedded = embedded_media_type(m.bytes);
    if (!embedded.empty()) m.media_type = embedded;
  }
  if (Digest::is_valid(reference)) {
    Digest wanted = Digest::parse(reference);
    Digest got = Digest::of(m.bytes, wanted.algorithm());
    if (got != wanted) {
      throw Error(Errc::digest_mismatch, what("GET manifest " + name) + ": the bytes served hash to " + got.str() +
                                             ", not to the digest asked for; refusing them");
    }
  }
  if (auto header = response.headers.get("Docker-Content-Digest"); header && !header->empty()) {
    if (!Digest::is_valid(*header)) {
      throw Error(Errc::protocol, what("GET manifest " + name) + ": malformed Docker-Content-Digest \"" +
                                      shorten(*header) + "\"");
    }
    Digest announced = Digest::parse(*header);
    Digest got = Digest::of(m.bytes, announced.algorithm());
    if (got != announced) {
      throw Error(Errc::digest_mismatch, what("GET manifest " + name) + ": the bytes served hash to " + got.str() +
                                             " but the registry announced " + announced.str() + "; refusing them");
    }
  }
  return m;
}

void RemoteRegistry::put_manifest(const std::string& repository, const std::string& reference,
                                  const Manifest& manifest, const CancelToken& cancel) {
  check_repository(repository);
  check_reference(reference);
  Digest digest = manifest.digest();
  if (Digest::is_valid(reference)) {
    Digest wanted = Digest::parse(reference);
    if (Digest::of(manifest.bytes, wanted.algorithm()) != wanted) {
      throw Error(Errc::invalid_argument, "put manifest " + repository + "@" + reference +
                                              ": the manifest's bytes have another digest (" + digest.str() + ")");
    }
  }
  if (manifest.media_type.empty()) {
    throw Error(Errc::invalid_argument, "put manifest " + repository + ":" + reference + ": no media type given");
  }
  http::Request request;
  request.method = "PUT";
  request.url = api_url("/v2/" + repository + "/manifests/" + reference, cancel);
  request.headers.set("Content-Type", manifest.media_type);
  request.body = manifest.bytes;
  auto response = send(request, {auth::repository_scope(repository, "pull,push")}, cancel);
  std::string w = what("PUT manifest " + repository + ":" + reference);
  if (response.status == 405) {
    auto e = response_error(response, w);
    throw Error(Errc::unavailable, std::string(e.what()) + " (is the registry in read-only mode?)")
        .with_http_status(405)
        .with_remote_code(e.remote_code());
  }
  check_ok(response, w);
  if (auto header = response.headers.get("Docker-Content-Digest"); header && Digest::is_valid(*header)) {
    Digest stored = Digest::parse(*header);
    if (Digest::of(manifest.bytes, stored.algorithm()) != stored) {
      throw Error(Errc::digest_mismatch, w + ": the registry stored it under " + stored.str() +
                                             ", not under the digest of the bytes sent (" + digest.str() + ")");
    }
  }
}

void RemoteRegistry::delete_manifest(const std::string& repository, const Digest& digest, const CancelToken& cancel) {
  check_repository(repository);
  http::Request request;
  request.method = "DELETE";
  request.url = api_url("/v2/" + repository + "/manifests/" + digest.str(), cancel);
  auto response = send(request, {auth::repository_scope(repository, "delete")}, cancel);
  std::string w = what("DELETE manifest " + repository + "@" + digest.str());
  if (response.status == 405) {
    auto e = response_error(response, w);
    throw Error(Errc::unsupported,
                w + ": the registry refuses deletes (HTTP 405" +
                    (e.remote_code().empty() ? std::string() : " " + e.remote_code()) +
                    "): enable them with storage.delete.enabled: true in its configuration "
                    "(REGISTRY_STORAGE_DELETE_ENABLED=true), or it is in read-only mode")
        .with_http_status(405)
        .with_remote_code(e.remote_code().empty() ? "UNSUPPORTED" : e.remote_code());
  }
  check_ok(response, w);
}

namespace {

// Follows `Link: <...>; rel="next"` pages, collecting `field` arrays.
template <typename Send>
std::vector<std::string> paged_list(const std::string& first_url, const std::string& field, const std::string& w,
                                    Send&& send_page) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::string url = first_url;
  std::string origin = http::url_origin(first_url);
  for (int page = 0; page < kMaxPages; ++page) {
    http::Request request;
    request.url = url;
    request.max_body = kMaxListPage;
    http::Response response = send_page(request);
    if (page == 0 && response.status == 400 && parse_remote_error(response.body).code == "PAGINATION_NUMBER_INVALID") {
      // The registry caps page sizes below kiln's request: let it choose.
      auto query = url.find('?');
      request.url = url = url.substr(0, query);
      response = send_page(request);
    }
    check_ok(response, w);
    boost::system::error_code ec;
    auto value = boost::json::parse(response.body, ec);
    if (ec || !value.is_object()) throw Error(Errc::protocol, w + ": the answer is not a JSON object");
    auto* list = value.as_object().if_contains(field);
    if (list != nullptr && !list->is_null()) {
      if (!list->is_array()) throw Error(Errc::protocol, w + ": \"" + field + "\" is not an array");
      for (const auto& item : list->as_array()) {
        if (!item.is_string()) throw Error(Errc::protocol, w + ": \"" + field + "\" holds a non-string");
        out.emplace_back(item.as_string());
      }
    }
    auto next = http::next_link(response.headers.get_all("Link"));
    if (!next) return out;
    std::string next_url = http::resolve_url(url, *next);
    // Pagination stays on the registry: a Link elsewhere is not followed.
    if (http::url_origin(next_url) != origin) {
      throw Error(Errc::protocol, w + ": the registry's pagination Link points to another host; not following it");
    }
    if (!seen.insert(next_url).second) throw Error(Errc::protocol, w + ": the pagination Links loop");
    url = next_url;
  }
  throw Error(Errc::protocol, w + ": more than " + std::to_string(kMaxPages) + " pages");
}

}  // namespace

std::vector<std::string> RemoteRegistry::tags(const std::string& repository, const CancelToken& cancel) {
  check_repository(repository);
  std::string url = api_url("/v2/" + repository + "/tags/list?n=1000", cancel);
  return paged_list(url, "tags", what("list tags of " + repository),
                    [&](http::Request& r) { return send(r, {pull_scope(repository)}, cancel); });
}

std::vector<std::string> RemoteRegistry::catalog(const CancelToken& cancel) {
  std::string url = api_url("/v2/_catalog?n=1000", cancel);
  return paged_list(url, "repositories", what("list the catalog"),
                    [&](http::Request& r) { return send(r, {auth::catalog_scope}, cancel); });
}

}  // namespace registry_detail
}  // namespace kiln
