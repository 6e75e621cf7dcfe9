// Connection routing settings from kubeconfig and the environment: a proxy
// URL (whose password must never reach a message), a TLS server name
// rewritten into a URL, and NO_PROXY lists. Input: three lines.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/route.hpp"
#include "kiln/error.hpp"

namespace {
std::string line(std::string& rest) {
  auto nl = rest.find('\n');
  std::string out = rest.substr(0, nl);
  rest = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string rest(reinterpret_cast<const char*>(data), size);
  std::string proxy = line(rest), server_name = line(rest), no_proxy = rest;
  try {
    auto p = kiln::http::parse_proxy_url(proxy);
    if (p.url.find('@') != std::string::npos || p.display.find('@') != std::string::npos) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  (void)kiln::http::redact_proxy_url(proxy);
  try {
    (void)kiln::http::server_name_route("https://127.0.0.1:6443/api?x=1", server_name);
    (void)kiln::http::server_name_route("https://" + server_name + ":1/", "kubernetes.default.svc");
  } catch (const kiln::Error&) {
  }
  (void)kiln::http::no_proxy_matches(server_name, no_proxy);
  (void)kiln::http::no_proxy_matches("10.1.2.3", no_proxy);
  (void)kiln::http::no_proxy_matches("::ffff:127.0.0.1", no_proxy);
  return 0;
}
