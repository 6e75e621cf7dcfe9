#include "kube/transport.hpp"

#include "kube/client_impl.hpp"

namespace kiln::kube {

struct ClientAccess {
  static ProxyTransport transport(Client& client, const std::string& proxy_path) {
    Client::Impl* impl = client.impl_.get();
    ProxyTransport t;
    t.base_url = impl->config.server + proxy_path;
    t.session = impl->session_options(false, impl->auth.current({}));
    t.headers = [impl](const CancelToken& cancel) { return impl->headers_for(impl->auth.current(cancel)); };
    t.refresh = [impl] { return impl->auth.invalidate(); };
    std::string server = impl->config.server;
    t.rewrite_location = [server, proxy_path](const std::string& location) {
      auto rewritten = rewrite_proxy_location(location, proxy_path);
      return rewritten.rfind('/', 0) == 0 ? server + rewritten : rewritten;
    };
    return t;
  }
};

ProxyTransport proxy_transport(Client& client, const std::string& proxy_path) {
  if (proxy_path.rfind("/api/v1/namespaces/", 0) != 0 || proxy_path.find("/proxy") == std::string::npos)
    throw Error(Errc::invalid_argument, "\"" + proxy_path + "\" is not a service or pod proxy path");
  return ClientAccess::transport(client, proxy_path);
}

}  // namespace kiln::kube
