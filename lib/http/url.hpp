// URL helpers on top of libcurl's URL parser (so kiln and libcurl agree on
// what a URL means).
#pragma once

#include <string>
#include <string_view>

namespace kiln::http {

struct UrlParts {
  std::string scheme;  // lower case: "http", "https"
  std::string host;    // without brackets for IPv6
  int port = 0;        // explicit or the scheme's default
  std::string path;    // "/v2/..." (still percent-encoded)
  std::string query;   // without '?'
};

// Throws Error(invalid_argument|protocol) naming the URL when it does not parse.
UrlParts parse_url(const std::string& url);

// Resolves a (possibly relative) reference against `base`, as a browser would
// for a Location header.
std::string resolve_url(const std::string& base, const std::string& reference);

// "https://host:443": what decides whether credentials may follow a request.
std::string url_origin(const std::string& url);
bool same_origin(const std::string& a, const std::string& b);

// "host:port" when the port is explicit or not the default, else "host".
std::string url_authority(const std::string& url);

// Percent-encodes everything except unreserved characters (RFC 3986).
std::string url_encode(std::string_view text);
// Appends "key=value" (both encoded) with '?' or '&' as needed.
std::string append_query(const std::string& url, std::string_view key, std::string_view value);

// True for "localhost", 127.0.0.0/8 and ::1 (with or without a port).
bool is_loopback_host(std::string_view host_or_authority);
// Splits "host:port" / "[v6]:port" / "host" into host and port (0 when none).
std::pair<std::string, int> split_host_port(std::string_view authority);

// ASCII lower case (host names and schemes compare case-insensitively).
std::string ascii_lower(std::string_view text);

}  // namespace kiln::http
