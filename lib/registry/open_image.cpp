#include "kiln/registry.hpp"
#include "registry/json_util.hpp"

namespace kiln {

namespace {

// "oci:<dir>[:<tag>]" or "oci:<dir>@<digest>". Like skopeo, the directory
// ends at the first ':' (so it cannot contain one).
ImageLocation open_layout_spec(const std::string& spec, bool create) {
  std::string rest = spec.substr(4);
  std::string directory, reference;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    directory = rest.substr(0, at);
    reference = rest.substr(at + 1);
    if (!Digest::is_valid(reference)) Digest::parse(reference);  // throws naming the bad part
  } else {
    auto colon = rest.find(':');
    directory = rest.substr(0, colon);
    if (colon != std::string::npos) {
      reference = rest.substr(colon + 1);
      if (reference.empty()) {
        throw Error(Errc::invalid_argument, "\"" + registry_detail::shorten(spec) + "\": empty tag after ':'");
      }
    }
  }
  if (directory.empty()) {
    throw Error(Errc::invalid_argument, "\"" + registry_detail::shorten(spec) + "\": expected oci:<directory>[:<tag>]");
  }
  ImageLocation location;
  location.registry = open_oci_layout(directory, create);
  location.reference = reference;
  location.display = spec;
  return location;
}

}  // namespace

ImageLocation open_image(const std::string& spec, const RegistryOptions& options, bool create) {
  if (spec.rfind("oci:", 0) == 0) return open_layout_spec(spec, create);
  ImageRef ref = ImageRef::parse(spec);
  ImageLocation location;
  location.registry = open_remote_registry(ref.registry(), options);
  location.repository = ref.repository();
  location.reference = ref.reference();
  location.display = spec;
  return location;
}

}  // namespace kiln
