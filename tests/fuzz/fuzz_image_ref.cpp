#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kiln/error.hpp"
#include "kiln/image_ref.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto ref = kiln::ImageRef::parse(text);
    // A parsed reference must print to a string that parses to itself.
    auto again = kiln::ImageRef::parse(ref.str());
    if (!(again == ref)) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  try {
    (void)kiln::ImageRef::parse_repository(text);
  } catch (const kiln::Error&) {
  }
  return 0;
}
