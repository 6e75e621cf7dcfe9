// Manifest::references on untrusted bytes: the first byte picks the media
// type the "registry" announced, the rest is the document. Only
// kiln::Error(protocol) may come out; descriptors that do come out are valid.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/error.hpp"
#include "kiln/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kTypes[] = {kiln::media_type::oci_manifest, kiln::media_type::oci_index,
                                       kiln::media_type::docker_manifest, kiln::media_type::docker_list,
                                       "application/octet-stream"};
  kiln::Manifest manifest{kTypes[data[0] % 5], std::string(reinterpret_cast<const char*>(data) + 1, size - 1)};
  try {
    for (const auto& d : manifest.references()) {
      if (d.size < 0 || !kiln::Digest::is_valid(d.digest.str())) __builtin_trap();
      if (d.to_json().empty()) __builtin_trap();
    }
  } catch (const kiln::Error& e) {
    if (e.code() != kiln::Errc::protocol) __builtin_trap();
  }
  return 0;
}
