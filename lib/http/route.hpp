// How a transfer reaches its server when the configuration says more than
// the URL: an explicit proxy (kubeconfig proxy-url) and a TLS server name
// that differs from the URL's host (kubeconfig tls-server-name). Pure
// functions, so that the rewriting is unit-tested; Session applies them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::http {

struct ProxyUrl {
  // scheme://host:port without user info: for libcurl and for messages.
  // socks5:// is given to libcurl as socks5h:// (see parse_proxy_url).
  std::string url;
  std::string display;  // as configured, user info removed
  bool has_credentials = false;
  std::string user;      // percent-decoded
  std::string password;  // percent-decoded; never in a message
};

// Parses a proxy URL: http://, https://, socks5:// or socks5h://, an
// optional user:password@ and port (default 80/443/1080). Throws
// Error(invalid_argument) for anything else; the message names the URL
// without its user info.
//
// socks5:// becomes socks5h:// for libcurl: client-go (Go's net/http) hands
// host names to a SOCKS5 proxy to resolve, while libcurl's socks5:// would
// resolve them locally, which fails for names only the proxy's side knows.
ProxyUrl parse_proxy_url(const std::string& url);

// The proxy URL with any user:password@ removed, for messages; "<malformed
// proxy URL>" when it does not parse.
std::string redact_proxy_url(const std::string& url);

// A TLS server name override: the connection goes to the URL's host and
// port, the TLS handshake (SNI, certificate host check) uses `server_name`,
// and the Host header stays the URL's authority, as with client-go's
// tls.Config.ServerName. libcurl 7.88 has no SNI option, so the URL's host
// is replaced by the server name and CURLOPT_CONNECT_TO maps it back to the
// real host; libcurl then sends the connect-to host to proxies (CONNECT
// target, SOCKS5 destination) too, which is where the connection must go.
struct ServerNameRoute {
  std::string url;          // the URL with its host replaced by the server name
  std::string connect_to;   // "name:port:host:port" for CURLOPT_CONNECT_TO
  std::string host_header;  // "Host: <the original URL's authority>"
};

// nullopt when nothing changes: no server name, a plain http URL, or a
// server name equal to the URL's host. Throws Error(invalid_argument) for a
// server name that is not a host name or IP address.
std::optional<ServerNameRoute> server_name_route(const std::string& url, const std::string& server_name);

// Throws Error(invalid_argument) naming `server_name` unless it is a DNS
// name or an IP address.
void check_server_name(const std::string& server_name);

// Whether a NO_PROXY list exempts `host` (no brackets for IPv6), with
// libcurl's rules (so that kiln decides as libcurl would for the real host
// when the URL's host was replaced): "*" alone matches all; entries are
// separated by commas and/or blanks; a name matches itself and its
// subdomains (a leading '.' is ignored); IP addresses match exactly or by
// CIDR prefix ("10.0.0.0/8").
bool no_proxy_matches(std::string_view host, std::string_view no_proxy);

// The proxy libcurl would take from the environment for a URL of `scheme`
// ("https": https_proxy, HTTPS_PROXY; "http": http_proxy; then all_proxy,
// ALL_PROXY), and "" when `host` is exempt by no_proxy/NO_PROXY or none is set.
std::string environment_proxy(std::string_view scheme, std::string_view host);

}  // namespace kiln::http
