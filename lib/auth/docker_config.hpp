// docker config.json / .dockerconfigjson / .dockercfg parsing.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "kiln/auth.hpp"

namespace kiln::auth {

struct DockerConfig {
  std::map<std::string, Credential> auths;          // normalized host -> credential
  std::string creds_store;                          // helper suffix, "" = none
  std::map<std::string, std::string> cred_helpers;  // normalized host -> helper suffix
};

// "https://index.docker.io/v1/", "http://host:5000", "host:5000/v1/" ->
// "docker.io", "host:5000", "host:5000" (lower case, no scheme, no path).
std::string normalize_registry_key(std::string_view key);

// The server URL docker hands to credential helpers for a normalized host.
std::string helper_server_url(const std::string& normalized_host);

// Accepts the config.json shape ({"auths":{...},"credsStore":..,"credHelpers":{..}})
// and the legacy .dockercfg shape ({"<host>":{"auth":..}}). Throws
// Error(invalid_argument) naming `origin` (a file name or "secret payload")
// and the bad field; never the secret itself.
DockerConfig parse_docker_config(std::string_view json, const std::string& origin);

}  // namespace kiln::auth
