// Error bodies from an API server (or whatever sits in front of it): any
// bytes and status give a kiln::Error with a printable message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/error.hpp"
#include "kube/auth.hpp"
#include "kube/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  long status = 400 + (data[0] % 200);
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[1] & 1) {
    auto error = kiln::kube::status_error(status, body, "GET /fuzz");
    std::string message = error.what();
    if (message.rfind("GET /fuzz", 0) != 0) __builtin_trap();
  } else {
    try {
      kiln::kube::parse_exec_credential(body, "client.authentication.k8s.io/v1", "fuzz-plugin");
    } catch (const kiln::Error&) {
    }
    (void)kiln::kube::parse_rfc3339(body);
  }
  return 0;
}
