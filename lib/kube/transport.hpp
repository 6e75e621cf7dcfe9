// How another kiln client (the registry client, the Docker Engine client)
// reaches an in-cluster service through the API server's service proxy with
// this client's TLS settings and credentials: point it at base_url and let
// it build its http::Session from `session`. For the layers above kube
// (builders, cluster); not part of the public API.
#pragma once

#include <functional>
#include <string>

#include "http/client.hpp"
#include "kiln/kube.hpp"

namespace kiln::kube {

struct ProxyTransport {
  // "https://<apiserver>/api/v1/namespaces/<ns>/services/http:registry:5000/proxy"
  std::string base_url;
  // TLS to the API server (CA, client certificate, verification).
  http::SessionOptions session;
  // Headers every request needs (Authorization for the API server, fresh from
  // an exec plugin when needed; impersonation). Never log them. The API
  // server consumes Authorization, so the backend cannot get one of its own.
  std::function<http::Headers(const CancelToken&)> headers;
  // After a 401 from the API server: forget cached credentials; true when a
  // retry may succeed.
  std::function<bool()> refresh;
  // Location headers of the backend (relative, or absolute with the
  // backend's in-cluster host) rewritten to absolute URLs inside the proxy.
  std::function<std::string(const std::string&)> rewrite_location;
};

// The client must outlive the transport (the functions refer to it).
ProxyTransport proxy_transport(Client& client, const std::string& proxy_path);

}  // namespace kiln::kube
