#include "http/route.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "http/url.hpp"
#include "http/curl_url.hpp"
#include "kiln/error.hpp"

namespace kiln::http {
namespace {

using curlu::get_part;
using UrlHandle = curlu::Handle;

// The user info cut out by hand: when the URL does not parse, libcurl's
// parser cannot be asked which part is the password.
std::string strip_userinfo(const std::string& url) {
  auto scheme_end = url.find("://");
  std::size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  auto end = url.find_first_of("/?#", start);
  auto at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

bool parse_ip(std::string_view text, int& family, std::array<unsigned char, 16>& bytes) {
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}

bool prefix_equal(const unsigned char* a, const unsigned char* b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

std::string redact_proxy_url(const std::string& url) {
  try {
    return parse_proxy_url(url).display;
  } catch (const Error&) {
    return "<malformed proxy URL>";
  }
}

ProxyUrl parse_proxy_url(const std::string& url) {
  const std::string shown = strip_userinfo(url);
  UrlHandle u(curl_url());
  if (!u) throw Error(Errc::internal, "out of memory parsing a URL");
  auto rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK)
    throw Error(Errc::invalid_argument, "malformed proxy URL '" + shown + "': " + curl_url_strerror(rc));
  ProxyUrl out;
  std::string scheme = ascii_lower(get_part(u.get(), CURLUPART_SCHEME));
  int default_port = 0;
  if (scheme == "http") default_port = 80;
  else if (scheme == "https") default_port = 443;
  else if (scheme == "socks5" || scheme == "socks5h") default_port = 1080;
  else
    throw Error(Errc::invalid_argument, "proxy URL '" + shown + "' must start with http://, https://, socks5:// or socks5h://");
  std::string host = get_part(u.get(), CURLUPART_HOST);
  if (host.empty()) throw Error(Errc::invalid_argument, "proxy URL '" + shown + "' has no host");
  std::string path = get_part(u.get(), CURLUPART_PATH);
  if ((!path.empty() && path != "/") || !get_part(u.get(), CURLUPART_QUERY).empty())
    throw Error(Errc::invalid_argument, "proxy URL '" + shown + "' must not have a path or query (scheme://host:port)");
  std::string port = get_part(u.get(), CURLUPART_PORT);
  int port_number = port.empty() ? default_port : std::atoi(port.c_str());
  std::string authority = ascii_lower(host) + ":" + std::to_string(port_number);
  out.display = scheme + "://" + authority;
  out.url = (scheme == "socks5" ? std::string("socks5h") : scheme) + "://" + authority;
  char* user = nullptr;
  if (curl_url_get(u.get(), CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK && user != nullptr) {
    out.has_credentials = true;
    out.user = user;
    curl_free(user);
    out.password = get_part(u.get(), CURLUPART_PASSWORD, CURLU_URLDECODE);
  }
  return out;
}

void check_server_name(const std::string& server_name) {
  int family = 0;
  std::array<unsigned char, 16> bytes{};
  if (parse_ip(server_name, family, bytes)) return;
  bool ok = !server_name.empty() && server_name.size() <= 253 && server_name.front() != '.' &&
            server_name.front() != '-';
  for (char c : server_name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '.' || c == '_';
    if (!allowed) ok = false;
  }
  if (server_name.find("..") != std::string::npos) ok = false;
  if (!ok)
    throw Error(Errc::invalid_argument, "TLS server name \"" + server_name +
                                            "\" is not a DNS name or IP address (e.g. kubernetes.default.svc)");
}

std::optional<ServerNameRoute> server_name_route(const std::string& url, const std::string& server_name) {
  if (server_name.empty()) return std::nullopt;
  check_server_name(server_name);
  auto parts = parse_url(url);
  if (parts.scheme != "https") return std::nullopt;
  std::string name = ascii_lower(server_name);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name == parts.host) return std::nullopt;
  std::string url_name = name.find(':') != std::string::npos ? "[" + name + "]" : name;
  std::string real_host = parts.host.find(':') != std::string::npos ? "[" + parts.host + "]" : parts.host;

  UrlHandle u(curl_url());
  if (!u) throw Error(Errc::internal, "out of memory parsing a URL");
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_HOST, url_name.c_str(), 0) != CURLUE_OK)
    throw Error(Errc::invalid_argument, "cannot use TLS server name \"" + server_name + "\" with " + url_origin(url));
  ServerNameRoute route;
  route.url = get_part(u.get(), CURLUPART_URL);
  std::string port = std::to_string(parts.port);
  route.connect_to = url_name + ":" + port + ":" + real_host + ":" + port;
  route.host_header = "Host: " + url_authority(url);
  return route;
}

bool no_proxy_matches(std::string_view host, std::string_view no_proxy) {
  if (no_proxy.empty() || host.empty()) return false;
  if (no_proxy == "*") return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int family = 0;
  std::array<unsigned char, 16> address{};
  bool is_ip = parse_ip(host, family, address);
  if (!is_ip && host.back() == '.') host.remove_suffix(1);

  std::size_t p = 0;
  while (p < no_proxy.size()) {
    while (p < no_proxy.size() && (is_blank(no_proxy[p]) || no_proxy[p] == ',')) ++p;
    std::size_t start = p;
    while (p < no_proxy.size() && !is_blank(no_proxy[p]) && no_proxy[p] != ',') ++p;
    std::string_view token = no_proxy.substr(start, p - start);
    if (token.empty()) continue;
    if (!is_ip) {
      if (token.back() == '.') token.remove_suffix(1);
      if (!token.empty() && token.front() == '.') token.remove_prefix(1);
      if (token.empty()) continue;
      if (token.size() == host.size()) {
        if (ascii_lower(token) == ascii_lower(host)) return true;
      } else if (token.size() < host.size()) {
        if (host[host.size() - token.size() - 1] == '.' && ascii_lower(host.substr(host.size() - token.size())) == ascii_lower(token))
          return true;
      }
      continue;
    }
    std::string_view ip = token;
    unsigned bits = family == AF_INET ? 32 : 128;
    if (auto slash = token.find('/'); slash != std::string_view::npos) {
      ip = token.substr(0, slash);
      bits = static_cast<unsigned>(std::atoi(std::string(token.substr(slash + 1)).c_str()));
      if (bits == 0) bits = family == AF_INET ? 32 : 128;  // as libcurl: "/0" is no wildcard
    }
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    int token_family = 0;
    std::array<unsigned char, 16> pattern{};
    if (!parse_ip(ip, token_family, pattern) || token_family != family) continue;
    if (bits > (family == AF_INET ? 32u : 128u)) continue;
    if (prefix_equal(address.data(), pattern.data(), bits)) return true;
  }
  return false;
}

std::string environment_proxy(std::string_view scheme, std::string_view host) {
  std::string no_proxy = env("no_proxy");
  if (no_proxy.empty()) no_proxy = env("NO_PROXY");
  if (no_proxy_matches(host, no_proxy)) return {};
  std::string proxy;
  if (scheme == "https") {
    proxy = env("https_proxy");
    if (proxy.empty()) proxy = env("HTTPS_PROXY");
  } else if (scheme == "http") {
    proxy = env("http_proxy");  // libcurl never reads HTTP_PROXY (CGI "httpoxy")
  }
  if (proxy.empty()) proxy = env("all_proxy");
  if (proxy.empty()) proxy = env("ALL_PROXY");
  return proxy;
}

}  // namespace kiln::http
