// kiln's Kubernetes client: kubeconfig / in-cluster configuration, REST on
// JSON objects, server-side apply, watch, wait helpers, pod logs, exec over
// WebSocket and the API server's service proxy. No kubectl, no shell.
//
// Objects are Boost.JSON objects exactly as the API server sends them; kiln
// adds no typed models, so every field of every Kubernetes version passes
// through unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "kiln/cancel.hpp"
#include "kiln/error.hpp"
#include "kiln/events.hpp"

namespace kiln::kube {

using Object = boost::json::object;

// ---------------------------------------------------------------- configuration

enum class InteractiveMode { never, if_available, always };

// users[].user.exec of a kubeconfig: a credential plugin
// (client.authentication.k8s.io/v1 or v1beta1).
struct ExecPlugin {
  std::string api_version;  // "client.authentication.k8s.io/v1" or ".../v1beta1"
  std::string command;      // looked up in PATH unless it contains '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to kiln's environment
  InteractiveMode interactive_mode = InteractiveMode::if_available;
  bool provide_cluster_info = false;
  std::string install_hint;  // shown when the command cannot be started
  // clusters[].cluster.extensions["client.authentication.k8s.io/exec"] as JSON
  // ("" when absent), passed to the plugin as spec.cluster.config.
  std::string cluster_config_json;
};

// Everything needed to talk to one API server as one user. Paths are
// absolute (relative kubeconfig paths are resolved against their file).
struct Config {
  std::string server;       // "https://host:port", no trailing slash
  std::string origin;       // for messages: "kubeconfig /x (context kind)" or "in-cluster"
  std::string context;      // names as in the kubeconfig ("" in-cluster)
  std::string cluster;
  std::string user;
  std::string namespace_name = "default";

  // TLS to the server.
  std::string ca_file;        // certificate-authority
  std::string ca_data;        // certificate-authority-data (PEM, decoded)
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // name checked in the server certificate (and sent as SNI)
  std::string proxy_url;        // http(s):// or socks5:// proxy for every connection

  // Credentials (at most one kind is used: client certificate and a bearer
  // token may be combined, as kubectl does).
  std::string client_cert_file, client_cert_data;  // PEM
  std::string client_key_file, client_key_data;    // PEM, kept in memory only
  std::string token;
  std::string token_file;  // re-read when it changes (rotated service account tokens)
  std::string username, password;
  std::optional<ExecPlugin> exec;

  // Impersonation (users[].user.as / as-groups / as-uid).
  std::string impersonate_user;
  std::vector<std::string> impersonate_groups;
  std::string impersonate_uid;

  bool in_cluster = false;
};

struct LoadOptions {
  // An explicit kubeconfig (kubectl --kubeconfig): it must exist and is the
  // only file read.
  std::filesystem::path file;
  // Used instead of the KUBECONFIG environment variable when set: a
  // ':'-separated list merged in Kubernetes' order (the first file defining a
  // name or current-context wins; missing files are skipped).
  std::optional<std::string> kubeconfig_env;
  std::string context;         // instead of current-context
  std::string namespace_name;  // instead of the context's namespace
};

// Reads kubeconfig files: `file`, else $KUBECONFIG, else ~/.kube/config.
// Errors name the file and the field (Error(invalid_argument)), or the
// missing context, or the files that were looked at (Error(not_found)).
Config load_kubeconfig(const LoadOptions& options = {});

// Parses kubeconfig text; `origin` is the file name used in messages and the
// directory relative paths are resolved against.
Config parse_kubeconfig(std::string_view yaml, const std::filesystem::path& origin,
                        const std::string& context = {});

// The configuration of a pod's service account (token re-read on rotation).
Config in_cluster_config(
    const std::filesystem::path& service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig when one is found, else the in-cluster configuration when
// KUBERNETES_SERVICE_HOST is set, else Error(not_found) naming both.
Config default_config(const LoadOptions& options = {});

// ---------------------------------------------------------------- selectors

// Builds `a=b,c!=d,e in (f,g),!h`; keys and values are validated
// (Error(invalid_argument) naming the bad one).
class LabelSelector {
 public:
  LabelSelector& equals(std::string_view key, std::string_view value);
  LabelSelector& not_equals(std::string_view key, std::string_view value);
  LabelSelector& in(std::string_view key, const std::vector<std::string>& values);
  LabelSelector& not_in(std::string_view key, const std::vector<std::string>& values);
  LabelSelector& exists(std::string_view key);
  LabelSelector& not_exists(std::string_view key);
  std::string str() const;
  bool empty() const { return terms_.empty(); }

 private:
  std::vector<std::string> terms_;
};

// Builds `metadata.name=x,status.phase!=Running` with values escaped.
class FieldSelector {
 public:
  FieldSelector& equals(std::string_view field, std::string_view value);
  FieldSelector& not_equals(std::string_view field, std::string_view value);
  std::string str() const;
  bool empty() const { return terms_.empty(); }

 private:
  std::vector<std::string> terms_;
};

// ---------------------------------------------------------------- resources

struct Resource {
  std::string api_version;  // "v1", "apps/v1"
  std::string kind;         // "Deployment"
  std::string plural;       // "deployments"
  bool namespaced = true;

  // "/api/v1/namespaces/<ns>/pods[/<name>]" or "/apis/apps/v1/...";
  // ns is ignored for cluster-scoped resources. Names are validated.
  std::string path(std::string_view ns, std::string_view name = {}) const;
};

namespace resources {
extern const Resource namespaces, pods, services, secrets, configmaps, serviceaccounts, events,
    persistentvolumeclaims, deployments, statefulsets, daemonsets, replicasets, jobs, cronjobs;
}  // namespace resources

// The built-in resource for apiVersion + kind, or nullopt (then
// Client::resource_for asks the server's discovery).
std::optional<Resource> builtin_resource(std::string_view api_version, std::string_view kind);

// ---------------------------------------------------------------- client options and results

struct ClientOptions {
  long connect_timeout_ms = 30000;
  // Limit for one non-streaming request; streams (watch, logs, exec) have none.
  std::chrono::milliseconds request_timeout{120000};
  int max_retries = 4;  // 429/5xx/connection failures, with backoff
  std::string user_agent = "kiln/0.1";
  // fieldValidation for create/replace/patch/apply: "Strict" rejects unknown
  // fields (what kiln wants for the objects it writes), "Warn", "Ignore".
  std::string field_validation = "Strict";
  std::size_t max_response_bytes = 64u << 20;
  std::size_t max_line_bytes = 16u << 20;  // one watch event / log line
  // How long an exec credential plugin may run.
  std::chrono::milliseconds exec_plugin_timeout{120000};
};

struct ListOptions {
  std::string namespace_name;  // "" = the client's namespace
  bool all_namespaces = false;
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;  // page size; 0 = server default (list_all uses 500)
  std::string continue_token;
  std::string resource_version;
};

struct ObjectList {
  std::vector<Object> items;
  std::string resource_version;
  std::string continue_token;  // "" on the last page
};

struct DeleteOptions {
  std::string propagation_policy = "Background";  // "Foreground", "Orphan", "" = server default
  std::optional<std::int64_t> grace_period_seconds;
  bool ignore_not_found = false;
};

struct ApplyOptions {
  std::string field_manager = "kiln";
  bool force = true;
  bool dry_run = false;
};

struct RawResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const;
};

// ---------------------------------------------------------------- watch

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  Object object;
};

struct WatchOptions {
  std::string namespace_name;
  bool all_namespaces = false;
  std::string label_selector;
  std::string field_selector;
  // "" = list first (items delivered as ADDED), then watch from the list's
  // version. Otherwise watch from this version.
  std::string resource_version;
  bool bookmarks = true;  // BOOKMARK events are delivered too
  // Server-side limit of one watch request; kiln reconnects after it.
  int timeout_seconds = 300;
  // Overall limit; 0 = until the handler returns false or cancel.
  std::chrono::milliseconds deadline{0};
  // Consecutive failed reconnects before Error(network); each waits longer.
  int max_reconnect_failures = 6;
};

struct WatchResult {
  std::string resource_version;  // last seen
  int reconnects = 0;            // after dropped connections or server timeouts
  int relists = 0;               // after 410 Gone
};

// Returns false to stop watching.
using WatchHandler = std::function<bool(const WatchEvent&)>;

// ---------------------------------------------------------------- logs, exec

struct LogOptions {
  std::string namespace_name;
  std::string container;  // "" = the pod's only container
  bool follow = true;
  bool timestamps = false;  // include the server's timestamp in events
  std::string since_time;   // RFC 3339
  // Seconds before the server's now (its clock decides, not this machine's);
  // at most one of since_time and since_seconds, as the API server demands.
  std::optional<std::int64_t> since_seconds;
  std::optional<std::int64_t> tail_lines;
  bool previous = false;
  // Follow the next instance when the container restarts.
  bool follow_restarts = true;
};

// Pull-style stdin: fills up to `size` bytes, returns 0 at the end.
using ExecInput = std::function<std::size_t(char* buffer, std::size_t size)>;
// Output as it arrives (any chunking).
using ExecOutput = std::function<void(std::string_view data)>;

struct ExecRequest {
  std::string namespace_name;
  std::string container;
  std::vector<std::string> command;  // argv, no shell involved
  // empty: no stdin. Its end closes the command's stdin only under
  // v5.channel.k8s.io; v4 (servers before 1.30) has no close, so there the
  // command must stop reading by itself (e.g. `head -c N`).
  ExecInput stdin_source;
  ExecOutput on_stdout;              // empty: discarded
  ExecOutput on_stderr;              // empty: discarded
  bool tty = false;
  std::chrono::milliseconds timeout{0};  // 0 = none
};

struct ExecResult {
  int exit_code = 0;
  std::string protocol;  // "v5.channel.k8s.io" or "v4.channel.k8s.io"
  std::uint64_t stdin_bytes = 0;
};

// ---------------------------------------------------------------- service proxy

// "/api/v1/namespaces/<ns>/services/[<scheme>:]<name>[:<port>]/proxy"
std::string service_proxy_path(std::string_view ns, std::string_view service, std::string_view port = {},
                               std::string_view scheme = {});
// "/api/v1/namespaces/<ns>/pods/<name>[:<port>]/proxy"
std::string pod_proxy_path(std::string_view ns, std::string_view pod, std::string_view port = {});

// Rewrites a Location header of a proxied response into the proxy: a
// relative path "/v2/x/uploads/1" becomes "<proxy_path>/v2/x/uploads/1".
std::string rewrite_proxy_location(std::string_view location, std::string_view proxy_path);

struct ProxyRequest {
  std::string method = "GET";
  std::string path = "/";  // below the proxy path, with query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Streamed request body instead of `body` (not retried); size -1 = chunked.
  ExecInput body_source;
  std::int64_t body_size = -1;
  // Streamed 2xx response body instead of RawResponse::body.
  std::function<void(std::string_view)> sink;
};

// ---------------------------------------------------------------- client

class Client {
 public:
  explicit Client(Config config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const;
  const std::string& default_namespace() const;

  // Built-in table, else the server's discovery (cached).
  Resource resource_for(const std::string& api_version, const std::string& kind, const CancelToken& cancel = {});

  // REST. An empty namespace means the client's namespace. Kubernetes
  // Status errors become kiln::Error: not_found, conflict (AlreadyExists,
  // Conflict, Gone/Expired), invalid_argument (Invalid with every cause,
  // BadRequest), unauthorized, forbidden, unavailable (TooManyRequests after
  // retries), server; remote_code() is the Status reason.
  Object get(const Resource& resource, const std::string& name, const std::string& ns = {},
             const CancelToken& cancel = {});
  std::optional<Object> find(const Resource& resource, const std::string& name, const std::string& ns = {},
                             const CancelToken& cancel = {});
  ObjectList list(const Resource& resource, const ListOptions& options = {}, const CancelToken& cancel = {});
  // Every page (limit/continue); restarts once when a continue token expires.
  ObjectList list_all(const Resource& resource, ListOptions options = {}, const CancelToken& cancel = {});
  Object create(const Resource& resource, const Object& object, const std::string& ns = {},
                const CancelToken& cancel = {});
  // PUT of the whole object (metadata.name; metadata.resourceVersion makes it
  // conditional).
  Object replace(const Resource& resource, const Object& object, const std::string& ns = {},
                 const CancelToken& cancel = {});
  // The server's answer (the object being deleted, or a Status), nullopt when
  // absent and ignore_not_found.
  std::optional<Object> remove(const Resource& resource, const std::string& name, const DeleteOptions& options = {},
                               const std::string& ns = {}, const CancelToken& cancel = {});
  Object merge_patch(const Resource& resource, const std::string& name, const Object& patch,
                     const std::string& ns = {}, const CancelToken& cancel = {});
  // Server-side apply of an object carrying apiVersion, kind and
  // metadata.name; metadata.namespace, else `ns`, else the client's.
  Object apply(const Object& object, const ApplyOptions& options = {}, const std::string& ns = {},
               const CancelToken& cancel = {});

  // Any API path ("/version", "/apis/..."); non-2xx answers are returned.
  RawResponse request(const std::string& method, const std::string& path_and_query, const std::string& body = {},
                      const std::string& content_type = {}, const CancelToken& cancel = {});

  // Watches until the handler returns false. Survives dropped connections
  // and server timeouts (resuming from the last version) and 410 Gone
  // (relisting: the changes are delivered as ADDED/MODIFIED/DELETED).
  // Error(timeout) at the deadline, Error(cancelled), Error(protocol |
  // too_large) for a malformed stream.
  WatchResult watch(const Resource& resource, const WatchOptions& options, const WatchHandler& handler,
                    const CancelToken& cancel = {});

  // Waits until predicate(object) is true; returns that object. Error(timeout)
  // at `timeout` (0 = none), Error(not_found) when the object does not exist or is deleted
  // while waiting; predicate may throw to fail early.
  Object wait_for(const Resource& resource, const std::string& name, const std::function<bool(const Object&)>& predicate,
                  std::chrono::milliseconds timeout, const std::string& ns = {}, const CancelToken& cancel = {});
  // Phase "Pending|Running|Succeeded|Failed" (a pod that already Succeeded
  // satisfies Running). Reaching Failed is Error(build_failed), or
  // Error(out_of_memory) for OOMKilled, with the reason; a container that
  // cannot start (ImagePullBackOff, InvalidImageName, config errors) is
  // Error(unavailable) with the waiting reason as remote_code.
  Object wait_for_pod_phase(const std::string& pod, const std::string& phase, std::chrono::milliseconds timeout,
                            const std::string& ns = {}, const CancelToken& cancel = {});
  // A pod condition ("Ready", "Initialized", "PodScheduled") with status True.
  Object wait_for_pod_condition(const std::string& pod, const std::string& condition,
                                std::chrono::milliseconds timeout, const std::string& ns = {},
                                const CancelToken& cancel = {});
  // kubectl rollout status: the newest generation observed, every replica
  // updated and available. ProgressDeadlineExceeded is Error(timeout).
  Object wait_for_rollout(const std::string& deployment, std::chrono::milliseconds timeout,
                          const std::string& ns = {}, const CancelToken& cancel = {});

  // Streams a container's log as "pod.log" events {pod, container, line,
  // [timestamp], restart} and "pod.restarted" events; returns when the
  // container ends for good (or at once without follow). A sink returning
  // false stops it.
  void follow_logs(const std::string& pod, const LogOptions& options, const EventSink& events,
                   const CancelToken& cancel = {});
  // The whole log as text (follow is ignored).
  std::string logs(const std::string& pod, const LogOptions& options = {}, const CancelToken& cancel = {});

  // Runs a command in a container over WebSocket (v5.channel.k8s.io, else
  // v4). stdin is streamed and closed at its end (v5; under v4 the command
  // never sees end-of-file). A command that ran gives its exit code; a
  // command that could not start is an Error.
  ExecResult exec(const std::string& pod, const ExecRequest& request, const CancelToken& cancel = {});

  // An HTTP request through the API server's proxy (`proxy_path` from
  // service_proxy_path/pod_proxy_path); Location headers are rewritten into
  // the proxy. Any status is returned.
  RawResponse proxy(const std::string& proxy_path, ProxyRequest request, const CancelToken& cancel = {});

  // The absolute URL of an API path on this server, e.g. to hand
  // `url_of(service_proxy_path(...))` to another client as its base URL.
  std::string url_of(const std::string& path) const;

  // Credentials for one request to this server (a fresh exec-plugin token
  // when needed): the headers to add. For transports built on top of the
  // client (registry over the service proxy). Never log them.
  std::vector<std::pair<std::string, std::string>> auth_headers(const CancelToken& cancel = {});
  // Forgets cached plugin/file tokens after a 401 so the next call re-runs them.
  void invalidate_credentials();

 private:
  friend struct ClientAccess;  // lib/kube internals (transport.hpp)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::kube
