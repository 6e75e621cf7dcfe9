// kiln's HTTP client: a libcurl session shared by every transfer of one
// Registry / Kubernetes client. Internal to kiln (not installed).
//
// What the layer does for its callers, so that they never have to:
// - one CURLSH per Session (DNS cache, TLS sessions) shared by all threads;
//   one easy handle per transfer, taken from a pool whose handles keep their
//   open connections (libcurl documents sharing the connection cache itself
//   between concurrent threads as unsafe);
// - TLS verification on by default; plain http only to loopback or to hosts
//   listed as insecure (insecure hosts also skip TLS verification);
// - retries of 408/429/500/502/503/504 and connection failures with
//   exponential backoff + jitter, `Retry-After` honoured, but never when the
//   body cannot be rewound or response bytes were already handed to a sink;
// - redirects followed here (not by libcurl) so that `Authorization` is
//   dropped as soon as the origin changes;
// - an explicit proxy and a TLS server name override (route.hpp) applied to
//   every handle, WebSocket connections included;
// - cancellation: CancelToken polled by the progress callback (< 1 s);
// - capped string bodies; errors as kiln::Error without credentials.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiln/cancel.hpp"
#include "kiln/error.hpp"

typedef void CURL;  // libcurl's own typedef; avoids including curl.h here

namespace kiln::http {

// Header fields in arrival order; names compare case-insensitively and a
// name may repeat (WWW-Authenticate, Link).
class Headers {
 public:
  void add(std::string name, std::string value);
  // Replaces every field named `name` by one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  bool has(std::string_view name) const;
  // The first value, or nullopt.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  void clear() { fields_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b) noexcept;

// Pull-style request body.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Fills up to `size` bytes; 0 means the end. May throw (the transfer then
  // fails with that exception).
  virtual std::size_t read(char* buffer, std::size_t size) = 0;
  // Back to the first byte, for a retry or a redirect; false when the source
  // cannot (the request is then not retried).
  virtual bool rewind() { return false; }
};

// Response bytes pushed as they arrive. May throw to abort the transfer; the
// exception reaches the caller of perform() unchanged.
using BodySink = std::function<void(const char* data, std::size_t size)>;

struct Response;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;

  // Body: `body` unless `body_source` is set (not owned; must outlive the
  // call). body_size -1 = unknown (chunked transfer encoding).
  std::string body;
  BodySource* body_source = nullptr;
  std::int64_t body_size = -1;

  // Response body of a 2xx answer goes to `sink` when set. Every other body
  // (and a 2xx body without a sink) is kept in Response::body, up to
  // max_body bytes, beyond which perform() throws Error(too_large).
  BodySink sink;
  // Called once per attempt with the status and headers, just before the
  // first byte of a 2xx body reaches `sink` (e.g. to check 206 vs 200).
  std::function<void(const Response&)> on_sink_start;
  std::size_t max_body = 4 << 20;

  bool follow_redirects = true;
  int max_redirects = 10;
  bool retry = true;  // false: exactly one attempt, whatever happens
  // 0 = only the session's connect/low-speed limits apply.
  std::chrono::milliseconds total_timeout{0};

  CancelToken cancel;
};

struct Response {
  long status = 0;
  Headers headers;       // of the final response (after redirects)
  std::string body;      // see Request::max_body
  std::string url;       // final URL, after redirects
  std::uint64_t sink_bytes = 0;  // bytes handed to Request::sink
  int attempts = 0;      // total transfers made (retries + redirects + 1)
  bool ok() const { return status >= 200 && status < 300; }
};

struct TlsOptions {
  bool verify = true;
  std::string ca_file;          // extra/alternative CA bundle (PEM file)
  std::string ca_pem;           // CA certificates as PEM text (kubeconfig *-data)
  std::string client_cert_file; // PEM
  std::string client_key_file;  // PEM
  std::string client_cert_pem;  // PEM text
  std::string client_key_pem;   // PEM text
  // Name checked in the server's certificate and sent as SNI instead of the
  // URL's host; the connection still goes to the URL's host and the Host
  // header stays the URL's (kubeconfig tls-server-name, client-go's
  // tls.Config.ServerName). Applies to every https URL of the session.
  std::string server_name;
  // What a failed handshake's error tells the user to check, in the words of
  // the caller's configuration (registry options, kubeconfig fields).
  // Empty: a generic hint.
  std::string failure_hint;
};

struct SessionOptions {
  TlsOptions tls;
  // "host" or "host:port": plain http allowed, TLS verification skipped.
  std::vector<std::string> insecure_hosts;
  bool allow_plain_http_loopback = true;
  long connect_timeout_ms = 30000;
  long low_speed_timeout_s = 60;  // abort when < 1 byte/s for this long
  int max_retries = 4;
  std::chrono::milliseconds retry_base_delay{200};
  std::chrono::milliseconds retry_max_delay{10000};
  // Longest Retry-After obeyed; a longer one is capped to this.
  std::chrono::milliseconds retry_after_cap{60000};
  std::string user_agent = "kiln/0.1";
  // Every connection goes through this proxy (kubeconfig proxy-url):
  // http://, https://, socks5:// (host names resolved by the proxy, as in
  // Go) or socks5h://, with optional user:password@ (percent-encoded; sent
  // only to the proxy, never in messages). NO_PROXY does not apply to it,
  // as with client-go. Empty: libcurl's environment proxies (https_proxy,
  // HTTPS_PROXY, all_proxy, NO_PROXY) apply.
  std::string proxy;
};

// What prepare_handle set up beyond options: keep it until the transfer on
// the handle is over (libcurl refers to the lists it holds).
struct HandleRoute {
  // "Host: ..." when the URL given to libcurl was rewritten for a TLS
  // server name; requests must send it (the WebSocket handshake builds its
  // own Host from the original URL).
  std::string host_header;
  std::shared_ptr<void> keep;
};

class Session {
 public:
  explicit Session(SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Thread-safe. Returns any HTTP status (callers decide what 4xx means);
  // throws Error(network|timeout|cancelled|too_large|invalid_argument) for
  // transport failures, exhausted retries of a connection failure, a refused
  // plain-http URL, or a capped body. After retries are exhausted on a
  // retryable status, that last response is returned.
  Response perform(Request& request);

  // Whether `url` may be fetched (scheme policy), with the reason when not.
  // Error(invalid_argument) for a refused plain-http host.
  void check_url_policy(const std::string& url) const;
  // True for loopback hosts and hosts in insecure_hosts.
  bool is_insecure_host(std::string_view host_port) const;

  // Applies the session's share, TLS, proxy, timeout and user agent options
  // to an easy handle owned by the caller (e.g. a CONNECT_ONLY WebSocket
  // handle), for a transfer to `url`.
  [[nodiscard]] HandleRoute prepare_handle(CURL* easy, const std::string& url) const;

  // A failed transfer on a prepared handle as a kiln::Error: curl_error()
  // plus, with a configured proxy, which proxy (without credentials) and
  // what it answered to CONNECT.
  Error transfer_error(CURL* easy, int curl_code, const std::string& what, const char* detail) const;
  // True when the proxy refused the tunnel (CONNECT answered with >= 300):
  // not worth retrying.
  static bool proxy_refused(CURL* easy);

  const SessionOptions& options() const { return options_; }

 private:
  struct Impl;
  SessionOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Converts a curl error into a kiln error code + message mentioning `what`
// (e.g. "GET https://host/v2/"): never includes headers or bodies.
Error curl_error(int curl_code, const std::string& what, const char* detail = nullptr, std::string_view tls_hint = {});

}  // namespace kiln::http
