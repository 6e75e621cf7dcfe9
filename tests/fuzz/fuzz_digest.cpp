#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kiln/digest.hpp"
#include "kiln/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool valid = kiln::Digest::is_valid(text);
  try {
    auto digest = kiln::Digest::parse(text);
    if (!valid || digest.str() != text) __builtin_trap();
  } catch (const kiln::Error&) {
    if (valid) __builtin_trap();
  }
  return 0;
}
