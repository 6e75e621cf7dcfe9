// kubeconfig YAML from disk: any bytes give a Config or a kiln::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kiln/error.hpp"
#include "kiln/kube.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto config = kiln::kube::parse_kubeconfig(text, "/fuzz/kubeconfig");
    // A selected config always has a usable server URL.
    if (config.server.rfind("http", 0) != 0) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}
