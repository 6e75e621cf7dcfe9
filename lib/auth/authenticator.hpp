// Registry authentication: anonymous, Basic, and the Bearer token flow.
//
// What goes where (the rule this class enforces):
// - The registry's own Authorization (Basic credentials or a Bearer token) is
//   added only to requests whose URL has the registry's origin (scheme, host,
//   port). Upload Locations, pagination Links or redirects that point
//   elsewhere (blob storage, another host) get no Authorization; the http
//   layer also drops it on a redirect that changes origin.
// - The user's credentials (Basic user:password, or an identity/refresh
//   token) go to the token realm named in the registry's Bearer challenge:
//   that is the token protocol, the realm legitimately is another host
//   (auth.docker.io for registry-1.docker.io). The realm must be https unless
//   the registry itself is insecure or on loopback, so they never travel in
//   clear text to a host that was not explicitly trusted. The realm receives
//   the credentials only, never a registry token.
// - Tokens are cached per scope set until shortly before they expire.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/client.hpp"
#include "kiln/auth.hpp"
#include "kiln/cancel.hpp"

namespace kiln::auth {

// "repository:<name>:<actions>" helpers.
std::string repository_scope(const std::string& repository, const std::string& actions);
inline constexpr const char* catalog_scope = "registry:catalog:*";

class Authenticator {
 public:
  // registry_url: "https://host:port" of the registry API. credential_host:
  // the name credentials are stored under ("docker.io" for Docker Hub).
  // insecure: the registry is loopback or marked insecure (allows an http realm).
  Authenticator(http::Session& session, std::string registry_url, std::string credential_host,
                std::shared_ptr<CredentialStore> credentials, bool insecure);

  // Sets (or removes) Authorization on `request` for `scopes`, fetching a
  // token first when the registry is known to want one.
  void authorize(http::Request& request, const std::vector<std::string>& scopes, const CancelToken& cancel);

  // Learns from a 401 (WWW-Authenticate) and prepares new authorization for
  // `scopes` plus any scope the challenge asks for. True when a retry can
  // succeed; false when nothing new can be tried.
  bool on_unauthorized(const http::Response& response, const std::vector<std::string>& scopes,
                       const CancelToken& cancel);

  // Learns the scheme (and realm) from a 401 without fetching anything: used
  // by the /v2/ ping so that the first real request is sent authorized.
  void learn(const http::Response& response);

  // For messages: "no credentials configured for X" vs "credentials for X were rejected".
  bool has_credentials(const CancelToken& cancel);

  // How many token requests were made (tests check that nothing was fetched).
  std::size_t token_fetches() const;

 private:
  enum class Mode { unknown, basic, bearer };
  struct CachedToken {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };

  const std::optional<Credential>& credential_locked();
  // Applies the challenges of a 401; returns the scopes a Bearer challenge
  // adds, or nullopt when there is no usable challenge.
  enum class Learned { nothing, basic, bearer };
  Learned learn_locked(const http::Response& response, std::vector<std::string>* extra_scopes);
  std::string token_for_locked(const std::vector<std::string>& scopes, const CancelToken& cancel, bool force);
  std::string fetch_token_locked(const std::vector<std::string>& scopes, const CancelToken& cancel);

  http::Session& session_;
  std::string registry_url_;
  std::string registry_origin_;
  std::string credential_host_;
  std::shared_ptr<CredentialStore> store_;
  bool insecure_;

  mutable std::mutex mutex_;
  Mode mode_ = Mode::unknown;
  std::string realm_;
  std::string service_;
  bool credential_loaded_ = false;
  std::optional<Credential> credential_;
  std::string refresh_token_;
  std::map<std::string, CachedToken> tokens_;
  std::size_t fetches_ = 0;
};

}  // namespace kiln::auth
