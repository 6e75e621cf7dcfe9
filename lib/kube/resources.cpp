// Resource paths, the built-in kind table and the service proxy paths.
#include "kube/resources.hpp"

#include <fmt/format.h>

#include "kiln/kube.hpp"

namespace kiln::kube {

void check_name(std::string_view name, std::string_view what) {
  bool ok = !name.empty() && name.size() <= 253 && name != "." && name != "..";
  for (char c : name)
    if (c == '/' || c == '?' || c == '#' || c == '%' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) ok = false;
  if (!ok)
    throw Error(Errc::invalid_argument,
                fmt::format("{} \"{}\" is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')", what, name));
}

std::string query_escape(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Resource::path(std::string_view ns, std::string_view name) const {
  if (api_version.empty() || plural.empty())
    throw Error(Errc::invalid_argument, fmt::format("resource {} has no apiVersion or plural name", kind));
  std::string out = api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  if (namespaced && !ns.empty()) {
    check_name(ns, "namespace");
    out += "/namespaces/" + std::string(ns);
  }
  out += "/" + plural;
  if (!name.empty()) {
    check_name(name, kind.empty() ? plural : kind);
    out += "/" + std::string(name);
  }
  return out;
}

namespace resources {
const Resource namespaces{"v1", "Namespace", "namespaces", false};
const Resource pods{"v1", "Pod", "pods", true};
const Resource services{"v1", "Service", "services", true};
const Resource secrets{"v1", "Secret", "secrets", true};
const Resource configmaps{"v1", "ConfigMap", "configmaps", true};
const Resource serviceaccounts{"v1", "ServiceAccount", "serviceaccounts", true};
const Resource events{"v1", "Event", "events", true};
const Resource persistentvolumeclaims{"v1", "PersistentVolumeClaim", "persistentvolumeclaims", true};
const Resource deployments{"apps/v1", "Deployment", "deployments", true};
const Resource statefulsets{"apps/v1", "StatefulSet", "statefulsets", true};
const Resource daemonsets{"apps/v1", "DaemonSet", "daemonsets", true};
const Resource replicasets{"apps/v1", "ReplicaSet", "replicasets", true};
const Resource jobs{"batch/v1", "Job", "jobs", true};
const Resource cronjobs{"batch/v1", "CronJob", "cronjobs", true};
}  // namespace resources

std::optional<Resource> builtin_resource(std::string_view api_version, std::string_view kind) {
  using namespace resources;
  for (const Resource* r : {&namespaces, &pods, &services, &secrets, &configmaps, &serviceaccounts, &events,
                            &persistentvolumeclaims, &deployments, &statefulsets, &daemonsets, &replicasets, &jobs,
                            &cronjobs}) {
    if (r->api_version == api_version && r->kind == kind) return *r;
  }
  return std::nullopt;
}

namespace {
void check_port(std::string_view port) {
  if (port.empty()) return;
  bool ok = port.size() <= 15;
  for (char c : port)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  if (!ok) throw Error(Errc::invalid_argument, fmt::format("port \"{}\" is neither a number nor a port name", port));
}
}  // namespace

std::string service_proxy_path(std::string_view ns, std::string_view service, std::string_view port,
                               std::string_view scheme) {
  check_name(ns, "namespace");
  check_name(service, "service");
  check_port(port);
  if (!scheme.empty() && scheme != "http" && scheme != "https")
    throw Error(Errc::invalid_argument, fmt::format("proxy scheme \"{}\" must be http or https", scheme));
  std::string target = scheme.empty() ? std::string(service) : fmt::format("{}:{}", scheme, service);
  if (!port.empty()) target += fmt::format(":{}", port);
  return fmt::format("/api/v1/namespaces/{}/services/{}/proxy", ns, target);
}

std::string pod_proxy_path(std::string_view ns, std::string_view pod, std::string_view port) {
  check_name(ns, "namespace");
  check_name(pod, "pod");
  check_port(port);
  return port.empty() ? fmt::format("/api/v1/namespaces/{}/pods/{}/proxy", ns, pod)
                      : fmt::format("/api/v1/namespaces/{}/pods/{}:{}/proxy", ns, pod, port);
}

std::string rewrite_proxy_location(std::string_view location, std::string_view proxy_path) {
  std::string_view path = location;
  // Backends build absolute URLs from the Host they saw, which is not
  // reachable from outside the cluster: keep only path and query.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (location.rfind(scheme, 0) == 0) {
      auto slash = location.find('/', scheme.size());
      path = slash == std::string_view::npos ? std::string_view("/") : location.substr(slash);
    }
  }
  if (path.empty() || path.front() != '/') return std::string(location);  // relative to the current path: leave it
  if (path.rfind(proxy_path, 0) == 0 &&
      (path.size() == proxy_path.size() || path[proxy_path.size()] == '/' || path[proxy_path.size()] == '?'))
    return std::string(path);  // the API server already rewrote it
  return std::string(proxy_path) + std::string(path);
}

}  // namespace kiln::kube
