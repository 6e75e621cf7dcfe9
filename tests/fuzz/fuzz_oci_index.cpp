// index.json of an OCI layout from an untrusted directory: parse, and what
// parses must survive a rewrite (kiln rewrites index.json when tagging).
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/error.hpp"
#include "registry/oci_index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  kiln::registry_detail::LayoutIndex index;
  try {
    index = kiln::registry_detail::parse_layout_index(text, "index.json");
  } catch (const kiln::Error& e) {
    if (e.code() != kiln::Errc::protocol) __builtin_trap();
    return 0;
  }
  std::string rewritten = kiln::registry_detail::serialize_layout_index(index, index.manifests);
  try {
    auto again = kiln::registry_detail::parse_layout_index(rewritten, "index.json");
    if (again.manifests.size() != index.manifests.size()) __builtin_trap();
    for (std::size_t i = 0; i < index.manifests.size(); ++i) {
      if (again.manifests[i].digest != index.manifests[i].digest ||
          kiln::registry_detail::ref_name(again.manifests[i]) != kiln::registry_detail::ref_name(index.manifests[i])) {
        __builtin_trap();
      }
    }
  } catch (const kiln::Error&) {
    __builtin_trap();  // kiln must read back what it wrote
  }
  return 0;
}
