// WWW-Authenticate challenges come from any registry kiln talks to.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/challenge.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // Newlines split the input into several header values.
  std::vector<std::string> values;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    values.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  for (const auto& c : kiln::auth::parse_www_authenticate(values)) {
    if (c.scheme.empty()) __builtin_trap();
    for (char ch : c.scheme) {
      if (ch >= 'A' && ch <= 'Z') __builtin_trap();
    }
    for (const auto& [name, value] : c.params) {
      if (name.empty()) __builtin_trap();
      (void)value;
    }
  }
  return 0;
}
