// The API server's service/pod proxy as a transport: any verb, streamed
// bodies, Location headers rewritten so that follow-up requests (registry
// upload sessions) stay inside the proxy.
#include <fmt/format.h>

#include "kube/client_impl.hpp"

namespace kiln::kube {

namespace {
class InputSource : public http::BodySource {
 public:
  explicit InputSource(const ExecInput& input) : input_(input) {}
  std::size_t read(char* buffer, std::size_t size) override { return input_(buffer, size); }

 private:
  const ExecInput& input_;
};
}  // namespace

RawResponse Client::proxy(const std::string& proxy_path, ProxyRequest request, const CancelToken& cancel) {
  if (proxy_path.rfind("/api/v1/namespaces/", 0) != 0 || proxy_path.find("/proxy") == std::string::npos)
    throw Error(Errc::invalid_argument,
                fmt::format("\"{}\" is not a service or pod proxy path (use service_proxy_path/pod_proxy_path)", proxy_path));
  if (request.path.empty() || request.path.front() != '/')
    throw Error(Errc::invalid_argument, fmt::format("proxied path \"{}\" must start with '/'", request.path));
  // curl squashes dot segments: "/../../secrets" would leave the proxy and
  // reach other API paths with the client's credentials.
  auto path_only = std::string_view(request.path).substr(0, request.path.find('?'));
  for (std::string_view bad : {"/../", "/./", "%2e", "%2E"}) {
    if (path_only.find(bad) != std::string_view::npos || path_only.ends_with("/..") || path_only.ends_with("/."))
      throw Error(Errc::invalid_argument, fmt::format("proxied path \"{}\" must not contain dot segments", request.path));
  }
  Call call;
  call.method = request.method;
  call.path = proxy_path + request.path;
  call.body = std::move(request.body);
  call.accept.clear();
  call.headers = request.headers;
  for (const auto& [name, value] : request.headers) {
    // The API server consumes Authorization for its own authentication.
    if (http::iequals(name, "Authorization"))
      throw Error(Errc::invalid_argument, "the service proxy cannot carry an Authorization header to the backend "
                                          "(the API server uses it for its own authentication)");
  }
  std::optional<InputSource> source;
  if (request.body_source) {
    source.emplace(request.body_source);
    call.body_source = &*source;
    call.body_size = request.body_size;
  }
  if (request.sink) {
    auto sink = request.sink;
    call.sink = [sink](const char* data, std::size_t size) { sink(std::string_view(data, size)); };
  }
  call.streaming = static_cast<bool>(request.sink) || static_cast<bool>(request.body_source);
  auto response = impl_->send(call, cancel);
  RawResponse out;
  out.status = response.status;
  for (const auto& [name, value] : response.headers.fields()) {
    if (http::iequals(name, "Location")) out.headers.emplace_back(name, rewrite_proxy_location(value, proxy_path));
    else out.headers.emplace_back(name, value);
  }
  out.body = std::move(response.body);
  return out;
}

}  // namespace kiln::kube
