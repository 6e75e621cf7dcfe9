#include "http/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "http/route.hpp"
#include "http/url.hpp"

namespace kiln::http {
namespace {

constexpr std::size_t kPoolMax = 16;
// Bodies below this size go without `Expect: 100-continue`: a server that
// never answers 100 would otherwise cost a second per request.
constexpr std::int64_t kExpectThreshold = 1 << 20;

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void ensure_global_init() {
  static GlobalInit init;
  (void)init;
}

// For messages: no userinfo, no query (upload Locations carry opaque state,
// realms carry account names).
std::string redact_url(const std::string& url) {
  try {
    auto p = parse_url(url);
    std::string host = p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
    return p.scheme + "://" + host + ":" + std::to_string(p.port) + p.path;
  } catch (const Error&) {
    return "<malformed URL>";
  }
}

bool is_retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool is_retryable_curl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_OPERATION_TIMEDOUT:
      return true;
    default:
      return false;
  }
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

class StringSource : public BodySource {
 public:
  explicit StringSource(const std::string& s) : s_(s) {}
  std::size_t read(char* buffer, std::size_t size) override {
    std::size_t n = std::min(size, s_.size() - pos_);
    std::memcpy(buffer, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  bool rewind() override {
    pos_ = 0;
    return true;
  }

 private:
  const std::string& s_;
  std::size_t pos_ = 0;
};

// Everything the libcurl callbacks of one attempt need.
struct Transfer {
  CURL* easy = nullptr;
  Request* request = nullptr;
  Response* response = nullptr;
  BodySource* source = nullptr;
  std::uint64_t source_bytes = 0;  // read from the source since its last rewind
  bool cancelled = false;
  bool too_large = false;
  bool sink_started = false;
  std::exception_ptr failure;  // thrown by the sink or the source
};

size_t header_cb(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 100 Continue or an auth round): start over.
    t->response->headers.clear();
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t->response->headers.add(std::string(name), std::string(value));
  return n;
}

size_t write_cb(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->sink && status >= 200 && status < 300) {
    try {
      if (!t->sink_started) {
        t->sink_started = true;
        t->response->status = status;
        if (t->request->on_sink_start) t->request->on_sink_start(*t->response);
      }
      t->request->sink(data, n);
    } catch (...) {
      t->failure = std::current_exception();
      return 0;
    }
    t->response->sink_bytes += n;
    return n;
  }
  if (t->response->body.size() + n > t->request->max_body) {
    t->too_large = true;
    return 0;
  }
  t->response->body.append(data, n);
  return n;
}

size_t read_cb(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {
    std::size_t n = t->source->read(buffer, size * count);
    t->source_bytes += n;
    return n;
  } catch (...) {
    t->failure = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

// libcurl rewinds by itself when a reused connection turned out dead.
int seek_cb(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  try {
    if (!t->source->rewind()) return CURL_SEEKFUNC_CANTSEEK;
  } catch (...) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->source_bytes = 0;
  return CURL_SEEKFUNC_OK;
}

// libcurl calls this at least once a second even when no byte moves, which is
// what bounds the reaction time to a cancel.
int xferinfo_cb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->cancel.cancelled()) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::chrono::milliseconds parse_retry_after(const Headers& headers) {
  auto value = headers.get("Retry-After");
  if (!value || value->empty()) return std::chrono::milliseconds(0);
  bool digits = std::all_of(value->begin(), value->end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    if (value->size() > 7) return std::chrono::hours(24);
    return std::chrono::seconds(std::stol(*value));
  }
  time_t when = curl_getdate(value->c_str(), nullptr);
  if (when < 0) return std::chrono::milliseconds(0);
  auto delta = when - time(nullptr);
  return delta > 0 ? std::chrono::seconds(delta) : std::chrono::milliseconds(0);
}

void sleep_cancellable(std::chrono::milliseconds delay, const CancelToken& cancel) {
  auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until) {
    cancel.check();
    auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
  cancel.check();
}

}  // namespace

Error curl_error(int curl_code, const std::string& what, const char* detail, std::string_view tls_hint) {
  auto code = static_cast<CURLcode>(curl_code);
  std::string message = what + ": " + curl_easy_strerror(code);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error(Errc::timeout, message);
    case CURLE_ABORTED_BY_CALLBACK:
      return Error(Errc::cancelled, what + ": cancelled");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CONNECT_ERROR:
      return Error(Errc::network, message + "; " +
                                      (tls_hint.empty() ? std::string("check the CA certificates and the client certificate")
                                                        : std::string(tls_hint)));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Error(Errc::invalid_argument, message);
    default:
      return Error(Errc::network, message);
  }
}

struct Session::Impl {
  CURLSH* share = nullptr;
  std::optional<ProxyUrl> proxy;  // SessionOptions::proxy, parsed once
  // The system's hashed CA directory, looked up once: with an extra CA file
  // it keeps public hosts verifiable.
  const char* system_ca_dir = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  std::mutex pool_mutex;
  std::vector<CURL*> pool;
  std::mutex rng_mutex;
  std::mt19937_64 rng{std::random_device{}()};

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<std::size_t>(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<std::size_t>(data)].unlock();
  }

  CURL* acquire() {
    {
      std::lock_guard lock(pool_mutex);
      if (!pool.empty()) {
        CURL* easy = pool.back();
        pool.pop_back();
        // Keeps the handle's live connections, which is the connection pool.
        curl_easy_reset(easy);
        return easy;
      }
    }
    CURL* easy = curl_easy_init();
    if (easy == nullptr) throw Error(Errc::internal, "curl_easy_init failed (out of memory?)");
    return easy;
  }

  void release(CURL* easy) {
    std::lock_guard lock(pool_mutex);
    if (pool.size() < kPoolMax) {
      pool.push_back(easy);
    } else {
      curl_easy_cleanup(easy);
    }
  }

  std::chrono::milliseconds jitter(std::chrono::milliseconds d) {
    std::lock_guard lock(rng_mutex);
    auto half = d.count() / 2;
    std::uniform_int_distribution<long long> dist(0, half > 0 ? half : 0);
    return std::chrono::milliseconds(d.count() - half + dist(rng));
  }
};

Session::Session(SessionOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  ensure_global_init();
  // Bad settings fail here, naming themselves, rather than in every transfer.
  if (!options_.proxy.empty()) impl_->proxy = parse_proxy_url(options_.proxy);
  if (!options_.tls.server_name.empty()) check_server_name(options_.tls.server_name);
  std::error_code ec;
  if (std::filesystem::is_directory("/etc/ssl/certs", ec)) impl_->system_ca_dir = "/etc/ssl/certs";
  impl_->share = curl_share_init();
  if (impl_->share == nullptr) throw Error(Errc::internal, "curl_share_init failed");
  curl_share_setopt(impl_->share, CURLSHOPT_LOCKFUNC, &Impl::lock);
  curl_share_setopt(impl_->share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
  curl_share_setopt(impl_->share, CURLSHOPT_USERDATA, impl_.get());
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  // Not CURL_LOCK_DATA_CONNECT: libcurl documents sharing the connection
  // cache between concurrent threads as unsafe. Connections are reused
  // through the pool of easy handles instead (each keeps its connections
  // across curl_easy_reset).
}

Session::~Session() {
  for (CURL* easy : impl_->pool) curl_easy_cleanup(easy);
  curl_share_cleanup(impl_->share);
}

bool Session::is_insecure_host(std::string_view host_port) const {
  if (is_loopback_host(host_port)) return true;
  auto [host, port] = split_host_port(host_port);
  for (const auto& entry : options_.insecure_hosts) {
    auto [eh, ep] = split_host_port(entry);
    if (iequals(eh, host) && (ep == 0 || ep == port)) return true;
  }
  return false;
}

void Session::check_url_policy(const std::string& url) const {
  auto p = parse_url(url);
  if (p.scheme == "https") return;
  if (p.scheme != "http") {
    throw Error(Errc::invalid_argument, "unsupported URL scheme '" + p.scheme + "' in " + redact_url(url));
  }
  std::string authority = (p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host) + ":" +
                          std::to_string(p.port);
  if (options_.allow_plain_http_loopback && is_loopback_host(authority)) return;
  auto [host, port] = split_host_port(authority);
  for (const auto& entry : options_.insecure_hosts) {
    auto [eh, ep] = split_host_port(entry);
    if (iequals(eh, host) && (ep == 0 || ep == port)) return;
  }
  throw Error(Errc::invalid_argument, "refusing plain HTTP to " + authority +
                                          ": only loopback hosts and hosts marked as insecure registries may be "
                                          "reached without TLS");
}

HandleRoute Session::prepare_handle(CURL* easy, const std::string& url) const {
  HandleRoute route;
  auto renamed = server_name_route(url, options_.tls.server_name);
  curl_easy_setopt(easy, CURLOPT_URL, renamed ? renamed->url.c_str() : url.c_str());
  if (renamed) {
    curl_slist* connect_to = curl_slist_append(nullptr, renamed->connect_to.c_str());
    if (connect_to == nullptr) throw Error(Errc::internal, "out of memory preparing a transfer");
    route.keep = std::shared_ptr<void>(connect_to, [](void* l) { curl_slist_free_all(static_cast<curl_slist*>(l)); });
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to);
    route.host_header = renamed->host_header;
  }
  if (impl_->proxy) {
    const auto& proxy = *impl_->proxy;
    curl_easy_setopt(easy, CURLOPT_PROXY, proxy.url.c_str());
    // client-go's proxy-url is used for every request: NO_PROXY from the
    // environment must not route around it.
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
    if (proxy.has_credentials) {
      curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, proxy.user.c_str());
      curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, proxy.password.c_str());
      curl_easy_setopt(easy, CURLOPT_PROXYAUTH, static_cast<long>(CURLAUTH_BASIC));
    }
    if (proxy.url.rfind("https://", 0) == 0) {
      // As in Go, the TLS settings of the session (CA, verification) apply
      // to an HTTPS proxy too; client certificates are for the server only.
      curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYPEER, options_.tls.verify ? 1L : 0L);
      curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYHOST, options_.tls.verify ? 2L : 0L);
      if (!options_.tls.ca_pem.empty()) {
        curl_blob blob{const_cast<char*>(options_.tls.ca_pem.data()), options_.tls.ca_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO_BLOB, &blob);
      } else if (!options_.tls.ca_file.empty()) {
        curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, options_.tls.ca_file.c_str());
        if (impl_->system_ca_dir) curl_easy_setopt(easy, CURLOPT_PROXY_CAPATH, impl_->system_ca_dir);
      }
    }
  } else if (renamed) {
    // libcurl would match NO_PROXY against the server name now in the URL;
    // the decision belongs to the host the connection really goes to.
    auto real = parse_url(url);
    auto from_environment = environment_proxy(real.scheme, real.host);
    curl_easy_setopt(easy, CURLOPT_PROXY, from_environment.c_str());  // "" = no proxy
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
  }
  curl_easy_setopt(easy, CURLOPT_SHARE, impl_->share);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  if (options_.low_speed_timeout_s > 0) {
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, options_.low_speed_timeout_s);
  }
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());

  bool listed_insecure = false;
  try {
    auto p = parse_url(url);
    for (const auto& entry : options_.insecure_hosts) {
      auto [eh, ep] = split_host_port(entry);
      if (iequals(eh, p.host) && (ep == 0 || ep == p.port)) listed_insecure = true;
    }
  } catch (const Error&) {
    // libcurl reports the malformed URL itself.
  }
  bool verify = options_.tls.verify && !listed_insecure;
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  const auto& tls = options_.tls;
  if (!tls.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.ca_pem.data()), tls.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!tls.ca_file.empty()) {
    // An extra CA: the file, plus the system's hashed directory so public
    // registries keep working.
    curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca_file.c_str());
    if (impl_->system_ca_dir) curl_easy_setopt(easy, CURLOPT_CAPATH, impl_->system_ca_dir);
  }
  if (!tls.client_cert_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.client_cert_pem.data()), tls.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!tls.client_cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, tls.client_cert_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!tls.client_key_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls.client_key_pem.data()), tls.client_key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!tls.client_key_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLKEY, tls.client_key_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  }
  return route;
}

namespace {
// The status a proxy answered to CONNECT (0: no tunnel was asked for).
long tunnel_status(CURL* easy) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &status);
  return status;
}
}  // namespace

bool Session::proxy_refused(CURL* easy) { return tunnel_status(easy) >= 300; }

Error Session::transfer_error(CURL* easy, int curl_code, const std::string& what, const char* detail) const {
  auto error = curl_error(curl_code, what, detail, options_.tls.failure_hint);
  std::string text = error.what();
  auto code = error.code();
  auto rc = static_cast<CURLcode>(curl_code);
  if (!options_.tls.server_name.empty() &&
      (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR)) {
    text += "; the server's certificate was checked for the TLS server name \"" + options_.tls.server_name +
            "\" (tls-server-name), not for the URL's host";
  }
  if (impl_->proxy && code != Errc::cancelled) {
    const auto& proxy = *impl_->proxy;
    long connect_code = tunnel_status(easy);
    if (connect_code == 407) {
      code = Errc::unauthorized;
      text += "; the proxy " + proxy.display + " answered 407 Proxy Authentication Required: " +
              (proxy.has_credentials ? "check the user and password in the proxy URL"
                                     : "the proxy URL needs user:password@");
    } else if (connect_code >= 300) {
      text += "; the proxy " + proxy.display + " refused the tunnel with HTTP " + std::to_string(connect_code);
    } else {
      text += " (through the proxy " + proxy.display + ")";
    }
  }
  return Error(code, text);
}

Response Session::perform(Request& request) {
  std::string url = request.url;
  std::string method = request.method;
  Headers headers = request.headers;
  std::string origin_url = url;
  bool send_body = request.body_source != nullptr || !request.body.empty() || method == "PUT" ||
                   method == "POST" || method == "PATCH";
  StringSource string_source(request.body);
  BodySource* source = request.body_source != nullptr ? request.body_source : &string_source;
  std::int64_t body_size = request.body_source != nullptr ? request.body_size
                                                          : static_cast<std::int64_t>(request.body.size());
  bool source_dirty = false;  // bytes were read from source: a re-send needs a rewind
  int redirects = 0;
  int retries = 0;
  int attempts = 0;
  auto backoff = [&](int n) {
    auto base = options_.retry_base_delay.count();
    long long d = base << std::min(n, 16);
    d = std::min<long long>(d, options_.retry_max_delay.count());
    return impl_->jitter(std::chrono::milliseconds(d));
  };

  for (;;) {
    request.cancel.check();
    check_url_policy(url);
    std::string what = method + " " + redact_url(url);
    if (send_body && source_dirty) {
      if (!source->rewind()) {
        throw Error(Errc::network, what + ": the request must be sent again but its body cannot be rewound");
      }
      source_dirty = false;
    }

    Response response;
    Transfer t;
    t.request = &request;
    t.response = &response;
    t.source = source;
    CURL* easy = impl_->acquire();
    t.easy = easy;
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::unique_ptr<curl_slist, SlistDeleter> slist;
    CURLcode rc;
    std::optional<Error> failure;  // of libcurl, described while the handle still knows the details
    bool refused_by_proxy = false;
    {
      auto route = prepare_handle(easy, url);
      curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
      // HTTP/1.1 on purpose: one transfer per handle gains nothing from h2
      // multiplexing, and h2 framing and flow control cost CPU on big blobs.
      curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 256L * 1024);
      curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &header_cb);
      curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &write_cb);
      curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
      curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &xferinfo_cb);
      curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);
      if (request.total_timeout.count() > 0) {
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
      }
      if (method == "HEAD") {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
      } else if (send_body) {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &read_cb);
        curl_easy_setopt(easy, CURLOPT_READDATA, &t);
        curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &seek_cb);
        curl_easy_setopt(easy, CURLOPT_SEEKDATA, &t);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
      } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        if (method != "GET") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
      }
      curl_slist* list = nullptr;
      for (const auto& [name, value] : headers.fields()) {
        std::string line = value.empty() ? name + ";" : name + ": " + value;
        list = curl_slist_append(list, line.c_str());
      }
      if (!route.host_header.empty() && !headers.has("Host")) list = curl_slist_append(list, route.host_header.c_str());
      if (send_body && body_size >= 0 && body_size < kExpectThreshold && !headers.has("Expect")) {
        list = curl_slist_append(list, "Expect:");
      }
      slist.reset(list);
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
      rc = curl_easy_perform(easy);
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
      if (rc != CURLE_OK) {
        failure = transfer_error(easy, rc, what, errbuf);
        refused_by_proxy = proxy_refused(easy);
      }
      curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
      curl_easy_setopt(easy, CURLOPT_SHARE, nullptr);
      curl_easy_setopt(easy, CURLOPT_CONNECT_TO, nullptr);
      impl_->release(easy);
    }
    ++attempts;
    if (t.source_bytes > 0) source_dirty = true;
    response.url = url;
    response.attempts = attempts;

    if (t.failure) std::rethrow_exception(t.failure);
    if (t.cancelled || (rc != CURLE_OK && request.cancel.cancelled())) {
      throw Error(Errc::cancelled, what + ": cancelled");
    }
    if (t.too_large) {
      throw Error(Errc::too_large, what + ": the response is larger than the " + std::to_string(request.max_body) +
                                       " bytes kiln accepts for it")
          .with_http_status(static_cast<int>(response.status));
    }

    bool retry_budget = request.retry && retries < options_.max_retries && response.sink_bytes == 0;
    // Rewinds only when the request really goes out again.
    auto prepare_resend = [&] {
      if (!send_body || !source_dirty) return true;
      if (!source->rewind()) return false;
      source_dirty = false;
      return true;
    };

    if (rc != CURLE_OK) {
      if (retry_budget && is_retryable_curl(static_cast<CURLcode>(rc)) && !refused_by_proxy && prepare_resend()) {
        sleep_cancellable(backoff(retries), request.cancel);
        ++retries;
        continue;
      }
      auto error = *failure;
      if (response.sink_bytes > 0) {
        error = Error(error.code(), std::string(error.what()) + " after " + std::to_string(response.sink_bytes) +
                                        " bytes of the response");
      }
      throw error;
    }

    if (request.follow_redirects && is_redirect(response.status)) {
      auto location = response.headers.get("Location");
      if (!location || location->empty()) {
        throw Error(Errc::protocol, what + ": HTTP " + std::to_string(response.status) + " without a Location")
            .with_http_status(static_cast<int>(response.status));
      }
      if (++redirects > request.max_redirects) {
        throw Error(Errc::protocol, what + ": more than " + std::to_string(request.max_redirects) + " redirects");
      }
      std::string next = resolve_url(url, *location);
      // Credentials belong to the origin they were meant for: a redirect to
      // blob storage or any other host never sees them.
      if (!same_origin(next, origin_url)) {
        headers.remove("Authorization");
        headers.remove("Cookie");
      }
      bool to_get = response.status == 303 || ((response.status == 301 || response.status == 302) && method == "POST");
      if (to_get && method != "HEAD") {
        method = "GET";
        send_body = false;
        headers.remove("Content-Type");
        headers.remove("Content-Length");
      } else if (!prepare_resend()) {
        throw Error(Errc::network, what + ": redirected, but the request body cannot be sent again");
      }
      url = std::move(next);
      continue;
    }

    if (is_retryable_status(response.status) && retry_budget && prepare_resend()) {
      auto delay = backoff(retries);
      auto after = std::min(parse_retry_after(response.headers), options_.retry_after_cap);
      if (after > delay) delay = after;
      sleep_cancellable(delay, request.cancel);
      ++retries;
      continue;
    }
    return response;
  }
}

}  // namespace kiln::http
