// The public CredentialStore factories (include/kiln/auth.hpp).
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "auth/cred_helper.hpp"
#include "auth/docker_config.hpp"
#include "kiln/auth.hpp"
#include "kiln/error.hpp"

namespace kiln {
namespace {

// Lookup order as docker's: a per-registry credHelper, then credsStore, then
// the inline `auths` entry. allow_helpers is false for secret payloads: their
// helpers name programs inside builder images, not on this machine.
class DockerConfigStore : public CredentialStore {
 public:
  DockerConfigStore(auth::DockerConfig config, bool allow_helpers)
      : config_(std::move(config)), allow_helpers_(allow_helpers) {}

  std::optional<Credential> get(const std::string& registry_host) override {
    std::string host = auth::normalize_registry_key(registry_host);
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(host); it != cache_.end()) return it->second;
    auto result = lookup(host);
    cache_[host] = result;
    return result;
  }

 private:
  std::optional<Credential> lookup(const std::string& host) {
    if (allow_helpers_) {
      if (auto it = config_.cred_helpers.find(host); it != config_.cred_helpers.end() && !it->second.empty()) {
        return auth::run_credential_helper(it->second, auth::helper_server_url(host));
      }
      if (!config_.creds_store.empty()) {
        if (auto c = auth::run_credential_helper(config_.creds_store, auth::helper_server_url(host))) return c;
      }
    }
    if (auto it = config_.auths.find(host); it != config_.auths.end() && !it->second.empty()) return it->second;
    return std::nullopt;
  }

  auth::DockerConfig config_;
  bool allow_helpers_;
  std::mutex mutex_;
  std::map<std::string, std::optional<Credential>> cache_;
};

class StaticStore : public CredentialStore {
 public:
  explicit StaticStore(std::map<std::string, Credential> by_host) {
    for (auto& [host, c] : by_host) by_host_[auth::normalize_registry_key(host)] = std::move(c);
  }
  std::optional<Credential> get(const std::string& registry_host) override {
    auto it = by_host_.find(auth::normalize_registry_key(registry_host));
    if (it == by_host_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, Credential> by_host_;
};

std::filesystem::path default_config_path() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::filesystem::path(dir) / "config.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".docker" / "config.json";
  }
  return {};
}

}  // namespace

std::shared_ptr<CredentialStore> docker_config_credentials(const std::filesystem::path& path) {
  std::filesystem::path file = path.empty() ? default_config_path() : path;
  if (file.empty()) return std::make_shared<DockerConfigStore>(auth::DockerConfig{}, true);
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return std::make_shared<DockerConfigStore>(auth::DockerConfig{}, true);
    throw Error(Errc::io, "cannot read docker config " + file.string());
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string content = text.str();
  if (content.size() > (16u << 20)) throw Error(Errc::too_large, "docker config " + file.string() + " is over 16 MiB");
  return std::make_shared<DockerConfigStore>(auth::parse_docker_config(content, file.string()), true);
}

std::shared_ptr<CredentialStore> dockerconfigjson_credentials(const std::string& json) {
  return std::make_shared<DockerConfigStore>(auth::parse_docker_config(json, "docker config secret payload"), false);
}

std::shared_ptr<CredentialStore> static_credentials(std::map<std::string, Credential> by_host) {
  return std::make_shared<StaticStore>(std::move(by_host));
}

}  // namespace kiln
