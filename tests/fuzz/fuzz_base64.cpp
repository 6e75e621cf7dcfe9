// base64 decodes outside input (docker config `auth`, kubeconfig *-data):
// no crash on any text, and whatever decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base64.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = kiln::core::base64_decode(text);
  if (decoded) {
    auto again = kiln::core::base64_decode(kiln::core::base64_encode(*decoded));
    if (!again || *again != *decoded) std::abort();
  }
  return 0;
}
