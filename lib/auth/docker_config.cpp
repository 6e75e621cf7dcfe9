#include "auth/docker_config.hpp"

#include <boost/json.hpp>

#include "core/base64.hpp"
#include "kiln/error.hpp"
#include "kiln/image_ref.hpp"

namespace kiln::auth {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& problem) {
  throw Error(Errc::invalid_argument, origin + ": " + field + " " + problem);
}

std::string string_field(const boost::json::object& obj, const char* name, const std::string& origin,
                         const std::string& path) {
  auto* v = obj.if_contains(name);
  if (v == nullptr || v->is_null()) return {};
  if (!v->is_string()) bad(origin, path.empty() ? std::string(name) : path + "." + name, "must be a string");
  return std::string(v->as_string());
}

Credential parse_entry(const boost::json::value& v, const std::string& origin, const std::string& path) {
  if (!v.is_object()) bad(origin, path, "must be an object");
  const auto& obj = v.as_object();
  Credential c;
  std::string auth = string_field(obj, "auth", origin, path);
  if (!auth.empty()) {
    auto decoded = core::base64_decode(auth);
    if (!decoded) bad(origin, path + ".auth", "is not valid base64 (expected base64 of \"user:password\")");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) bad(origin, path + ".auth", "does not decode to \"user:password\" (no ':')");
    c.username = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
  } else {
    c.username = string_field(obj, "username", origin, path);
    c.password = string_field(obj, "password", origin, path);
  }
  c.identity_token = string_field(obj, "identitytoken", origin, path);
  return c;
}

void add_auths(DockerConfig& config, const boost::json::object& auths, const std::string& origin,
               const std::string& prefix) {
  for (const auto& [key, value] : auths) {
    std::string path = prefix + "[\"" + std::string(key) + "\"]";
    Credential c = parse_entry(value, origin, path);
    std::string host = normalize_registry_key(key);
    if (host.empty()) bad(origin, path, "has an empty registry name");
    auto it = config.auths.find(host);
    // Several spellings of one host: the first one with credentials wins.
    if (it == config.auths.end() || it->second.empty()) config.auths[host] = std::move(c);
  }
}

}  // namespace

std::string normalize_registry_key(std::string_view key) {
  std::string k = lower(key);
  for (std::string_view scheme : {"https://", "http://"}) {
    if (k.rfind(scheme, 0) == 0) {
      k = k.substr(scheme.size());
      break;
    }
  }
  auto slash = k.find('/');
  if (slash != std::string::npos) k = k.substr(0, slash);
  if (k == "index.docker.io" || k == "registry-1.docker.io" || k == "registry.hub.docker.com" || k == "docker.io") {
    return std::string(kDockerHubRegistry);
  }
  return k;
}

std::string helper_server_url(const std::string& normalized_host) {
  if (normalized_host == kDockerHubRegistry) return std::string(kDockerHubConfigKey);
  return normalized_host;
}

DockerConfig parse_docker_config(std::string_view json, const std::string& origin) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(json, ec);
  if (ec) throw Error(Errc::invalid_argument, origin + ": not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) bad(origin, "the document", "must be a JSON object");
  const auto& obj = root.as_object();
  DockerConfig config;
  bool modern = obj.contains("auths") || obj.contains("credsStore") || obj.contains("credHelpers");
  if (!modern) {
    // Legacy .dockercfg: the top level is the auths map itself.
    add_auths(config, obj, origin, "");
    return config;
  }
  if (auto* auths = obj.if_contains("auths"); auths != nullptr && !auths->is_null()) {
    if (!auths->is_object()) bad(origin, "auths", "must be an object");
    add_auths(config, auths->as_object(), origin, "auths");
  }
  config.creds_store = string_field(obj, "credsStore", origin, "");
  if (auto* helpers = obj.if_contains("credHelpers"); helpers != nullptr && !helpers->is_null()) {
    if (!helpers->is_object()) bad(origin, "credHelpers", "must be an object");
    for (const auto& [key, value] : helpers->as_object()) {
      if (!value.is_string()) bad(origin, "credHelpers[\"" + std::string(key) + "\"]", "must be a string");
      config.cred_helpers[normalize_registry_key(key)] = std::string(value.as_string());
    }
  }
  return config;
}

}  // namespace kiln::auth
