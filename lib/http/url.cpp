#include "http/url.hpp"

#include <curl/curl.h>

#include <memory>

#include "http/curl_url.hpp"
#include "kiln/error.hpp"

namespace kiln::http {
namespace {

using curlu::get_part;
using UrlHandle = curlu::Handle;

UrlHandle parse_handle(const std::string& url) {
  UrlHandle u(curl_url());
  if (!u) throw Error(Errc::internal, "out of memory parsing a URL");
  auto rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    throw Error(Errc::invalid_argument, "malformed URL '" + url + "': " + curl_url_strerror(rc));
  }
  return u;
}

}  // namespace

UrlParts parse_url(const std::string& url) {
  auto u = parse_handle(url);
  UrlParts parts;
  parts.scheme = ascii_lower(get_part(u.get(), CURLUPART_SCHEME));
  parts.host = ascii_lower(get_part(u.get(), CURLUPART_HOST));
  if (parts.host.size() >= 2 && parts.host.front() == '[' && parts.host.back() == ']') {
    parts.host = parts.host.substr(1, parts.host.size() - 2);
  }
  std::string port = get_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  parts.port = port.empty() ? 0 : std::atoi(port.c_str());
  parts.path = get_part(u.get(), CURLUPART_PATH);
  parts.query = get_part(u.get(), CURLUPART_QUERY);
  if (parts.host.empty()) throw Error(Errc::invalid_argument, "URL '" + url + "' has no host");
  return parts;
}

std::string resolve_url(const std::string& base, const std::string& reference) {
  auto u = parse_handle(base);
  auto rc = curl_url_set(u.get(), CURLUPART_URL, reference.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    throw Error(Errc::protocol, "the server sent a malformed URL '" + reference + "': " + curl_url_strerror(rc));
  }
  return get_part(u.get(), CURLUPART_URL);
}

std::string url_origin(const std::string& url) {
  auto p = parse_url(url);
  std::string host = p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
  return p.scheme + "://" + host + ":" + std::to_string(p.port);
}

bool same_origin(const std::string& a, const std::string& b) {
  try {
    return url_origin(a) == url_origin(b);
  } catch (const Error&) {
    return false;
  }
}

std::string url_authority(const std::string& url) {
  auto p = parse_url(url);
  std::string host = p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
  bool default_port = (p.scheme == "https" && p.port == 443) || (p.scheme == "http" && p.port == 80);
  return default_port ? host : host + ":" + std::to_string(p.port);
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string append_query(const std::string& url, std::string_view key, std::string_view value) {
  auto hash = url.find('#');
  std::string base = hash == std::string::npos ? url : url.substr(0, hash);
  char sep = base.find('?') == std::string::npos ? '?' : (base.back() == '?' || base.back() == '&' ? '\0' : '&');
  if (sep != '\0') base.push_back(sep);
  base += url_encode(key);
  base.push_back('=');
  base += url_encode(value);
  return base;
}

std::pair<std::string, int> split_host_port(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return {std::string(authority), 0};
    std::string host(authority.substr(1, close - 1));
    int port = 0;
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = std::atoi(std::string(authority.substr(close + 2)).c_str());
    }
    return {host, port};
  }
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(':') == colon) {
    return {std::string(authority.substr(0, colon)), std::atoi(std::string(authority.substr(colon + 1)).c_str())};
  }
  return {std::string(authority), 0};
}

bool is_loopback_host(std::string_view host_or_authority) {
  auto host = ascii_lower(split_host_port(host_or_authority).first);
  if (host == "localhost" || host == "::1") return true;
  if (host.rfind("127.", 0) == 0) {
    // Only a dotted-quad IPv4 address, not a name such as "127.evil.com".
    int dots = 0;
    for (char c : host) {
      if (c == '.') ++dots;
      else if (c < '0' || c > '9') return false;
    }
    return dots == 3;
  }
  return false;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

}  // namespace kiln::http
