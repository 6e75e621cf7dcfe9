// Registry response metadata: `Link` pagination headers (first byte even) and
// Distribution error bodies (odd), both from any registry kiln talks to.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/link_header.hpp"
#include "registry/remote_errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    for (const auto& link : kiln::http::parse_link_header(text)) {
      if (link.target.size() > text.size()) __builtin_trap();
      (void)link.has_rel("next");
    }
    (void)kiln::http::next_link({text, text});
  } else {
    kiln::http::Response response;
    response.status = 400 + (size % 200);
    response.body = text;
    auto error = kiln::registry_detail::response_error(response, "fuzz");
    if (error.http_status() != response.status) __builtin_trap();
  }
  return 0;
}
