// Registry credentials: where they come from. The Basic/Bearer flow that uses
// them is internal (lib/auth).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kiln {

struct Credential {
  std::string username;
  std::string password;        // or a registry token
  std::string identity_token;  // OAuth2 refresh token (Username "<token>" in helpers)
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  // Credentials for a registry host ("ghcr.io", "127.0.0.1:5000", "docker.io"),
  // or nullopt for anonymous access.
  virtual std::optional<Credential> get(const std::string& registry_host) = 0;
};

// docker config.json (auths, credsStore, credHelpers). An empty path means
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json; a missing file is
// an empty store, a malformed one an Error naming the file and field.
std::shared_ptr<CredentialStore> docker_config_credentials(const std::filesystem::path& path = {});
// The payload of a kubernetes.io/dockerconfigjson (or legacy .dockercfg) secret.
std::shared_ptr<CredentialStore> dockerconfigjson_credentials(const std::string& json);
// Fixed credentials per host.
std::shared_ptr<CredentialStore> static_credentials(std::map<std::string, Credential> by_host);

}  // namespace kiln
