#include "auth/authenticator.hpp"

#include <algorithm>
#include <set>

#include "core/base64.hpp"
#include "auth/challenge.hpp"
#include "auth/token.hpp"
#include "http/url.hpp"
#include "kiln/error.hpp"

namespace kiln::auth {
namespace {

constexpr std::size_t kMaxTokenResponse = 256 * 1024;
// A token is renewed this long before the server would reject it.
constexpr std::chrono::seconds kExpiryMargin{10};

std::vector<std::string> normalize_scopes(const std::vector<std::string>& scopes) {
  std::set<std::string> unique;
  for (const auto& s : scopes) {
    if (!s.empty()) unique.insert(s);
  }
  return {unique.begin(), unique.end()};
}

// "type:name:a,b" -> {"type:name", {a, b}}; the name sits between the first
// and the last colon.
std::pair<std::string, std::set<std::string>> split_scope(const std::string& scope) {
  auto last = scope.rfind(':');
  if (last == std::string::npos) return {scope, {}};
  std::set<std::string> actions;
  std::size_t start = last + 1;
  while (start <= scope.size()) {
    auto comma = scope.find(',', start);
    if (comma == std::string::npos) comma = scope.size();
    if (comma > start) actions.insert(scope.substr(start, comma - start));
    start = comma + 1;
  }
  return {scope.substr(0, last), actions};
}

// Whether a token for the space-separated scopes in `key` also grants `wanted`.
bool covers(const std::string& key, const std::vector<std::string>& wanted) {
  std::vector<std::pair<std::string, std::set<std::string>>> have;
  std::size_t start = 0;
  while (start < key.size()) {
    auto space = key.find(' ', start);
    if (space == std::string::npos) space = key.size();
    have.push_back(split_scope(key.substr(start, space - start)));
    start = space + 1;
  }
  for (const auto& w : wanted) {
    auto [resource, actions] = split_scope(w);
    bool found = false;
    for (const auto& [r, a] : have) {
      if (r != resource) continue;
      found = a.count("*") > 0 || std::includes(a.begin(), a.end(), actions.begin(), actions.end());
      if (found) break;
    }
    if (!found) return false;
  }
  return true;
}

std::string scope_key(const std::vector<std::string>& normalized) {
  std::string key;
  for (const auto& s : normalized) {
    if (!key.empty()) key.push_back(' ');
    key += s;
  }
  return key;
}

// The realm for messages: no query string.
std::string display_realm(const std::string& realm) {
  try {
    auto p = http::parse_url(realm);
    return p.scheme + "://" + http::url_authority(realm) + p.path;
  } catch (const Error&) {
    return "<malformed realm>";
  }
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    out += http::url_encode(k) + "=" + http::url_encode(v);
  }
  return out;
}

}  // namespace

std::string repository_scope(const std::string& repository, const std::string& actions) {
  return "repository:" + repository + ":" + actions;
}

Authenticator::Authenticator(http::Session& session, std::string registry_url, std::string credential_host,
                             std::shared_ptr<CredentialStore> credentials, bool insecure)
    : session_(session),
      registry_url_(std::move(registry_url)),
      registry_origin_(http::url_origin(registry_url_)),
      credential_host_(std::move(credential_host)),
      store_(std::move(credentials)),
      insecure_(insecure) {}

const std::optional<Credential>& Authenticator::credential_locked() {
  if (!credential_loaded_) {
    if (store_) credential_ = store_->get(credential_host_);
    if (credential_ && credential_->empty()) credential_.reset();
    credential_loaded_ = true;
  }
  return credential_;
}

bool Authenticator::has_credentials(const CancelToken&) {
  std::lock_guard lock(mutex_);
  return credential_locked().has_value();
}

std::size_t Authenticator::token_fetches() const {
  std::lock_guard lock(mutex_);
  return fetches_;
}

void Authenticator::authorize(http::Request& request, const std::vector<std::string>& scopes,
                              const CancelToken& cancel) {
  request.headers.remove("Authorization");
  if (!http::same_origin(request.url, registry_origin_)) return;
  std::lock_guard lock(mutex_);
  switch (mode_) {
    case Mode::unknown:  // no challenge seen yet: anonymous
      return;
    case Mode::basic: {
      const auto& c = credential_locked();
      if (c && !c->username.empty()) {
        request.headers.set("Authorization", "Basic " + core::base64_encode(c->username + ":" + c->password));
      }
      return;
    }
    case Mode::bearer:
      request.headers.set("Authorization", "Bearer " + token_for_locked(scopes, cancel, false));
      return;
  }
}

Authenticator::Learned Authenticator::learn_locked(const http::Response& response,
                                                   std::vector<std::string>* extra_scopes) {
  auto challenges = parse_www_authenticate(response.headers.get_all("WWW-Authenticate"));
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }
  if (bearer != nullptr) {
    auto realm = bearer->param("realm");
    if (!realm || realm->empty()) {
      throw Error(Errc::protocol, "registry " + http::url_authority(registry_url_) +
                                      " sent a Bearer challenge without a realm")
          .with_http_status(401);
    }
    auto realm_parts = http::parse_url(*realm);
    if (realm_parts.scheme != "https" && !(realm_parts.scheme == "http" && insecure_)) {
      throw Error(Errc::protocol, "registry " + http::url_authority(registry_url_) + " names the token realm " +
                                      display_realm(*realm) +
                                      ", which is not https; credentials are only sent over plain http when the "
                                      "registry is marked insecure or on loopback")
          .with_http_status(401);
    }
    if (mode_ != Mode::bearer || realm_ != *realm) tokens_.clear();
    mode_ = Mode::bearer;
    realm_ = *realm;
    service_ = bearer->param("service").value_or("");
    if (extra_scopes != nullptr) {
      if (auto extra = bearer->param("scope")) {
        std::size_t start = 0;
        while (start <= extra->size()) {
          auto end = extra->find(' ', start);
          if (end == std::string::npos) end = extra->size();
          if (end > start) extra_scopes->push_back(extra->substr(start, end - start));
          start = end + 1;
        }
      }
    }
    return Learned::bearer;
  }
  if (basic != nullptr) return Learned::basic;
  return Learned::nothing;
}

void Authenticator::learn(const http::Response& response) {
  std::lock_guard lock(mutex_);
  if (learn_locked(response, nullptr) == Learned::basic) mode_ = Mode::basic;
}

bool Authenticator::on_unauthorized(const http::Response& response, const std::vector<std::string>& scopes,
                                    const CancelToken& cancel) {
  std::lock_guard lock(mutex_);
  Mode before = mode_;
  std::vector<std::string> wanted = scopes;
  switch (learn_locked(response, &wanted)) {
    case Learned::bearer: {
      // Whatever token was used has been rejected: always fetch a new one.
      tokens_.erase(scope_key(normalize_scopes(scopes)));
      token_for_locked(wanted, cancel, true);
      if (wanted.size() != scopes.size()) {
        // Later authorize() calls for `scopes` carry the wider token.
        tokens_[scope_key(normalize_scopes(scopes))] = tokens_[scope_key(normalize_scopes(wanted))];
      }
      return true;
    }
    case Learned::basic: {
      if (before == Mode::basic) return false;  // the credentials were sent and rejected
      mode_ = Mode::basic;
      const auto& c = credential_locked();
      return c.has_value() && !c->username.empty();
    }
    case Learned::nothing:
      break;
  }
  return false;
}

std::string Authenticator::token_for_locked(const std::vector<std::string>& scopes, const CancelToken& cancel,
                                            bool force) {
  auto normalized = normalize_scopes(scopes);
  auto key = scope_key(normalized);
  auto now = std::chrono::steady_clock::now();
  if (!force) {
    auto it = tokens_.find(key);
    if (it != tokens_.end() && it->second.expires > now) return it->second.token;
    // A token asked for wider scopes (push,pull; a mount's pair) serves a
    // narrower request too: one token per push instead of one per action.
    for (const auto& [cached_key, cached] : tokens_) {
      if (cached.expires > now && covers(cached_key, normalized)) return cached.token;
    }
  }
  std::string token = fetch_token_locked(normalized, cancel);
  return token;
}

std::string Authenticator::fetch_token_locked(const std::vector<std::string>& scopes, const CancelToken& cancel) {
  const auto& credential = credential_locked();
  std::string where = display_realm(realm_);
  std::string registry = http::url_authority(registry_url_);
  http::Request request;
  request.cancel = cancel;
  request.max_body = kMaxTokenResponse;
  std::string refresh = !refresh_token_.empty() ? refresh_token_
                        : (credential && !credential->identity_token.empty() ? credential->identity_token
                                                                             : std::string());
  if (!refresh.empty()) {
    // OAuth2 refresh-token grant (docker login with an identity token).
    std::vector<std::pair<std::string, std::string>> form = {
        {"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "kiln"}};
    if (!service_.empty()) form.emplace_back("service", service_);
    if (!scopes.empty()) form.emplace_back("scope", scope_key(scopes));
    request.method = "POST";
    request.url = realm_;
    request.body = form_encode(form);
    request.headers.set("Content-Type", "application/x-www-form-urlencoded");
  } else {
    request.method = "GET";
    std::string url = realm_;
    if (!service_.empty()) url = http::append_query(url, "service", service_);
    for (const auto& s : scopes) url = http::append_query(url, "scope", s);
    request.url = url;
    if (credential && !credential->username.empty()) {
      request.headers.set("Authorization",
                          "Basic " + core::base64_encode(credential->username + ":" + credential->password));
    }
  }
  http::Response response;
  try {
    response = session_.perform(request);
  } catch (Error& e) {
    if (e.code() == Errc::too_large) {
      throw Error(Errc::too_large, "token server " + where + " (for registry " + registry +
                                       ") sent a response over " + std::to_string(kMaxTokenResponse / 1024) +
                                       " KiB; refusing it");
    }
    throw;
  }
  ++fetches_;
  if (response.status == 401 || response.status == 403) {
    std::string why = credential ? "rejected the credentials configured for " + credential_host_
                                 : "refused anonymous access; configure credentials for " + credential_host_ +
                                       " (docker login)";
    throw Error(Errc::unauthorized, "token server " + where + " " + why)
        .with_http_status(static_cast<int>(response.status));
  }
  if (!response.ok()) {
    throw Error(response.status >= 500 ? Errc::server : Errc::protocol,
                "token server " + where + " answered HTTP " + std::to_string(response.status))
        .with_http_status(static_cast<int>(response.status));
  }
  auto parsed = parse_token_response(response.body, where);
  if (!parsed.refresh_token.empty()) refresh_token_ = parsed.refresh_token;
  auto expires = std::chrono::steady_clock::now() + parsed.expires_in - kExpiryMargin;
  tokens_[scope_key(scopes)] = CachedToken{parsed.token, expires};
  return parsed.token;
}

}  // namespace kiln::auth
